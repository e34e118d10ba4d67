//! How the gateway opens upstream connections: hyper-util's `HttpConnector` with a cap on the
//! connections open to each upstream at once (its pool's `limits.max_connections`). A
//! connection holds a permit of its upstream's semaphore from before it connects until it
//! closes, so a request that needs one more connection while the cap is reached waits for a
//! connection to close, or (hyper-util's pool races the two) takes one that became idle.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::pool::Pool;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The connector of the gateway's clients.
#[derive(Clone)]
pub(crate) struct Capped {
    inner: HttpConnector,
    /// Where the caps are found: the endpoint of some pool with the URI's authority.
    pools: Arc<[Arc<Pool>]>,
}

impl Capped {
    pub(crate) fn new(inner: HttpConnector, pools: Arc<[Arc<Pool>]>) -> Capped {
        Capped { inner, pools }
    }

    fn cap(&self, uri: &Uri) -> Option<Arc<Semaphore>> {
        let authority = uri.authority()?;
        self.pools.iter().find_map(|pool| {
            pool.endpoints()
                .iter()
                .find(|e| e.upstream.authority == *authority)
                .map(|e| e.connections.clone())
        })
    }
}

impl tower::Service<Uri> for Capped {
    type Response = CappedIo;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<CappedIo, Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let cap = self.cap(&uri);
        let mut inner = self.inner.clone();
        Box::pin(async move {
            let permit = match cap {
                Some(cap) => Some(cap.acquire_owned().await?),
                None => None,
            };
            let io = inner.call(uri).await?;
            Ok(CappedIo { io, _permit: permit })
        })
    }
}

/// A connection with its permit.
pub(crate) struct CappedIo {
    io: TokioIo<TcpStream>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Connection for CappedIo {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

impl hyper::rt::Read for CappedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for CappedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}
