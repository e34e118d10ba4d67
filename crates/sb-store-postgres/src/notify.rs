//! LISTEN/NOTIFY on one channel: the cluster's message transport when no Redis is configured.
//!
//! PostgreSQL delivers notifications to each listening session in the order the notifying
//! transactions committed, one order for every listener. A payload is limited to 8000 bytes, so
//! larger messages are stored in the unlogged table `_scalebase_bus` and the notification
//! carries `&<id>`; rows older than a minute are removed as new ones arrive.
//!
//! Publishing uses one connection of its own (statements pipeline on it); listening another,
//! re-established whenever it fails or stays silent for [`SILENCE`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, NoTls};

/// Longest wait for one publish or connection.
const CALL_TIMEOUT: Duration = Duration::from_millis(1000);
/// A listening session that delivered nothing for this long is re-established.
pub const SILENCE: Duration = Duration::from_secs(2);
/// Larger payloads travel by reference.
const INLINE_MAX: usize = 7900;

const CREATE_BUS_TABLE: &str = "CREATE UNLOGGED TABLE IF NOT EXISTS _scalebase_bus (\
     id BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL, \
     created TIMESTAMPTZ NOT NULL DEFAULT now())";

/// What a listening session reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Connected,
    Lost,
    Payload(String),
}

/// Publishes to and listens on one notification channel.
pub struct Notifier {
    config: tokio_postgres::Config,
    channel: String,
    client: tokio::sync::Mutex<Option<Arc<Client>>>,
    table_ready: AtomicBool,
    published_by_reference: AtomicU64,
}

impl Notifier {
    /// A notifier for `channel` (a plain lower-case identifier) of the database at `url`.
    pub fn new(url: &str, channel: &str) -> Result<Notifier, String> {
        let plain = !channel.is_empty()
            && channel.bytes().all(|b| b == b'_' || b.is_ascii_lowercase() || b.is_ascii_digit());
        if !plain {
            return Err(format!("invalid channel name {channel:?}"));
        }
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| format!("invalid PostgreSQL URL: {e}"))?;
        config.connect_timeout(CALL_TIMEOUT);
        config.application_name("scalebase-cluster");
        Ok(Notifier {
            config,
            channel: channel.to_owned(),
            client: tokio::sync::Mutex::new(None),
            table_ready: AtomicBool::new(false),
            published_by_reference: AtomicU64::new(0),
        })
    }

    async fn connect(&self) -> Result<Client, String> {
        let (client, connection) = tokio::time::timeout(CALL_TIMEOUT, self.config.connect(NoTls))
            .await
            .map_err(|_| "connecting timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    /// The publishing connection, opened when missing.
    async fn publisher(&self) -> Result<Arc<Client>, String> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(client.clone());
        }
        let client = Arc::new(self.connect().await?);
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Sends `payload` to every listener (this node's too).
    pub async fn publish(&self, payload: &str) -> Result<(), String> {
        let client = self.publisher().await?;
        let sent = tokio::time::timeout(CALL_TIMEOUT, self.send(&client, payload)).await;
        let result = match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("publishing timed out".to_owned()),
        };
        if result.is_err() {
            *self.client.lock().await = None;
        }
        result
    }

    async fn send(&self, client: &Client, payload: &str) -> Result<(), tokio_postgres::Error> {
        if payload.len() <= INLINE_MAX {
            client.execute("SELECT pg_notify($1, $2)", &[&self.channel, &payload]).await?;
            return Ok(());
        }
        if !self.table_ready.load(Ordering::Relaxed) {
            client.batch_execute(CREATE_BUS_TABLE).await?;
            self.table_ready.store(true, Ordering::Relaxed);
        }
        if self.published_by_reference.fetch_add(1, Ordering::Relaxed).is_multiple_of(100) {
            client
                .execute(
                    "DELETE FROM _scalebase_bus WHERE created < now() - interval '1 minute'",
                    &[],
                )
                .await?;
        }
        client
            .execute(
                "WITH stored AS (INSERT INTO _scalebase_bus (payload) VALUES ($2) RETURNING id) \
                 SELECT pg_notify($1, '&' || id::text) FROM stored",
                &[&self.channel, &payload],
            )
            .await?;
        Ok(())
    }

    /// Listens until the receiver is dropped, reconnecting as needed.
    pub fn listen(self: &Arc<Self>) -> mpsc::Receiver<Notice> {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(self.clone().listen_loop(tx));
        rx
    }

    async fn listen_loop(self: Arc<Self>, out: mpsc::Sender<Notice>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.listen_once(&out).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(e) => tracing::debug!(error = %e, "cluster notification session failed"),
            }
            if out.is_closed() {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    /// One listening session: `Connected`, the payloads, then `Lost`.
    async fn listen_once(&self, out: &mpsc::Sender<Notice>) -> Result<(), String> {
        let connect = tokio::time::timeout(CALL_TIMEOUT, self.config.connect(NoTls));
        let (client, mut connection) = connect
            .await
            .map_err(|_| "connecting timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        let (notices, mut incoming) = mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        if notices.send(n.payload().to_owned()).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        let listening = tokio::time::timeout(
            CALL_TIMEOUT,
            client.batch_execute(&format!("LISTEN \"{}\"", self.channel)),
        )
        .await;
        if !matches!(listening, Ok(Ok(()))) {
            driver.abort();
            return Err("LISTEN failed".into());
        }
        if out.send(Notice::Connected).await.is_err() {
            driver.abort();
            return Ok(());
        }
        loop {
            let next = tokio::time::timeout(SILENCE, incoming.recv()).await;
            let Ok(Some(payload)) = next else { break };
            let payload = match payload.strip_prefix('&') {
                Some(id) => match fetch(&client, id).await {
                    Some(p) => p,
                    None => continue,
                },
                None => payload,
            };
            if out.send(Notice::Payload(payload)).await.is_err() {
                break;
            }
        }
        driver.abort();
        let _ = out.send(Notice::Lost).await;
        Ok(())
    }
}

/// A payload stored by reference.
async fn fetch(client: &Client, id: &str) -> Option<String> {
    let id: i64 = id.parse().ok()?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
    let query = client.query_opt("SELECT payload FROM _scalebase_bus WHERE id = $1", &params);
    let row = tokio::time::timeout(CALL_TIMEOUT, query).await.ok()?.ok()??;
    row.try_get::<_, String>(0).ok()
}
