//! Sparse, memory-mapped indexes beside each segment, in Kafka's layouts:
//! the offset index maps relative offset (4 bytes) → file position (4 bytes); the time index maps
//! timestamp (8 bytes) → relative offset (4 bytes). Both are sorted by key, so lookups are binary
//! searches over the map.

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::OnceLock;

use memmap2::{Mmap, MmapOptions};

use crate::descriptors::LazyFile;
use crate::{Result, StorageError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IndexKind {
    /// `.index`: relative offset → position.
    Offset,
    /// `.timeindex`: timestamp → relative offset.
    Time,
}

impl IndexKind {
    fn key_width(self) -> usize {
        match self {
            IndexKind::Offset => 4,
            IndexKind::Time => 8,
        }
    }
    fn entry_width(self) -> usize {
        self.key_width() + 4
    }
}

/// An index file, written with `pwrite` and mapped (read-only) only while lookups need it:
/// [`Index::close_idle`] drops the map and the descriptor of an idle index, and the next lookup
/// or append opens them again, so a broker with many idle partitions holds few maps and files.
/// Lookups are hints: an index that cannot be mapped answers "no entry" and the caller scans
/// the segment from its start.
pub(crate) struct Index {
    kind: IndexKind,
    /// Open while entries are being appended.
    file: LazyFile,
    capacity: usize,
    /// The file's length: appends extend it (it is not pre-sized).
    file_len: usize,
    map: OnceLock<Mmap>,
    entries: usize,
}

impl Index {
    /// Opens an index file holding `entries` valid entries (the rest is unused capacity), with
    /// room for `max_bytes` in all.
    pub fn open(path: &Path, kind: IndexKind, max_bytes: usize, entries: usize) -> Result<Index> {
        let max_bytes = max_bytes.max(kind.entry_width() * (entries + 1));
        let mut file = LazyFile::open(path)?;
        let len = file.len()?;
        Ok(Index { kind, file, capacity: max_bytes.max(len), file_len: len, map: OnceLock::new(), entries })
    }

    /// Entries a file of `len` bytes holds when it was trimmed on close.
    pub fn entries_in(kind: IndexKind, len: u64) -> usize {
        len as usize / kind.entry_width()
    }

    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_full(&self) -> bool {
        (self.entries + 1) * self.kind.entry_width() > self.capacity
    }

    /// The bytes of the valid entries, mapping the file if it is not mapped.
    fn mapped(&self) -> Option<&[u8]> {
        let used = self.entries * self.kind.entry_width();
        if used == 0 {
            return Some(&[]);
        }
        if self.map.get().is_none() {
            // SAFETY: read-only map of the index's capacity; only written entries are read (the
            // file holds them), the file is only shrunk (trim, clear) after the map is dropped,
            // and later appends (pwrite) show through the shared page cache.
            let mapped = self.file.with_readable(|file| unsafe { MmapOptions::new().len(self.capacity).map(file) }.map_err(StorageError::io("mmap", self.path()))).and_then(|m| m);
            match mapped {
                Ok(map) => {
                    let _ = self.map.set(map);
                }
                Err(e) => {
                    tracing::warn!(index = %self.path().display(), error = %e, "cannot map index; scanning instead");
                    return None;
                }
            }
        }
        self.map.get()?.get(..used)
    }

    /// Drops the map (lookups map the file again when needed).
    fn unmap(&mut self) {
        self.map = OnceLock::new();
    }

    /// Drops the map and the descriptor (opened again by the next lookup or append).
    pub fn close_idle(&mut self) {
        self.unmap();
        self.file.close();
    }

    pub fn entry(&self, i: usize) -> Option<(i64, u32)> {
        let width = self.kind.entry_width();
        let bytes = self.mapped()?.get(i * width..(i + 1) * width)?;
        let key = match self.kind {
            IndexKind::Offset => u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as i64,
            IndexKind::Time => i64::from_be_bytes([
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            ]),
        };
        let k = self.kind.key_width();
        Some((key, u32::from_be_bytes([bytes[k], bytes[k + 1], bytes[k + 2], bytes[k + 3]])))
    }

    pub fn last(&self) -> Option<(i64, u32)> {
        self.entries.checked_sub(1).and_then(|i| self.entry(i))
    }

    /// Appends an entry; returns false (and writes nothing) when the index is full.
    pub fn append(&mut self, key: i64, value: u32) -> Result<bool> {
        if self.is_full() {
            return Ok(false);
        }
        let width = self.kind.entry_width();
        let mut entry = [0u8; 12];
        match self.kind {
            IndexKind::Offset => entry[..4].copy_from_slice(&(key as u32).to_be_bytes()),
            IndexKind::Time => entry[..8].copy_from_slice(&key.to_be_bytes()),
        }
        entry[self.kind.key_width()..width].copy_from_slice(&value.to_be_bytes());
        let at = (self.entries * width) as u64;
        self.file.get()?.write_all_at(&entry[..width], at).map_err(StorageError::io("write", self.file.path()))?;
        self.file.wrote();
        self.entries += 1;
        self.file_len = self.file_len.max(self.entries * width);
        Ok(true)
    }

    /// The last entry whose key is `<= key` (offset index) — where to start scanning for it.
    pub fn floor(&self, key: i64) -> Option<(i64, u32)> {
        let after = self.partition_point(|k| k <= key)?;
        after.checked_sub(1).and_then(|i| self.entry(i))
    }

    /// The last entry whose key is `< key` (time index): every batch before it is older.
    pub fn lower(&self, key: i64) -> Option<(i64, u32)> {
        let after = self.partition_point(|k| k < key)?;
        after.checked_sub(1).and_then(|i| self.entry(i))
    }

    fn partition_point(&self, pred: impl Fn(i64) -> bool) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.entries);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if pred(self.entry(mid)?.0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }

    /// Entries strictly increasing in key and value, values below `value_limit`: what a trusted
    /// index looks like.
    pub fn is_sane(&self, value_limit: u64) -> bool {
        (0..self.entries).all(|i| {
            let Some((key, value)) = self.entry(i) else { return false };
            let ordered = i == 0 || {
                let Some((prev_key, prev_value)) = self.entry(i - 1) else { return false };
                match self.kind {
                    IndexKind::Offset => key > prev_key && value > prev_value,
                    IndexKind::Time => key >= prev_key && value >= prev_value,
                }
            };
            ordered && (value as u64) < value_limit.max(1)
        })
    }

    pub fn clear(&mut self) {
        self.entries = 0;
        self.unmap();
    }

    /// Shrinks the file to its entries, as Kafka leaves a closed index.
    pub fn trim(&mut self) -> Result<()> {
        let len = self.entries * self.kind.entry_width();
        if len != self.file_len {
            self.unmap();
            self.file.get()?.set_len(len as u64).map_err(StorageError::io("truncate", self.file.path()))?;
            self.file_len = len;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_and_capacity() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = Index::open(&dir.path().join("a.index"), IndexKind::Offset, 8 * 3, 0).unwrap();
        assert!(index.append(0, 0).unwrap());
        assert!(index.append(10, 4096).unwrap());
        assert!(index.append(20, 8192).unwrap());
        assert!(!index.append(30, 9000).unwrap());
        assert_eq!(index.floor(15), Some((10, 4096)));
        assert_eq!(index.floor(20), Some((20, 8192)));
        assert_eq!(index.floor(-1), None);
        assert!(index.is_sane(10_000));
        assert!(!index.is_sane(5_000));

        let mut time = Index::open(&dir.path().join("a.timeindex"), IndexKind::Time, 1024, 0).unwrap();
        time.append(1_000, 0).unwrap();
        time.append(2_000, 5).unwrap();
        assert_eq!(time.lower(2_000), Some((1_000, 0)));
        assert_eq!(time.lower(1_000), None);
    }
}
