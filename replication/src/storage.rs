//! `raft::Storage` over Weir's segment log: the partition log is the Raft log. Entries, terms and
//! indexes come from the log's entry index; the hard state from its checksummed file; the
//! configuration from `raft-conf.checkpoint`. A snapshot of a partition group is its log start
//! point plus the producer state there: a replica that fell behind the leader's log start
//! resets to it and catches up from the log.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, Storage};
use weir_storage::{checkpoint, EntryId, RaftStateFile, SharedLog, StorageError};

use crate::entry;
use crate::ReplicationError;

const CONF_FILE: &str = "raft-conf.checkpoint";

/// The Raft storage of one group: its log (shared with readers such as Fetch), hard state and
/// configuration.
pub struct RaftLog {
    log: Arc<SharedLog>,
    state_file: RaftStateFile,
    conf_path: PathBuf,
    hard_state: HardState,
    conf_state: ConfState,
    /// Every entry gets its offsets at the log end when appended (a forwarding group); otherwise
    /// only raft-rs's own entries do, and batches keep the offsets their leader assigned.
    stamp_on_append: bool,
}

fn raft_error(e: StorageError) -> raft::Error {
    match e {
        StorageError::EntryCompacted { .. } => raft::Error::Store(raft::StorageError::Compacted),
        StorageError::EntryUnavailable { .. } => raft::Error::Store(raft::StorageError::Unavailable),
        other => raft::Error::Store(raft::StorageError::Other(Box::new(other))),
    }
}

impl RaftLog {
    /// Opens the group's Raft state beside `log` (in `dir`). A group that has never been
    /// configured starts with `voters` (Raft ids), as raft-rs's bootstrap does.
    pub fn open(log: Arc<SharedLog>, dir: &Path, voters: &[u64]) -> Result<RaftLog, ReplicationError> {
        let state_file = RaftStateFile::new(dir);
        let (last_index, before_first) = {
            let log = log.lock();
            (log.last_index(), log.before_first())
        };
        let stored = state_file.read(last_index)?;
        let mut hard_state = HardState::default();
        hard_state.term = stored.term.max(before_first.term);
        hard_state.vote = stored.vote;
        // The commit index is written lazily; entries the log no longer holds were committed
        // (only committed entries are removed), so it is at least the entry before the first.
        hard_state.commit = stored.commit.max(before_first.index);
        let conf_path = dir.join(CONF_FILE);
        let conf_state = match checkpoint::read(&conf_path)? {
            Some(bytes) => ConfState::parse_from_bytes(&bytes).map_err(|e| ReplicationError::Encode(format!("{}: {e}", conf_path.display())))?,
            None => {
                let mut conf = ConfState::default();
                conf.voters = voters.to_vec();
                conf
            }
        };
        Ok(RaftLog { log, state_file, conf_path, hard_state, conf_state, stamp_on_append: false })
    }

    pub fn log(&self) -> &Arc<SharedLog> {
        &self.log
    }

    /// See [`crate::ReplicaConfig::forwarding`].
    pub fn set_stamp_on_append(&mut self, on: bool) {
        self.stamp_on_append = on;
    }

    pub fn hard_state(&self) -> &HardState {
        &self.hard_state
    }

    pub fn conf_state(&self) -> &ConfState {
        &self.conf_state
    }

    /// Records a new hard state; written to disk (synchronously) only when the term or vote
    /// changed — a commit index read back lower is learned again from the leader.
    pub fn set_hard_state(&mut self, state: &HardState) -> Result<(), ReplicationError> {
        let durable = state.term != self.hard_state.term || state.vote != self.hard_state.vote;
        self.hard_state = state.clone();
        if durable {
            self.persist_hard_state()?;
        }
        Ok(())
    }

    /// Writes the hard state as it is now (term, vote and commit), durably.
    pub fn persist_hard_state(&self) -> Result<(), ReplicationError> {
        let state = weir_storage::HardState { term: self.hard_state.term, vote: self.hard_state.vote, commit: self.hard_state.commit };
        Ok(self.state_file.write(&state)?)
    }

    /// Records a configuration applied from the log (or a snapshot), durably.
    pub fn set_conf_state(&mut self, conf: ConfState) -> Result<(), ReplicationError> {
        let bytes = conf.write_to_bytes().map_err(|e| ReplicationError::Encode(e.to_string()))?;
        checkpoint::write(&self.conf_path, &bytes)?;
        self.conf_state = conf;
        Ok(())
    }

    /// Appends entries handed out by a Ready: an entry at or below the last index first cuts
    /// the log after the one before it (Raft conflict resolution).
    pub fn append(&mut self, entries: &[Entry], now_ms: i64) -> Result<(), ReplicationError> {
        let Some(first) = entries.first() else { return Ok(()) };
        let mut log = self.log.lock();
        if first.index <= log.last_index() {
            log.truncate_after(first.index - 1, now_ms)?;
        }
        for entry in entries {
            if entry.term > i32::MAX as u64 {
                return Err(ReplicationError::TermTooLarge(entry.term));
            }
            let batch = entry::to_batch(entry)?;
            let own = entry.data.is_empty() || entry.get_entry_type() != raft::eraftpb::EntryType::EntryNormal;
            if self.stamp_on_append && !own {
                // A forwarded proposal is checked whole before it is stamped like Raft's own.
                weir_protocol::batch::validate(&batch).map_err(|e| ReplicationError::Malformed(format!("entry {}: {e}", entry.index)))?;
            }
            match own || self.stamp_on_append {
                // raft-rs's own entries (and a forwarding group's): stamped here, at the log
                // end, identically on every replica.
                true => {
                    let base_offset = log.log_end_offset();
                    let stamp = weir_storage::Stamp { base_offset, leader_epoch: entry.term as i32, log_append_time: None };
                    log.append_entry(&batch, entry.index, stamp, now_ms)?;
                }
                // A batch the leader stamped with its offsets; the entry's term is authoritative.
                false => {
                    log.append_replicated(&batch, entry.index, entry.term, now_ms)?;
                }
            }
        }
        Ok(())
    }

    /// Installs a snapshot from the leader: the log restarts at its start point.
    pub fn apply_snapshot(&mut self, snapshot: &Snapshot, now_ms: i64) -> Result<(), ReplicationError> {
        let meta = snapshot.get_metadata();
        let (offset, producer_state) = decode_snapshot(&snapshot.data)?;
        self.log.lock().reset_to(offset, EntryId { index: meta.index, term: meta.term }, &producer_state, now_ms)?;
        self.set_conf_state(meta.get_conf_state().clone())?;
        self.hard_state.commit = self.hard_state.commit.max(meta.index);
        self.hard_state.term = self.hard_state.term.max(meta.term);
        self.persist_hard_state()
    }
}

/// Snapshot data: the log start offset after the snapshot's entry, then the producer state.
fn encode_snapshot(offset: i64, producer_state: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(8 + producer_state.len());
    buf.put_i64(offset);
    buf.put_slice(producer_state);
    buf.freeze()
}

fn decode_snapshot(data: &Bytes) -> Result<(i64, Vec<u8>), ReplicationError> {
    if data.len() < 8 {
        return Err(ReplicationError::Encode("snapshot shorter than its header".into()));
    }
    let mut data = data.clone();
    let offset = data.get_i64();
    Ok((offset, data.to_vec()))
}

impl Storage for RaftLog {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(self.hard_state.clone(), self.conf_state.clone()))
    }

    fn entries(&self, low: u64, high: u64, max_size: impl Into<Option<u64>>, _context: GetEntriesContext) -> raft::Result<Vec<Entry>> {
        let max = max_size.into().unwrap_or(u64::MAX);
        let entries = self.log.lock().entries(low, high, max).map_err(raft_error)?;
        Ok(entries.into_iter().map(|e| entry::from_batch(e.index, e.term, e.data)).collect())
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.log.lock().term(idx).map_err(raft_error)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.log.lock().first_index())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.log.lock().last_index())
    }

    fn snapshot(&self, _request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let log = self.log.lock();
        let before = log.before_first();
        let (offset, producer_state) = log.snapshot_start();
        let mut snapshot = Snapshot::default();
        snapshot.data = encode_snapshot(offset, &producer_state);
        let meta = snapshot.mut_metadata();
        meta.index = before.index;
        meta.term = before.term;
        meta.set_conf_state(self.conf_state.clone());
        Ok(snapshot)
    }
}
