//! Liveness and readiness, as Kubernetes probes ask for them (`/livez`, `/readyz` on the HTTP
//! listener, [`crate::http`]).
//!
//! Live: the process is serving HTTP. Ready: every check below passes. Checks a cluster will
//! add (caught up with the metadata quorum, not in a leadership drain) belong here as more
//! named checks; `/readyz?verbose` lists them all, in the style of the Kubernetes API server.

use std::sync::atomic::{AtomicBool, Ordering};

/// The readiness checks, each set once its condition holds.
#[derive(Default)]
pub struct Health {
    /// Every log opened (and recovered after an unclean stop), groups loaded.
    logs_recovered: AtomicBool,
    /// The Kafka listener is bound and accepting.
    listeners_bound: AtomicBool,
    /// Shutdown has begun: no longer ready, so load balancers stop sending clients.
    shutting_down: AtomicBool,
}

/// One check's name and whether it passes.
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// Why it does not pass yet.
    pub reason: &'static str,
}

impl Health {
    pub fn new() -> Health {
        Health::default()
    }

    pub fn set_logs_recovered(&self) {
        self.logs_recovered.store(true, Ordering::Release);
    }

    pub fn set_listeners_bound(&self) {
        self.listeners_bound.store(true, Ordering::Release);
    }

    pub fn set_shutting_down(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// Every readiness check, in order.
    pub fn checks(&self) -> [Check; 3] {
        let get = |flag: &AtomicBool| flag.load(Ordering::Acquire);
        [
            Check { name: "logs", ok: get(&self.logs_recovered), reason: "logs are being opened and recovered" },
            Check { name: "listeners", ok: get(&self.listeners_bound), reason: "the Kafka listener is not bound yet" },
            Check { name: "shutdown", ok: !get(&self.shutting_down), reason: "the broker is shutting down" },
        ]
    }

    /// Whether every check passes.
    pub fn ready(&self) -> bool {
        self.checks().iter().all(|c| c.ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_check_passes() {
        let health = Health::new();
        assert!(!health.ready());
        health.set_logs_recovered();
        assert!(!health.ready());
        health.set_listeners_bound();
        assert!(health.ready());
        health.set_shutting_down();
        assert!(!health.ready());
    }
}
