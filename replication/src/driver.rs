//! The tokio task that drives one [`Replica`]: it owns the replica, takes proposals, peer
//! messages and ticks from one channel (so they are applied in order), runs the Ready loop after
//! each wake-up, sends what it returns through the [`Transport`], and answers proposals when
//! they commit (an idempotent retry of a batch still in flight when its offsets become
//! committed).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use raft::eraftpb::Message;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::error;
use weir_storage::AppendInfo;

use crate::replica::{Outcome, Proposal, Replica};
use crate::transport::Transport;
use crate::ReplicationError;

/// Raft's clock: one tick every 100 ms.
pub const TICK: Duration = Duration::from_millis(100);

enum Command {
    Step(Message),
    Propose { batch: Bytes, log_append_time: Option<i64>, reply: oneshot::Sender<Result<AppendInfo, ReplicationError>> },
    ProposeForwarded { batch: Vec<u8>, reply: oneshot::Sender<Result<(), ReplicationError>> },
    TransferLeadership(u64),
    Unreachable(u64),
    Campaign,
    /// Stop after this command; the sender hears when the replica no longer touches its log.
    Stop(oneshot::Sender<()>),
}

/// What the world can see of a running replica.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// Raft id of the leader (0: none known).
    pub leader: u64,
    pub term: u64,
    /// This replica leads and may take proposals.
    pub is_leader: bool,
    pub high_watermark: i64,
    /// While leading: Raft ids of the replicas in sync ([`Replica::in_sync`]); else empty.
    pub in_sync: Vec<u64>,
    /// Not withholding votes after an empty start ([`Replica::rejoined`]).
    pub rejoined: bool,
}

/// The handle to a running replica task. Dropping every handle stops the task.
#[derive(Clone)]
pub struct ReplicaHandle {
    commands: mpsc::UnboundedSender<Command>,
    status: watch::Receiver<ReplicaStatus>,
}

impl ReplicaHandle {
    /// Delivers a peer's message.
    pub fn step(&self, message: Message) {
        let _ = self.commands.send(Command::Step(message));
    }

    /// Proposes a validated batch; resolves with its offsets once a quorum committed it. The
    /// proposal is queued at the call, so calls made in order are proposed in that order.
    pub fn propose(&self, batch: Bytes, log_append_time: Option<i64>) -> impl std::future::Future<Output = Result<AppendInfo, ReplicationError>> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        let queued = self.commands.send(Command::Propose { batch, log_append_time, reply }).is_ok();
        async move {
            if !queued {
                return Err(ReplicationError::NotLeader { leader: 0 });
            }
            answer.await.unwrap_or(Err(ReplicationError::NotLeader { leader: 0 }))
        }
    }

    /// Proposes a batch in a forwarding group from any replica
    /// ([`Replica::propose_forwarded`]); resolves once Raft took it (not when it commits).
    pub async fn propose_forwarded(&self, batch: Vec<u8>) -> Result<(), ReplicationError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::ProposeForwarded { batch, reply }).map_err(|_| ReplicationError::ProposalDropped)?;
        answer.await.unwrap_or(Err(ReplicationError::ProposalDropped))
    }

    /// Stops the replica task: once this returns it writes its log no more (a clean shutdown
    /// closes the log after this). Proposals still waiting fail as retriable.
    pub async fn stop(&self) {
        let (done, stopped) = oneshot::channel();
        if self.commands.send(Command::Stop(done)).is_ok() {
            let _ = stopped.await;
        }
    }

    /// Starts an election now (a new group's preferred leader, so it need not wait a timeout).
    pub fn campaign(&self) {
        let _ = self.commands.send(Command::Campaign);
    }

    /// Asks the replica to hand leadership to `to` (a Raft id).
    pub fn transfer_leadership(&self, to: u64) {
        let _ = self.commands.send(Command::TransferLeadership(to));
    }

    /// Tells the replica `peer` could not be reached.
    pub fn report_unreachable(&self, peer: u64) {
        let _ = self.commands.send(Command::Unreachable(peer));
    }

    /// The latest status, and a way to wait for changes.
    pub fn status(&self) -> watch::Receiver<ReplicaStatus> {
        self.status.clone()
    }
}

/// Runs `f`, which may block on the disk (a Ready cycle writes and fsyncs the log), telling a
/// multi-threaded runtime first so it moves other tasks off this thread: Raft's ticks and the
/// connections must not wait for another group's fsync.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Starts the task driving `replica` (group `group`), sending through `transport`.
pub fn spawn(replica: Replica, group: u64, transport: Transport) -> ReplicaHandle {
    let (commands, queue) = mpsc::unbounded_channel();
    let (status_tx, status) = watch::channel(ReplicaStatus::default());
    tokio::spawn(run(replica, group, transport, queue, status_tx));
    ReplicaHandle { commands, status }
}

type Reply = oneshot::Sender<Result<AppendInfo, ReplicationError>>;

async fn run(mut replica: Replica, group: u64, transport: Transport, mut queue: mpsc::UnboundedReceiver<Command>, status: watch::Sender<ReplicaStatus>) {
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut waiting: Vec<(u64, Reply)> = Vec::new();
    // Retries of batches in flight, with the term they were prepared in: answered once the
    // high watermark passes them in that term, failed if the term ends first (another leader
    // may have overwritten them).
    let mut duplicates: Vec<(u64, AppendInfo, Reply)> = Vec::new();
    let mut stopped: Option<oneshot::Sender<()>> = None;
    while stopped.is_none() {
        tokio::select! {
            command = queue.recv() => {
                let Some(command) = command else { break };
                let mut next = Some(command);
                // Everything queued is applied before the next Ready (one flush for all).
                while let Some(command) = next {
                    match command {
                        Command::Step(message) => {
                            if let Err(e) = replica.step(message) {
                                tracing::debug!(group, error = %e, "message refused");
                            }
                        }
                        Command::Propose { batch, log_append_time, reply } => match replica.propose(&batch, log_append_time) {
                            Ok(Proposal::Pending { token, .. }) => waiting.push((token, reply)),
                            Ok(Proposal::Duplicate(info)) => duplicates.push((replica.term(), info, reply)),
                            Err(e) => {
                                let _ = reply.send(Err(e));
                            }
                        },
                        Command::ProposeForwarded { batch, reply } => {
                            let _ = reply.send(replica.propose_forwarded(batch));
                        }
                        Command::Campaign => {
                            if let Err(e) = replica.campaign() {
                                tracing::debug!(group, error = %e, "campaign refused");
                            }
                        }
                        Command::TransferLeadership(to) => replica.transfer_leadership(to),
                        Command::Unreachable(peer) => replica.report_unreachable(peer),
                        Command::Stop(done) => {
                            stopped = Some(done);
                            break;
                        }
                    }
                    next = queue.try_recv().ok();
                }
            }
            _ = ticker.tick() => replica.tick(),
        }
        // A Ready can make another ready (a leader's commit after persisting): run until none.
        for _ in 0..4 {
            match blocking(|| replica.handle_ready(now_ms())) {
                Ok(messages) if messages.is_empty() => break,
                Ok(messages) => {
                    for message in messages {
                        transport.send(group, message);
                    }
                }
                Err(e) => {
                    error!(group, error = %e, "replica failed; stopping it");
                    for (_, reply) in waiting.drain(..) {
                        let _ = reply.send(Err(ReplicationError::NotLeader { leader: 0 }));
                    }
                    // Nobody may go on taking this replica for a leader.
                    let high_watermark = replica.log().lock().high_watermark();
                    let _ = status.send(ReplicaStatus { leader: 0, term: replica.term(), is_leader: false, high_watermark, in_sync: Vec::new(), rejoined: replica.rejoined() });
                    return;
                }
            }
        }
        for (token, outcome) in replica.take_outcomes() {
            if let Some(at) = waiting.iter().position(|(t, _)| *t == token) {
                let (_, reply) = waiting.swap_remove(at);
                let _ = reply.send(match outcome {
                    Outcome::Committed(info) => Ok(info),
                    Outcome::Lost => Err(ReplicationError::NotLeader { leader: replica.leader_id() }),
                });
            }
        }
        let high_watermark = replica.log().lock().high_watermark();
        let (term, leading) = (replica.term(), replica.is_leader());
        for (prepared_in, info, reply) in std::mem::take(&mut duplicates) {
            if prepared_in != term || !leading {
                let _ = reply.send(Err(ReplicationError::NotLeader { leader: replica.leader_id() }));
            } else if info.last_offset < high_watermark {
                let _ = reply.send(Ok(info));
            } else {
                duplicates.push((prepared_in, info, reply));
            }
        }
        let now = ReplicaStatus { leader: replica.leader_id(), term: replica.term(), is_leader: replica.is_leader(), high_watermark, in_sync: replica.in_sync(), rejoined: replica.rejoined() };
        status.send_if_modified(|s| {
            let changed = *s != now;
            *s = now;
            changed
        });
    }
    for (_, reply) in waiting.drain(..) {
        let _ = reply.send(Err(ReplicationError::NotLeader { leader: 0 }));
    }
    // Dropping the replica here, before answering, releases the log.
    drop(replica);
    if let Some(done) = stopped {
        let _ = done.send(());
    }
}
