//! The partition log. A partition is a directory of segments named by base offset; a segment is
//! a memory-mapped file of Kafka v2 record batches stored exactly as produced (with the
//! broker-assigned offset and leader epoch), beside a sparse offset index and a time index.
//!
//! The log is also the partition's Raft log: one entry per record batch, with a dense entry
//! index per segment, truncation of the tail, a commit point set from outside, and snapshots
//! (a reset to a later start) — see [`Log`].
//!
//! This crate knows files and nothing else: no sockets, no Raft, no clocks of its own (callers
//! pass `now_ms`). The broker (and later the replication layer) drives it.

pub mod checkpoint;
mod descriptors;
mod entry_index;
mod error;
mod index;
mod leader_epochs;
mod log;
mod log_dir;
mod mapped_file;
mod producer_state;
mod raft_state;
mod segment;
mod shared_log;

pub use descriptors::open_segment_files;
pub use error::StorageError;
pub use entry_index::EntryMeta;
pub use log::{AppendInfo, EntryId, FlushJob, Log, LogConfig, LogEntry, Prepared, ReadResult, Stamp};
pub use raft_state::{HardState, RaftStateFile};
pub use log_dir::LogDir;
pub use shared_log::SharedLog;
pub use producer_state::{ActiveProducer, SequenceError, TransactionRange};

pub type Result<T, E = StorageError> = std::result::Result<T, E>;
