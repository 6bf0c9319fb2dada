//! Deadlines on client connections: a slow or stalled client cannot hold a connection.
//!
//! poem's server sets no timer on hyper, so without this a client that sends a request line and
//! never finishes its headers keeps its connection (and a file descriptor) for ever. hyper's own
//! `header_read_timeout` cannot be used: it also runs while a keep-alive connection waits for its
//! next request, so it would close idle keep-alive connections after the header timeout, under a
//! load balancer that still believes them open.
//!
//! [`DeadlineAcceptor`] wraps every accepted stream in a [`DeadlineIo`], which watches the bytes
//! going by and keeps one deadline:
//! - from the moment a connection opens, or the first byte of a new request arrives, until the
//!   blank line that ends its headers: `header_read_timeout`;
//! - while a request is being handled: none (the request timeout bounds the handler);
//! - after a response, while the connection waits for the next request: `keep_alive_timeout`.
//!
//! When the deadline passes, the next read fails with `TimedOut` and hyper closes the connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The two limits, from `HEADER_READ_TIMEOUT_SECONDS` and `KEEP_ALIVE_TIMEOUT_SECONDS`.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionTimeouts {
    pub header_read: Duration,
    pub keep_alive: Duration,
}

/// Where a connection is in its request/response cycle, as seen from its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Reading a request's headers; `matched` counts the bytes of `\r\n\r\n` seen so far.
    Head { matched: u8 },
    /// The headers are in: the request (its body, the handler, the response) is under way.
    Handling,
    /// A response has been written; the connection waits for the next request.
    Idle,
    /// HTTP/2 with prior knowledge: frames, not header blocks. Any traffic in either direction
    /// moves the keep-alive clock.
    Http2,
}

/// How an HTTP/2 client without TLS opens its connection (RFC 9113 §3.4).
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

/// A stream with the deadlines described in the module docs.
pub struct DeadlineIo<T> {
    inner: T,
    timeouts: ConnectionTimeouts,
    phase: Phase,
    /// Armed in `Head` and `Idle`; `None` while handling.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<T> DeadlineIo<T> {
    pub fn new(inner: T, timeouts: ConnectionTimeouts) -> Self {
        let mut io = Self {
            inner,
            timeouts,
            phase: Phase::Head { matched: 0 },
            deadline: None,
        };
        io.arm(timeouts.header_read);
        io
    }

    fn arm(&mut self, after: Duration) {
        let at = Instant::now() + after;
        match &mut self.deadline {
            Some(sleep) => sleep.as_mut().reset(at),
            None => self.deadline = Some(Box::pin(tokio::time::sleep_until(at))),
        }
    }

    /// Follows the bytes a read delivered through the phases.
    fn observe_read(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut matched = match self.phase {
            Phase::Head { matched: 0 } if bytes.starts_with(HTTP2_PREFACE) => {
                self.phase = Phase::Http2;
                self.arm(self.timeouts.keep_alive);
                return;
            }
            Phase::Http2 => {
                self.arm(self.timeouts.keep_alive);
                return;
            }
            Phase::Head { matched } => matched,
            // Body bytes (or a pipelined request, which is rare and bounded by the request timeout).
            Phase::Handling => return,
            Phase::Idle => {
                // The first byte of the next request starts its header clock.
                self.arm(self.timeouts.header_read);
                0
            }
        };
        for &byte in bytes {
            matched = next_match(matched, byte);
            if matched == 4 {
                // Whatever follows the headers in this read is body.
                self.phase = Phase::Handling;
                self.deadline = None;
                return;
            }
        }
        self.phase = Phase::Head { matched };
    }

    /// A response is being written: afterwards the connection is idle until the next request,
    /// and every further write moves the keep-alive clock. An interim `100 Continue` is not the
    /// response: the body it invites is still to come.
    fn observe_write(&mut self, first_bytes: &[u8]) {
        match self.phase {
            Phase::Handling if first_bytes.starts_with(b"HTTP/1.1 100") => return,
            Phase::Http2 => {}
            _ => self.phase = Phase::Idle,
        }
        self.arm(self.timeouts.keep_alive);
    }

    /// Follows a write that made progress, whose data began with `first_bytes`.
    fn after_write(&mut self, cx: &mut Context<'_>, result: &Poll<io::Result<usize>>, first_bytes: &[u8]) {
        if matches!(result, Poll::Ready(Ok(written)) if *written > 0) {
            self.observe_write(first_bytes);
            self.watch_deadline(cx);
        }
    }

    /// Registers the connection's task to be woken when the deadline passes. Needed after a
    /// write arms it: hyper does not poll the read side again until something wakes it, so a
    /// deadline first polled there would never fire on an idle connection.
    fn watch_deadline(&mut self, cx: &mut Context<'_>) {
        if self.expired(cx) {
            // Already past (a stalled write): the next read reports it.
            cx.waker().wake_by_ref();
        }
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready())
    }
}

/// One step of matching `\r\n\r\n` (the end of a header block).
fn next_match(matched: u8, byte: u8) -> u8 {
    match (matched, byte) {
        (0 | 2, b'\r') => matched + 1,
        (1 | 3, b'\n') => matched + 1,
        (_, b'\r') => 1,
        _ => 0,
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for DeadlineIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.observe_read(&buf.filled()[before..]);
                this.watch_deadline(cx);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending if this.expired(cx) => {
                let what = match this.phase {
                    Phase::Idle => "idle keep-alive connection",
                    _ => "request headers not received in time",
                };
                tracing::debug!(what, "closing connection");
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for DeadlineIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write(cx, data);
        this.after_write(cx, &result, data);
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        let first = bufs.iter().find(|buf| !buf.is_empty()).map_or(&[][..], |buf| &buf[..]);
        this.after_write(cx, &result, first);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// An acceptor whose connections carry the deadlines.
pub struct DeadlineAcceptor<A> {
    inner: A,
    timeouts: ConnectionTimeouts,
}

impl<A> DeadlineAcceptor<A> {
    pub fn new(inner: A, timeouts: ConnectionTimeouts) -> Self {
        Self { inner, timeouts }
    }
}

impl<A: Acceptor> Acceptor for DeadlineAcceptor<A> {
    type Io = DeadlineIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    /// Never fails: poem's server loop retries a failed accept at once, which spins a core when
    /// the process is out of file descriptors. A connection that died in the backlog is skipped;
    /// any other failure (EMFILE, ENFILE, ENOBUFS) is logged and retried after a pause, during
    /// which finishing connections give descriptors back.
    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        loop {
            match self.inner.accept().await {
                Ok((io, local, remote, scheme)) => {
                    return Ok((DeadlineIo::new(io, self.timeouts), local, remote, scheme));
                }
                Err(err) if is_connection_error(&err) => {}
                Err(err) => {
                    tracing::error!(error = %err, "cannot accept connections; retrying in 100 ms");
                    tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                }
            }
        }
    }
}

/// How long accepting pauses after a failure that is not one connection's own.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Failures of one incoming connection, not of the listener.
fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io() -> DeadlineIo<()> {
        DeadlineIo::new(
            (),
            ConnectionTimeouts {
                header_read: Duration::from_secs(10),
                keep_alive: Duration::from_secs(75),
            },
        )
    }

    #[tokio::test]
    async fn the_header_clock_stops_at_the_blank_line_even_across_reads() {
        let mut io = io();
        io.observe_read(b"GET / HTTP/1.1\r\nHost: x\r");
        assert_eq!(io.phase, Phase::Head { matched: 1 });
        assert!(io.deadline.is_some());
        io.observe_read(b"\n\r");
        assert_eq!(io.phase, Phase::Head { matched: 3 });
        io.observe_read(b"\n{\"title\":");
        assert_eq!(io.phase, Phase::Handling);
        assert!(io.deadline.is_none());
        // Body bytes do not restart anything.
        io.observe_read(b"\r\n\r\n");
        assert_eq!(io.phase, Phase::Handling);
    }

    #[tokio::test]
    async fn a_response_starts_the_keep_alive_clock_and_the_next_request_the_header_clock() {
        let mut io = io();
        io.observe_read(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
        io.observe_write(b"HTTP/1.1 100 Continue\r\n\r\n");
        assert_eq!(io.phase, Phase::Handling);
        io.observe_read(b"{}");
        io.observe_write(b"HTTP/1.1 200 OK\r\n");
        assert_eq!(io.phase, Phase::Idle);
        assert!(io.deadline.is_some());
        io.observe_read(b"G");
        assert_eq!(io.phase, Phase::Head { matched: 0 });
        io.observe_read(b"ET / HTTP/1.1\r\n\r\n");
        assert_eq!(io.phase, Phase::Handling);
    }

    #[tokio::test]
    async fn http2_connections_only_have_the_keep_alive_clock() {
        let mut io = io();
        io.observe_read(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        assert_eq!(io.phase, Phase::Http2);
        io.observe_write(b"\0\0\0\x04");
        io.observe_read(b"frames");
        assert_eq!(io.phase, Phase::Http2);
        assert!(io.deadline.is_some());
    }

    #[test]
    fn a_lone_carriage_return_restarts_the_match() {
        assert_eq!(next_match(2, b'\r'), 3);
        assert_eq!(next_match(3, b'\r'), 1);
        assert_eq!(next_match(1, b'x'), 0);
    }
}
