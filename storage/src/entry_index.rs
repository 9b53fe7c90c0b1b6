//! The dense entry index beside each segment (`<base offset>.entryindex`): one 20-byte entry per
//! batch, in order — Raft index (u64), offset relative to the segment's base (u32), file
//! position (u32), term (u32, the batch's partition leader epoch). Raft counts one index per
//! entry and Kafka one offset per record; this is what maps one to the other without walking
//! batch headers.
//!
//! The entries live in memory (a `Vec`: 20 bytes per batch) and are written when the segment is
//! sealed (roll, clean close) or cut, not by every flush: the segment taking appends is always
//! at or after the recovery point, so after a crash recovery re-validates it and rebuilds its
//! entries, like the other indexes.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::{Result, StorageError};

const ENTRY_BYTES: usize = 20;

/// Where one Raft entry (one record batch) sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryMeta {
    /// Raft index: 1 for the log's first entry ever, one more for each entry after it.
    pub index: u64,
    pub relative_offset: u32,
    pub position: u32,
    pub term: u32,
}

impl EntryMeta {
    fn encode(&self) -> [u8; ENTRY_BYTES] {
        let mut bytes = [0u8; ENTRY_BYTES];
        bytes[0..8].copy_from_slice(&self.index.to_be_bytes());
        bytes[8..12].copy_from_slice(&self.relative_offset.to_be_bytes());
        bytes[12..16].copy_from_slice(&self.position.to_be_bytes());
        bytes[16..20].copy_from_slice(&self.term.to_be_bytes());
        bytes
    }

    fn decode(bytes: &[u8]) -> EntryMeta {
        let u32_at = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let mut index = [0u8; 8];
        index.copy_from_slice(&bytes[0..8]);
        EntryMeta { index: u64::from_be_bytes(index), relative_offset: u32_at(8), position: u32_at(12), term: u32_at(16) }
    }
}

/// A write of new entries, prepared under the log's lock and run by the flush outside it.
pub(crate) struct EntryIndexWrite {
    path: PathBuf,
    at: u64,
    bytes: Vec<u8>,
}

impl EntryIndexWrite {
    /// Writes the entries, and syncs the file if `sync`. Blocking.
    pub fn run(&self, sync: bool) -> Result<()> {
        let file = OpenOptions::new().write(true).create(true).truncate(false).open(&self.path).map_err(StorageError::io("open", &self.path))?;
        file.write_all_at(&self.bytes, self.at).map_err(StorageError::io("write", &self.path))?;
        if sync {
            file.sync_data().map_err(StorageError::io("fsync", &self.path))?;
        }
        Ok(())
    }
}

pub(crate) struct EntryIndex {
    path: PathBuf,
    entries: Vec<EntryMeta>,
    /// How many entries the file holds.
    persisted: usize,
}

impl EntryIndex {
    /// A new, empty index (any stale file at `path` is removed).
    pub fn create(path: &Path) -> Result<EntryIndex> {
        match fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(StorageError::io("remove", path)(e)),
            _ => {}
        }
        Ok(EntryIndex { path: path.to_owned(), entries: Vec::new(), persisted: 0 })
    }

    /// Reads the index file; `None` when it is missing or not a well-formed, dense index (the
    /// caller rebuilds it from the log).
    pub fn load(path: &Path) -> Result<Option<EntryIndex>> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StorageError::io("read", path)(e)),
        };
        if bytes.len() % ENTRY_BYTES != 0 {
            return Ok(None);
        }
        let entries: Vec<EntryMeta> = bytes.chunks_exact(ENTRY_BYTES).map(EntryMeta::decode).collect();
        let dense = entries.first().is_none_or(|e| e.index > 0) && entries.windows(2).all(|w| {
            w[0].index.checked_add(1) == Some(w[1].index) && w[1].relative_offset > w[0].relative_offset && w[1].position > w[0].position && w[1].term >= w[0].term
        });
        if !dense {
            return Ok(None);
        }
        let persisted = entries.len();
        Ok(Some(EntryIndex { path: path.to_owned(), entries, persisted }))
    }

    pub fn first(&self) -> Option<&EntryMeta> {
        self.entries.first()
    }
    pub fn last(&self) -> Option<&EntryMeta> {
        self.entries.last()
    }
    pub fn entries(&self) -> &[EntryMeta] {
        &self.entries
    }

    /// The entry with Raft index `index`, if this segment holds it.
    pub fn get(&self, index: u64) -> Option<&EntryMeta> {
        let first = self.entries.first()?.index;
        self.entries.get(usize::try_from(index.checked_sub(first)?).ok()?)
    }

    /// The entry holding `relative_offset` (the last one starting at or before it).
    pub fn containing(&self, relative_offset: u32) -> Option<(usize, &EntryMeta)> {
        let after = self.entries.partition_point(|e| e.relative_offset <= relative_offset);
        let at = after.checked_sub(1)?;
        Some((at, &self.entries[at]))
    }

    pub fn push(&mut self, entry: EntryMeta) {
        self.entries.push(entry);
    }

    /// Keeps the first `keep` entries, cutting the file now if it holds more.
    pub fn truncate(&mut self, keep: usize) -> Result<()> {
        self.entries.truncate(keep);
        if self.persisted > keep {
            if let Ok(file) = File::options().write(true).open(&self.path) {
                file.set_len((keep * ENTRY_BYTES) as u64).map_err(StorageError::io("truncate", &self.path))?;
                file.sync_data().map_err(StorageError::io("fsync", &self.path))?;
            }
            self.persisted = keep;
        }
        Ok(())
    }

    pub fn clear(&mut self) -> Result<()> {
        self.truncate(0)
    }

    /// The entries not yet in the file, as a write for the flush to run.
    pub fn pending_write(&self) -> Option<(EntryIndexWrite, usize)> {
        if self.persisted >= self.entries.len() {
            return None;
        }
        let bytes = self.entries[self.persisted..].iter().flat_map(EntryMeta::encode).collect();
        Some((EntryIndexWrite { path: self.path.clone(), at: (self.persisted * ENTRY_BYTES) as u64, bytes }, self.entries.len()))
    }

    /// Records that the first `count` entries are in the file.
    pub fn written(&mut self, count: usize) {
        self.persisted = self.persisted.max(count.min(self.entries.len()));
    }

    /// Writes everything pending now (seal, close, tests), synced unless the caller syncs the
    /// whole filesystem afterwards (a broker's clean shutdown). An entry index lost in a crash
    /// is harmless: opening checks it against the log and rebuilds it.
    pub fn write_now(&mut self, sync: bool) -> Result<()> {
        if let Some((write, count)) = self.pending_write() {
            write.run(sync)?;
            self.written(count);
        } else if self.entries.is_empty() && !self.path.exists() {
            // An empty segment still gets its (empty) index, so a clean open finds it.
            File::create(&self.path).map_err(StorageError::io("create", &self.path))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64) -> EntryMeta {
        EntryMeta { index, relative_offset: index as u32 * 3, position: index as u32 * 100, term: 1 + index as u32 / 4 }
    }

    #[test]
    fn writes_behind_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.entryindex");
        let mut index = EntryIndex::create(&path).unwrap();
        for i in 1..=10 {
            index.push(entry(i));
        }
        assert_eq!(index.get(4), Some(&entry(4)));
        assert_eq!(index.get(11), None);
        assert_eq!(index.containing(7).map(|(_, e)| e.index), Some(2));
        index.write_now(true).unwrap();
        index.truncate(6).unwrap();
        index.push(entry(7));
        index.write_now(true).unwrap();
        let loaded = EntryIndex::load(&path).unwrap().unwrap();
        assert_eq!(loaded.entries(), index.entries());
        // A torn file is not believed.
        fs::write(&path, [0u8; 7]).unwrap();
        assert!(EntryIndex::load(&path).unwrap().is_none());
    }
}
