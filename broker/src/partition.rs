//! A partition as the broker serves it: its log behind a lock, a wake-up for long-polling
//! fetches, and group-committed flushes for acks=all.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use tokio::sync::Notify;
use weir_storage::{Log, StorageError};

pub struct Partition {
    pub topic: Arc<str>,
    pub index: i32,
    log: Mutex<Log>,
    /// Woken whenever the high watermark moves.
    pub appended: Notify,
    flush_lock: tokio::sync::Mutex<()>,
    flushed_offset: AtomicI64,
    /// `weir_log_flush_duration_seconds` (a no-op unless metrics are on).
    flush_duration: metrics::Histogram,
}

impl Partition {
    /// A single node's partition: everything in its log is committed (one replica is a quorum).
    pub fn new(topic: Arc<str>, index: i32, mut log: Log) -> Partition {
        if let Err(e) = log.commit_to(log.last_index()).and_then(|_| log.begin_epoch(crate::handlers::cluster::LEADER_EPOCH)) {
            tracing::error!(topic = %topic, partition = index, error = %e, "cannot set the high watermark at open");
        }
        let flushed = log.recovery_point();
        Partition {
            topic,
            index,
            log: Mutex::new(log),
            appended: Notify::new(),
            flush_lock: tokio::sync::Mutex::new(()),
            flushed_offset: AtomicI64::new(flushed),
            flush_duration: metrics::Histogram::noop(),
        }
    }

    /// Records each flush's duration into `histogram`.
    pub fn with_flush_metric(mut self, histogram: metrics::Histogram) -> Partition {
        self.flush_duration = histogram;
        self
    }

    pub fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock()
    }

    /// Returns once every offset below `offset` is on disk. Concurrent callers share flushes:
    /// whoever holds the flush lock flushes everything appended so far, and those queued behind
    /// it usually find their offsets already covered (group commit).
    pub async fn flush_to(&self, offset: i64) -> Result<(), StorageError> {
        if self.flushed_offset.load(Ordering::Acquire) >= offset {
            return Ok(());
        }
        let _turn = self.flush_lock.lock().await;
        if self.flushed_offset.load(Ordering::Acquire) >= offset {
            return Ok(());
        }
        self.flush_now().await
    }

    /// Flushes everything appended so far (the I/O runs off the async threads).
    pub async fn flush_now(&self) -> Result<(), StorageError> {
        let job = self.log().flush_job();
        if job.is_empty() {
            self.flushed_offset.fetch_max(job.end_offset, Ordering::AcqRel);
            return Ok(());
        }
        let started = std::time::Instant::now();
        let job = tokio::task::spawn_blocking(move || job.run().map(|()| job))
            .await
            .map_err(|e| StorageError::Io { op: "flush", path: Default::default(), source: std::io::Error::other(e) })??;
        self.flush_duration.record(started.elapsed().as_secs_f64());
        self.log().flush_done(&job);
        self.flushed_offset.fetch_max(job.end_offset, Ordering::AcqRel);
        Ok(())
    }
}
