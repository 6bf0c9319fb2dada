//! A TCP proxy between the app and PostgreSQL that a test can cut, stall and restore, to provoke
//! database outages for real.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const FORWARD: u8 = 0;
const CUT: u8 = 1;
const STALL: u8 = 2;

pub struct Proxy {
    pub addr: SocketAddr,
    mode: Arc<AtomicU8>,
    /// Bumped on `cut`: every open connection is dropped.
    generation: watch::Sender<u64>,
    _task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`. A positive `first_delay`
    /// holds the first connection that long before forwarding it.
    pub async fn start(upstream: SocketAddr, first_delay: Duration) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(FORWARD));
        let (generation, _) = watch::channel(0u64);
        let task = tokio::spawn(accept_loop(
            listener,
            upstream,
            mode.clone(),
            generation.clone(),
            first_delay,
        ));
        Proxy {
            addr,
            mode,
            generation,
            _task: task,
        }
    }

    /// Drops every open connection and refuses new ones, as a network failure would.
    pub fn cut(&self) {
        self.mode.store(CUT, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Keeps connections open but forwards nothing: the database "hangs".
    pub fn stall(&self) {
        self.mode.store(STALL, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Forwards again. Connections held by a stall are closed, as a long network hang ends.
    pub fn restore(&self) {
        self.mode.store(FORWARD, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    mode: Arc<AtomicU8>,
    generation: watch::Sender<u64>,
    first_delay: Duration,
) {
    let mut first = true;
    loop {
        let Ok((client, _)) = listener.accept().await else {
            return;
        };
        let delay = if std::mem::take(&mut first) {
            first_delay
        } else {
            Duration::ZERO
        };
        match mode.load(Ordering::SeqCst) {
            CUT => drop(client),
            STALL => {
                // Hold the socket silently until the next mode change.
                let mut changed = generation.subscribe();
                tokio::spawn(async move {
                    let _client = client;
                    let _ = changed.changed().await;
                });
            }
            _ => {
                let mut changed = generation.subscribe();
                let mode = mode.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let mut client = client;
                    tokio::select! {
                        _ = copy_bidirectional(&mut client, &mut server) => {}
                        _ = changed.changed() => {
                            // A stall keeps the connection open but silent until the next change;
                            // a cut closes it.
                            if mode.load(Ordering::SeqCst) == STALL {
                                let _ = changed.changed().await;
                            }
                        }
                    }
                });
            }
        }
    }
}

/// The `host:port` of a PostgreSQL URL, resolved.
pub fn socket_addr_of(url: &str) -> SocketAddr {
    let after_scheme = url.split_once("://").unwrap().1;
    let authority = after_scheme.split(['/', '?']).next().unwrap();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&host_port)
        .unwrap()
        .next()
        .unwrap()
}

/// `url` with its host and port replaced by `addr`.
pub fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, after_scheme) = url.split_once("://").unwrap();
    let (authority, rest) = match after_scheme.find(['/', '?']) {
        Some(i) => after_scheme.split_at(i),
        None => (after_scheme, ""),
    };
    let credentials = authority
        .rsplit_once('@')
        .map(|(c, _)| format!("{c}@"))
        .unwrap_or_default();
    format!("{scheme}://{credentials}{addr}{rest}")
}
