//! The server loop of the app nodes and the gateway: our own accept loop over hyper (HTTP/1.1
//! and HTTP/2, upgrades allowed), so that header-read and keep-alive timeouts are real
//! (`axum::serve` installs no timer), connections are capped, and shutdown drains.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Connection-level limits, and TLS.
#[derive(Clone)]
pub struct ServeConfig {
    /// Time allowed for a client to send a request's headers; also how long a connection may
    /// sit idle before its first request.
    pub header_read_timeout: Duration,
    /// Most simultaneous connections; further accepts wait. Every realtime (SSE) client holds
    /// one for as long as it is connected, so this bounds subscribers plus requests.
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests before dropping connections.
    pub drain_timeout: Duration,
    /// Terminates TLS on every connection (its handshake bounded by `header_read_timeout`);
    /// the protocol is the one ALPN chose (`h2`, else HTTP/1.1).
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("drain_timeout", &self.drain_timeout)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 25_000,
            drain_timeout: Duration::from_secs(10),
            tls: None,
        }
    }
}

/// Waits (up to `timeout`) until the client has sent enough to tell HTTP/1 from HTTP/2.
///
/// hyper's protocol detection reads the first bytes without any timer, and its header-read
/// timeout starts only after that, so a client that connects and sends nothing (or a prefix of
/// the HTTP/2 preface) would hold a connection slot forever. `false`: close the connection.
async fn wait_for_protocol(stream: &tokio::net::TcpStream, timeout: Duration) -> bool {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let deadline = tokio::time::Instant::now() + timeout;
    let mut buf = [0u8; PREFACE.len()];
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(Ok(n)) => n,
            _ => return false,
        };
        if n == 0 {
            return false;
        }
        if n == PREFACE.len() || buf[..n] != PREFACE[..n] {
            return true;
        }
        // A prefix of the HTTP/2 preface so far (`peek` returns at once while bytes are
        // buffered): look again shortly.
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Serves on `listener` until `shutdown` resolves, then stops accepting and waits (up to
/// `drain_timeout`) for open connections to finish their requests. `service` makes the
/// service of each connection from its peer's address.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: impl Fn(SocketAddr) -> S,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()>
where
    S: Service<http::Request<Incoming>, Response = http::Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true);
    // HTTP/2: pings find dead peers (an unanswered ping closes the connection), and one
    // connection may not open unbounded streams or send unbounded header lists.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20))
        .max_concurrent_streams(256)
        .max_header_list_size(64 * 1024);
    // Over TLS, ALPN has told the protocol: no detection read (which has no timer).
    let h1 = Arc::new(builder.clone().http1_only());
    let h2 = Arc::new(builder.clone().http2_only());
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    // Connections that have not sent their first bytes yet are not hyper's yet, so the graceful
    // shutdown cannot close them: they close when this turns true, instead of holding the drain
    // for the whole header-read timeout.
    let (stopping, stopped) = tokio::sync::watch::channel(false);
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Accept errors (e.g. too many open files) are transient: back off briefly.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        stream.set_nodelay(true).ok();
        let service = service(peer);
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let first_bytes_timeout = config.header_read_timeout;
        let tls = config.tls.clone();
        let (h1, h2) = (h1.clone(), h2.clone());
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let ready = tokio::select! {
                ready = wait_for_protocol(&stream, first_bytes_timeout) => ready,
                _ = stopped.wait_for(|stop| *stop) => false,
            };
            match (ready, tls) {
                (false, _) => {}
                (true, None) => {
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    if let Err(e) = watcher.watch(connection.into_owned()).await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                (true, Some(acceptor)) => {
                    let handshake = tokio::select! {
                        done = tokio::time::timeout(first_bytes_timeout, acceptor.accept(stream)) => done,
                        _ = stopped.wait_for(|stop| *stop) => return,
                    };
                    let stream = match handshake {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    };
                    let h2_chosen = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                    let builder = if h2_chosen { &h2 } else { &h1 };
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    if let Err(e) = watcher.watch(connection.into_owned()).await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    stopping.send_replace(true);
    if tokio::time::timeout(config.drain_timeout, graceful.shutdown()).await.is_err() {
        tracing::warn!("shutdown drain timed out; dropping open connections");
    }
    Ok(())
}
