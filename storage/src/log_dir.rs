//! A data directory: one subdirectory per partition (`<topic>-<partition>`) and the
//! clean-shutdown marker that tells the next start whether logs need recovery.

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::{checkpoint, Log, LogConfig, Result, StorageError};

const CLEAN_SHUTDOWN_MARKER: &str = ".weir-clean-shutdown";
/// Held (flock, exclusive) while a process uses the directory, as Kafka's `.lock`.
const LOCK_FILE: &str = ".lock";

pub struct LogDir {
    path: PathBuf,
    clean: bool,
    /// Open for as long as this `LogDir` lives: the kernel drops the lock with the descriptor,
    /// also when the process is killed.
    _lock: File,
}

impl LogDir {
    /// Opens (creating) `path` and locks it against other processes ([`StorageError::Locked`]
    /// while another holds it). Consumes the clean-shutdown marker: it describes the previous run
    /// only, and a crash from here on must be treated as unclean.
    pub fn open(path: &Path) -> Result<LogDir> {
        fs::create_dir_all(path).map_err(StorageError::io("create", path))?;
        let marker = path.join(CLEAN_SHUTDOWN_MARKER);
        let empty = fs::read_dir(path).map_err(StorageError::io("list", path))?.next().is_none();
        let lock_path = path.join(LOCK_FILE);
        let lock = File::options().create(true).truncate(false).write(true).open(&lock_path).map_err(StorageError::io("open", &lock_path))?;
        // SAFETY: plain syscall on a descriptor we own.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(StorageError::Locked { path: path.to_owned() });
        }
        let clean = empty || marker.exists();
        if marker.exists() {
            fs::remove_file(&marker).map_err(StorageError::io("remove", &marker))?;
            checkpoint::sync_dir(path)?;
        }
        Ok(LogDir { path: path.to_owned(), clean, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the previous run shut down cleanly (a new, empty directory counts as clean).
    pub fn was_clean(&self) -> bool {
        self.clean
    }

    pub fn partition_dir(&self, topic: &str, partition: i32) -> PathBuf {
        self.path.join(format!("{topic}-{partition}"))
    }

    pub fn open_log(&self, topic: &str, partition: i32, config: LogConfig, now_ms: i64) -> Result<Log> {
        Log::open(&self.partition_dir(topic, partition), config, self.clean, now_ms)
    }

    /// Partition directories present on disk, as `(topic, partition)`.
    pub fn partitions_on_disk(&self) -> Result<Vec<(String, i32)>> {
        let mut found = Vec::new();
        for entry in fs::read_dir(&self.path).map_err(StorageError::io("list", &self.path))? {
            let entry = entry.map_err(StorageError::io("list", &self.path))?;
            if !entry.path().is_dir() {
                continue;
            }
            let Ok(name) = entry.file_name().into_string() else { continue };
            if let Some((topic, partition)) = name.rsplit_once('-') {
                if let Ok(partition) = partition.parse() {
                    found.push((topic.to_owned(), partition));
                }
            }
        }
        Ok(found)
    }

    /// Records that every log was closed cleanly. Call last, after closing them all.
    /// Makes everything written on the data directory's filesystem durable (`syncfs`): one
    /// call instead of an fsync per file, for logs closed with [`Log::close_unsynced`].
    pub fn sync_filesystem(&self) -> Result<()> {
        let dir = std::fs::File::open(self.path()).map_err(crate::StorageError::io("open", self.path()))?;
        // SAFETY: plain syscall on an open descriptor.
        let rc = unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&dir)) };
        if rc != 0 {
            return Err(crate::StorageError::io("syncfs", self.path())(std::io::Error::last_os_error()));
        }
        Ok(())
    }

    pub fn mark_clean_shutdown(&self) -> Result<()> {
        let marker = self.path.join(CLEAN_SHUTDOWN_MARKER);
        fs::write(&marker, b"").map_err(StorageError::io("write", &marker))?;
        checkpoint::sync_dir(&self.path)
    }
}
