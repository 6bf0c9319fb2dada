//! The HTTP server: accepts TCP connections and runs each through hyper into a poem endpoint.
//!
//! poem's own `Server` boxes every connection behind `tokio::io::split` (a lock taken on every
//! read and write), rewinds it for protocol detection, watches three cancellation tokens per
//! connection and builds the hyper service per request; here one connection is one hyper
//! connection over the [`DeadlineIo`] stream, and one `watch` channel tells every connection to
//! finish when the server stops. What the endpoint sees is the same: poem builds its `Request`
//! from hyper's, and hands back a `Response` hyper writes.
//!
//! Shutdown: the listener closes, every connection is asked to end gracefully (idle keep-alive
//! connections close at once; one with a request in flight closes after its response), and the
//! server waits for them at most `grace`, then drops the rest.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Endpoint, IntoResponse, Request};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::connection_deadline::{ConnectionTimeouts, DeadlineIo};

/// How long accepting pauses after a failure that is not one connection's own.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// The most header bytes an HTTP/2 client may send per request, as poem's server allows.
const HTTP2_MAX_HEADER_LIST_SIZE: u32 = 16 * 1024;

/// One listener serving one endpoint (held as its own type: a boxed endpoint would box every
/// request's future once more).
pub struct HttpServer<E> {
    listener: TcpListener,
    local_addr: SocketAddr,
    timeouts: ConnectionTimeouts,
    endpoint: Arc<E>,
}

impl<E: Endpoint + 'static> HttpServer<E> {
    /// Binds `address` (`host:port`; port 0 picks a free one).
    pub async fn bind(address: &str, timeouts: ConnectionTimeouts, endpoint: E) -> io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        let local_addr = listener.local_addr()?;
        Ok(HttpServer {
            listener,
            local_addr,
            timeouts,
            endpoint: Arc::new(endpoint),
        })
    }

    /// The address bound (the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves, then lets open connections finish for at most `grace`.
    pub async fn run(self, shutdown: impl Future<Output = ()>, grace: Duration) {
        let (stop, stopping) = watch::channel(false);
        let mut connections = JoinSet::new();
        let local = LocalAddr(self.local_addr.into());
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = accept(&self.listener) => {
                    let (stream, remote) = accepted;
                    let connection = Connection {
                        io: DeadlineIo::new(stream, self.timeouts),
                        local: local.clone(),
                        remote: RemoteAddr(remote.into()),
                        endpoint: self.endpoint.clone(),
                    };
                    connections.spawn(connection.serve(stopping.clone()));
                }
                // Reap finished connections as they end, so the set holds only open ones.
                Some(ended) = connections.join_next(), if !connections.is_empty() => report(ended),
            }
        }
        drop(self.listener);
        let _ = stop.send(true);
        let finished = tokio::time::timeout(grace, async {
            while let Some(ended) = connections.join_next().await {
                report(ended);
            }
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                open = connections.len(),
                "the shutdown grace ran out; closing the connections still open"
            );
        }
    }
}

/// The next connection. Never fails: a connection that died in the backlog is skipped; any other
/// failure (EMFILE, ENFILE, ENOBUFS) is logged and retried after a pause, during which finishing
/// connections give descriptors back, instead of spinning a core on an accept that fails at once.
async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(err) if is_connection_error(&err) => {}
            Err(err) => {
                tracing::error!(error = %err, "cannot accept connections; retrying in 100 ms");
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
            }
        }
    }
}

/// Failures of one incoming connection, not of the listener.
fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// A connection task that panicked is a bug worth a log line; the others end quietly.
fn report(ended: Result<(), tokio::task::JoinError>) {
    if let Err(err) = ended
        && err.is_panic()
    {
        tracing::error!(error = %err, "a connection task panicked");
    }
}

struct Connection<E> {
    io: DeadlineIo<TcpStream>,
    local: LocalAddr,
    remote: RemoteAddr,
    endpoint: Arc<E>,
}

impl<E: Endpoint + 'static> Connection<E> {
    /// HTTP/1.1 with keep-alive, or HTTP/2 with prior knowledge, until the client or the server
    /// ends it.
    async fn serve(self, mut stopping: watch::Receiver<bool>) {
        let Connection {
            io,
            local,
            remote,
            endpoint,
        } = self;
        let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let request = Request::from((request, local.clone(), remote.clone(), Scheme::HTTP));
            let endpoint = endpoint.clone();
            async move {
                // The endpoint's own `call`: `get_response` and `Arc`'s `Endpoint` each wrap its
                // future in one more, which moved the request once more.
                let response = match E::call(&endpoint, request).await {
                    Ok(response) => response.into_response(),
                    Err(err) => err.into_response(),
                };
                Ok::<_, Infallible>(hyper::Response::from(response))
            }
        });
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http2().max_header_list_size(HTTP2_MAX_HEADER_LIST_SIZE);
        let connection = builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = stopping.wait_for(|stop| *stop) => {}
        }
        connection.as_mut().graceful_shutdown();
        let _ = connection.await;
    }
}
