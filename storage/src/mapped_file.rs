//! A pre-sized, memory-mapped file that is written by copying into the map.
//!
//! Disk blocks are reserved with `posix_fallocate` before a region is first written: writing
//! to a sparse hole of a full disk through a map would fault with SIGBUS, whereas a failed
//! reservation is an ordinary error the caller can report (KAFKA_STORAGE_ERROR).

use std::fs::{File, OpenOptions};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use memmap2::{MmapOptions, MmapRaw};

use crate::{Result, StorageError};

/// Reserve disk in steps of this many bytes, so fallocate is not called per write.
const RESERVE_STEP: usize = 1 << 20;

pub(crate) struct MappedFile {
    path: PathBuf,
    file: File,
    map: Arc<MmapRaw>,
    /// Bytes from the start known to have disk blocks.
    reserved: usize,
}

/// A read-only view of part of a map. Keeps the map alive for as long as a response needs it.
struct MapSlice {
    map: Arc<MmapRaw>,
    range: Range<usize>,
}

impl AsRef<[u8]> for MapSlice {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `range` lies inside the map (checked by `MappedFile::slice`), and the log only
        // lends ranges that are fully written and committed: appends go past the end, and
        // truncation (Raft conflict resolution) only cuts above the commit point, so nothing
        // under a live slice is ever rewritten, discarded or cut from the file.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(self.range.start), self.range.len()) }
    }
}

impl MappedFile {
    /// Opens (creating if needed) `path` and maps `capacity` bytes of it, growing the file to
    /// that size if it is smaller. Growth is sparse: blocks are reserved on first write.
    pub fn open(path: &Path, capacity: usize) -> Result<MappedFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(StorageError::io("open", path))?;
        let len = file.metadata().map_err(StorageError::io("stat", path))?.len() as usize;
        if len < capacity {
            file.set_len(capacity as u64).map_err(StorageError::io("resize", path))?;
        }
        let capacity = capacity.max(len);
        let map = MmapOptions::new()
            .len(capacity.max(1))
            .map_raw(&file)
            .map_err(StorageError::io("mmap", path))?;
        Ok(MappedFile { path: path.to_owned(), file, map: Arc::new(map), reserved: 0 })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn capacity(&self) -> usize {
        self.map.len()
    }

    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        let range = clamp(range, self.map.len());
        // SAFETY: in bounds; see `MapSlice`. Callers read only what the owner has written.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(range.start), range.len()) }
    }

    /// A zero-copy `Bytes` over `range` that keeps the map alive.
    pub fn slice(&self, range: Range<usize>) -> Bytes {
        let range = clamp(range, self.map.len());
        Bytes::from_owner(MapSlice { map: self.map.clone(), range })
    }

    /// Mutable access to `range`, after reserving disk blocks for it.
    pub fn bytes_mut(&mut self, range: Range<usize>) -> Result<&mut [u8]> {
        if range.end > self.map.len() {
            return Err(StorageError::Corrupt {
                path: self.path.clone(),
                why: format!("write to {range:?} beyond the map of {} bytes", self.map.len()),
            });
        }
        self.reserve(range.end)?;
        // SAFETY: in bounds, and `&mut self` means no other writer. Readers only see ranges
        // below the published end, which writers never touch.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr().add(range.start), range.len()) })
    }

    pub fn write(&mut self, at: usize, data: &[u8]) -> Result<()> {
        self.bytes_mut(at..at + data.len())?.copy_from_slice(data);
        Ok(())
    }

    fn reserve(&mut self, end: usize) -> Result<()> {
        if end <= self.reserved {
            return Ok(());
        }
        let target = end.max(self.reserved + RESERVE_STEP).min(self.map.len());
        // SAFETY: plain syscall on an open descriptor.
        let rc = unsafe {
            libc::posix_fallocate(
                self.file.as_raw_fd(),
                self.reserved as libc::off_t,
                (target - self.reserved) as libc::off_t,
            )
        };
        if rc != 0 {
            return Err(StorageError::io("fallocate", &self.path)(std::io::Error::from_raw_os_error(rc)));
        }
        self.reserved = target;
        Ok(())
    }

    /// Shrinks the file (not the map) to `len`. Readers must never look past `len` afterwards.
    pub fn truncate_file(&mut self, len: usize) -> Result<()> {
        self.file.set_len(len as u64).map_err(StorageError::io("truncate", &self.path))?;
        self.reserved = self.reserved.min(len);
        Ok(())
    }

    /// Turns `range` into a hole: it reads as zeros from now on, in the map and in the file, and
    /// its disk blocks are released (they are reserved again before a later write). No reader
    /// may hold a slice of `range`.
    pub fn discard(&mut self, range: Range<usize>) -> Result<()> {
        let range = clamp(range, self.map.len());
        if range.is_empty() {
            return Ok(());
        }
        // SAFETY: plain syscall on an open descriptor; the range lies inside the file.
        let rc = unsafe {
            libc::fallocate(
                self.file.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                range.start as libc::off_t,
                range.len() as libc::off_t,
            )
        };
        if rc != 0 {
            // Filesystems without hole punching: write the zeros.
            let zeros = vec![0u8; range.len()];
            self.write(range.start, &zeros)?;
        }
        self.reserved = self.reserved.min(range.start);
        Ok(())
    }

    /// Drops this process's mapping of `range` (MADV_DONTNEED). The data stays in the page
    /// cache (shared mappings lose nothing, dirty pages included) and is faulted back in if read
    /// again, so resident memory tracks what is in use, not what was ever touched.
    pub fn release(&self, range: Range<usize>) {
        let range = clamp(range, self.map.len());
        let page = 4096;
        let start = range.start / page * page;
        if range.end <= start {
            return;
        }
        // SAFETY: the range lies inside our mapping; DONTNEED on a shared file mapping only
        // unmaps pages, it never discards file data.
        unsafe {
            libc::madvise(self.map.as_ptr().add(start) as *mut libc::c_void, range.end - start, libc::MADV_DONTNEED);
        }
    }

    /// A handle that can flush part of this file without borrowing it.
    pub fn flusher(&self, range: Range<usize>) -> RangeFlush {
        RangeFlush { map: self.map.clone(), range: clamp(range, self.map.len()), path: self.path.clone() }
    }
}

fn clamp(range: Range<usize>, len: usize) -> Range<usize> {
    let end = range.end.min(len);
    range.start.min(end)..end
}

/// A pending msync of part of a mapped file.
pub struct RangeFlush {
    map: Arc<MmapRaw>,
    range: Range<usize>,
    path: PathBuf,
}

impl RangeFlush {
    pub fn run(&self) -> Result<()> {
        if self.range.is_empty() {
            return Ok(());
        }
        self.map
            .flush_range(self.range.start, self.range.len())
            .map_err(StorageError::io("msync", &self.path))
    }
}
