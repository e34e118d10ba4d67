//! Realtime (spec §7): clients, subscriptions, and delivery of committed record changes.
//!
//! Every committed write reaches [`App::records_changed`], which publishes the changes on the
//! [`EventBus`]. Each node runs one dispatcher (started with its first realtime client) that
//! reads the bus in order, decides per event which subscriptions of its clients may see the
//! record (rules evaluated in memory by `sb_query::evaluate` where possible, otherwise one batched SQL statement per
//! event, see `dispatch`), and queues the serialised event on those clients' streams.
//! Events are prepared a few at a time concurrently but delivered in bus order, so each
//! client sees the changes of a record in commit order.

mod bus;
mod clients;
mod dispatch;

use std::net::IpAddr;
use std::sync::Arc;

use futures::StreamExt;
use sb_query::AuthInfo;
use sb_schema::{ErrorMap, FieldError};
use serde_json::{Map, Value as Json};
use tokio::sync::mpsc;

pub use bus::{BusEvent, BusItem, EventBus, LocalBus};
pub use clients::Message;
use clients::{Client, Clients, SubscribeRefusal, Subscription, Topic};

use crate::App;
use crate::cluster::Outcome;
use crate::error::{CoreError, CoreResult};
use crate::records::changes::{ChangeAction, RecordChange};

/// Messages a client may have queued before it counts as not reading.
const QUEUE: usize = 512;
/// Events prepared concurrently by a dispatcher (delivery stays in order).
const PIPELINE: usize = 8;

/// The realtime state of an [`App`].
pub(crate) struct Realtime {
    bus: Arc<dyn EventBus>,
    clients: Arc<Clients>,
    dispatcher: std::sync::Once,
}

impl Default for Realtime {
    fn default() -> Self {
        Realtime {
            bus: Arc::new(LocalBus::default()),
            clients: Arc::default(),
            dispatcher: std::sync::Once::new(),
        }
    }
}

/// An open realtime connection: the client id and its message queue. Dropping it (the SSE
/// response ended) forgets the client.
pub struct Connection {
    pub client_id: Arc<str>,
    pub messages: mpsc::Receiver<Message>,
    clients: Arc<Clients>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.clients.remove(&self.client_id);
    }
}

impl App {
    /// Publishes committed changes on the event bus, in order.
    pub(crate) fn publish_changes(&self, changes: Vec<RecordChange>) {
        if changes.is_empty() {
            return;
        }
        let _span = sb_observe::trace::bus_publish_span("local", changes.len()).entered();
        let traceparent = sb_observe::trace::current_traceparent();
        for change in changes {
            self.send_cluster_event(
                change.action.as_str(),
                &change.record.collection.id,
                &change.record.data,
                traceparent.as_deref(),
            );
            self.realtime.bus.publish(BusEvent {
                seq: self.realtime.clients.next_seq(),
                action: change.action,
                collection_id: change.record.collection.id.clone(),
                record: change.record.data,
                traceparent: traceparent.clone(),
            });
        }
    }

    /// A committed change another node reported: delivered to this node's clients.
    pub(crate) fn receive_event(
        &self,
        action: &str,
        collection_id: String,
        record: Map<String, Json>,
        traceparent: Option<String>,
    ) {
        let action = match action {
            "create" => ChangeAction::Create,
            "update" => ChangeAction::Update,
            "delete" => ChangeAction::Delete,
            _ => return,
        };
        self.realtime.bus.publish(BusEvent {
            seq: self.realtime.clients.next_seq(),
            action,
            collection_id,
            record,
            traceparent,
        });
    }

    /// Opens a realtime connection from `ip` (spec §7.1); `None` while shutting down.
    pub fn realtime_connect(self: &Arc<Self>, ip: Option<IpAddr>) -> Option<Connection> {
        self.start_dispatcher();
        let (client, messages) = self.realtime.clients.register(ip, QUEUE)?;
        Some(Connection {
            client_id: client.id.clone(),
            messages,
            clients: self.realtime.clients.clone(),
        })
    }

    /// Realtime clients connected to this node.
    pub fn realtime_client_count(&self) -> usize {
        self.realtime.clients.len()
    }

    /// Ends every realtime stream and refuses new ones (graceful shutdown).
    pub fn close_realtime(&self) {
        self.realtime.clients.close();
    }

    /// `POST /api/realtime` (spec §7.2): validates the body and replaces the client's
    /// subscriptions, binding the request's auth. A client whose stream another node holds is
    /// asked of that node, which applies the same checks.
    pub async fn realtime_subscribe(
        &self,
        ip: Option<IpAddr>,
        auth: Option<AuthInfo>,
        body: &Map<String, Json>,
    ) -> CoreResult<()> {
        let client_id = match body.get("clientId") {
            None | Some(Json::Null) => String::new(),
            Some(Json::String(s)) => s.clone(),
            Some(_) => return Err(crate::records::generic_bad_request()),
        };
        let subscriptions: Vec<String> = match body.get("subscriptions") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Json::String(s) => Ok(s.clone()),
                    _ => Err(crate::records::generic_bad_request()),
                })
                .collect::<CoreResult<_>>()?,
            Some(_) => return Err(crate::records::generic_bad_request()),
        };
        let mut errors = ErrorMap::new();
        if client_id.is_empty() {
            errors.insert("clientId", FieldError::required());
        } else if client_id.chars().count() > 255 {
            errors.insert("clientId", FieldError::length_out_of_range(1, 255));
        }
        if subscriptions.len() > 1000 {
            errors.insert("subscriptions", FieldError::length_out_of_range(0, 1000));
        } else {
            let mut nested = ErrorMap::new();
            for (i, s) in subscriptions.iter().enumerate() {
                if s.chars().count() > 2500 {
                    nested.insert(i.to_string(), FieldError::length_out_of_range(0, 2500));
                }
            }
            if !nested.is_empty() {
                errors.insert_nested("subscriptions", nested);
            }
        }
        if !errors.is_empty() {
            return Err(CoreError::validation(
                "Something went wrong while processing your request.",
                errors,
            ));
        }
        let outcome = match self.realtime.clients.get(&client_id) {
            Some(_) => self.subscribe_local(&client_id, ip, auth, &subscriptions),
            None => self.forward_subscribe(&client_id, ip, auth.as_ref(), &subscriptions).await,
        };
        match outcome {
            Outcome::Done => Ok(()),
            Outcome::Unknown => Err(CoreError::NotFound("Missing or invalid client id.".into())),
            Outcome::OtherIp => Err(CoreError::bad_request("Invalid realtime client.")),
            Outcome::AuthMismatch => Err(CoreError::Forbidden(
                "The current and the previous request authorization don't match.".into(),
            )),
        }
    }

    /// Replaces the subscriptions of a client connected to this node (validated input).
    pub(crate) fn subscribe_local(
        &self,
        client_id: &str,
        ip: Option<IpAddr>,
        auth: Option<AuthInfo>,
        subscriptions: &[String],
    ) -> Outcome {
        let parsed = subscriptions
            .iter()
            // an event name cannot span lines of the SSE stream
            .filter(|s| !s.contains(['\r', '\n']))
            .map(|s| Arc::new(Subscription::parse(s)))
            .collect();
        match self.realtime.clients.set_subscriptions(client_id, ip, auth, parsed) {
            Ok(()) => Outcome::Done,
            Err(SubscribeRefusal::UnknownClient) => Outcome::Unknown,
            Err(SubscribeRefusal::OtherIp) => Outcome::OtherIp,
            Err(SubscribeRefusal::AuthMismatch) => Outcome::AuthMismatch,
        }
    }

    /// The OAuth2 redirect handoff (spec §6.8): sends `{"state","code"[,"error"]}` to the
    /// client `state` as the `@oauth2` event and removes that subscription. False when there
    /// is no such client subscribed to `@oauth2` (from the same IP) on any node.
    pub async fn realtime_oauth2_handoff(
        &self,
        ip: Option<IpAddr>,
        state: &str,
        code: &str,
        error: &str,
    ) -> bool {
        if self.realtime.clients.get(state).is_some() {
            return self.handoff_local(ip, state, code, error);
        }
        self.forward_handoff(ip, state, code, error).await == Outcome::Done
    }

    /// [`App::realtime_oauth2_handoff`] for a client of this node.
    pub(crate) fn handoff_local(
        &self,
        ip: Option<IpAddr>,
        state: &str,
        code: &str,
        error: &str,
    ) -> bool {
        const TOPIC: &str = "@oauth2";
        let Some(client) = self.realtime.clients.get(state) else { return false };
        if client.ip.is_some() && ip.is_some() && client.ip != ip {
            return false;
        }
        let mut found = None;
        client.update_state(|s| {
            if let Some(sub) = s.subscriptions.iter().find(|sub| &*sub.raw == TOPIC) {
                found = Some(sub.raw.clone());
                s.subscriptions =
                    s.subscriptions.iter().filter(|sub| &*sub.raw != TOPIC).cloned().collect();
            }
        });
        let Some(event) = found else { return false };
        let mut data = Map::new();
        data.insert("state".into(), Json::String(state.to_owned()));
        data.insert("code".into(), Json::String(code.to_owned()));
        if !error.is_empty() {
            data.insert("error".into(), Json::String(error.to_owned()));
        }
        let message = Message { event, data: Json::Object(data).to_string().into() };
        client.send(&self.realtime.clients, message);
        true
    }

    fn start_dispatcher(self: &Arc<Self>) {
        let app = Arc::downgrade(self);
        self.realtime.dispatcher.call_once(|| {
            let stream = self.realtime.bus.subscribe();
            tokio::spawn(dispatch_loop(app, stream));
        });
    }
}

/// Reads the bus until it closes or the app is gone; prepares up to `PIPELINE` events at once
/// and delivers them in order.
async fn dispatch_loop(
    app: std::sync::Weak<App>,
    stream: futures::stream::BoxStream<'static, BusItem>,
) {
    let prepared = stream
        .map(move |item| {
            let app = app.clone();
            async move {
                let app = app.upgrade()?;
                let deliveries = match item {
                    BusItem::Event(event) => app.prepare_event(&event).await,
                    BusItem::Lagged(n) => {
                        tracing::warn!(lost = n, "realtime dispatcher fell behind; events lost");
                        Vec::new()
                    }
                };
                Some((app, deliveries))
            }
        })
        .buffered(PIPELINE);
    futures::pin_mut!(prepared);
    while let Some(next) = prepared.next().await {
        let Some((app, deliveries)) = next else { return };
        for (client, message) in deliveries {
            client.send(&app.realtime.clients, message);
        }
    }
}

/// Deliveries of one event.
type Deliveries = Vec<(Arc<Client>, Message)>;

impl Topic {
    /// Whether a change of record `id` of `c` concerns this topic.
    fn matches(&self, c: &sb_schema::Collection, id: &str) -> bool {
        match self {
            Topic::Collection(name) => *name == c.name || *name == c.id,
            Topic::Record(name, rid) => (*name == c.name || *name == c.id) && rid == id,
            Topic::Other(_) => false,
        }
    }
}
