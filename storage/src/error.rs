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
