//! Raft's hard state (term, vote, commit index) in a small checksummed file beside the log
//! (`raft-state.checkpoint`), replaced atomically and synced on every write: a vote must be on
//! disk before the message that casts it leaves.

use std::path::{Path, PathBuf};

use crate::{checkpoint, Result, StorageError};

const FILE: &str = "raft-state.checkpoint";

/// Raft's persistent state, as raft-rs's `HardState` holds it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HardState {
    pub term: u64,
    /// The node voted for in `term` (0: none).
    pub vote: u64,
    pub commit: u64,
}

/// The hard-state file of one Raft group.
pub struct RaftStateFile {
    path: PathBuf,
}

impl RaftStateFile {
    pub fn new(dir: &Path) -> RaftStateFile {
        RaftStateFile { path: dir.join(FILE) }
    }

    /// The stored state (all zero when none was ever written), with the commit index clamped to
    /// `last_index`: a commit read back past the log's end would make raft-rs panic, and can only
    /// mean the log lost unflushed entries the commit was recorded with.
    pub fn read(&self, last_index: u64) -> Result<HardState> {
        let Some(payload) = checkpoint::read(&self.path)? else { return Ok(HardState::default()) };
        if payload.len() != 24 {
            return Err(StorageError::Corrupt { path: self.path.clone(), why: format!("{} bytes, want 24", payload.len()) });
        }
        let word = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&payload[at..at + 8]);
            u64::from_be_bytes(bytes)
        };
        Ok(HardState { term: word(0), vote: word(8), commit: word(16).min(last_index) })
    }

    /// Replaces the stored state, durably, before returning.
    pub fn write(&self, state: &HardState) -> Result<()> {
        let mut payload = [0u8; 24];
        payload[0..8].copy_from_slice(&state.term.to_be_bytes());
        payload[8..16].copy_from_slice(&state.vote.to_be_bytes());
        payload[16..24].copy_from_slice(&state.commit.to_be_bytes());
        checkpoint::write(&self.path, &payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_clamps_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let file = RaftStateFile::new(dir.path());
        assert_eq!(file.read(0).unwrap(), HardState::default());
        file.write(&HardState { term: 7, vote: 2, commit: 40 }).unwrap();
        assert_eq!(file.read(100).unwrap(), HardState { term: 7, vote: 2, commit: 40 });
        assert_eq!(file.read(30).unwrap().commit, 30);
    }
}
