use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::producer_state::SequenceError;

#[derive(Debug, Error)]
pub enum StorageError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Another process has the data directory open (its `.lock` is held).
    #[error("data directory {path} is in use by another process")]
    Locked { path: PathBuf },
    #[error("no space left for {path}")]
    DiskFull { path: PathBuf },
    #[error("offset {offset} is out of range [{start}, {end}]")]
    OffsetOutOfRange { offset: i64, start: i64, end: i64 },
    #[error("batch of {size} bytes does not fit a segment of {segment_bytes} bytes")]
    BatchTooLarge { size: usize, segment_bytes: u64 },
    #[error(transparent)]
    Sequence(#[from] SequenceError),
    #[error("{path}: {why}")]
    Corrupt { path: PathBuf, why: String },
    /// Raft asked for an entry retention (or a snapshot) already removed (raft-rs `Compacted`).
    #[error("entry {index} is before the first retained entry")]
    EntryCompacted { index: u64 },
    /// Raft asked for an entry past the log's end (raft-rs `Unavailable`).
    #[error("entry {index} is past the last entry")]
    EntryUnavailable { index: u64 },
    /// An append that does not continue the log: a caller bug, refused before it writes.
    #[error("append of entry {index} at offset {offset}, but the log continues at entry {expected_index}, offset {expected_offset}")]
    OutOfSequence { index: u64, offset: i64, expected_index: u64, expected_offset: i64 },
    /// An entry of an older term than the log's last (terms, i.e. leader epochs, never decrease),
    /// or a term that is not a valid leader epoch.
    #[error("term {term} is older than the log's last term {last}")]
    StaleTerm { term: i64, last: u64 },
    /// A crash test stopped a multi-step change here ([`crate::Log::crash_after_steps`]).
    #[error("simulated crash")]
    SimulatedCrash,
    /// A truncation below the commit point: committed entries are never cut.
    #[error("truncation after entry {index} would cut committed entries (commit index {commit})")]
    TruncateCommitted { index: u64, commit: u64 },
}

impl StorageError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> StorageError {
        let path = path.into();
        move |source| {
            if source.raw_os_error() == Some(libc::ENOSPC) {
                StorageError::DiskFull { path }
            } else {
                StorageError::Io { op, path, source }
            }
        }
    }
}
