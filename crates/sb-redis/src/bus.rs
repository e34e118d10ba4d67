//! The cluster transport over Redis pub/sub: one channel (`<prefix>cluster`) every node
//! publishes to and subscribes on. Redis delivers a channel's messages to each subscriber in
//! the order it executed the `PUBLISH`es, the single order `sb_core::cluster` relies on.
//!
//! Messages larger than [`INLINE_MAX`] travel by reference: the text is stored under a key
//! that expires after a minute and the channel carries `&<key>`, written in one atomic
//! pipeline so the key exists before anyone hears of it.
//!
//! The subscription runs on a dedicated connection, re-established whenever it fails or falls
//! silent for [`SILENCE`] (a hung Redis keeps the socket open but delivers nothing; every node
//! says hello several times a second, so silence means trouble).

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use sb_core::{Link, Transport};
use tokio::sync::mpsc;

use crate::{CALL_TIMEOUT, Redis};

/// Larger messages travel by reference.
pub const INLINE_MAX: usize = 64 * 1024;
/// A subscription that delivered nothing for this long is re-established.
pub const SILENCE: Duration = Duration::from_secs(2);
/// How long a message sent by reference stays readable.
const BLOB_TTL_MS: u64 = 60_000;

/// The cluster transport over Redis.
pub struct RedisTransport {
    redis: Redis,
    channel: String,
}

impl RedisTransport {
    pub fn new(redis: Redis) -> RedisTransport {
        let channel = redis.key("cluster");
        RedisTransport { redis, channel }
    }
}

#[async_trait::async_trait]
impl Transport for RedisTransport {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn publish(&self, message: String) -> Result<(), String> {
        let channel = self.channel.clone();
        if message.len() <= INLINE_MAX {
            return self
                .redis
                .call(|mut c| async move {
                    redis::cmd("PUBLISH").arg(channel).arg(message).query_async::<i64>(&mut c).await
                })
                .await
                .map(drop);
        }
        let key = self.redis.key(&format!("blob:{:032x}", rand::random::<u128>()));
        self.redis
            .call(|mut c| async move {
                redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg(&key)
                    .arg(message)
                    .arg("PX")
                    .arg(BLOB_TTL_MS)
                    .ignore()
                    .cmd("PUBLISH")
                    .arg(channel)
                    .arg(format!("&{key}"))
                    .query_async::<(i64,)>(&mut c)
                    .await
            })
            .await
            .map(drop)
    }

    fn subscribe(&self) -> BoxStream<'static, Link> {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(listen(self.redis.clone(), self.channel.clone(), tx));
        Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|link| (link, rx))
        }))
    }
}

/// Keeps a subscription to `channel` open, reconnecting with a short backoff, until `out`
/// is dropped.
async fn listen(redis: Redis, channel: String, out: mpsc::Sender<Link>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let connected = tokio::time::timeout(CALL_TIMEOUT, async {
            let mut pubsub = redis.inner.client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await;
        match connected {
            Ok(Ok(pubsub)) => {
                backoff = Duration::from_millis(100);
                if out.send(Link::Up).await.is_err() {
                    return;
                }
                let mut messages = pubsub.into_on_message();
                loop {
                    let next = tokio::time::timeout(SILENCE, messages.next()).await;
                    let Ok(Some(msg)) = next else { break };
                    let Ok(text) = msg.get_payload::<String>() else { continue };
                    let text = match text.strip_prefix('&') {
                        Some(key) => match fetch(&redis, key).await {
                            Some(text) => text,
                            None => continue,
                        },
                        None => text,
                    };
                    if out.send(Link::Message(text)).await.is_err() {
                        return;
                    }
                }
                if out.send(Link::Down).await.is_err() {
                    return;
                }
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "cannot subscribe to the cluster channel"),
            Err(_) => tracing::debug!("subscribing to the cluster channel timed out"),
        }
        if out.is_closed() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

/// A message sent by reference.
async fn fetch(redis: &Redis, key: &str) -> Option<String> {
    let key = key.to_owned();
    redis
        .call(|mut c| async move {
            redis::cmd("GET").arg(key).query_async::<Option<String>>(&mut c).await
        })
        .await
        .ok()
        .flatten()
}
