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
    TransferLeadership(u64),
    Unreachable(u64),
}

/// What the world can see of a running replica.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// Raft id of the leader (0: none known).
    pub leader: u64,
    pub term: u64,
    /// This replica leads and may take proposals.
    pub is_leader: bool,
    pub high_watermark: i64,
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

    /// Proposes a validated batch; resolves with its offsets once a quorum committed it.
    pub async fn propose(&self, batch: Bytes, log_append_time: Option<i64>) -> Result<AppendInfo, ReplicationError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Propose { batch, log_append_time, reply })
            .map_err(|_| ReplicationError::NotLeader { leader: 0 })?;
        answer.await.unwrap_or(Err(ReplicationError::NotLeader { leader: 0 }))
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
    loop {
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
                        Command::TransferLeadership(to) => replica.transfer_leadership(to),
                        Command::Unreachable(peer) => replica.report_unreachable(peer),
                    }
                    next = queue.try_recv().ok();
                }
            }
            _ = ticker.tick() => replica.tick(),
        }
        // A Ready can make another ready (a leader's commit after persisting): run until none.
        for _ in 0..4 {
            match replica.handle_ready(now_ms()) {
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
        let now = ReplicaStatus { leader: replica.leader_id(), term: replica.term(), is_leader: replica.is_leader(), high_watermark };
        status.send_if_modified(|s| std::mem::replace(s, now) != now);
    }
}
