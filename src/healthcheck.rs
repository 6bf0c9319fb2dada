//! `todo-api healthcheck`: asks the running server's `/health` and exits 0 or 1 — the container
//! image's `HEALTHCHECK`, which has no curl. A plain HTTP/1.1 exchange over loopback: nothing to
//! verify but the status line.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// How long the whole check may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The address to ask: the server's own, or loopback when it listens on every interface.
pub fn target(host: IpAddr, port: u16) -> SocketAddr {
    let host = if host.is_unspecified() {
        match host {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        }
    } else {
        host
    };
    SocketAddr::new(host, port)
}

/// `Ok(())` when `/health` answers 200; otherwise what went wrong.
pub fn check(address: SocketAddr) -> Result<(), String> {
    let mut stream =
        TcpStream::connect_timeout(&address, TIMEOUT).map_err(|err| format!("cannot connect to {address}: {err}"))?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(|err| err.to_string())?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(|err| err.to_string())?;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|err| format!("cannot send the request: {err}"))?;
    let mut head = [0u8; 64];
    let read = stream.read(&mut head).map_err(|err| format!("no answer: {err}"))?;
    let status_line = String::from_utf8_lossy(&head[..read]);
    let status = status_line.split(' ').nth(1).unwrap_or_default();
    if status == "200" {
        Ok(())
    } else {
        Err(format!(
            "/health answered {}",
            status_line.lines().next().unwrap_or("nothing")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_interface_is_asked_on_loopback() {
        assert_eq!(
            target("0.0.0.0".parse().unwrap(), 7860),
            "127.0.0.1:7860".parse().unwrap()
        );
        assert_eq!(target("::".parse().unwrap(), 80), "[::1]:80".parse().unwrap());
        assert_eq!(
            target("10.1.2.3".parse().unwrap(), 8000),
            "10.1.2.3:8000".parse().unwrap()
        );
    }

    #[test]
    fn nothing_listening_is_a_failure_with_a_reason() {
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = check(free).unwrap_err();
        assert!(err.starts_with("cannot connect to 127.0.0.1:"), "{err}");
    }
}
