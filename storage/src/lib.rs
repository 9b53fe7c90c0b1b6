//! The partition log. A partition is a directory of segments named by base offset; a segment is
//! a memory-mapped file of Kafka v2 record batches stored exactly as produced (with the
//! broker-assigned offset and leader epoch), beside a sparse offset index and a time index.
//!
//! This crate knows files and nothing else: no sockets, no Raft, no clocks of its own (callers
//! pass `now_ms`). The broker (and later the replication layer) drives it.

pub mod checkpoint;
mod error;
mod index;
mod log;
mod log_dir;
mod mapped_file;
mod producer_state;
mod segment;

pub use error::StorageError;
pub use log::{AppendInfo, FlushJob, Log, LogConfig, ReadResult};
pub use log_dir::LogDir;
pub use producer_state::{ActiveProducer, SequenceError};

pub type Result<T, E = StorageError> = std::result::Result<T, E>;
