//! One segment: `<base offset>.log` with its `.index`, `.timeindex` and `.entryindex`.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tracing::warn;
use weir_protocol::batch::{self, BatchHeader, Batches};

use crate::entry_index::{EntryIndex, EntryMeta};
use crate::index::{Index, IndexKind};
use crate::mapped_file::{MappedFile, RangeFlush};
use crate::{LogConfig, Result, StorageError};

pub(crate) fn file_name(base_offset: i64, extension: &str) -> String {
    format!("{base_offset:020}.{extension}")
}

pub(crate) struct Segment {
    base_offset: i64,
    log: MappedFile,
    offset_index: Index,
    time_index: Index,
    /// One entry per batch: Raft index, offset, position, term.
    entries: EntryIndex,
    /// Trimmed to its contents and mapped at that size: appends need [`Segment::reactivate`].
    sealed: bool,
    /// Bytes of whole batches written; readers never look past this.
    size: usize,
    next_offset: i64,
    max_timestamp: i64,
    /// Relative offset of the batch that holds `max_timestamp`.
    max_timestamp_offset: i64,
    bytes_since_index: usize,
    flushed: usize,
    /// Bytes from the start whose pages were dropped from the page cache after their flush
    /// ([`crate::LogConfig::drop_behind_bytes`]).
    dropped: usize,
    /// The file was trimmed but not yet fsynced.
    needs_sync: bool,
    created_ms: i64,
}

/// How far a recovery scan got.
pub(crate) struct Recovered {
    pub segment: Segment,
    /// Bytes dropped from the tail because they were torn or corrupt.
    pub truncated_bytes: usize,
}

impl Segment {
    pub fn create(dir: &Path, base_offset: i64, config: &LogConfig, now_ms: i64) -> Result<Segment> {
        let log_path = dir.join(file_name(base_offset, "log"));
        if log_path.exists() {
            fs::remove_file(&log_path).map_err(StorageError::io("remove", &log_path))?;
        }
        let entries = EntryIndex::create(&dir.join(file_name(base_offset, "entryindex")))?;
        Segment::open_files(dir, base_offset, config, true, 0, 0, entries, now_ms)
    }

    fn open_files(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        active: bool,
        offset_entries: usize,
        time_entries: usize,
        entries: EntryIndex,
        now_ms: i64,
    ) -> Result<Segment> {
        let log_path = dir.join(file_name(base_offset, "log"));
        let file_len = fs::metadata(&log_path).map(|m| m.len() as usize).unwrap_or(0);
        let capacity = if active { config.segment_bytes as usize } else { file_len };
        let index_capacity = |entries: usize, kind_width: usize| {
            if active { config.segment_index_bytes } else { entries * kind_width }
        };
        let log = MappedFile::open(&log_path, capacity)?;
        let offset_index = Index::open(
            &dir.join(file_name(base_offset, "index")),
            IndexKind::Offset,
            index_capacity(offset_entries, 8),
            offset_entries,
        )?;
        let time_index = Index::open(
            &dir.join(file_name(base_offset, "timeindex")),
            IndexKind::Time,
            index_capacity(time_entries, 12),
            time_entries,
        )?;
        Ok(Segment {
            base_offset,
            log,
            offset_index,
            time_index,
            entries,
            sealed: !active,
            size: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            max_timestamp_offset: 0,
            bytes_since_index: 0,
            flushed: 0,
            dropped: 0,
            needs_sync: false,
            created_ms: now_ms,
        })
    }

    /// Opens a segment whose files are known to be whole: closed cleanly, or flushed before the
    /// crash. Its length is its file's length and its indexes are believed, after a sanity check
    /// (the entry index must end exactly where the log does); an index that fails is rebuilt,
    /// numbering entries from `first_index`.
    pub fn open_trusted(dir: &Path, base_offset: i64, config: &LogConfig, active: bool, first_index: u64, now_ms: i64) -> Result<Segment> {
        let len = |ext: &str| fs::metadata(dir.join(file_name(base_offset, ext))).map(|m| m.len()).unwrap_or(0);
        let size = len("log") as usize;
        let offset_entries = Index::entries_in(IndexKind::Offset, len("index"));
        let time_entries = Index::entries_in(IndexKind::Time, len("timeindex"));
        let entries_path = dir.join(file_name(base_offset, "entryindex"));
        let loaded = EntryIndex::load(&entries_path)?;
        let entries = match loaded {
            Some(entries) => entries,
            None => EntryIndex::create(&entries_path)?,
        };
        let mut segment = Segment::open_files(dir, base_offset, config, active, offset_entries, time_entries, entries, now_ms)?;
        segment.size = size;
        segment.flushed = size;
        if !segment.offset_index.is_sane(size as u64) || !segment.time_index.is_sane(u32::MAX as u64) {
            warn!(segment = %segment.log.path().display(), "index failed its sanity check; rebuilding");
            segment.rebuild_indexes(config)?;
        }
        if !segment.entries_match_log() {
            // Missing (a log written before entry indexes existed) or stale: rebuild it.
            let first = segment.entries.first().map_or(first_index, |e| e.index);
            segment.rebuild_entries(first)?;
        }
        // The tail after the last index entry tells the next offset and latest timestamps.
        let start = segment.offset_index.last().map_or(0, |(_, position)| position as usize);
        if let Some((key, value)) = segment.time_index.last() {
            segment.max_timestamp = key;
            segment.max_timestamp_offset = value as i64;
        }
        let mut walk = Batches::new(segment.log.bytes(start..size));
        let tail: Vec<BatchHeader> = walk.by_ref().map(|(_, header)| header).collect();
        let walked_to = start + walk.position();
        if walked_to != size {
            return Err(StorageError::Corrupt {
                path: segment.log.path().to_owned(),
                why: format!("batches end at {walked_to} but the file has {size} bytes"),
            });
        }
        for header in &tail {
            segment.observe(header);
        }
        Ok(segment)
    }

    /// Whether the entry index covers exactly the batches in the log.
    fn entries_match_log(&self) -> bool {
        match self.entries.last() {
            None => self.size == 0,
            Some(last) => BatchHeader::parse(self.log.bytes(last.position as usize..self.size))
                .is_some_and(|h| last.position as usize + h.size() == self.size && h.base_offset - self.base_offset == last.relative_offset as i64),
        }
    }

    /// Rebuilds the entry index by walking every batch header, numbering from `first_index`.
    fn rebuild_entries(&mut self, first_index: u64) -> Result<()> {
        self.entries.clear()?;
        let headers: Vec<_> = Batches::new(self.log.bytes(0..self.size)).collect();
        for (i, (position, header)) in headers.into_iter().enumerate() {
            self.entries.push(entry_meta(self.base_offset, first_index + i as u64, position, &header));
        }
        Ok(())
    }

    /// Opens a segment that may have a torn or corrupt tail: validates every batch (length,
    /// CRC-32C, offsets that only grow, leader epochs that never decrease from `min_epoch`),
    /// keeps the valid prefix, discards the rest, and rebuilds every index from what it kept,
    /// numbering entries from `first_index` (an active segment's entry index in memory only,
    /// written at its seal or close like any active segment's).
    pub fn recover(dir: &Path, base_offset: i64, config: &LogConfig, active: bool, first_index: u64, min_epoch: i32, now_ms: i64) -> Result<Recovered> {
        let entries = EntryIndex::create(&dir.join(file_name(base_offset, "entryindex")))?;
        let mut segment = Segment::open_files(dir, base_offset, config, true, 0, 0, entries, now_ms)?;
        let file_len = segment.log.file_len();
        let mut position = 0;
        let mut expected = base_offset;
        let mut epoch = min_epoch;
        let mut index = first_index;
        while let Some(header) = BatchHeader::parse(segment.log.bytes(position..file_len)) {
            if header.batch_length < (batch::HEADER_LEN - batch::LOG_OVERHEAD) as i32 {
                break;
            }
            let end = position + header.size();
            // A batch of an older epoch behind a newer one is a stale tail a truncation left
            // (its replacement was not flushed): it must not come back.
            if end > file_len
                || header.base_offset < expected
                || header.partition_leader_epoch < epoch
                || batch::validate(segment.log.bytes(position..end)).is_err()
            {
                break;
            }
            segment.index_batch(&header, position, config, index)?;
            segment.size = end;
            expected = header.next_offset();
            epoch = header.partition_leader_epoch;
            index += 1;
            position = end;
        }
        // What lies past the valid prefix in batch shape: torn or corrupt data being dropped.
        let truncated_bytes = Batches::new(segment.log.bytes(segment.size..file_len)).map(|(at, h)| at + h.size()).last().unwrap_or(0);
        // Zero everything past the valid prefix (as holes), so a later scan cannot mistake stale
        // bytes for batches.
        segment.log.truncate_file(segment.size)?;
        segment.flushed = segment.size;
        // The entry index is written by the seal; an active segment's waits for its seal or
        // close, like one that never crashed (another crash recovers it again).
        let segment = if active {
            Segment::reopen_active(segment, dir, config, now_ms)?
        } else {
            segment.append_final_time_entry()?;
            segment.seal(true)?;
            segment
        };
        Ok(Recovered { segment, truncated_bytes })
    }

    /// Re-maps a recovered segment at full size so it can take appends again.
    fn reopen_active(recovered: Segment, dir: &Path, config: &LogConfig, now_ms: i64) -> Result<Segment> {
        let Segment { base_offset, offset_index, time_index, entries, size, next_offset, max_timestamp, max_timestamp_offset, bytes_since_index, .. } =
            recovered;
        let mut active = Segment::open_files(dir, base_offset, config, true, offset_index.len(), time_index.len(), entries, now_ms)?;
        active.size = size;
        active.flushed = size;
        active.next_offset = next_offset;
        active.max_timestamp = max_timestamp;
        active.max_timestamp_offset = max_timestamp_offset;
        active.bytes_since_index = bytes_since_index;
        active.needs_sync = true;
        Ok(active)
    }

    /// A sealed segment made active again (a truncation cut into it): its files are re-mapped
    /// at full size. Readers' slices keep the old maps alive.
    pub fn reactivate(self, dir: &Path, config: &LogConfig, now_ms: i64) -> Result<Segment> {
        if !self.sealed {
            return Ok(self);
        }
        let created_ms = self.created_ms;
        let mut active = Segment::reopen_active(self, dir, config, now_ms)?;
        active.created_ms = created_ms;
        Ok(active)
    }

    fn rebuild_indexes(&mut self, config: &LogConfig) -> Result<()> {
        self.offset_index.clear();
        self.time_index.clear();
        self.bytes_since_index = 0;
        self.max_timestamp = -1;
        let headers: Vec<_> = Batches::new(self.log.bytes(0..self.size)).collect();
        for (position, header) in headers {
            self.index_sparse(&header, position, config)?;
        }
        Ok(())
    }

    fn observe(&mut self, header: &BatchHeader) {
        self.next_offset = header.next_offset();
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.max_timestamp_offset = header.base_offset - self.base_offset;
        }
    }

    /// Updates in-memory state and the indexes for a batch written at `position`, Raft entry
    /// `index`.
    fn index_batch(&mut self, header: &BatchHeader, position: usize, config: &LogConfig, index: u64) -> Result<()> {
        self.entries.push(entry_meta(self.base_offset, index, position, header));
        self.index_sparse(header, position, config)
    }

    /// The sparse offset and time indexes, every `index.interval.bytes`.
    fn index_sparse(&mut self, header: &BatchHeader, position: usize, config: &LogConfig) -> Result<()> {
        self.observe(header);
        if self.bytes_since_index >= config.index_interval_bytes {
            let relative = header.base_offset - self.base_offset;
            self.offset_index.append(relative, position as u32)?;
            self.time_index.append(self.max_timestamp, self.max_timestamp_offset as u32)?;
            self.bytes_since_index = 0;
        }
        self.bytes_since_index += header.size();
        Ok(())
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }
    pub fn entries(&self) -> &[EntryMeta] {
        self.entries.entries()
    }
    pub fn entry(&self, index: u64) -> Option<&EntryMeta> {
        self.entries.get(index)
    }
    /// The entry holding `offset`, with its position among this segment's entries.
    pub fn entry_containing(&self, offset: i64) -> Option<(usize, &EntryMeta)> {
        let relative = u32::try_from(offset.checked_sub(self.base_offset)?).ok()?;
        self.entries.containing(relative)
    }
    /// The offset after the entry at `ordinal` among this segment's entries.
    pub fn entry_end_offset(&self, ordinal: usize) -> i64 {
        self.entries().get(ordinal + 1).map_or(self.next_offset, |next| self.base_offset + next.relative_offset as i64)
    }
    /// The bytes of entry `ordinal`: zero-copy when `lend` (the caller promises the entry is
    /// committed, so no truncation can reach it), a copy otherwise.
    pub fn entry_bytes(&self, ordinal: usize, lend: bool) -> Option<Bytes> {
        let meta = self.entries().get(ordinal)?;
        let start = meta.position as usize;
        let end = self.entries().get(ordinal + 1).map_or(self.size, |next| next.position as usize);
        let bytes = if lend { self.log.slice(start..end) } else { Bytes::copy_from_slice(self.log.bytes(start..end)) };
        // Never an entry shorter than its batch (a log that could not be read).
        (bytes.len() == end - start).then_some(bytes)
    }

    pub fn size(&self) -> usize {
        self.size
    }
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }
    pub fn created_ms(&self) -> i64 {
        self.created_ms
    }
    /// The newest timestamp in the segment, or its creation time if it has none.
    pub fn max_timestamp(&self) -> i64 {
        if self.max_timestamp >= 0 { self.max_timestamp } else { self.created_ms }
    }
    pub fn max_timestamp_offset(&self) -> i64 {
        self.base_offset + self.max_timestamp_offset
    }

    /// Whether a batch of `len` bytes ending at `last_offset` can go in this segment.
    pub fn fits(&self, len: usize, last_offset: i64) -> bool {
        self.size + len <= self.log.capacity()
            && last_offset - self.base_offset <= u32::MAX as i64
            && !self.offset_index.is_full()
            && !self.time_index.is_full()
    }

    /// Writes `bytes` (one whole batch) at the end as Raft entry `index`, stamped with its base
    /// offset and leader epoch (and, with `log_append_time`, the broker's clock and a new CRC),
    /// and indexes it. The batch is copied once, into the page cache: the stamped header from a
    /// small copy, the rest straight from `bytes`.
    pub fn append(&mut self, bytes: &[u8], config: &LogConfig, index: u64, base_offset: i64, leader_epoch: i32, log_append_time: Option<i64>) -> Result<BatchHeader> {
        let position = self.size;
        let path = self.log.path().to_owned();
        let short = move || StorageError::Corrupt { path, why: "appended a batch shorter than its header".into() };
        if bytes.len() < batch::HEADER_LEN {
            return Err(short.clone()());
        }
        let header = if let Some(now) = log_append_time {
            // The CRC covers the stamped fields: stamp a copy (a rare topic setting).
            let mut stamped = bytes.to_vec();
            batch::set_base_offset(&mut stamped, base_offset);
            batch::set_partition_leader_epoch(&mut stamped, leader_epoch);
            batch::set_log_append_time(&mut stamped, now);
            self.log.write(position, &stamped)?;
            BatchHeader::parse(&stamped)
        } else {
            let mut head = [0u8; batch::HEADER_LEN];
            head.copy_from_slice(&bytes[..batch::HEADER_LEN]);
            batch::set_base_offset(&mut head, base_offset);
            batch::set_partition_leader_epoch(&mut head, leader_epoch);
            self.log.write_vectored(position, &[&head, &bytes[batch::HEADER_LEN..]])?;
            BatchHeader::parse(&head)
        }
        .ok_or_else(short)?;
        self.index_batch(&header, position, config, index)?;
        self.size = position + bytes.len();
        Ok(header)
    }

    /// Cuts the segment so it ends just before `end_offset`, which must be where one of its
    /// entries starts (or its end). The cut bytes become a hole (read as zeros, so recovery can
    /// never mistake them for batches) and every index is cut or rebuilt to match. Only bytes no
    /// reader holds are cut: callers truncate above the commit point, and only committed
    /// entries are lent.
    pub fn truncate_to(&mut self, end_offset: i64, config: &LogConfig) -> Result<()> {
        if end_offset >= self.next_offset {
            return Ok(());
        }
        // The indexes are rebuilt from the log's bytes below: they must be readable.
        self.reopen()?;
        let keep = match self.entry_containing(end_offset) {
            Some((ordinal, meta)) if self.base_offset + meta.relative_offset as i64 == end_offset => ordinal,
            Some(_) => {
                return Err(StorageError::Corrupt {
                    path: self.log.path().to_owned(),
                    why: format!("truncation to offset {end_offset} falls inside a batch"),
                })
            }
            None => 0,
        };
        let position = self.entries().get(keep).map_or(self.size, |e| e.position as usize);
        self.entries.truncate(keep)?;
        self.log.discard(position..self.size)?;
        self.size = position;
        self.flushed = self.flushed.min(position);
        self.dropped = self.dropped.min(position);
        self.next_offset = self.base_offset;
        self.max_timestamp = -1;
        self.max_timestamp_offset = 0;
        self.rebuild_indexes(config)?;
        self.needs_sync = true;
        Ok(())
    }

    /// The position and header of the batch containing `offset`, if any.
    pub fn find(&self, offset: i64) -> Option<(usize, BatchHeader)> {
        let start = self
            .offset_index
            .floor(offset - self.base_offset)
            .map_or(0, |(_, position)| position as usize);
        Batches::new(self.log.bytes(start..self.size))
            .map(|(at, header)| (start + at, header))
            .find(|(_, header)| header.last_offset() >= offset)
    }

    /// Whole batches from `position` on, up to `max_bytes` (but at least one batch) and only
    /// batches that end before `upper_bound`. Zero-copy.
    pub fn read_from(&self, position: usize, max_bytes: usize, upper_bound: i64) -> Bytes {
        let mut end = position;
        for (at, header) in Batches::new(self.log.bytes(position..self.size)) {
            let batch_end = position + at + header.size();
            if header.next_offset() > upper_bound || (end > position && batch_end - position > max_bytes) {
                break;
            }
            end = batch_end;
        }
        self.log.slice(position..end)
    }

    /// The first batch whose max timestamp is at or after `timestamp`.
    pub fn find_by_timestamp(&self, timestamp: i64) -> Option<(usize, BatchHeader)> {
        let from = self.time_index.lower(timestamp).map_or(self.base_offset, |(_, rel)| self.base_offset + rel as i64);
        let (start, _) = self.find(from)?;
        Batches::new(self.log.bytes(start..self.size))
            .map(|(at, header)| (start + at, header))
            .find(|(_, header)| header.max_timestamp >= timestamp)
    }

    /// Opens and maps the log file again if the sweep closed it (see [`MappedFile::reopen`]).
    pub fn reopen(&mut self) -> Result<()> {
        self.log.reopen()
    }

    /// This segment, with its log mapped again if the sweep dropped the map: every read of its
    /// bytes goes through here first, so a file that cannot be mapped (no descriptors left, no
    /// maps left) is an error, never a read that finds nothing.
    pub fn readable(&self) -> Result<&Segment> {
        self.log.ensure_mapped()?;
        Ok(self)
    }

    /// Drops every map and descriptor of the segment's files; the next read or write opens
    /// what it needs again.
    pub fn close_idle(&mut self) {
        self.log.close_idle();
        self.offset_index.close_idle();
        self.time_index.close_idle();
    }

    /// Unmaps the pages this segment's log has touched (see [`MappedFile::release`]).
    pub fn release_pages(&self) {
        self.log.release(0..self.size);
    }

    /// The first batch at or after `position`, walking headers only.
    pub fn find_from_position(&self, position: usize) -> Option<(usize, BatchHeader)> {
        Batches::new(self.log.bytes(position..self.size)).next().map(|(at, h)| (position + at, h))
    }

    /// The bytes of the batch at `position` (zero-copy).
    pub fn batch_at(&self, position: usize) -> Option<Bytes> {
        let header = BatchHeader::parse(self.log.bytes(position..self.size))?;
        Some(self.log.slice(position..position + header.size()))
    }

    /// A last time-index entry for the newest timestamp, when the segment stops taking appends
    /// for good (Kafka's `onBecomeInactiveSegment`). Not at a close: reopening finds the newest
    /// timestamp in the batches after the last index entry anyway.
    pub fn append_final_time_entry(&mut self) -> Result<()> {
        if self.max_timestamp >= 0 && self.time_index.last().map(|(ts, _)| ts) != Some(self.max_timestamp) {
            self.time_index.append(self.max_timestamp, self.max_timestamp_offset as u32)?;
        }
        Ok(())
    }

    /// Closes the segment to appends: every file trimmed to its contents, as Kafka leaves a
    /// rolled segment. The entry index is written, synced if `sync` (see
    /// [`EntryIndex::write_now`]).
    pub fn seal(&mut self, sync: bool) -> Result<()> {
        self.log.truncate_file(self.size)?;
        self.offset_index.trim()?;
        self.time_index.trim()?;
        self.entries.write_now(sync)?;
        self.needs_sync = true;
        self.sealed = true;
        Ok(())
    }

    /// Writes the entry index's pending entries now.
    pub fn entries_write_now(&mut self) -> Result<()> {
        self.entries.write_now(true)
    }

    /// What a flush of this segment must do now, or `None` when it is all durable. The log's
    /// new bytes only: the entry index of a segment taking appends is written when it is sealed
    /// or closed, since recovery rebuilds it after a crash (the active segment is always at or
    /// after the recovery point, so always re-validated). With `drop_behind` bytes, the flush
    /// then drops the pages that far behind its end from the page cache.
    pub fn pending_flush(&self, drop_behind: Option<u64>) -> Option<SegmentFlush> {
        if self.flushed == self.size && !self.needs_sync {
            return None;
        }
        let syncs = if self.needs_sync {
            vec![self.log.path().to_owned(), self.offset_index.path().to_owned(), self.time_index.path().to_owned()]
        } else {
            Vec::new()
        };
        let dropped_to = match drop_behind {
            Some(behind) if self.flushed < self.size => self.size.saturating_sub(behind as usize).max(self.dropped),
            _ => self.dropped,
        };
        Some(SegmentFlush { range: self.log.flusher(self.flushed..self.size, self.dropped..dropped_to), syncs, size: self.size, dropped_to })
    }

    /// Records a flush prepared by [`Segment::pending_flush`] as done.
    pub fn flushed_to(&mut self, size: usize, dropped_to: usize, synced: bool) {
        self.flushed = self.flushed.max(size.min(self.size));
        self.dropped = self.dropped.max(dropped_to.min(self.flushed));
        if synced {
            self.needs_sync = false;
        }
    }

    pub fn delete(self) -> Result<()> {
        delete_files(self.log.path().parent().unwrap_or(Path::new(".")), self.base_offset)
    }
}

/// Removes every file of the segment at `base_offset` in `dir`, without opening it (it may be
/// torn).
pub(crate) fn delete_files(dir: &Path, base_offset: i64) -> Result<()> {
    for ext in ["log", "index", "timeindex", "entryindex"] {
        let path = dir.join(file_name(base_offset, ext));
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(StorageError::io("remove", &path)(e)),
            _ => {}
        }
    }
    Ok(())
}

/// One segment's part of a flush: the log's new bytes, and fsync of files trimmed since.
pub(crate) struct SegmentFlush {
    pub range: RangeFlush,
    pub syncs: Vec<PathBuf>,
    /// Log size this flush makes durable.
    pub size: usize,
    /// End of the bytes whose pages the flush drops from the page cache.
    pub dropped_to: usize,
}

impl SegmentFlush {
    /// Runs the flush now (the log's range, then the trimmed files). Blocking.
    pub fn run(&self) -> Result<()> {
        self.range.run()?;
        sync_files(&self.syncs)
    }
}

/// `fsync` of each file in `paths` (files trimmed since the last flush). Blocking.
pub(crate) fn sync_files(paths: &[PathBuf]) -> Result<()> {
    for path in paths {
        fs::File::open(path).and_then(|f| f.sync_all()).map_err(StorageError::io("fsync", path))?;
    }
    Ok(())
}

fn entry_meta(base_offset: i64, index: u64, position: usize, header: &BatchHeader) -> EntryMeta {
    EntryMeta {
        index,
        relative_offset: (header.base_offset - base_offset) as u32,
        position: position as u32,
        term: header.partition_leader_epoch.max(0) as u32,
    }
}
