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
use tokio::sync::{oneshot, watch, Notify};
use tracing::error;
use weir_replication::driver::{ReplicaHandle, ReplicaStatus};
use weir_storage::{FlushJob, Log, SharedLog, StorageError};

/// What a flush waiter hears: done, or the flush's error (as text: errors are not `Clone`).
type FlushOutcome = Result<(), String>;

pub struct Partition {
    pub topic: Arc<str>,
    pub index: i32,
    log: Arc<SharedLog>,
    /// Cluster mode: the partition's Raft group, which writes the log.
    pub replica: Option<Replicated>,
    /// Woken whenever the high watermark moves.
    pub appended: Notify,
    flusher: Flusher,
    flush: Mutex<FlushState>,
    flushed_offset: AtomicI64,
    /// `weir_log_flush_duration_seconds` (a no-op unless metrics are on).
    flush_duration: metrics::Histogram,
}

/// A partition replicated by Raft.
pub struct Replicated {
    /// The partition's Raft group.
    pub group: u64,
    pub handle: ReplicaHandle,
    /// Node ids of its replicas, preferred leader first.
    pub replicas: Vec<i32>,
    status: watch::Receiver<ReplicaStatus>,
}

/// Who leads a partition, as Metadata reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leadership {
    /// This broker leads it (and its term's first entry has committed).
    pub is_leader: bool,
    /// The leader's node id, -1 when none is known.
    pub leader: i32,
    /// The leader epoch (the Raft term).
    pub epoch: i32,
    /// In-sync replicas (node ids), as the leader sees them; empty when not led here.
    pub isr: Vec<i32>,
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
        Partition::with_log(topic, index, Arc::new(SharedLog::new(log)), None, flusher, flushed)
    }

    /// A replica of a partition in cluster mode: `handle` runs its Raft group over `log`.
    pub fn replicated(topic: Arc<str>, index: i32, log: Arc<SharedLog>, group: u64, handle: ReplicaHandle, replicas: Vec<i32>, flusher: Flusher) -> Partition {
        let flushed = log.lock().recovery_point();
        let status = handle.status();
        Partition::with_log(topic, index, log, Some(Replicated { group, handle, replicas, status }), flusher, flushed)
    }

    fn with_log(topic: Arc<str>, index: i32, log: Arc<SharedLog>, replica: Option<Replicated>, flusher: Flusher, flushed: i64) -> Partition {
        Partition {
            topic,
            index,
            log,
            replica,
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

    /// The log, locked (see [`SharedLog`] for why a futex mutex).
    pub fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock()
    }

    /// The log itself, shared (for a Raft replica over it).
    pub fn shared_log(&self) -> &Arc<SharedLog> {
        &self.log
    }

    /// Who leads this partition; a single node (`node_id`) leads all of its own at epoch 0.
    pub fn leadership(&self, node_id: i32) -> Leadership {
        match &self.replica {
            None => Leadership { is_leader: true, leader: node_id, epoch: crate::handlers::cluster::LEADER_EPOCH, isr: vec![node_id] },
            Some(replicated) => {
                let status = replicated.status.borrow();
                Leadership {
                    is_leader: status.is_leader,
                    leader: if status.leader == 0 { -1 } else { weir_replication::node_id(status.leader) },
                    epoch: i32::try_from(status.term).unwrap_or(i32::MAX),
                    isr: status.in_sync.iter().map(|&id| weir_replication::node_id(id)).collect(),
                }
            }
        }
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
        // journal commit carries the others' metadata too. A round of one file skips it: its
        // fdatasync starts the same write-back (the extra call took 0.04 ms a round, beside
        // fdatasync's 0.26 ms, under `perf trace`).
        let several = jobs.iter().map(FlushJob::files).sum::<usize>() > 1;
        let started: Vec<FlushResult> = jobs.iter().map(|job| if several { job.start() } else { Ok(()) }).collect();
        for ((partition, job), started) in round.iter().zip(&jobs).zip(started) {
            let outcome = started.and_then(|()| job.finish());
            partition.flush_duration.record(began.elapsed().as_secs_f64());
            partition.flush_finished(job, &outcome);
        }
    }
}
