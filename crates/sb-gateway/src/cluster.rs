//! The gateway as a peer on the nodes' cluster channel (`sb_core::cluster` describes the
//! protocol; this side is written against its JSON messages, not its code): Redis pub/sub on
//! `<prefix>cluster`, or PostgreSQL notifications on `scalebase_cluster`.
//!
//! - It says `hello` every [`HELLO_EVERY`] under an id of its own, so the nodes count it as a
//!   live peer: a node that commits a write waits for the gateway's `ack` (or [`ACK_WAIT`])
//!   before it answers its client.
//! - On an `invalidate` it purges the whole cache, and only then publishes `ack`.
//! - It trusts its cache (serves and fills it) only while its own hello, sent at most
//!   [`FRESH`] ago, has come back and it has been connected for [`WARMUP`]; a lost or
//!   re-established link purges everything. The channel's single order puts a writer's
//!   `invalidate` before any later hello of the gateway, so a gateway that missed it has
//!   stopped using its cache by the time the writer answers.
//! - A node that has not yet applied a write may still answer from its own caches. So until
//!   every node heard lately has acknowledged an `invalidate` (or [`ACK_WAIT`] has passed,
//!   after which a node that did not apply it no longer trusts its caches), fills that start
//!   are not stored.
//! - It answers `subscribe` and `handoff` with `reply {outcome: "unknown"}` (it holds no
//!   realtime client), so nodes never wait on it; `event`s are ignored.
//!
//! Messages that do not parse are ignored, except that an unreadable `invalidate` (or a
//! message stored by reference that cannot be fetched) purges the cache without an `ack`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures::StreamExt;
use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde_json::{Value as Json, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::cache::Shared;
use crate::config::Invalidations;

/// How often the gateway says hello (the nodes' interval).
pub const HELLO_EVERY: Duration = Duration::from_millis(200);
/// How recent the gateway's own hello must be for it to use its cache (the nodes' `FRESH`).
pub const FRESH: Duration = Duration::from_millis(1000);
/// How long the gateway must have been connected before it uses its cache.
pub const WARMUP: Duration = Duration::from_millis(1000);
/// The longest a writer waits for acknowledgements (the nodes' `ACK_WAIT`).
pub const ACK_WAIT: Duration = Duration::from_millis(1500);
/// Nodes heard within this long are waited for after an `invalidate` (the nodes' peer window,
/// with a margin).
const PEER_WINDOW: Duration = Duration::from_millis(1500);
/// Nodes not heard from for this long are forgotten.
const FORGET_PEERS: Duration = Duration::from_secs(60);
/// Bound on one publish, connection or fetch.
const CALL_TIMEOUT: Duration = Duration::from_millis(1000);
/// A subscription that delivered nothing for this long is re-established (every peer says
/// hello several times a second, this gateway included).
const SILENCE: Duration = Duration::from_secs(2);
/// The PostgreSQL notification channel of the nodes.
pub const PG_CHANNEL: &str = "scalebase_cluster";

/// The gateway's standing on the channel.
pub(crate) struct Membership {
    node: String,
    epoch: Instant,
    /// The cache is used while the clock (ms since `epoch`) is below this.
    fresh_until: AtomicU64,
    /// When the subscription came up (ms since `epoch`; `u64::MAX` while down).
    up_since: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    peers: HashMap<String, Instant>,
    /// Invalidations some node may not have applied yet: by writer and id, the nodes whose
    /// `ack` is awaited, until a deadline.
    pending: HashMap<(String, u64), (HashSet<String>, Instant)>,
}

impl Membership {
    pub(crate) fn new(node: String) -> Membership {
        Membership {
            node,
            epoch: Instant::now(),
            fresh_until: AtomicU64::new(0),
            up_since: AtomicU64::new(u64::MAX),
            state: Mutex::default(),
        }
    }

    pub(crate) fn node(&self) -> &str {
        &self.node
    }

    fn clock(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Whether the cache may be used now (module docs).
    pub(crate) fn trusted(&self) -> bool {
        let now = self.clock();
        let up_since = self.up_since.load(Ordering::SeqCst);
        now < self.fresh_until.load(Ordering::SeqCst)
            && now >= up_since.saturating_add(WARMUP.as_millis() as u64)
    }

    /// Whether every announced write has been applied by every node (or waited for).
    pub(crate) fn settled(&self) -> bool {
        let mut state = self.state.lock();
        let now = Instant::now();
        state.pending.retain(|_, (_, deadline)| *deadline > now);
        state.pending.is_empty()
    }

    pub(crate) fn live_peers(&self) -> usize {
        self.state.lock().peers.values().filter(|seen| seen.elapsed() < PEER_WINDOW).count()
    }

    fn heard_hello(&self, from: &str, sent: u64) {
        if from == self.node {
            let until = sent.saturating_add(FRESH.as_millis() as u64);
            self.fresh_until.fetch_max(until, Ordering::SeqCst);
        } else {
            self.state.lock().peers.insert(from.to_owned(), Instant::now());
        }
    }

    /// Notes a write announced by `writer` (`id` when known): fills wait until the nodes heard
    /// lately have acknowledged it.
    fn announced(&self, writer: &str, id: Option<u64>) {
        let mut state = self.state.lock();
        let waiting: HashSet<String> = state
            .peers
            .iter()
            .filter(|(node, seen)| *node != writer && seen.elapsed() < PEER_WINDOW)
            .map(|(node, _)| node.clone())
            .collect();
        let deadline = Instant::now() + ACK_WAIT;
        // Without an id, no ack can be matched: wait the whole bound.
        let key = (writer.to_owned(), id.unwrap_or_else(rand::random));
        if id.is_none() || !waiting.is_empty() {
            state.pending.insert(key, (waiting, deadline));
        }
    }

    fn acked(&self, from: &str, writer: &str, id: u64) {
        let mut state = self.state.lock();
        let key = (writer.to_owned(), id);
        if let Some((waiting, _)) = state.pending.get_mut(&key) {
            waiting.remove(from);
            if waiting.is_empty() {
                state.pending.remove(&key);
            }
        }
    }

    fn link(&self, up: bool) {
        if up {
            self.up_since.store(self.clock(), Ordering::SeqCst);
        } else {
            self.up_since.store(u64::MAX, Ordering::SeqCst);
            self.fresh_until.store(0, Ordering::SeqCst);
        }
    }

    fn encode(&self, mut body: Json) -> String {
        body["from"] = Json::String(self.node.clone());
        body.to_string()
    }
}

/// What a subscription yields.
enum Link {
    Up,
    Down,
    Message(String),
    /// A message stored by reference that could not be read.
    Unreadable,
}

/// The channel's two carriers.
enum Channel {
    Redis { client: redis::Client, publisher: ConnectionManager, channel: String },
    Postgres { config: tokio_postgres::Config, publisher: tokio::sync::Mutex<Option<PgClient>> },
}

type PgClient = Arc<tokio_postgres::Client>;

impl Channel {
    fn open(invalidations: &Invalidations) -> anyhow::Result<Option<Channel>> {
        match invalidations {
            Invalidations::None => Ok(None),
            Invalidations::Redis { url, channel } => {
                let client = redis::Client::open(url.as_str())
                    .map_err(|e| anyhow::anyhow!("invalid Redis URL: {e}"))?;
                let manager = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CALL_TIMEOUT))
                    .set_response_timeout(Some(CALL_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(200));
                let publisher = ConnectionManager::new_lazy_with_config(client.clone(), manager)
                    .map_err(|e| anyhow::anyhow!("cannot set up the Redis connection: {e}"))?;
                Ok(Some(Channel::Redis { client, publisher, channel: channel.clone() }))
            }
            Invalidations::Postgres { url } => {
                let mut config: tokio_postgres::Config =
                    url.parse().map_err(|e| anyhow::anyhow!("invalid PostgreSQL URL: {e}"))?;
                config.connect_timeout(CALL_TIMEOUT);
                config.application_name("scalebase-gateway");
                Ok(Some(Channel::Postgres { config, publisher: tokio::sync::Mutex::new(None) }))
            }
        }
    }

    async fn publish(&self, text: String) -> Result<(), String> {
        match self {
            Channel::Redis { publisher, channel, .. } => {
                let mut connection = publisher.clone();
                let mut command = redis::cmd("PUBLISH");
                command.arg(channel).arg(text);
                match tokio::time::timeout(
                    CALL_TIMEOUT,
                    command.query_async::<i64>(&mut connection),
                )
                .await
                {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("publishing timed out".into()),
                }
            }
            Channel::Postgres { config, publisher } => {
                let client = {
                    let mut slot = publisher.lock().await;
                    match slot.as_ref().filter(|c| !c.is_closed()) {
                        Some(client) => client.clone(),
                        None => {
                            let (client, connection) = pg_connect(config).await?;
                            tokio::spawn(async move {
                                connection.await.ok();
                            });
                            let client = Arc::new(client);
                            *slot = Some(client.clone());
                            client
                        }
                    }
                };
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&PG_CHANNEL, &text];
                let sent = client.execute("SELECT pg_notify($1, $2)", &params);
                let outcome = match tokio::time::timeout(CALL_TIMEOUT, sent).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("publishing timed out".into()),
                };
                if outcome.is_err() {
                    *publisher.lock().await = None;
                }
                outcome
            }
        }
    }

    /// Every message on the channel, in its order, with `Up`/`Down` around each subscription
    /// (re-established with a short backoff until the receiver is dropped).
    fn subscribe(self: &Arc<Self>) -> mpsc::Receiver<Link> {
        let (out, links) = mpsc::channel(4096);
        let channel = self.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                let session = match &*channel {
                    Channel::Redis { .. } => channel.redis_session(&out).await,
                    Channel::Postgres { config, .. } => pg_session(config, &out).await,
                };
                match session {
                    Ok(()) => backoff = Duration::from_millis(100),
                    Err(e) => {
                        tracing::debug!(error = %e, "gateway: cluster channel session failed")
                    }
                }
                if out.is_closed() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        });
        links
    }

    async fn redis_session(&self, out: &mpsc::Sender<Link>) -> Result<(), String> {
        let Channel::Redis { client, publisher, channel } = self else { return Ok(()) };
        let subscribed = tokio::time::timeout(CALL_TIMEOUT, async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await
        .map_err(|_| "subscribing timed out".to_owned())?
        .map_err(|e| e.to_string())?;
        if out.send(Link::Up).await.is_err() {
            return Ok(());
        }
        let mut messages = subscribed.into_on_message();
        while let Ok(Some(message)) = tokio::time::timeout(SILENCE, messages.next()).await {
            let Ok(text) = message.get_payload::<String>() else { continue };
            let link = match text.strip_prefix('&') {
                Some(key) => {
                    let mut connection = publisher.clone();
                    let mut command = redis::cmd("GET");
                    command.arg(key);
                    let get = command.query_async::<Option<String>>(&mut connection);
                    match tokio::time::timeout(CALL_TIMEOUT, get).await {
                        Ok(Ok(Some(text))) => Link::Message(text),
                        _ => Link::Unreadable,
                    }
                }
                None => Link::Message(text),
            };
            if out.send(link).await.is_err() {
                return Ok(());
            }
        }
        out.send(Link::Down).await.ok();
        Ok(())
    }
}

async fn pg_connect(
    config: &tokio_postgres::Config,
) -> Result<
    (
        tokio_postgres::Client,
        tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
    ),
    String,
> {
    let (client, connection) =
        tokio::time::timeout(CALL_TIMEOUT, config.connect(tokio_postgres::NoTls))
            .await
            .map_err(|_| "connecting timed out".to_owned())?
            .map_err(|e| e.to_string())?;
    Ok((client, connection))
}

/// One LISTEN session: `Up`, the messages, then `Down`.
async fn pg_session(
    config: &tokio_postgres::Config,
    out: &mpsc::Sender<Link>,
) -> Result<(), String> {
    let (client, mut connection) = pg_connect(config).await?;
    let (notices, mut incoming) = mpsc::unbounded_channel::<String>();
    // Drives the connection (the queries below too) and hands notifications over.
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = message
                && notices.send(n.payload().to_owned()).is_err()
            {
                return;
            }
        }
    });
    let listening = tokio::time::timeout(
        CALL_TIMEOUT,
        client.batch_execute(&format!("LISTEN \"{PG_CHANNEL}\"")),
    )
    .await;
    if !matches!(listening, Ok(Ok(()))) {
        driver.abort();
        return Err("LISTEN failed".into());
    }
    if out.send(Link::Up).await.is_ok() {
        while let Ok(Some(payload)) = tokio::time::timeout(SILENCE, incoming.recv()).await {
            let link = match payload.strip_prefix('&') {
                Some(id) => match pg_fetch(&client, id).await {
                    Some(text) => Link::Message(text),
                    None => Link::Unreadable,
                },
                None => Link::Message(payload),
            };
            if out.send(link).await.is_err() {
                break;
            }
        }
        out.send(Link::Down).await.ok();
    }
    driver.abort();
    Ok(())
}

/// A notification's payload stored by reference in the nodes' `_scalebase_bus` table.
async fn pg_fetch(client: &tokio_postgres::Client, id: &str) -> Option<String> {
    let id: i64 = id.parse().ok()?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
    let query = client.query_opt("SELECT payload FROM _scalebase_bus WHERE id = $1", &params);
    let row = tokio::time::timeout(CALL_TIMEOUT, query).await.ok()?.ok()??;
    row.try_get::<_, String>(0).ok()
}

/// Joins the channel `invalidations` names for the cache `shared`: the tasks that hear it and
/// say hello, ended by dropping the cache (or aborting them).
pub(crate) fn start(
    invalidations: &Invalidations,
    shared: Weak<Shared>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let Some(channel) = Channel::open(invalidations)?.map(Arc::new) else { return Ok(Vec::new()) };
    if let Some(node) = shared.upgrade().and_then(|s| s.membership.as_ref().map(|m| m.node.clone()))
    {
        tracing::info!(node = %node, "gateway: joining the cluster channel for cache invalidations");
    }
    let links = channel.subscribe();
    Ok(vec![
        tokio::spawn(hear(shared.clone(), channel.clone(), links)),
        tokio::spawn(say_hello(shared, channel)),
    ])
}

async fn say_hello(shared: Weak<Shared>, channel: Arc<Channel>) {
    let mut ticks = tokio::time::interval(HELLO_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u64 = 0;
    loop {
        ticks.tick().await;
        n += 1;
        let hello = {
            let Some(shared) = shared.upgrade() else { return };
            let Some(membership) = &shared.membership else { return };
            if n.is_multiple_of(300) {
                membership.state.lock().peers.retain(|_, seen| seen.elapsed() < FORGET_PEERS);
            }
            membership.encode(json!({"t": "hello", "sent": membership.clock()}))
        };
        if let Err(e) = channel.publish(hello).await {
            tracing::debug!(error = %e, "gateway: cannot say hello on the cluster channel");
        }
    }
}

/// Applies what the channel carries, in its order.
async fn hear(shared: Weak<Shared>, channel: Arc<Channel>, mut links: mpsc::Receiver<Link>) {
    while let Some(link) = links.recv().await {
        let Some(shared) = shared.upgrade() else { return };
        let Some(membership) = &shared.membership else { return };
        match link {
            Link::Up => {
                tracing::info!("gateway: cluster channel connected");
                // Messages may have been missed while it was down.
                shared.purge("link");
                membership.link(true);
            }
            Link::Down => {
                tracing::warn!("gateway: cluster channel lost; the response cache is bypassed");
                membership.link(false);
                shared.purge("link");
            }
            Link::Unreadable => {
                membership.announced("", None);
                shared.purge("invalidate");
            }
            Link::Message(text) => {
                if let Some(reply) = apply(&shared, membership, &text) {
                    let channel = channel.clone();
                    tokio::spawn(async move {
                        if let Err(e) = channel.publish(reply).await {
                            tracing::debug!(error = %e, "gateway: cannot answer on the cluster channel");
                        }
                    });
                }
            }
        }
    }
}

/// Applies one message; returns the answer to publish, if any.
fn apply(shared: &Shared, membership: &Membership, text: &str) -> Option<String> {
    let Ok(message) = serde_json::from_str::<Json>(text) else {
        tracing::debug!("gateway: ignoring a malformed cluster message");
        return None;
    };
    let from = message["from"].as_str().unwrap_or_default();
    let id = message["id"].as_u64();
    let own = from == membership.node;
    match message["t"].as_str().unwrap_or_default() {
        "hello" => {
            if let Some(sent) = message["sent"].as_u64() {
                membership.heard_hello(from, sent);
            }
            None
        }
        "invalidate" if !own => {
            // Announced before the purge: a fill that starts in between is not stored.
            membership.announced(from, id);
            shared.purge("invalidate");
            let id = id.filter(|_| !from.is_empty())?;
            Some(membership.encode(json!({"t": "ack", "to": from, "id": id})))
        }
        "ack" => {
            if let (Some(to), Some(id)) = (message["to"].as_str(), id) {
                membership.acked(from, to, id);
            }
            None
        }
        "subscribe" | "handoff" if !own && !from.is_empty() => {
            let id = id?;
            Some(
                membership
                    .encode(json!({"t": "reply", "to": from, "id": id, "outcome": "unknown"})),
            )
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_wait_for_every_live_node_then_settle() {
        let m = Membership::new("gw".into());
        assert!(m.settled());
        m.heard_hello("a", 0);
        m.heard_hello("b", 0);
        m.announced("a", Some(7));
        assert!(!m.settled(), "b has not applied a's write");
        m.acked("a", "a", 7);
        m.acked("b", "a", 8);
        assert!(!m.settled());
        m.acked("b", "a", 7);
        assert!(m.settled());
        m.announced("a", None);
        assert!(!m.settled(), "an unreadable write waits the whole bound");
    }

    #[test]
    fn trust_needs_an_own_hello_and_the_warmup() {
        let mut m = Membership::new("gw".into());
        m.epoch = Instant::now().checked_sub(Duration::from_secs(5)).unwrap();
        m.heard_hello("gw", m.clock());
        assert!(!m.trusted(), "not connected");
        m.up_since.store(0, Ordering::SeqCst);
        m.heard_hello("gw", m.clock() + 10_000);
        assert!(m.trusted());
        m.link(false);
        assert!(!m.trusted());
    }
}
