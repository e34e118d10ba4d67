//! The nodes of the deployment as the admin UI's cluster view shows them
//! (`GET /api/cluster`, a Scalebase addition): this node's own figures over the last seconds,
//! and each other node's as its latest `hello` carried them (see `cluster.rs`). A node without
//! a cluster transport (SQLite) is a cluster of one.

use std::collections::VecDeque;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sb_observe::node::{Totals, Window};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::App;

/// How far back this node's figures reach.
const WINDOW: Duration = Duration::from_secs(10);
/// Readings closer together than this are not kept (hellos come every 200 ms).
const READING_EVERY: Duration = Duration::from_secs(1);

/// What a node tells the others about itself in its `hello`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NodeInfo {
    pub address: Option<String>,
    pub version: String,
    pub started_at: String,
    #[serde(flatten)]
    pub stats: Window,
}

/// This node's identity and its readings of `sb_observe`'s running totals.
pub(crate) struct NodeSelf {
    /// The address it serves on and the program's version, as the binary tells them.
    identity: OnceLock<(String, &'static str)>,
    started_at: String,
    readings: Mutex<VecDeque<(Instant, Totals)>>,
}

impl Default for NodeSelf {
    fn default() -> Self {
        NodeSelf {
            identity: OnceLock::new(),
            started_at: sb_schema::datetime::now_string(),
            readings: Mutex::new(VecDeque::new()),
        }
    }
}

impl NodeSelf {
    /// The figures from the oldest reading kept (at most [`WINDOW`] old) to now.
    fn window(&self) -> Window {
        let now = Instant::now();
        let totals = sb_observe::node::totals();
        let mut readings = self.readings.lock();
        while readings.len() > 1 && readings.front().is_some_and(|(at, _)| now - *at > WINDOW) {
            readings.pop_front();
        }
        let window = match readings.front() {
            Some((at, earlier)) => Window::between(earlier, &totals, now - *at),
            None => Window::between(&totals, &totals, Duration::ZERO),
        };
        if readings.back().is_none_or(|(at, _)| now - *at >= READING_EVERY) {
            readings.push_back((now, totals));
        }
        window
    }

    pub(crate) fn info(&self) -> NodeInfo {
        let identity = self.identity.get();
        NodeInfo {
            address: identity.map(|(address, _)| address.clone()),
            version: identity.map_or("", |(_, version)| version).to_owned(),
            started_at: self.started_at.clone(),
            stats: self.window(),
        }
    }
}

impl App {
    /// Records the address this node serves on and the program's version, for the cluster
    /// view (once).
    pub fn set_node_identity(&self, address: String, version: &'static str) {
        let _ = self.node.identity.set((address, version));
    }

    /// `GET /api/cluster`: this node first, then the others heard from lately, each with its
    /// figures; `healthy` is whether it was heard within the liveness window.
    pub fn cluster_status(&self) -> Json {
        let cluster = &self.coherence.cluster;
        let now = sb_schema::datetime::now_string();
        let mut nodes = vec![node_json(&self.node_id, true, true, &now, &self.node.info())];
        for peer in cluster.peer_reports() {
            let Some(info) = peer.info else { continue };
            nodes.push(node_json(&peer.node, false, peer.live, &peer.last_seen, &info));
        }
        json!({ "transport": cluster.transport_name(), "nodes": nodes })
    }
}

fn node_json(id: &str, own: bool, healthy: bool, last_seen: &str, info: &NodeInfo) -> Json {
    json!({
        "id": id,
        "self": own,
        "address": info.address,
        "version": info.version,
        "startedAt": info.started_at,
        "lastSeen": last_seen,
        "healthy": healthy,
        "requestsPerSecond": info.stats.requests_per_second,
        "p99Ms": info.stats.p99_ms,
        "inFlight": info.stats.in_flight,
        "cacheHitRate": info.stats.cache_hit_rate,
        "realtimeConnections": info.stats.realtime_connections,
    })
}
