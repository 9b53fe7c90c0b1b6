//! A log file, written with `pwrite` and read through a map of its full capacity (the file
//! itself grows only as it is written). Both the descriptor and the map are opened on demand and
//! dropped by [`MappedFile::close_idle`], so an idle partition holds neither.
//!
//! Writes go through the page cache with `pwrite`/`pwritev`, never through the map: a first
//! store into a page of a sparse mapped file faults, and the kernel zeroes the whole page before
//! the store fills it (for a log that is one extra memset of everything written, plus a page
//! fault per 4 KiB). `pwrite` of whole pages copies once; a full disk is an ordinary `ENOSPC`
//! from the write (reported as KAFKA_STORAGE_ERROR), never a SIGBUS. Readers use the map, which
//! sees the same page-cache pages: a committed range is lent as a slice of it without copying.
//! The map is read-only: nothing is ever stored through it.

use std::fs::File;
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use memmap2::{MmapOptions, MmapRaw};

use crate::descriptors::{Descriptor, LazyFile};
use crate::{Result, StorageError};

pub(crate) struct MappedFile {
    /// Open while the file is being written; reopened by the next write after `close_idle`
    /// (or after a write that found the process over its descriptor budget).
    file: LazyFile,
    /// Made at open and again by the first read after `close_idle`. Slices lent to readers keep
    /// their own reference, so dropping it here never pulls bytes from under a response.
    map: OnceLock<Arc<MmapRaw>>,
    /// Bytes the map covers.
    capacity: usize,
    /// The file's length.
    len: usize,
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
    /// Opens (creating if needed) `path`, to be mapped at `capacity` bytes (or the whole file,
    /// if longer), and maps it. The file itself is not grown: appends extend it, so its length
    /// is always what was written and nothing needs trimming at close. Only written bytes are
    /// ever read through the map (a page wholly past the end of the file would fault).
    pub fn open(path: &Path, capacity: usize) -> Result<MappedFile> {
        let mut file = LazyFile::open(path)?;
        let len = file.len()?;
        let mapped = MappedFile { file, map: OnceLock::new(), capacity: capacity.max(len).max(1), len };
        mapped.map()?;
        Ok(mapped)
    }

    /// The map, made now if there is none.
    fn map(&self) -> Result<&Arc<MmapRaw>> {
        if let Some(map) = self.map.get() {
            return Ok(map);
        }
        let map = self.file.with_readable(|file| MmapOptions::new().len(self.capacity).map_raw_read_only(file))?.map_err(StorageError::io("mmap", self.path()))?;
        Ok(self.map.get_or_init(|| Arc::new(map)))
    }

    /// Maps the file now if [`MappedFile::close_idle`] dropped the map, so the reads that
    /// follow (under the same borrow: the sweep needs `&mut`) see its bytes.
    pub fn ensure_mapped(&self) -> Result<()> {
        self.map().map(|_| ())
    }

    /// Opens and maps the file now if [`MappedFile::close_idle`] closed it, so that the reads
    /// and writes that follow cannot fail for want of a descriptor or a map.
    pub fn reopen(&mut self) -> Result<()> {
        self.file.get()?;
        self.map().map(|_| ())
    }

    /// Drops the descriptor and the map; the next read or write opens them again. Slices lent
    /// earlier keep their map alive.
    pub fn close_idle(&mut self) {
        self.file.close();
        self.map = OnceLock::new();
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The file's length (what was written, or left by an earlier process).
    pub fn file_len(&self) -> usize {
        self.len
    }

    /// The bytes in `range` (clamped to the map), read through the map. Callers make sure the
    /// map exists first ([`MappedFile::ensure_mapped`]; writers: [`MappedFile::reopen`]), so
    /// a file that cannot be mapped is an error there; here it would read as nothing (logged).
    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        let Some(map) = self.readable(&range) else { return &[] };
        let range = clamp(range, map.len());
        // SAFETY: in bounds; see `MapSlice`. Callers read only what the owner has written.
        unsafe { std::slice::from_raw_parts(map.as_ptr().add(range.start), range.len()) }
    }

    /// A zero-copy `Bytes` over `range` that keeps the map alive (empty as for `bytes`).
    pub fn slice(&self, range: Range<usize>) -> Bytes {
        let Some(map) = self.readable(&range) else { return Bytes::new() };
        let range = clamp(range, map.len());
        Bytes::from_owner(MapSlice { map: map.clone(), range })
    }

    fn readable(&self, range: &Range<usize>) -> Option<&Arc<MmapRaw>> {
        if range.is_empty() {
            return None;
        }
        self.map().inspect_err(|e| tracing::error!(error = %e, "cannot map a log file to read it")).ok()
    }

    /// Writes `data` at `at` (through the page cache; readers of the map see it).
    pub fn write(&mut self, at: usize, data: &[u8]) -> Result<()> {
        self.write_vectored(at, &[data])
    }

    /// Writes `parts` one after another from `at`, in one `pwritev` when the kernel takes it
    /// all. Only the owner writes (`&mut self`), and only past what readers may look at.
    pub fn write_vectored(&mut self, at: usize, parts: &[&[u8]]) -> Result<()> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if at + total > self.capacity {
            return Err(StorageError::Corrupt {
                path: self.path().to_owned(),
                why: format!("write to {:?} beyond the map of {} bytes", at..at + total, self.capacity),
            });
        }
        let fd = self.file.get()?.as_raw_fd();
        let (mut part, mut skip, mut written) = (0, 0, 0);
        while written < total {
            let iov: Vec<libc::iovec> = parts[part..]
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let p = if i == 0 { &p[skip..] } else { p };
                    libc::iovec { iov_base: p.as_ptr() as *mut libc::c_void, iov_len: p.len() }
                })
                .take(64)
                .collect();
            // SAFETY: every iovec points into a live slice of `parts`; the descriptor is open.
            let n = unsafe { libc::pwritev(fd, iov.as_ptr(), iov.len() as libc::c_int, (at + written) as libc::off_t) };
            if n < 0 {
                let error = std::io::Error::last_os_error();
                if error.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(StorageError::io("write", self.path())(error));
            }
            if n == 0 {
                return Err(StorageError::io("write", self.path())(std::io::ErrorKind::WriteZero.into()));
            }
            written += n as usize;
            self.len = self.len.max(at + written);
            // Move past what was written.
            let mut left = n as usize;
            while part < parts.len() && left >= parts[part].len() - skip {
                left -= parts[part].len() - skip;
                part += 1;
                skip = 0;
            }
            skip += left;
        }
        self.file.wrote();
        Ok(())
    }

    /// Cuts the file (not the map) to `len`; nothing when it already has that length. Readers
    /// must never look past `len` afterwards.
    pub fn truncate_file(&mut self, len: usize) -> Result<()> {
        if len != self.len {
            self.file.get()?.set_len(len as u64).map_err(StorageError::io("truncate", self.file.path()))?;
            self.len = len;
        }
        Ok(())

    }

    /// Turns `range` into a hole: it reads as zeros from now on, in the map and in the file, and
    /// its disk blocks are released. No reader may hold a slice of `range`.
    pub fn discard(&mut self, range: Range<usize>) -> Result<()> {
        let range = clamp(range, self.capacity);
        if range.is_empty() {
            return Ok(());
        }
        let fd = self.file.get()?.as_raw_fd();
        // SAFETY: plain syscall on an open descriptor; the range lies inside the file.
        let rc = unsafe {
            libc::fallocate(
                fd,
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
        Ok(())
    }

    /// Drops this process's mapping of `range` (MADV_DONTNEED). The data stays in the page
    /// cache (shared mappings lose nothing, dirty pages included) and is faulted back in if read
    /// again, so resident memory tracks what is in use, not what was ever touched.
    pub fn release(&self, range: Range<usize>) {
        let Some(map) = self.map.get() else { return };
        let range = clamp(range, map.len());
        let page = 4096;
        let start = range.start / page * page;
        if range.end <= start {
            return;
        }
        // SAFETY: the range lies inside our mapping; DONTNEED on a shared file mapping only
        // unmaps pages, it never discards file data.
        unsafe {
            libc::madvise(map.as_ptr().add(start) as *mut libc::c_void, range.end - start, libc::MADV_DONTNEED);
        }
    }

    /// A handle that can make `range` of this file durable without borrowing it (it opens the
    /// file itself if this one is closed), then drop the pages of `drop` from the page cache.
    pub fn flusher(&self, range: Range<usize>, drop: Range<usize>) -> RangeFlush {
        let file = OnceLock::new();
        if let Some(open) = self.file.current() {
            let _ = file.set(open.clone());
        }
        RangeFlush { file, range: clamp(range, self.capacity), drop: clamp(drop, self.capacity), path: self.path().to_owned() }
    }
}

fn clamp(range: Range<usize>, len: usize) -> Range<usize> {
    let end = range.end.min(len);
    range.start.min(end)..end
}

/// A pending flush of part of a file: start the write-back of every file a flush covers first
/// ([`RangeFlush::start`]), then wait for each ([`RangeFlush::finish`]), so the disk sees all of
/// them at once and the filesystem commits their metadata in one journal transaction.
pub struct RangeFlush {
    file: OnceLock<Arc<Descriptor>>,
    range: Range<usize>,
    /// Durable pages to drop from the page cache once the range is durable too.
    drop: Range<usize>,
    path: PathBuf,
}

impl RangeFlush {
    /// Starts writing the range's dirty pages back (`sync_file_range(WRITE)`), without waiting.
    pub fn start(&self) -> Result<()> {
        if self.range.is_empty() {
            return Ok(());
        }
        let fd = self.file()?.as_raw_fd();
        // SAFETY: plain syscall on an open descriptor.
        let rc = unsafe {
            libc::sync_file_range(
                fd,
                self.range.start as libc::off64_t,
                self.range.len() as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            )
        };
        if rc != 0 {
            return Err(StorageError::io("sync_file_range", &self.path)(std::io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Makes the range durable: `fdatasync` (data, and the metadata needed to read it back).
    /// Then drops the pages to drop (advice: pages still mapped or dirty stay).
    pub fn finish(&self) -> Result<()> {
        if self.range.is_empty() {
            return Ok(());
        }
        let file = self.file()?;
        file.sync_data().map_err(StorageError::io("fdatasync", &self.path))?;
        if !self.drop.is_empty() {
            // SAFETY: plain syscall on an open descriptor.
            unsafe { libc::posix_fadvise(file.as_raw_fd(), self.drop.start as libc::off_t, self.drop.len() as libc::off_t, libc::POSIX_FADV_DONTNEED) };
        }
        Ok(())
    }

    /// The file's descriptor: the writer's, or one opened for this flush.
    fn file(&self) -> Result<&File> {
        if let Some(file) = self.file.get() {
            return Ok(file);
        }
        let file = Descriptor::read_only(&self.path)?;
        Ok(self.file.get_or_init(|| Arc::new(file)))
    }

    /// [`RangeFlush::start`] then [`RangeFlush::finish`].
    pub fn run(&self) -> Result<()> {
        self.start()?;
        self.finish()
    }
}
