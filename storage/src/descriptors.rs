//! Open descriptors of segment files, counted against a budget: half the process's open-file
//! limit (`RLIMIT_NOFILE`, soft), the rest left for sockets and everything else.
//!
//! A log keeps its segment files open only while it is busy: the broker's periodic sweep closes
//! them ([`crate::Log::close_idle_files`]), and while the process is over budget a write closes
//! the file it wrote right after, so a broker with more partitions than descriptors keeps
//! working (those partitions pay an `open` per write) instead of running out of descriptors.
//! A read or write that still cannot open its file gets the error (KAFKA_STORAGE_ERROR to the
//! client), never empty bytes.

use std::fs::{File, OpenOptions};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::{Result, StorageError};

static OPEN: AtomicUsize = AtomicUsize::new(0);

/// A segment file's descriptor, counted while open.
pub(crate) struct Descriptor(File);

impl Descriptor {
    /// Opens `path` for reading and writing, creating it if missing.
    pub fn read_write(path: &Path) -> Result<Descriptor> {
        Descriptor::open(path, OpenOptions::new().read(true).write(true).create(true).truncate(false))
    }

    /// Opens an existing `path` for reading (enough to map it, and to sync it).
    pub fn read_only(path: &Path) -> Result<Descriptor> {
        Descriptor::open(path, OpenOptions::new().read(true))
    }

    fn open(path: &Path, options: &OpenOptions) -> Result<Descriptor> {
        let file = options.open(path).map_err(StorageError::io("open", path))?;
        OPEN.fetch_add(1, Ordering::Relaxed);
        Ok(Descriptor(file))
    }
}

impl Deref for Descriptor {
    type Target = File;
    fn deref(&self) -> &File {
        &self.0
    }
}

impl Drop for Descriptor {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A segment file by path, with its descriptor while in use: opened on demand (read-write,
/// created if missing), closed by [`LazyFile::close`], or by [`LazyFile::wrote`] when the
/// process is over its budget.
pub(crate) struct LazyFile {
    path: PathBuf,
    open: Option<Arc<Descriptor>>,
}

impl LazyFile {
    /// Opens `path` now (creating it).
    pub fn open(path: &Path) -> Result<LazyFile> {
        Ok(LazyFile { path: path.to_owned(), open: Some(Arc::new(Descriptor::read_write(path)?)) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's length now (opening it if closed).
    pub fn len(&mut self) -> Result<usize> {
        let len = self.get()?.metadata().map_err(StorageError::io("stat", &self.path))?.len();
        Ok(len as usize)
    }

    /// The descriptor, opened now if it was closed.
    pub fn get(&mut self) -> Result<&Arc<Descriptor>> {
        let file = match self.open.take() {
            Some(file) => file,
            None => Arc::new(Descriptor::read_write(&self.path)?),
        };
        Ok(self.open.insert(file))
    }

    /// The descriptor if it is open.
    pub fn current(&self) -> Option<&Arc<Descriptor>> {
        self.open.as_ref()
    }

    /// Runs `f` on the open descriptor, or on one opened read-only for the call (to map the
    /// file: a map outlives its descriptor).
    pub fn with_readable<R>(&self, f: impl FnOnce(&File) -> R) -> Result<R> {
        match &self.open {
            Some(file) => Ok(f(file)),
            None => Ok(f(&*Descriptor::read_only(&self.path)?)),
        }
    }

    /// After a write: closes the descriptor if more segment files are open than the budget.
    pub fn wrote(&mut self) {
        if over_budget() {
            self.open = None;
        }
    }

    pub fn close(&mut self) {
        self.open = None;
    }
}

/// Whether more segment files are open than the budget allows: writers then close what they
/// opened as soon as they are done with it.
fn over_budget() -> bool {
    OPEN.load(Ordering::Relaxed) > budget()
}

/// Segment files open now (the broker's metrics).
pub fn open_segment_files() -> usize {
    OPEN.load(Ordering::Relaxed)
}

fn budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: plain syscall writing into a valid struct.
        let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 { limit.rlim_cur } else { 1024 };
        (soft.min(1 << 20) as usize / 2).max(64)
    })
}
