//! The cluster transport a node uses: Redis pub/sub when `--redis` is given, else PostgreSQL
//! LISTEN/NOTIFY when the database is PostgreSQL, else none (a single SQLite node).

use std::sync::Arc;

use futures::stream::BoxStream;
use sb_core::{Link, Transport};
use sb_store_postgres::notify::{Notice, Notifier};

use crate::config::{Database, ServeConfig};

/// The notification channel of the PostgreSQL transport (one per database).
pub const PG_CHANNEL: &str = "scalebase_cluster";

/// The transport `config` asks for, if any.
pub fn transport(
    config: &ServeConfig,
    redis: Option<&sb_redis::Redis>,
) -> anyhow::Result<Option<Arc<dyn Transport>>> {
    if let Some(redis) = redis {
        return Ok(Some(Arc::new(sb_redis::RedisTransport::new(redis.clone()))));
    }
    match &config.storage.database {
        Database::Postgres { url, .. } => {
            Ok(Some(Arc::new(PgTransport::new(url).map_err(|e| anyhow::anyhow!(e))?)))
        }
        Database::Sqlite { .. } => Ok(None),
    }
}

/// LISTEN/NOTIFY as a cluster transport.
pub struct PgTransport {
    notifier: Arc<Notifier>,
}

impl PgTransport {
    /// The transport over the database at `url` (channel [`PG_CHANNEL`]).
    pub fn new(url: &str) -> Result<PgTransport, String> {
        Ok(PgTransport { notifier: Arc::new(Notifier::new(url, PG_CHANNEL)?) })
    }
}

#[async_trait::async_trait]
impl Transport for PgTransport {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn publish(&self, message: String) -> Result<(), String> {
        self.notifier.publish(&message).await
    }

    fn subscribe(&self) -> BoxStream<'static, Link> {
        let notices = self.notifier.listen();
        Box::pin(futures::stream::unfold(notices, |mut notices| async move {
            let link = match notices.recv().await? {
                Notice::Connected => Link::Up,
                Notice::Lost => Link::Down,
                Notice::Payload(text) => Link::Message(text),
            };
            Some((link, notices))
        }))
    }
}
