//! Deadlines on client connections: a slow or stalled client cannot hold a connection.
//!
//! The server sets no timer on hyper, so without this a client that sends a request line and
//! never finishes its headers keeps its connection (and a file descriptor) for ever. hyper's own
//! `header_read_timeout` cannot be used: it also runs while a keep-alive connection waits for its
//! next request, so it would close idle keep-alive connections after the header timeout, under a
//! load balancer that still believes them open.
//!
//! The server wraps every accepted stream in a [`DeadlineIo`], which watches the bytes
//! going by and keeps one deadline:
//! - from the moment a connection opens, or the first byte of a new request arrives, until the
//!   blank line that ends its headers: `header_read_timeout`. Empty lines before a request line
//!   are skipped, as hyper skips them: `\r\n\r\n` before any request is no end of headers, so
//!   a client sending only empty lines is cut like any other that never finishes its headers;
//! - while a request is being handled: none (the request timeout bounds the handler);
//! - after a response, while the connection waits for the next request: `keep_alive_timeout`.
//!
//! When the deadline passes, the next read fails with `TimedOut` and hyper closes the connection.
//!
//! The deadline moves twice per request, and it is only a number: the one timer behind it is
//! re-armed when it fires, not when the deadline moves. Every tokio timer change takes the
//! runtime's one timer lock and may wake the thread parked on the driver; moving a timer per
//! request cost three such changes, a contended lock and an `eventfd` write on most requests
//! (measured: specs/performance.md). The timer is set no later than `min(header_read,
//! keep_alive)` after it is armed, and every deadline lies at least that far after the moment it
//! is set, so the timer always fires at or before the deadline; when it fires early it is moved
//! to the deadline (or another such period on), so a connection touches the timer once per
//! period at most, whatever its request rate.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The two limits, from `HEADER_READ_TIMEOUT_SECONDS` and `KEEP_ALIVE_TIMEOUT_SECONDS`.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionTimeouts {
    pub header_read: Duration,
    pub keep_alive: Duration,
}

impl ConnectionTimeouts {
    /// The longest the timer may run before it is looked at: no deadline is ever set closer
    /// than this to the moment it is set.
    fn timer_period(&self) -> Duration {
        self.header_read.min(self.keep_alive)
    }
}

/// Where a connection is in its request/response cycle, as seen from its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the first byte of a request line. Empty lines (`\r\n`, or a bare `\n`) are
    /// read past without ending anything: hyper skips them before a request, so to it no
    /// request has begun.
    BeforeRequest,
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
    /// When the connection must have moved on; set in `Head` and `Idle`, `None` while handling.
    deadline: Option<Instant>,
    /// Fires at or before `deadline` (see the module docs); moved only when it fires.
    timer: Pin<Box<Sleep>>,
}

impl<T> DeadlineIo<T> {
    pub fn new(inner: T, timeouts: ConnectionTimeouts) -> Self {
        let now = Instant::now();
        Self {
            inner,
            timeouts,
            phase: Phase::BeforeRequest,
            deadline: Some(now + timeouts.header_read),
            timer: Box::pin(tokio::time::sleep_until(now + timeouts.timer_period())),
        }
    }

    fn arm(&mut self, after: Duration) {
        self.deadline = Some(Instant::now() + after);
    }

    /// Follows the bytes a read delivered through the phases.
    fn observe_read(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let (matched, bytes) = match self.phase {
            Phase::BeforeRequest if bytes.starts_with(HTTP2_PREFACE) => {
                self.phase = Phase::Http2;
                self.arm(self.timeouts.keep_alive);
                return;
            }
            Phase::Http2 => {
                self.arm(self.timeouts.keep_alive);
                return;
            }
            Phase::BeforeRequest => match skip_empty_lines(bytes) {
                Some(request) => (0, request),
                // Nothing but empty lines so far: the header clock keeps running.
                None => return,
            },
            Phase::Head { matched } => (matched, bytes),
            // Body bytes (or a pipelined request, which is rare and bounded by the request timeout).
            Phase::Handling => return,
            Phase::Idle => {
                // The first byte of the next request (or of an empty line before it) starts its
                // header clock.
                self.arm(self.timeouts.header_read);
                self.phase = Phase::BeforeRequest;
                match skip_empty_lines(bytes) {
                    Some(request) => (0, request),
                    None => return,
                }
            }
        };
        if ends_headers(matched, bytes) {
            // Whatever follows the headers in this read is body.
            self.phase = Phase::Handling;
            self.deadline = None;
            return;
        }
        self.phase = Phase::Head {
            matched: matched_after(matched, bytes),
        };
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

    /// Whether the deadline has passed; otherwise the timer is registered to wake the task.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        while self.timer.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            let next_check = now + self.timeouts.timer_period();
            match self.deadline {
                Some(deadline) if deadline <= now => return true,
                Some(deadline) => self.timer.as_mut().reset(deadline.min(next_check)),
                None => self.timer.as_mut().reset(next_check),
            }
        }
        false
    }
}

/// The read from the first byte that is not part of an empty line, as hyper (httparse) skips
/// `\r` and `\n` before a request line; `None` when the whole read is such bytes.
fn skip_empty_lines(bytes: &[u8]) -> Option<&[u8]> {
    let start = bytes.iter().position(|byte| !matches!(byte, b'\r' | b'\n'))?;
    Some(&bytes[start..])
}

/// The blank line that ends a header block.
const END_OF_HEADERS: &[u8; 4] = b"\r\n\r\n";

/// Whether `bytes`, read after `matched` bytes of [`END_OF_HEADERS`], complete it. The whole read
/// is searched at once (SIMD): a request's head is a few hundred bytes, stepped through one by one
/// it was 2 % of a request's instructions.
fn ends_headers(matched: u8, bytes: &[u8]) -> bool {
    let completes_the_partial =
        bytes
            .iter()
            .take(END_OF_HEADERS.len() - usize::from(matched))
            .try_fold(matched, |matched, &byte| match next_match(matched, byte) {
                0 => None,
                matched => Some(matched),
            })
            == Some(4);
    completes_the_partial || memchr::memmem::find(bytes, END_OF_HEADERS).is_some()
}

/// How much of [`END_OF_HEADERS`] the read leaves matched at its end, given that it did not
/// complete it: at most its last three bytes count, together with what was matched before when
/// the read is shorter than that.
fn matched_after(matched: u8, bytes: &[u8]) -> u8 {
    let (start, tail) = match bytes.len().checked_sub(END_OF_HEADERS.len() - 1) {
        Some(skipped) => (0, &bytes[skipped..]),
        None => (matched, bytes),
    };
    tail.iter().fold(start, |matched, &byte| next_match(matched, byte))
}

/// One step of matching [`END_OF_HEADERS`].
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

#[cfg(test)]
mod tests {
    use tokio::io::DuplexStream;

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
    async fn empty_lines_before_a_request_neither_end_its_headers_nor_stop_the_clock() {
        let mut io = io();
        io.observe_read(b"\r\n\r\n");
        assert_eq!(io.phase, Phase::BeforeRequest);
        io.observe_read(b"\n\n\r\n");
        assert_eq!(io.phase, Phase::BeforeRequest);
        assert!(io.deadline.is_some());
        io.observe_read(b"\r\nGET / HTTP/1.1\r\nHost: x\r\n");
        assert_eq!(io.phase, Phase::Head { matched: 2 });
        assert!(io.deadline.is_some());
        io.observe_read(b"\r\n");
        assert_eq!(io.phase, Phase::Handling);
        assert!(io.deadline.is_none());

        // The same on a keep-alive connection after an answer: the empty lines start the header
        // clock, and only a request's own blank line stops it.
        io.observe_write(b"HTTP/1.1 200 OK\r\n");
        io.observe_read(b"\r\n\r\n");
        assert_eq!(io.phase, Phase::BeforeRequest);
        assert!(io.deadline.is_some());
        io.observe_read(b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(io.phase, Phase::Handling);
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_sending_only_empty_lines_is_cut_at_the_header_timeout() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut client, server) = tokio::io::duplex(1024);
        let mut io = DeadlineIo::new(server, timeouts());
        client.write_all(b"\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(io.read(&mut buf).await.unwrap(), 4);
        let waited = time_until_cut(&mut io).await;
        assert!(about(waited, 10), "{waited:?}");
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

    fn timeouts() -> ConnectionTimeouts {
        ConnectionTimeouts {
            header_read: Duration::from_secs(10),
            keep_alive: Duration::from_secs(75),
        }
    }

    /// Reads until the deadline cuts the connection; how long that took.
    async fn time_until_cut<T: AsyncRead + Unpin>(io: &mut DeadlineIo<T>) -> Duration {
        use tokio::io::AsyncReadExt;
        let started = Instant::now();
        let mut buf = [0u8; 64];
        let err = io.read(&mut buf).await.expect_err("the deadline cuts the read");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        started.elapsed()
    }

    fn about(duration: Duration, seconds: u64) -> bool {
        let expected = Duration::from_secs(seconds);
        duration >= expected && duration <= expected + Duration::from_millis(5)
    }

    #[tokio::test(start_paused = true)]
    async fn headers_that_never_end_are_cut_at_the_header_timeout() {
        let (_client, server) = tokio::io::duplex(1024);
        let mut io = DeadlineIo::new(server, timeouts());
        let waited = time_until_cut(&mut io).await;
        assert!(about(waited, 10), "{waited:?}");
    }

    /// A connection whose first request has been read: the client's end and the server's.
    async fn handling_a_request() -> (DuplexStream, DeadlineIo<DuplexStream>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut client, server) = tokio::io::duplex(1024);
        let mut io = DeadlineIo::new(server, timeouts());
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        assert!(io.read(&mut buf).await.unwrap() > 0);
        (client, io)
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_is_cut_at_the_keep_alive_timeout_although_its_timer_ran_shorter() {
        use tokio::io::AsyncWriteExt;
        let (_client, mut io) = handling_a_request().await;
        // Handling for longer than either timeout: no deadline runs meanwhile.
        tokio::time::sleep(Duration::from_secs(100)).await;
        io.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        // The timer wakes every 10 s (the shorter timeout) and is moved on; the cut comes at 75 s.
        let waited = time_until_cut(&mut io).await;
        assert!(about(waited, 75), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_starting_late_in_the_idle_time_gets_the_whole_header_timeout() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut client, mut io) = handling_a_request().await;
        io.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        // 70 s idle, then the first bytes of a request whose headers never end.
        tokio::time::sleep(Duration::from_secs(70)).await;
        client.write_all(b"GET /slow HTTP/1.1\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        assert!(io.read(&mut buf).await.unwrap() > 0);
        let waited = time_until_cut(&mut io).await;
        assert!(about(waited, 10), "{waited:?}");
    }

    #[test]
    fn a_lone_carriage_return_restarts_the_match() {
        assert_eq!(next_match(2, b'\r'), 3);
        assert_eq!(next_match(3, b'\r'), 1);
        assert_eq!(next_match(1, b'x'), 0);
    }

    /// The end of the headers, found one byte at a time: what the whole-read search must agree with.
    fn byte_by_byte(reads: &[&[u8]]) -> (Option<usize>, u8) {
        let mut matched = 0;
        for (index, read) in reads.iter().enumerate() {
            for &byte in *read {
                matched = next_match(matched, byte);
                if matched == 4 {
                    return (Some(index), 0);
                }
            }
        }
        (None, matched)
    }

    fn whole_reads(reads: &[&[u8]]) -> (Option<usize>, u8) {
        let mut matched = 0;
        for (index, read) in reads.iter().enumerate() {
            if ends_headers(matched, read) {
                return (Some(index), 0);
            }
            matched = matched_after(matched, read);
        }
        (None, matched)
    }

    #[test]
    fn the_end_of_the_headers_is_found_in_whichever_read_completes_it() {
        let heads: [&[u8]; 6] = [
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody",
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: \r\r\n\n\r\nY: b\r\n\r\n",
            b"\r\n\r\n",
            b"\r\r\n\r\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n\r",
        ];
        for head in heads {
            // Every way of cutting the head into three reads (empty reads included).
            for first in 0..=head.len() {
                for second in first..=head.len() {
                    let reads = [&head[..first], &head[first..second], &head[second..]];
                    assert_eq!(
                        whole_reads(&reads),
                        byte_by_byte(&reads),
                        "{:?}",
                        reads.map(String::from_utf8_lossy)
                    );
                }
            }
        }
    }
}
