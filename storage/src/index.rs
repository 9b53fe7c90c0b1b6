//! Sparse, memory-mapped indexes beside each segment, in Kafka's layouts:
//! the offset index maps relative offset (4 bytes) → file position (4 bytes); the time index maps
//! timestamp (8 bytes) → relative offset (4 bytes). Both are sorted by key, so lookups are binary
//! searches over the map.

use std::path::Path;

use crate::mapped_file::MappedFile;
use crate::Result;

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

pub(crate) struct Index {
    kind: IndexKind,
    file: MappedFile,
    entries: usize,
}

impl Index {
    /// Opens an index file holding `entries` valid entries (the rest is unused capacity), with
    /// room for `max_bytes` in all.
    pub fn open(path: &Path, kind: IndexKind, max_bytes: usize, entries: usize) -> Result<Index> {
        let max_bytes = max_bytes.max(kind.entry_width() * (entries + 1));
        let file = MappedFile::open(path, max_bytes)?;
        Ok(Index { kind, file, entries })
    }

    /// Entries a file of `len` bytes holds when it was trimmed on close.
    pub fn entries_in(kind: IndexKind, len: u64) -> usize {
        len as usize / kind.entry_width()
    }

    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_full(&self) -> bool {
        (self.entries + 1) * self.kind.entry_width() > self.file.capacity()
    }

    pub fn entry(&self, i: usize) -> (i64, u32) {
        let width = self.kind.entry_width();
        let bytes = self.file.bytes(i * width..(i + 1) * width);
        let key = match self.kind {
            IndexKind::Offset => u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as i64,
            IndexKind::Time => i64::from_be_bytes([
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            ]),
        };
        let k = self.kind.key_width();
        (key, u32::from_be_bytes([bytes[k], bytes[k + 1], bytes[k + 2], bytes[k + 3]]))
    }

    pub fn last(&self) -> Option<(i64, u32)> {
        self.entries.checked_sub(1).map(|i| self.entry(i))
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
        self.file.write(self.entries * width, &entry[..width])?;
        self.entries += 1;
        Ok(true)
    }

    /// The last entry whose key is `<= key` (offset index) — where to start scanning for it.
    pub fn floor(&self, key: i64) -> Option<(i64, u32)> {
        let after = self.partition_point(|k| k <= key);
        after.checked_sub(1).map(|i| self.entry(i))
    }

    /// The last entry whose key is `< key` (time index): every batch before it is older.
    pub fn lower(&self, key: i64) -> Option<(i64, u32)> {
        let after = self.partition_point(|k| k < key);
        after.checked_sub(1).map(|i| self.entry(i))
    }

    fn partition_point(&self, pred: impl Fn(i64) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.entries);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if pred(self.entry(mid).0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Entries strictly increasing in key and value, values below `value_limit`: what a trusted
    /// index looks like.
    pub fn is_sane(&self, value_limit: u64) -> bool {
        (0..self.entries).all(|i| {
            let (key, value) = self.entry(i);
            let ordered = i == 0 || {
                let (prev_key, prev_value) = self.entry(i - 1);
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
    }

    /// Shrinks the file to its entries, as Kafka leaves a closed index.
    pub fn trim(&mut self) -> Result<()> {
        self.file.truncate_file(self.entries * self.kind.entry_width())
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
