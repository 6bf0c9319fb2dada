//! Draining before shutdown: what lets a load balancer take an instance out of rotation before it
//! stops, so that a rolling restart fails no request.
//!
//! On SIGTERM the service first drains for `SHUTDOWN_DRAIN_SECONDS`: it keeps serving, but
//! `/health` answers 503 `shutting_down` (the balancer's check takes the instance out) and every
//! response carries `Connection: close` (clients and proxies reconnect elsewhere after the answer
//! they are waiting for, instead of a keep-alive connection that is about to close under them).
//! Only then does it stop accepting connections and give in-flight requests the shutdown grace.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the instance is draining; cloned into every part that behaves differently then.
#[derive(Clone, Debug, Default)]
pub struct Drain(Arc<AtomicBool>);

impl Drain {
    pub fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
