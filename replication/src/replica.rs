//! One replica of one Raft group: a raft-rs `RawNode` over the group's log, the proposals in
//! flight, and the Ready loop. No sockets and no clocks: the owner feeds it ticks and peer
//! messages and sends the messages it returns (the simulated network in the tests; a tokio
//! task and the transport in a broker). Writing the log is the only I/O it does.
//!
//! The Ready loop keeps Raft's persistence order: messages a leader may send before it persists
//! go out at once; entries are written to the log (readable before raft-rs is told), a new term
//! or vote is written synchronously, the log is flushed, and only then are the messages that
//! depended on that persistence released. A proposal is tracked by its (index, term) and
//! answered when that entry commits — or failed when another term's entry commits there.

use std::collections::BTreeMap;
use std::sync::Arc;

use raft::eraftpb::{ConfChange, ConfChangeV2, Entry, EntryType, Message};
use raft::{RawNode, StateRole};
use slog::Logger;
use weir_protocol::batch;
use weir_storage::{AppendInfo, Prepared, SharedLog};

use crate::storage::RaftLog;
use crate::ReplicationError;

/// Raft settings, safe by default: pre-vote and check-quorum on, bounded messages, in-flight
/// appends and uncommitted bytes.
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// This replica's Raft id (never 0; see [`raft_id`]).
    pub id: u64,
    /// Ticks without a leader before an election (10 ticks of 100 ms by default).
    pub election_tick: usize,
    /// Ticks between heartbeats.
    pub heartbeat_tick: usize,
    /// Bytes of entries per append message (raft-rs's default sends one entry per message).
    pub max_size_per_msg: u64,
    /// Append messages in flight per follower.
    pub max_inflight_msgs: usize,
    /// Bytes proposed but not committed before proposals are dropped (retriable).
    pub max_uncommitted_size: u64,
    /// fsync the log before persisted messages leave (off only for tests and `--ephemeral`).
    pub fsync: bool,
    /// The range election timeouts are drawn from, in ticks (`[election_tick, 2 × election_tick)`
    /// when `None`). raft-rs draws from its own random source: a simulation that must repeat
    /// itself gives each replica a one-tick range of its own.
    pub election_tick_range: Option<(usize, usize)>,
    /// Proposals may be made at any replica and are forwarded to the leader by Raft; each entry
    /// gets its offsets where it is appended (at the log end, identically on every replica).
    /// For groups without idempotent producers: the cluster metadata group. Partition groups
    /// propose only at the leader, which assigns offsets and deduplicates producers first.
    pub forwarding: bool,
    /// This replica's storage may have been lost (see [`Amnesia`]); `None`: it was not.
    pub amnesia: Option<Amnesia>,
}

/// A replica whose storage started empty though the group may have a history (a broker whose
/// data directory was lost rejoining under its old id) may have acknowledged entries and cast
/// votes it no longer remembers. Until it holds everything the leader had committed when it
/// first heard from it, it withholds its votes (else it could help elect a leader that lacks
/// committed entries, or vote twice in a term), and afterwards it votes only in later terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amnesia {
    /// The group existed before: no votes at all until caught up.
    Lost,
    /// The group may be brand new (the metadata group when a broker starts empty: the whole
    /// cluster may be starting): candidates whose log is empty still get its vote, so a new
    /// group can elect its first leader. Unsafe only if this replica and a majority lost their
    /// storage while the one holding the data was away.
    MaybeNew,
}

impl ReplicaConfig {
    pub fn new(id: u64) -> ReplicaConfig {
        ReplicaConfig {
            id,
            election_tick: 10,
            heartbeat_tick: 2,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            max_uncommitted_size: 64 << 20,
            fsync: true,
            election_tick_range: None,
            forwarding: false,
            amnesia: None,
        }
    }
}

/// Kafka's `node.id` may be 0; Raft's ids may not. Raft id = node id + 1.
pub fn raft_id(node_id: i32) -> u64 {
    // Kafka node ids are non-negative; anything else maps to 0, which Replica::open refuses.
    u64::try_from(node_id).map_or(0, |id| id + 1)
}

/// The Kafka node id of a Raft id (see [`raft_id`]).
pub fn node_id(raft_id: u64) -> i32 {
    raft_id.saturating_sub(1) as i32
}

/// How a proposal ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Committed by a quorum: the batch is at these offsets.
    Committed(AppendInfo),
    /// Overwritten by another leader's entry, or the term ended first: retriable.
    Lost,
}

/// What a proposal became at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proposal {
    /// In the Raft log: its outcome comes later under this token.
    Pending { token: u64, info: AppendInfo },
    /// An idempotent producer's retry of a batch already in the log or in flight: answered once
    /// the high watermark passes `info.last_offset`.
    Duplicate(AppendInfo),
}

struct InFlight {
    token: u64,
    term: u64,
    info: AppendInfo,
}

pub struct Replica {
    node: RawNode<RaftLog>,
    config: ReplicaConfig,
    /// Proposals by Raft index.
    in_flight: BTreeMap<u64, InFlight>,
    next_token: u64,
    /// Outcomes not yet taken by the owner.
    outcomes: Vec<(u64, Outcome)>,
    /// The term whose first entry this leader has seen commit (it may take proposals).
    ready_term: u64,
    snapshots_installed: u64,
    /// Ticks since open: the clock of the in-sync replica set.
    ticks: u64,
    /// While leading: the tick each peer was last heard from, and last seen caught up.
    heard: std::collections::HashMap<u64, u64>,
    caught_up: std::collections::HashMap<u64, u64>,
    /// The leader's last index at the previous tick: a follower that holds it is caught up
    /// (entries proposed since are at most a tick old, as Kafka measures lag in time).
    previous_last_index: u64,
    /// [`ReplicaConfig::amnesia`]: the leader's commit index when it first reached this
    /// replica, and the term in which this replica then held it all.
    catch_up_to: Option<u64>,
    rejoined_term: Option<u64>,
    /// The marker that keeps [`ReplicaConfig::amnesia`] across restarts until caught up.
    rejoining: Option<std::path::PathBuf>,
}

/// Present while a replica that may have lost its storage has not caught up ([`Amnesia`]).
const REJOINING_FILE: &str = "raft-rejoining.checkpoint";

/// Whether the replica whose Raft state lives in `dir` started empty and has not caught up yet
/// (it withholds votes; see [`Amnesia`]).
pub fn rejoining(dir: &std::path::Path) -> bool {
    dir.join(REJOINING_FILE).exists()
}

impl Replica {
    /// Opens the replica of a group over `log` (Raft state files in `dir`); `voters` are the
    /// group's Raft ids, used when the group has never been configured.
    pub fn open(log: Arc<SharedLog>, dir: &std::path::Path, voters: &[u64], mut config: ReplicaConfig, logger: &Logger) -> Result<Replica, ReplicationError> {
        if config.id == 0 {
            return Err(ReplicationError::InvalidConfig("Raft id 0 is reserved (map node ids with raft_id)".into()));
        }
        // A replica that started empty stays careful across restarts until it has caught up.
        let rejoining = dir.join(REJOINING_FILE);
        match (config.amnesia, weir_storage::checkpoint::read(&rejoining)?) {
            (Some(amnesia), _) => weir_storage::checkpoint::write(&rejoining, if amnesia == Amnesia::Lost { b"lost" } else { b"new?" })?,
            (None, Some(mark)) => config.amnesia = Some(if mark == b"lost" { Amnesia::Lost } else { Amnesia::MaybeNew }),
            (None, None) => {}
        }
        let mut storage = RaftLog::open(log, dir, voters)?;
        storage.set_stamp_on_append(config.forwarding);
        let commit = storage.hard_state().commit;
        // What is committed is readable from the start.
        storage.log().lock().commit_to(commit)?;
        let raft_config = raft::Config {
            id: config.id,
            election_tick: config.election_tick,
            heartbeat_tick: config.heartbeat_tick,
            max_size_per_msg: config.max_size_per_msg,
            max_inflight_msgs: config.max_inflight_msgs,
            max_uncommitted_size: config.max_uncommitted_size,
            pre_vote: true,
            check_quorum: true,
            applied: commit,
            min_election_tick: config.election_tick_range.map_or(0, |r| r.0),
            max_election_tick: config.election_tick_range.map_or(0, |r| r.1),
            ..Default::default()
        };
        raft_config.validate().map_err(|e| ReplicationError::InvalidConfig(e.to_string()))?;
        let node = RawNode::new(&raft_config, storage, logger)?;
        let rejoining = config.amnesia.is_some().then_some(rejoining);
        Ok(Replica {
            node,
            config,
            in_flight: BTreeMap::new(),
            next_token: 1,
            outcomes: Vec::new(),
            ready_term: 0,
            snapshots_installed: 0,
            ticks: 0,
            heard: Default::default(),
            caught_up: Default::default(),
            previous_last_index: 0,
            catch_up_to: None,
            rejoined_term: None,
            rejoining,
        })
    }

    pub fn id(&self) -> u64 {
        self.config.id
    }
    pub fn term(&self) -> u64 {
        self.node.raft.term
    }
    pub fn leader_id(&self) -> u64 {
        self.node.raft.leader_id
    }
    /// Leader, and its term's first entry has committed: it may take proposals.
    pub fn is_leader(&self) -> bool {
        self.node.raft.state == StateRole::Leader && self.ready_term == self.term()
    }
    pub fn log(&self) -> &Arc<SharedLog> {
        self.node.store().log()
    }
    /// Snapshots from a leader installed since this replica opened.
    pub fn snapshots_installed(&self) -> u64 {
        self.snapshots_installed
    }
    /// Not (or no longer) withholding votes after its storage started empty ([`Amnesia`]).
    pub fn rejoined(&self) -> bool {
        self.config.amnesia.is_none() || self.rejoined_term.is_some()
    }

    pub fn commit_index(&self) -> u64 {
        self.node.raft.raft_log.committed
    }

    /// Advances Raft's clock by one tick.
    pub fn tick(&mut self) {
        self.ticks += 1;
        self.node.tick();
        self.observe_followers();
        self.previous_last_index = self.node.raft.raft_log.last_index();
    }

    /// Notes which followers hold the leader's whole log now (Kafka's "caught up").
    fn observe_followers(&mut self) {
        if self.node.raft.state != StateRole::Leader {
            self.heard.clear();
            self.caught_up.clear();
            return;
        }
        let last = self.node.raft.raft_log.last_index().min(self.previous_last_index);
        for (&id, progress) in self.node.raft.prs().iter() {
            if progress.matched >= last {
                self.caught_up.insert(id, self.ticks);
            }
        }
    }

    /// Hands a message from a peer to Raft. Messages for another group or from a stale term
    /// are Raft's to ignore; a malformed one is an error for this message only.
    pub fn step(&mut self, mut message: Message) -> Result<(), ReplicationError> {
        if message.to != self.config.id {
            return Err(ReplicationError::Misrouted { to: message.to, here: self.config.id });
        }
        // raft-rs trusts its peers and panics on inconsistent input: take messages only from
        // members of the group, with terms that can be leader epochs, and never let a claimed
        // commit index pass the log's end.
        let conf = self.node.store().conf_state();
        let member = [&conf.voters, &conf.learners, &conf.voters_outgoing, &conf.learners_next].iter().any(|ids| ids.contains(&message.from));
        if !member {
            return Err(ReplicationError::NotAMember { from: message.from });
        }
        if message.term > i32::MAX as u64 || message.log_term > i32::MAX as u64 || message.entries.iter().any(|e| e.term > i32::MAX as u64) {
            return Err(ReplicationError::TermTooLarge(message.term.max(message.log_term)));
        }
        if message.get_msg_type() == raft::eraftpb::MessageType::MsgPropose {
            // A forwarded proposal goes into the log as it is: only groups that take them, and
            // only well-formed batches (a bad one would stop every replica that appends it).
            if !self.config.forwarding {
                return Err(ReplicationError::Malformed("proposal forwarded to a group that takes none".into()));
            }
            if let Some(bad) = message.entries.iter().find_map(|e| batch::validate(&e.data).err()) {
                return Err(ReplicationError::Malformed(format!("forwarded proposal: {bad}")));
            }
        }
        self.heard.insert(message.from, self.ticks);
        if let (Some(amnesia), None) = (self.config.amnesia, self.rejoined_term) {
            use raft::eraftpb::MessageType::{MsgAppend, MsgRequestPreVote, MsgRequestVote};
            match message.get_msg_type() {
                // Only an append carries the leader's whole commit index: a heartbeat's is capped
                // at what the leader believes this replica holds (nothing, after an election).
                MsgAppend if message.term >= self.term() && self.catch_up_to.is_none() => self.catch_up_to = Some(message.commit),
                MsgRequestVote | MsgRequestPreVote if amnesia == Amnesia::Lost || message.index > 0 => {
                    return Err(ReplicationError::VoteWithheld { from: message.from, term: message.term });
                }
                _ => {}
            }
        } else if let Some(rejoined) = self.rejoined_term {
            use raft::eraftpb::MessageType::{MsgRequestPreVote, MsgRequestVote};
            if matches!(message.get_msg_type(), MsgRequestVote | MsgRequestPreVote) && message.index > 0 && message.term <= rejoined {
                return Err(ReplicationError::VoteWithheld { from: message.from, term: message.term });
            }
        }
        if message.get_msg_type() == raft::eraftpb::MessageType::MsgHeartbeat {
            message.commit = message.commit.min(self.node.raft.raft_log.last_index());
        }
        self.node.step(message).map_err(ReplicationError::from)
    }

    /// Starts an election now (tests, leadership placement).
    pub fn campaign(&mut self) -> Result<(), ReplicationError> {
        self.node.campaign().map_err(ReplicationError::from)
    }

    /// Hands leadership to `to` (clean shutdown, rolling restart).
    pub fn transfer_leadership(&mut self, to: u64) {
        self.node.transfer_leader(to);
    }

    /// Tells Raft a peer could not be reached, so it stops streaming to it.
    pub fn report_unreachable(&mut self, peer: u64) {
        self.node.report_unreachable(peer);
    }

    /// Proposes a record batch in a forwarding group ([`ReplicaConfig::forwarding`]) from any
    /// replica: Raft forwards it to the leader. Nothing is answered here: the proposer learns
    /// the outcome by reading the committed log. [`ReplicationError::ProposalDropped`] when no
    /// leader is known or Raft refuses it (retriable).
    pub fn propose_forwarded(&mut self, batch: Vec<u8>) -> Result<(), ReplicationError> {
        if !self.config.forwarding {
            return Err(ReplicationError::InvalidConfig("this group takes proposals only at its leader".into()));
        }
        batch::validate(&batch).map_err(|e| ReplicationError::Encode(e.to_string()))?;
        self.node.propose(Vec::new(), batch).map_err(|e| match e {
            raft::Error::ProposalDropped => ReplicationError::ProposalDropped,
            other => ReplicationError::Raft(other),
        })
    }

    /// Raft ids of the replicas in sync with this leader: itself, and followers heard from
    /// and holding its whole log at some point within the last election timeout (Kafka's ISR,
    /// with the election timeout as `replica.lag.time.max.ms`). Empty unless this replica leads.
    pub fn in_sync(&self) -> Vec<u64> {
        if self.node.raft.state != StateRole::Leader {
            return Vec::new();
        }
        let recent = |at: Option<&u64>| at.is_some_and(|&t| self.ticks.saturating_sub(t) <= self.config.election_tick as u64);
        let mut ids: Vec<u64> = self
            .node
            .raft
            .prs()
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| *id == self.config.id || (recent(self.heard.get(id)) && recent(self.caught_up.get(id))))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Proposes one validated record batch. Only a ready leader takes proposals
    /// ([`ReplicationError::NotLeader`]); a batch Raft drops (uncommitted-size limit) is
    /// [`ReplicationError::ProposalDropped`], retriable. The batch is stamped with its offsets
    /// and this term before it enters the Raft log.
    pub fn propose(&mut self, bytes: &[u8], log_append_time: Option<i64>) -> Result<Proposal, ReplicationError> {
        if !self.is_leader() {
            return Err(ReplicationError::NotLeader { leader: self.leader_id() });
        }
        let term = self.term();
        let epoch = i32::try_from(term).map_err(|_| ReplicationError::TermTooLarge(term))?;
        let stamp = match self.log().lock().prepare(bytes, epoch, log_append_time)? {
            Prepared::Duplicate(info) => return Ok(Proposal::Duplicate(info)),
            Prepared::Append(stamp) => stamp,
        };
        let mut data = bytes.to_vec();
        batch::set_base_offset(&mut data, stamp.base_offset);
        batch::set_partition_leader_epoch(&mut data, epoch);
        if let Some(now) = log_append_time {
            batch::set_log_append_time(&mut data, now);
        }
        let header = batch::BatchHeader::parse(&data).ok_or(ReplicationError::Encode("batch shorter than its header".into()))?;
        if let Err(e) = self.node.propose(Vec::new(), data) {
            self.log().lock().unprepare(bytes, stamp)?;
            return Err(match e {
                raft::Error::ProposalDropped => ReplicationError::ProposalDropped,
                other => ReplicationError::Raft(other),
            });
        }
        let index = self.node.raft.raft_log.last_index();
        let token = self.next_token;
        self.next_token += 1;
        let info = AppendInfo { base_offset: stamp.base_offset, last_offset: header.last_offset(), max_timestamp: header.max_timestamp, duplicate: false };
        if let Some(replaced) = self.in_flight.insert(index, InFlight { token, term, info }) {
            // An older term's proposal at this index can no longer commit.
            self.outcomes.push((replaced.token, Outcome::Lost));
        }
        Ok(Proposal::Pending { token, info })
    }

    /// Proposals that ended since the last call: `(token, outcome)`.
    pub fn take_outcomes(&mut self) -> Vec<(u64, Outcome)> {
        std::mem::take(&mut self.outcomes)
    }

    /// Runs one Ready cycle if Raft has one; returns the messages to send, in order.
    pub fn handle_ready(&mut self, now_ms: i64) -> Result<Vec<Message>, ReplicationError> {
        if !self.node.has_ready() {
            return Ok(Vec::new());
        }
        let mut ready = self.node.ready();
        // A leader may send its appends before persisting them (Raft §10.2.1).
        let mut out = ready.take_messages();
        if let Some(soft) = ready.ss() {
            if soft.raft_state != StateRole::Leader {
                self.ready_term = 0;
                self.log().lock().abandon_prepared()?;
            }
        }
        if !ready.snapshot().is_empty() {
            let snapshot = ready.snapshot().clone();
            self.node.mut_store().apply_snapshot(&snapshot, now_ms)?;
            self.snapshots_installed += 1;
        }
        let committed = ready.take_committed_entries();
        self.apply(committed)?;
        self.node.mut_store().append(ready.entries(), now_ms)?;
        if let Some(hard_state) = ready.hs() {
            let hard_state = hard_state.clone();
            self.node.mut_store().set_hard_state(&hard_state)?;
        }
        if self.config.fsync && (!ready.entries().is_empty() || !ready.snapshot().is_empty()) {
            self.log().lock().flush()?;
        }
        // Votes and acknowledgements of appends may leave only now.
        out.extend(ready.take_persisted_messages());
        // A snapshot handed to the network counts as sent: if it is lost, the follower's next
        // response (or silence, then a probe) makes the leader send another. Without this report
        // the leader would wait for it forever.
        for message in out.iter().filter(|m| m.get_msg_type() == raft::eraftpb::MessageType::MsgSnapshot) {
            self.node.report_snapshot(message.to, raft::SnapshotStatus::Finish);
        }
        let mut light = self.node.advance(ready);
        if let Some(commit) = light.commit_index() {
            let mut hard_state = self.node.store().hard_state().clone();
            hard_state.commit = commit;
            self.node.mut_store().set_hard_state(&hard_state)?;
        }
        out.extend(light.take_messages());
        let committed = light.take_committed_entries();
        self.apply(committed)?;
        self.node.advance_apply();
        self.observe_followers();
        // A leader holds every committed entry (Raft's leader completeness): caught up too.
        let leads = self.node.raft.state == StateRole::Leader && self.ready_term == self.term();
        if (leads || self.catch_up_to.is_some_and(|to| self.commit_index() >= to)) && self.rejoined_term.is_none() {
            self.rejoined_term = Some(self.term());
            if let Some(marker) = self.rejoining.take() {
                if let Err(e) = std::fs::remove_file(&marker) {
                    tracing::warn!(path = %marker.display(), error = %e, "cannot remove the rejoining marker");
                }
            }
        }
        Ok(out)
    }

    /// Committed entries: configuration changes are applied, the high watermark moves, and
    /// the proposals at these indexes end.
    fn apply(&mut self, entries: Vec<Entry>) -> Result<(), ReplicationError> {
        let Some(last) = entries.last().map(|e| e.index) else { return Ok(()) };
        for entry in &entries {
            match entry.get_entry_type() {
                EntryType::EntryConfChange => {
                    let change: ConfChange = protobuf::Message::parse_from_bytes(&entry.data).map_err(|e| ReplicationError::Encode(e.to_string()))?;
                    let conf = self.node.apply_conf_change(&change)?;
                    self.node.mut_store().set_conf_state(conf)?;
                }
                EntryType::EntryConfChangeV2 => {
                    let change: ConfChangeV2 = protobuf::Message::parse_from_bytes(&entry.data).map_err(|e| ReplicationError::Encode(e.to_string()))?;
                    let conf = self.node.apply_conf_change(&change)?;
                    self.node.mut_store().set_conf_state(conf)?;
                }
                EntryType::EntryNormal => {}
            }
            if entry.term == self.term() && self.node.raft.state == StateRole::Leader {
                self.ready_term = entry.term;
            }
            if let Some(proposal) = self.in_flight.remove(&entry.index) {
                let outcome = if proposal.term == entry.term { Outcome::Committed(proposal.info) } else { Outcome::Lost };
                self.outcomes.push((proposal.token, outcome));
            }
        }
        // Proposals at or below the commit that no entry answered were overwritten.
        let stale: Vec<u64> = self.in_flight.range(..=last).map(|(&i, _)| i).collect();
        for index in stale {
            if let Some(proposal) = self.in_flight.remove(&index) {
                self.outcomes.push((proposal.token, Outcome::Lost));
            }
        }
        self.log().lock().commit_to(last)?;
        Ok(())
    }
}
