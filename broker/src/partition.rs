//! A partition as the broker serves it: its log behind a lock, a wake-up for long-polling
//! fetches, and group-committed flushes for acks=all.
//!
//! Flushes run on one flusher thread per data directory ([`Flusher`]). A producer waiting for
//! acks=all registers the offset it needs and queues its partition; the flusher takes every
//! queued partition at once, prepares each one's flush under its lock, starts the write-back
//! of all of them, then waits for each (`fdatasync`): one journal commit covers them all.
//! Requests that arrive meanwhile queue for the next round, so flushes overlap arrivals and a
//! request never waits for more than the round in progress and its own.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use tokio::sync::{oneshot, Notify};
use tracing::error;
use weir_storage::{FlushJob, Log, StorageError};

/// What a flush waiter hears: done, or the flush's error (as text: errors are not `Clone`).
type FlushOutcome = Result<(), String>;

pub struct Partition {
    pub topic: Arc<str>,
    pub index: i32,
    log: Mutex<Log>,
    /// Woken whenever the high watermark moves.
    pub appended: Notify,
    flusher: Flusher,
    flush: Mutex<FlushState>,
    flushed_offset: AtomicI64,
    /// `weir_log_flush_duration_seconds` (a no-op unless metrics are on).
    flush_duration: metrics::Histogram,
}

#[derive(Default)]
struct FlushState {
    /// In the flusher's queue (at most once).
    queued: bool,
    /// Offsets producers wait for, with where to tell them.
    waiters: Vec<(i64, oneshot::Sender<FlushOutcome>)>,
}

impl Partition {
    /// A single node's partition: everything in its log is committed (one replica is a quorum).
    pub fn new(topic: Arc<str>, index: i32, mut log: Log, flusher: Flusher) -> Partition {
        if let Err(e) = log.commit_to(log.last_index()).and_then(|_| log.begin_epoch(crate::handlers::cluster::LEADER_EPOCH)) {
            tracing::error!(topic = %topic, partition = index, error = %e, "cannot set the high watermark at open");
        }
        let flushed = log.recovery_point();
        Partition {
            topic,
            index,
            log: Mutex::new(log),
            appended: Notify::new(),
            flusher,
            flush: Mutex::new(FlushState::default()),
            flushed_offset: AtomicI64::new(flushed),
            flush_duration: metrics::Histogram::noop(),
        }
    }

    /// Records each flush's duration into `histogram`.
    pub fn with_flush_metric(mut self, histogram: metrics::Histogram) -> Partition {
        self.flush_duration = histogram;
        self
    }

    /// The log, locked. A std (futex) mutex rather than a spinning one: the flusher and the
    /// connection tasks meet here, and on a busy machine a spin that yields the CPU can lose
    /// it for a whole time slice (parking_lot's spin-then-`sched_yield` cost ~1 ms per
    /// contended hand-off under load).
    pub fn log(&self) -> MutexGuard<'_, Log> {
        lock(&self.log)
    }

    /// Returns once every offset below `offset` is on disk. Concurrent callers, of this and
    /// every other partition of the data directory, share flushes (group commit).
    pub async fn flush_to(self: &Arc<Self>, offset: i64) -> Result<(), StorageError> {
        if self.flushed_offset.load(Ordering::Acquire) >= offset {
            return Ok(());
        }
        self.wait_for_flush(offset, false).await
    }

    /// Flushes everything appended so far, and files trimmed since the last flush.
    pub async fn flush_now(self: &Arc<Self>) -> Result<(), StorageError> {
        let (end, idle) = {
            let log = self.log();
            (log.log_end_offset(), log.flush_job().is_empty())
        };
        if idle {
            return Ok(());
        }
        self.wait_for_flush(end, true).await
    }

    async fn wait_for_flush(self: &Arc<Self>, offset: i64, always: bool) -> Result<(), StorageError> {
        let (tell, told) = oneshot::channel();
        {
            let mut state = lock(&self.flush);
            if !always && self.flushed_offset.load(Ordering::Acquire) >= offset {
                return Ok(());
            }
            state.waiters.push((offset, tell));
            if !state.queued {
                state.queued = true;
                self.flusher.enqueue(self.clone());
            }
        }
        let failed = |why: String| StorageError::Io { op: "flush", path: Default::default(), source: std::io::Error::other(why) };
        match told.await {
            Ok(outcome) => outcome.map_err(failed),
            Err(_) => Err(failed("the flusher stopped".into())),
        }
    }

    /// The flusher's first step for this partition: leaves the queue (so a waiter that comes
    /// after this queues it again) and prepares a flush of everything appended so far.
    fn prepare_flush(&self) -> FlushJob {
        lock(&self.flush).queued = false;
        self.log().flush_job()
    }

    /// The flusher's last step: records the job and answers the waiters it covers.
    fn flush_finished(&self, job: &FlushJob, outcome: &FlushResult) {
        let flushed = match outcome {
            Ok(()) => {
                self.log().flush_done(job);
                self.flushed_offset.fetch_max(job.end_offset, Ordering::AcqRel);
                job.end_offset
            }
            Err(e) => {
                error!(topic = %self.topic, partition = self.index, error = %e, "flush failed");
                job.end_offset
            }
        };
        let mut state = lock(&self.flush);
        let waiters = std::mem::take(&mut state.waiters);
        for (offset, tell) in waiters {
            if offset <= flushed {
                let _ = tell.send(outcome.as_ref().map(|_| ()).map_err(|e| e.to_string()));
            } else {
                // Appended after the job was prepared: already queued again by its own call.
                state.waiters.push((offset, tell));
            }
        }
    }
}

type FlushResult = Result<(), StorageError>;

/// Locks `mutex`; a panic elsewhere while it was held does not poison the broker (the data
/// behind these locks stays consistent between statements).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The flusher of one data directory: a thread that flushes queued partitions in rounds.
/// Cloned into every partition; the thread ends once no partition holds it any more.
#[derive(Clone)]
pub struct Flusher(Arc<Queue>);

struct Queue {
    partitions: Mutex<Vec<Arc<Partition>>>,
    ready: Condvar,
}

impl Flusher {
    pub fn start() -> Flusher {
        let queue = Arc::new(Queue { partitions: Mutex::new(Vec::new()), ready: Condvar::new() });
        let flusher = Flusher(queue.clone());
        let spawned = std::thread::Builder::new().name("weir-flush".into()).spawn(move || run(queue));
        if let Err(e) = spawned {
            error!(error = %e, "cannot start the flusher thread");
        }
        flusher
    }

    fn enqueue(&self, partition: Arc<Partition>) {
        lock(&self.0.partitions).push(partition);
        self.0.ready.notify_one();
    }
}

fn run(queue: Arc<Queue>) {
    loop {
        let round = {
            let mut partitions = lock(&queue.partitions);
            while partitions.is_empty() {
                // Only the thread's own reference left: every partition is gone.
                if Arc::strong_count(&queue) == 1 {
                    return;
                }
                partitions = queue.ready.wait_timeout(partitions, Duration::from_secs(1)).unwrap_or_else(PoisonError::into_inner).0;
            }
            std::mem::take(&mut *partitions)
        };
        let began = std::time::Instant::now();
        let jobs: Vec<FlushJob> = round.iter().map(|p| p.prepare_flush()).collect();
        // Start every write-back first: the disk sees them together, and the first fdatasync's
        // journal commit carries the others' metadata too.
        let started: Vec<FlushResult> = jobs.iter().map(|job| job.start()).collect();
        for ((partition, job), started) in round.iter().zip(&jobs).zip(started) {
            let outcome = started.and_then(|()| job.finish());
            partition.flush_duration.record(began.elapsed().as_secs_f64());
            partition.flush_finished(job, &outcome);
        }
    }
}
