//! Realtime clients of this node: the SSE connection's outgoing queue, the bound auth and the
//! subscriptions (spec §7.1–7.3).
//!
//! Per-client state (bound auth, subscriptions) is only read and replaced through
//! [`Clients::set_subscriptions`], [`Clients::get`] and the snapshot the dispatcher takes, so a
//! later shared registry can hold it for a subscription POST that lands on another node.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use sb_query::AuthInfo;
use serde_json::Value as Json;
use tokio::sync::mpsc;

/// One SSE message: the event name and its JSON data (the `id:` line is the client id).
#[derive(Debug, Clone)]
pub struct Message {
    pub event: Arc<str>,
    pub data: Arc<str>,
}

/// A parsed subscription string (spec §7.3).
#[derive(Debug)]
pub struct Subscription {
    /// The subscription string exactly as submitted: the event name (spec §7.4).
    pub raw: Arc<str>,
    pub topic: Topic,
    /// `options.query`, values stringified (`@request.query.*`; `filter`, `expand` and
    /// `fields` among them).
    pub query: BTreeMap<String, String>,
    /// `options.headers`, names snake_cased (`@request.headers.*`).
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    /// `COLL/*` or the bare `COLL` (listRule).
    Collection(String),
    /// `COLL/RID` (viewRule).
    Record(String, String),
    /// `@oauth2` and any other name: only receives messages sent to it by name.
    Other(String),
}

impl Subscription {
    pub fn parse(raw: &str) -> Subscription {
        let (topic, options) = match raw.split_once('?') {
            Some((t, q)) => (t, options_of(q)),
            None => (raw, (BTreeMap::new(), BTreeMap::new())),
        };
        let topic = if topic.starts_with('@') {
            Topic::Other(topic.to_owned())
        } else {
            match topic.split_once('/') {
                None => Topic::Collection(topic.to_owned()),
                Some((c, "*")) => Topic::Collection(c.to_owned()),
                Some((c, id)) => Topic::Record(c.to_owned(), id.to_owned()),
            }
        };
        Subscription { raw: raw.into(), topic, query: options.0, headers: options.1 }
    }

    pub fn filter(&self) -> Option<&str> {
        self.query.get("filter").map(String::as_str).filter(|f| !f.trim().is_empty())
    }

    pub fn expand(&self) -> Option<&str> {
        self.query.get("expand").map(String::as_str).filter(|f| !f.trim().is_empty())
    }

    pub fn fields(&self) -> Option<&str> {
        self.query.get("fields").map(String::as_str).filter(|f| !f.trim().is_empty())
    }
}

/// `options=<url-encoded JSON>` of a topic's query string: `{"query":{..},"headers":{..}}`.
fn options_of(raw_query: &str) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut query = BTreeMap::new();
    let mut headers = BTreeMap::new();
    let Some((_, options)) =
        url::form_urlencoded::parse(raw_query.as_bytes()).find(|(k, _)| k == "options")
    else {
        return (query, headers);
    };
    let Ok(Json::Object(options)) = serde_json::from_str::<Json>(&options) else {
        return (query, headers);
    };
    let stringify = |v: &Json| match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(Json::Object(q)) = options.get("query") {
        for (k, v) in q {
            query.insert(k.clone(), stringify(v));
        }
    }
    if let Some(Json::Object(h)) = options.get("headers") {
        for (k, v) in h {
            headers.insert(k.to_ascii_lowercase().replace('-', "_"), stringify(v));
        }
    }
    (query, headers)
}

/// What the dispatcher needs of a client's state.
#[derive(Debug, Clone, Default)]
pub struct ClientState {
    pub auth: Option<Arc<AuthInfo>>,
    pub subscriptions: Arc<[Arc<Subscription>]>,
    /// The last event number published before these subscriptions were set; only later
    /// events are delivered under them.
    pub since: u64,
}

/// A client connected to this node.
#[derive(Debug)]
pub struct Client {
    pub id: Arc<str>,
    pub ip: Option<IpAddr>,
    tx: mpsc::Sender<Message>,
    state: Mutex<ClientState>,
}

impl Client {
    pub fn state(&self) -> ClientState {
        self.state.lock().clone()
    }

    /// Queues a message; a client whose queue is full (it stopped reading) is disconnected
    /// rather than silently missing events in the middle of its stream.
    pub fn send(&self, clients: &Clients, message: Message) {
        match self.tx.try_send(message) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(client = %self.id, "realtime client is not reading; disconnecting");
                clients.remove(&self.id);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Replaces the bound auth record (kept in sync with its updates and deletes).
    pub fn update_state(&self, f: impl FnOnce(&mut ClientState)) {
        f(&mut self.state.lock());
    }
}

/// The clients connected to this node.
#[derive(Debug, Default)]
pub struct Clients {
    map: RwLock<HashMap<Arc<str>, Arc<Client>>>,
    closed: std::sync::atomic::AtomicBool,
    /// Events numbered so far (see [`super::BusEvent::seq`]).
    published: std::sync::atomic::AtomicU64,
}

/// Why a subscription request was refused (spec §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscribeRefusal {
    UnknownClient,
    OtherIp,
    AuthMismatch,
}

impl Clients {
    /// Registers a new client; `None` once the node is shutting down.
    pub fn register(
        &self,
        ip: Option<IpAddr>,
        capacity: usize,
    ) -> Option<(Arc<Client>, mpsc::Receiver<Message>)> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let id: Arc<str> = sb_auth::random::alphanumeric(40).into();
        let client = Arc::new(Client { id: id.clone(), ip, tx, state: Mutex::default() });
        let mut map = self.map.write();
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return None;
        }
        map.insert(id, client.clone());
        Some((client, rx))
    }

    pub fn get(&self, id: &str) -> Option<Arc<Client>> {
        self.map.read().get(id).cloned()
    }

    pub fn remove(&self, id: &str) {
        self.map.write().remove(id);
    }

    pub fn len(&self) -> usize {
        self.map.read().len()
    }

    pub fn snapshot(&self) -> Vec<Arc<Client>> {
        self.map.read().values().cloned().collect()
    }

    /// Drops every client (their streams end) and refuses new ones.
    pub fn close(&self) {
        let mut map = self.map.write();
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        map.clear();
    }

    /// Numbers the next published event.
    pub fn next_seq(&self) -> u64 {
        self.published.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
    }

    /// Replaces a client's subscriptions and binds the request's auth (spec §7.2).
    pub fn set_subscriptions(
        &self,
        id: &str,
        ip: Option<IpAddr>,
        auth: Option<AuthInfo>,
        subscriptions: Vec<Arc<Subscription>>,
    ) -> Result<(), SubscribeRefusal> {
        let client = self.get(id).ok_or(SubscribeRefusal::UnknownClient)?;
        if client.ip.is_some() && ip.is_some() && client.ip != ip {
            return Err(SubscribeRefusal::OtherIp);
        }
        let mut state = client.state.lock();
        if let Some(bound) = &state.auth {
            let same = auth
                .as_ref()
                .is_some_and(|a| a.collection.id == bound.collection.id && a.id() == bound.id());
            if !same {
                return Err(SubscribeRefusal::AuthMismatch);
            }
        }
        if let Some(a) = auth {
            state.auth = Some(Arc::new(a));
        }
        state.subscriptions = subscriptions.into();
        state.since = self.published.load(std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}
