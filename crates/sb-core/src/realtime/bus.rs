//! The event bus: committed record changes from any node, to every node's dispatcher.

use std::sync::Arc;

use futures::stream::BoxStream;
use serde_json::{Map, Value as Json};

use crate::records::changes::ChangeAction;

/// One committed record change as it travels between nodes: the collection by id (each node
/// resolves it in its own catalog) and every field of the record (hidden ones included) in
/// its JSON form — the new state for creates and updates, the last state for deletes.
#[derive(Debug, Clone)]
pub struct BusEvent {
    /// This node's order of the event (assigned when it is published or received here): a
    /// client sees only events numbered after its latest subscription change, as if events
    /// were delivered at commit time.
    pub seq: u64,
    pub action: ChangeAction,
    pub collection_id: String,
    pub record: Map<String, Json>,
    /// The W3C `traceparent` of the write that published the event, so the work of delivering
    /// it joins the writer's trace.
    pub traceparent: Option<String>,
}

/// What a bus subscription yields.
#[derive(Debug, Clone)]
pub enum BusItem {
    Event(Arc<BusEvent>),
    /// This subscriber fell behind and `n` events were lost (delivery is at-most-once).
    Lagged(u64),
}

/// Fan-out of committed changes. `publish` must not block (it is called right after a commit);
/// each `subscribe` stream yields every event published after it was opened, in publish order
/// per publishing node. The in-process implementation is [`LocalBus`]; a shared one (Redis
/// pub/sub) makes a node deliver events for writes made on any node.
pub trait EventBus: Send + Sync + 'static {
    fn publish(&self, event: BusEvent);
    fn subscribe(&self) -> BoxStream<'static, BusItem>;
}

/// The in-process bus: a tokio broadcast channel.
pub struct LocalBus {
    tx: tokio::sync::broadcast::Sender<Arc<BusEvent>>,
}

impl LocalBus {
    /// A bus keeping up to `capacity` events for subscribers that are behind.
    pub fn new(capacity: usize) -> Self {
        LocalBus { tx: tokio::sync::broadcast::channel(capacity.max(16)).0 }
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        LocalBus::new(16 * 1024)
    }
}

impl EventBus for LocalBus {
    fn publish(&self, event: BusEvent) {
        // No subscriber (no realtime client on this node): nothing to do.
        self.tx.send(Arc::new(event)).ok();
    }

    fn subscribe(&self) -> BoxStream<'static, BusItem> {
        use tokio::sync::broadcast::error::RecvError;
        let rx = self.tx.subscribe();
        Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            match rx.recv().await {
                Ok(event) => Some((BusItem::Event(event), rx)),
                Err(RecvError::Lagged(n)) => Some((BusItem::Lagged(n), rx)),
                Err(RecvError::Closed) => None,
            }
        }))
    }
}
