//! A log shared between the threads that serve it: the broker's handlers, the flusher, and the
//! Raft replica that writes it.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::Log;

/// A [`Log`] behind a futex mutex. Not a spinning lock: the flusher, Raft and connection tasks
/// meet here, and on a busy machine a spin that yields its CPU can lose a whole time slice
/// (parking_lot's spin-then-`sched_yield` cost ~1 ms per contended hand-off under load).
pub struct SharedLog(Mutex<Log>);

impl SharedLog {
    pub fn new(log: Log) -> SharedLog {
        SharedLog(Mutex::new(log))
    }

    /// The log, locked. A panic elsewhere while it was held does not poison it: the log keeps
    /// its invariants between statements and re-checks its files on the next open.
    pub fn lock(&self) -> MutexGuard<'_, Log> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
