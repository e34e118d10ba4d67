//! The cluster: the nodes sharing one database, and the messages between them.
//!
//! Nodes talk over one [`Transport`] (Redis pub/sub, or PostgreSQL LISTEN/NOTIFY when no Redis
//! is configured) that delivers every message to every node, the sender included, in one order.
//! What travels:
//! - `hello` every [`HELLO_EVERY`]: who is alive. A node trusts its caches only while its own
//!   hello, sent at most [`FRESH`] ago, has come back through the transport (and it has been
//!   connected for [`WARMUP`]); otherwise it bypasses them, and after a reconnection it reloads
//!   its catalog and settings and forgets every cached entry (it may have missed messages).
//! - `invalidate` after every committed write, with the tables it changed (and the write's
//!   replication position): each other node advances its change clock for those tables —
//!   reloading its catalog or settings when their tables changed — and then answers `ack`. The
//!   writer acknowledges its client once every live peer answered, or after [`ACK_WAIT`]: by
//!   then a node that did not hear the message has stopped trusting its caches, because the
//!   transport's single order puts the writer's message before any later hello of that node.
//!   So a write acknowledged on one node is never hidden by a cache on another.
//! - A write the writer could not publish, or published while it did not hear the transport
//!   (Redis down for it alone, say), goes through the database instead: the writer counts it
//!   in `_clusterEpoch` and waits [`EPOCH_FRESH`] and a little more. Every node polls that count
//!   every [`HELLO_EVERY`], refreshes everything when it moved, and trusts its caches only while
//!   its last poll began less than [`EPOCH_FRESH`] ago; so when the writer answers, every node
//!   that trusts its caches has seen the count move.
//! - `event`: the record changes realtime delivers, sent in commit order through one outbox.
//! - `subscribe` / `handoff` and their `reply`: a realtime subscription request (or an OAuth2
//!   redirect) that reached a node which does not hold the client's stream is carried to the node
//!   that does, and its answer back.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::BoxStream;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use tokio::sync::{mpsc, oneshot};

use crate::App;
use crate::cache::Changed;
use crate::nodes::NodeInfo;

/// How often a node says it is alive.
pub const HELLO_EVERY: Duration = Duration::from_millis(200);
/// How recent a node's own hello must be for it to trust its caches.
pub const FRESH: Duration = Duration::from_millis(1000);
/// How recently a peer must have said hello to be waited for.
const PEER_WINDOW: Duration = Duration::from_millis(1000);
/// How long a node must have been connected before it trusts its caches (so that every peer
/// has heard of it and waits for its answers).
const WARMUP: Duration = Duration::from_millis(1000);
/// The longest a write waits for the other nodes' answers; more than [`FRESH`], so that a node
/// that did not answer no longer trusts its caches by then.
pub const ACK_WAIT: Duration = Duration::from_millis(1500);
/// The longest a forwarded realtime request waits for the node holding the client.
const REPLY_WAIT: Duration = Duration::from_millis(1000);
/// Peers not heard from for this long are forgotten.
const RECENT_PEERS: Duration = Duration::from_secs(60);
/// How recently a node's last poll of the database's epoch count must have begun for it to
/// trust its caches.
pub const EPOCH_FRESH: Duration = Duration::from_millis(600);
/// How long a node that has not yet joined the cluster reports itself not ready; after that
/// it serves (degraded) without it.
pub const JOIN_GRACE: Duration = Duration::from_secs(5);
/// Events queued for the transport before new ones are dropped.
const OUTBOX: usize = 16 * 1024;

/// What carries the messages between nodes.
#[async_trait::async_trait]
pub trait Transport: Send + Sync + 'static {
    /// `redis` or `postgres`, for logs and metrics.
    fn name(&self) -> &'static str;
    /// Sends `message` to every node, this one included.
    async fn publish(&self, message: String) -> Result<(), String>;
    /// Every message published by any node, in the transport's one order. Never ends: yields
    /// [`Link::Down`] when the subscription is lost and [`Link::Up`] once it is back
    /// (messages published in between are lost).
    fn subscribe(&self) -> BoxStream<'static, Link>;
}

/// What a transport subscription yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Up,
    Down,
    Message(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    from: String,
    #[serde(flatten)]
    body: Body,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "camelCase")]
enum Body {
    /// `sent`: the sender's clock (milliseconds since it started).
    Hello {
        sent: u64,
        /// The sender's address and figures, for the admin UI's cluster view (the gateway,
        /// which also says hello, sends none).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        info: Option<NodeInfo>,
    },
    /// `all`: everything; else the tables and single rows `[table, id]` that changed.
    Invalidate {
        id: u64,
        tables: Vec<String>,
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        rows: Vec<(String, String)>,
        all: bool,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        position: Option<String>,
    },
    Ack {
        to: String,
        id: u64,
    },
    Event {
        action: String,
        collection: String,
        record: Map<String, Json>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        traceparent: Option<String>,
    },
    Subscribe {
        id: u64,
        client: String,
        ip: Option<IpAddr>,
        /// The requester's auth collection id and record (every field).
        auth: Option<(String, Map<String, Json>)>,
        subscriptions: Vec<String>,
    },
    Handoff {
        id: u64,
        ip: Option<IpAddr>,
        state: String,
        code: String,
        error: String,
    },
    Reply {
        to: String,
        id: u64,
        outcome: Outcome,
    },
}

/// This node's place in the cluster, for the readiness report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// No transport: a node alone.
    Alone,
    /// Started less than [`JOIN_GRACE`] ago and not yet heard by the others: not ready.
    Joining,
    /// Hears the cluster and trusts its caches.
    Joined,
    /// Does not hear the cluster: serves without caches (degraded).
    CutOff,
}

/// The answer to a forwarded realtime request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Outcome {
    Done,
    /// Not held by the answering node.
    Unknown,
    OtherIp,
    AuthMismatch,
}

struct AckWait {
    pending: HashSet<String>,
    done: Option<oneshot::Sender<()>>,
}

struct ReplyWait {
    pending: HashSet<String>,
    done: Option<oneshot::Sender<Outcome>>,
}

#[derive(Default)]
struct State {
    peers: HashMap<String, Instant>,
    /// What each node's latest hello said about it, and when that was.
    peer_info: HashMap<String, (chrono::DateTime<chrono::Utc>, NodeInfo)>,
    acks: HashMap<u64, AckWait>,
    replies: HashMap<u64, ReplyWait>,
}

/// Another node as [`Cluster::peer_reports`] sees it.
pub(crate) struct PeerReport {
    pub node: String,
    /// Heard within the liveness window.
    pub live: bool,
    /// When its latest hello with figures came (wire format; empty without one).
    pub last_seen: String,
    pub info: Option<NodeInfo>,
}

/// This node's membership of the cluster.
pub(crate) struct Cluster {
    node: String,
    epoch: Instant,
    transport: OnceLock<Arc<dyn Transport>>,
    outbox: OnceLock<mpsc::Sender<String>>,
    /// Trusted while the clock (ms since `epoch`) is below this.
    fresh_until: AtomicU64,
    /// When the transport subscription came up (ms since `epoch`; `u64::MAX` while down).
    up_since: AtomicU64,
    /// The epoch count last polled (`u64::MAX` before the first poll) …
    epoch_seen: AtomicU64,
    /// … and until when that poll lets this node trust its caches (ms since `epoch`).
    polled_until: AtomicU64,
    /// When this node began joining the cluster (ms since `epoch`), and whether it has
    /// trusted its caches since.
    joining_since: AtomicU64,
    joined: std::sync::atomic::AtomicBool,
    next_id: AtomicU64,
    state: Mutex<State>,
}

impl Cluster {
    pub(crate) fn new(node: String) -> Cluster {
        Cluster {
            node,
            epoch: Instant::now(),
            transport: OnceLock::new(),
            outbox: OnceLock::new(),
            fresh_until: AtomicU64::new(0),
            up_since: AtomicU64::new(u64::MAX),
            epoch_seen: AtomicU64::new(u64::MAX),
            polled_until: AtomicU64::new(0),
            joining_since: AtomicU64::new(0),
            joined: std::sync::atomic::AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            state: Mutex::default(),
        }
    }

    fn clock(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn transport(&self) -> Option<&Arc<dyn Transport>> {
        self.transport.get()
    }

    /// Whether this node may read and fill its caches: always on a node without a cluster;
    /// in a cluster only while it hears the transport and polls the epoch count (see the
    /// module docs).
    pub(crate) fn trusted(&self) -> bool {
        if self.transport().is_none() {
            return true;
        }
        let now = self.clock();
        let warm =
            now >= self.up_since.load(Ordering::SeqCst).saturating_add(WARMUP.as_millis() as u64);
        self.hearing() && warm && now < self.polled_until.load(Ordering::SeqCst)
    }

    /// Whether this node hears the transport now: its own hello, sent at most [`FRESH`] ago,
    /// came back (so it also hears the other nodes' answers).
    pub(crate) fn hearing(&self) -> bool {
        self.transport().is_some() && self.clock() < self.fresh_until.load(Ordering::SeqCst)
    }

    /// The other nodes heard from lately.
    fn live_peers(&self) -> HashSet<String> {
        let state = self.state.lock();
        state
            .peers
            .iter()
            .filter(|(_, seen)| seen.elapsed() < PEER_WINDOW)
            .map(|(node, _)| node.clone())
            .collect()
    }

    fn encode(&self, body: Body) -> String {
        serde_json::to_string(&Envelope { from: self.node.clone(), body })
            .expect("cluster messages serialise")
    }

    /// Tells every other node what a committed write changed; returns once they applied it or
    /// no longer trust their caches (module docs). False when the transport could not be
    /// trusted to carry it: the caller announces the write through the database.
    pub(crate) async fn invalidate(&self, what: Changed, position: Option<String>) -> bool {
        let Some(transport) = self.transport() else { return true };
        let deadline = tokio::time::Instant::now() + ACK_WAIT;
        let hearing = self.hearing();
        let peers = self.live_peers();
        if hearing && peers.is_empty() {
            // Alone: nobody to tell.
            return true;
        }
        let started = Instant::now();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (done, answered) = oneshot::channel();
        if hearing {
            self.state.lock().acks.insert(id, AckWait { pending: peers, done: Some(done) });
        }
        let (tables, rows, all) = match what {
            Changed::All => (Vec::new(), Vec::new(), true),
            Changed::Tables { tables, rows } => (tables, rows, false),
        };
        let message = self.encode(Body::Invalidate { id, tables, rows, all, position });
        let published = transport.publish(message).await.is_ok();
        sb_observe::cluster_message("invalidate", published);
        if !(published && hearing) {
            self.state.lock().acks.remove(&id);
            return false;
        }
        let complete = tokio::time::timeout_at(deadline, answered).await.is_ok();
        self.state.lock().acks.remove(&id);
        sb_observe::cluster_ack_wait(started.elapsed(), complete);
        if !complete {
            tracing::debug!(id, "invalidation not confirmed by every node; waited the bound");
        }
        true
    }

    /// Whether any other node was heard from lately.
    fn has_live_peers(&self) -> bool {
        self.state.lock().peers.values().any(|seen| seen.elapsed() < PEER_WINDOW)
    }

    /// Queues a realtime event for the other nodes (in order; dropped when the outbox is full).
    /// `body` is built only when there is a node to send it to, so a node alone pays nothing.
    fn send_event(&self, body: impl FnOnce() -> Body) {
        let Some(outbox) = self.outbox.get() else { return };
        if !self.has_live_peers() {
            return;
        }
        if outbox.try_send(self.encode(body())).is_err() {
            sb_observe::cluster_message("event", false);
        }
    }

    /// Sends a request to the node holding a realtime client and waits for its answer;
    /// `Unknown` when no node holds it.
    async fn ask(&self, body: impl FnOnce(u64) -> Body) -> Outcome {
        let Some(transport) = self.transport() else { return Outcome::Unknown };
        let peers = self.live_peers();
        if peers.is_empty() {
            return Outcome::Unknown;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (done, answered) = oneshot::channel();
        self.state.lock().replies.insert(id, ReplyWait { pending: peers, done: Some(done) });
        let published = transport.publish(self.encode(body(id))).await.is_ok();
        sb_observe::cluster_message("realtime", published);
        let outcome = if published {
            tokio::time::timeout(REPLY_WAIT, answered).await.ok().and_then(Result::ok)
        } else {
            None
        };
        self.state.lock().replies.remove(&id);
        outcome.unwrap_or(Outcome::Unknown)
    }

    /// Applies an answer from `from`.
    fn answered(&self, from: &str, id: u64, outcome: Outcome) {
        let mut state = self.state.lock();
        let Some(wait) = state.replies.get_mut(&id) else { return };
        wait.pending.remove(from);
        if (outcome != Outcome::Unknown || wait.pending.is_empty())
            && let Some(done) = wait.done.take()
        {
            done.send(outcome).ok();
        }
    }

    fn acked(&self, from: &str, id: u64) {
        let mut state = self.state.lock();
        let Some(wait) = state.acks.get_mut(&id) else { return };
        wait.pending.remove(from);
        if wait.pending.is_empty()
            && let Some(done) = wait.done.take()
        {
            done.send(()).ok();
        }
    }

    fn heard_hello(&self, from: &str, sent: u64, info: Option<NodeInfo>) {
        if from == self.node {
            let until = sent + FRESH.as_millis() as u64;
            self.fresh_until.fetch_max(until, Ordering::SeqCst);
        } else {
            let mut state = self.state.lock();
            let now = Instant::now();
            state.peers.insert(from.to_owned(), now);
            if let Some(info) = info {
                state.peer_info.insert(from.to_owned(), (chrono::Utc::now(), info));
            }
        }
    }

    /// The transport's name, if the node has one.
    pub(crate) fn transport_name(&self) -> Option<&'static str> {
        self.transport().map(|t| t.name())
    }

    /// The other nodes heard from recently (live or not), by id.
    pub(crate) fn peer_reports(&self) -> Vec<PeerReport> {
        let state = self.state.lock();
        let mut reports: Vec<PeerReport> = state
            .peers
            .iter()
            .map(|(node, seen)| {
                let info = state.peer_info.get(node);
                PeerReport {
                    node: node.clone(),
                    live: seen.elapsed() < PEER_WINDOW,
                    last_seen: info
                        .map(|(at, _)| sb_schema::datetime::format(*at))
                        .unwrap_or_default(),
                    info: info.map(|(_, info)| info.clone()),
                }
            })
            .collect();
        reports.sort_by(|a, b| a.node.cmp(&b.node));
        reports
    }

    fn link_down(&self) {
        self.up_since.store(u64::MAX, Ordering::SeqCst);
        self.fresh_until.store(0, Ordering::SeqCst);
    }
}

impl App {
    /// Joins the cluster over `transport`: starts hearing it, saying hello, and sending this
    /// node's realtime events. Call once, right after opening the app.
    pub fn join_cluster(self: &Arc<Self>, transport: Arc<dyn Transport>) {
        let cluster = &self.coherence.cluster;
        if cluster.transport.set(transport.clone()).is_err() {
            return;
        }
        cluster.joining_since.store(cluster.clock(), Ordering::SeqCst);
        let (outbox, queue) = mpsc::channel(OUTBOX);
        cluster.outbox.set(outbox).ok();
        tracing::info!(node = %self.node_id, transport = transport.name(), "joining the cluster");
        tokio::spawn(receive(Arc::downgrade(self), transport.subscribe()));
        tokio::spawn(say_hello(Arc::downgrade(self), transport.clone()));
        tokio::spawn(send_events(queue, transport));
    }

    /// Other nodes this node heard from lately (for tests and the admin view).
    pub fn cluster_peers(&self) -> usize {
        self.coherence.cluster.live_peers().len()
    }

    /// Whether this node trusts its caches now (see `cluster.rs`).
    pub fn cluster_trusted(&self) -> bool {
        self.coherence.cluster.trusted()
    }

    /// Where this node stands in the cluster (readiness: a node that is still joining must not
    /// get requests, since its catalog may lag changes made elsewhere until it hears them).
    pub fn cluster_membership(&self) -> Membership {
        let cluster = &self.coherence.cluster;
        if cluster.transport().is_none() {
            return Membership::Alone;
        }
        if cluster.trusted() {
            return Membership::Joined;
        }
        let joining_for = cluster.clock() - cluster.joining_since.load(Ordering::SeqCst);
        if !cluster.joined.load(Ordering::SeqCst) && joining_for < JOIN_GRACE.as_millis() as u64 {
            Membership::Joining
        } else {
            Membership::CutOff
        }
    }

    /// Publishes a committed change to the other nodes' realtime dispatchers.
    pub(crate) fn send_cluster_event(
        &self,
        action: &str,
        collection: &str,
        record: &Map<String, Json>,
        traceparent: Option<&str>,
    ) {
        self.coherence.cluster.send_event(|| Body::Event {
            action: action.to_owned(),
            collection: collection.to_owned(),
            record: record.clone(),
            traceparent: traceparent.map(str::to_owned),
        });
    }

    /// Forwards a subscription request for a client this node does not hold.
    pub(crate) async fn forward_subscribe(
        &self,
        client: &str,
        ip: Option<IpAddr>,
        auth: Option<&sb_query::AuthInfo>,
        subscriptions: &[String],
    ) -> Outcome {
        let auth = auth.map(|a| (a.collection.id.clone(), a.record.clone()));
        self.coherence
            .cluster
            .ask(|id| Body::Subscribe {
                id,
                client: client.to_owned(),
                ip,
                auth,
                subscriptions: subscriptions.to_vec(),
            })
            .await
    }

    /// Forwards an OAuth2 redirect for a client this node does not hold.
    pub(crate) async fn forward_handoff(
        &self,
        ip: Option<IpAddr>,
        state: &str,
        code: &str,
        error: &str,
    ) -> Outcome {
        self.coherence
            .cluster
            .ask(|id| Body::Handoff {
                id,
                ip,
                state: state.to_owned(),
                code: code.to_owned(),
                error: error.to_owned(),
            })
            .await
    }

    /// After a reconnection: whatever was missed, the catalog, the settings and every cache
    /// entry are refreshed.
    async fn resync(&self) {
        self.coherence.advance(&Changed::All);
        self.reload_shared_state(true, true).await;
    }

    /// Reads the epoch count (module docs): when it moved, some node wrote without telling the
    /// others, so every cached entry is forgotten (the shared ones once this node stamped
    /// everything) and the catalog and settings re-read. The first poll counts as a move: the
    /// count may have moved after this node loaded its state.
    async fn poll_epoch(&self) {
        let cluster = &self.coherence.cluster;
        let started = cluster.clock();
        let count = match crate::system::cluster_epoch(self.store.as_ref()).await {
            Ok(count) => count,
            Err(e) => {
                tracing::debug!(error = %e, "cannot poll the cluster epoch");
                return;
            }
        };
        if cluster.epoch_seen.swap(count, Ordering::SeqCst) != count {
            self.coherence.advance(&Changed::All);
            self.coherence.stamps_missed();
            self.reload_shared_state(true, true).await;
        }
        let until = started + EPOCH_FRESH.as_millis() as u64;
        cluster.polled_until.fetch_max(until, Ordering::SeqCst);
    }

    /// Re-reads the catalog and/or the settings from the database.
    async fn reload_shared_state(&self, catalog: bool, settings: bool) {
        if catalog && let Err(e) = self.reload_catalog().await {
            tracing::warn!(error = %e, "cannot reload the collections");
        }
        if settings && let Err(e) = self.reload_settings().await {
            tracing::warn!(error = %e, "cannot reload the settings");
        }
    }

    async fn handle(&self, transport: &Arc<dyn Transport>, envelope: Envelope) {
        let cluster = &self.coherence.cluster;
        let from = envelope.from;
        let own = from == self.node_id;
        match envelope.body {
            Body::Hello { sent, info } => cluster.heard_hello(&from, sent, info),
            Body::Invalidate { .. } | Body::Event { .. } if own => {}
            Body::Subscribe { .. } | Body::Handoff { .. } if own => {}
            Body::Invalidate { id, tables, rows, all, position } => {
                let changed = if all { Changed::All } else { Changed::Tables { tables, rows } };
                self.coherence.advance(&changed);
                self.reload_shared_state(
                    changed.touches(crate::system::COLLECTIONS_TABLE),
                    changed.touches(crate::system::PARAMS_TABLE),
                )
                .await;
                if let Some(position) = position {
                    self.store.require_position(&position);
                }
                let ack = cluster.encode(Body::Ack { to: from, id });
                let transport = transport.clone();
                tokio::spawn(async move {
                    let published = transport.publish(ack).await.is_ok();
                    sb_observe::cluster_message("ack", published);
                });
            }
            Body::Ack { to, id } => {
                if to == self.node_id {
                    cluster.acked(&from, id);
                }
            }
            Body::Event { action, collection, record, traceparent } => {
                self.receive_event(&action, collection, record, traceparent);
            }
            Body::Subscribe { id, client, ip, auth, subscriptions } => {
                let auth = auth.and_then(|(collection, record)| {
                    let collection = self.catalog().get(&collection)?.clone();
                    Some(sb_query::AuthInfo { collection, record })
                });
                let outcome = self.subscribe_local(&client, ip, auth, &subscriptions);
                self.reply(transport, from, id, outcome);
            }
            Body::Handoff { id, ip, state, code, error } => {
                let outcome = if self.handoff_local(ip, &state, &code, &error) {
                    Outcome::Done
                } else {
                    Outcome::Unknown
                };
                self.reply(transport, from, id, outcome);
            }
            Body::Reply { to, id, outcome } => {
                if to == self.node_id {
                    cluster.answered(&from, id, outcome);
                }
            }
        }
    }

    fn reply(&self, transport: &Arc<dyn Transport>, to: String, id: u64, outcome: Outcome) {
        let reply = self.coherence.cluster.encode(Body::Reply { to, id, outcome });
        let transport = transport.clone();
        tokio::spawn(async move {
            let published = transport.publish(reply).await.is_ok();
            sb_observe::cluster_message("reply", published);
        });
    }
}

/// Hears the transport for as long as the app lives.
async fn receive(app: Weak<App>, mut stream: BoxStream<'static, Link>) {
    while let Some(link) = stream.next().await {
        let Some(app) = app.upgrade() else { return };
        let cluster = &app.coherence.cluster;
        match link {
            Link::Up => {
                tracing::info!("cluster transport connected");
                app.resync().await;
                cluster.up_since.store(cluster.clock(), Ordering::SeqCst);
            }
            Link::Down => {
                tracing::warn!("cluster transport lost; caches bypassed until it is back");
                cluster.link_down();
                // Redis may come back from an older snapshot: shared entries are refused
                // until this node has stamped everything.
                app.coherence.stamps_missed();
            }
            Link::Message(text) => match serde_json::from_str::<Envelope>(&text) {
                Ok(envelope) => {
                    let Some(transport) = cluster.transport().cloned() else { return };
                    app.handle(&transport, envelope).await;
                }
                Err(e) => tracing::debug!(error = %e, "ignoring a malformed cluster message"),
            },
        }
    }
}

/// Says hello every [`HELLO_EVERY`]; while the node does not trust its caches it also re-reads
/// the catalog and settings every few hellos, so that schema and settings changes it could not
/// hear still reach it.
async fn say_hello(app: Weak<App>, transport: Arc<dyn Transport>) {
    let mut ticks = tokio::time::interval(HELLO_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u64 = 0;
    loop {
        ticks.tick().await;
        n += 1;
        let Some(app) = app.upgrade() else { return };
        let cluster = &app.coherence.cluster;
        let hello =
            cluster.encode(Body::Hello { sent: cluster.clock(), info: Some(app.node.info()) });
        if transport.publish(hello).await.is_err() {
            sb_observe::cluster_message("hello", false);
        }
        if !cluster.trusted() && n.is_multiple_of(3) {
            app.reload_shared_state(true, true).await;
        }
        app.poll_epoch().await;
        if cluster.trusted() {
            cluster.joined.store(true, Ordering::SeqCst);
        }
        if cluster.hearing() {
            app.coherence.restamp().await;
        }
        if n.is_multiple_of(50) {
            let mut state = cluster.state.lock();
            state.peers.retain(|_, seen| seen.elapsed() < RECENT_PEERS);
            let State { peers, peer_info, .. } = &mut *state;
            peer_info.retain(|node, _| peers.contains_key(node));
        }
    }
}

/// Publishes queued realtime events one at a time, keeping their order.
async fn send_events(mut queue: mpsc::Receiver<String>, transport: Arc<dyn Transport>) {
    while let Some(event) = queue.recv().await {
        let published = transport.publish(event).await.is_ok();
        sb_observe::cluster_message("event", published);
    }
}

#[cfg(test)]
mod tests;
