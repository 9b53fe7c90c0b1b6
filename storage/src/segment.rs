//! One segment: `<base offset>.log` with its `.index` and `.timeindex`.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tracing::warn;
use weir_protocol::batch::{self, BatchHeader, Batches};

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
    /// Bytes of whole batches written; readers never look past this.
    size: usize,
    next_offset: i64,
    max_timestamp: i64,
    /// Relative offset of the batch that holds `max_timestamp`.
    max_timestamp_offset: i64,
    bytes_since_index: usize,
    flushed: usize,
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
        Segment::open_files(dir, base_offset, config, true, 0, 0, now_ms)
    }

    fn open_files(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        active: bool,
        offset_entries: usize,
        time_entries: usize,
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
            size: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            max_timestamp_offset: 0,
            bytes_since_index: 0,
            flushed: 0,
            needs_sync: false,
            created_ms: now_ms,
        })
    }

    /// Opens a segment whose files are known to be whole: closed cleanly, or flushed before the
    /// crash. Its length is its file's length and its indexes are believed, after a sanity check.
    pub fn open_trusted(dir: &Path, base_offset: i64, config: &LogConfig, active: bool, now_ms: i64) -> Result<Segment> {
        let len = |ext: &str| fs::metadata(dir.join(file_name(base_offset, ext))).map(|m| m.len()).unwrap_or(0);
        let size = len("log") as usize;
        let offset_entries = Index::entries_in(IndexKind::Offset, len("index"));
        let time_entries = Index::entries_in(IndexKind::Time, len("timeindex"));
        let mut segment = Segment::open_files(dir, base_offset, config, active, offset_entries, time_entries, now_ms)?;
        segment.size = size;
        segment.flushed = size;
        if !segment.offset_index.is_sane(size as u64) || !segment.time_index.is_sane(u32::MAX as u64) {
            warn!(segment = %segment.log.path().display(), "index failed its sanity check; rebuilding");
            segment.rebuild_indexes(config)?;
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

    /// Opens a segment that may have a torn or corrupt tail: validates every batch (length,
    /// CRC-32C, offsets that only grow), keeps the valid prefix, discards the rest, and rebuilds
    /// both indexes from what it kept.
    pub fn recover(dir: &Path, base_offset: i64, config: &LogConfig, active: bool, now_ms: i64) -> Result<Recovered> {
        let mut segment = Segment::open_files(dir, base_offset, config, true, 0, 0, now_ms)?;
        let file_len = segment.log.capacity();
        let mut position = 0;
        let mut expected = base_offset;
        while let Some(header) = BatchHeader::parse(segment.log.bytes(position..file_len)) {
            if header.batch_length < (batch::HEADER_LEN - batch::LOG_OVERHEAD) as i32 {
                break;
            }
            let end = position + header.size();
            if end > file_len
                || header.base_offset < expected
                || batch::validate(segment.log.bytes(position..end)).is_err()
            {
                break;
            }
            segment.index_batch(&header, position, config)?;
            segment.size = end;
            expected = header.next_offset();
            position = end;
        }
        // What lies past the valid prefix in batch shape: torn or corrupt data being dropped.
        let truncated_bytes = Batches::new(segment.log.bytes(segment.size..file_len)).map(|(at, h)| at + h.size()).last().unwrap_or(0);
        // Zero everything past the valid prefix (as holes), so a later scan cannot mistake stale
        // bytes for batches.
        segment.log.truncate_file(segment.size)?;
        segment.flushed = segment.size;
        let segment = if active {
            Segment::reopen_active(segment, dir, config, now_ms)?
        } else {
            segment.seal()?;
            segment
        };
        Ok(Recovered { segment, truncated_bytes })
    }

    /// Re-maps a recovered segment at full size so it can take appends again.
    fn reopen_active(recovered: Segment, dir: &Path, config: &LogConfig, now_ms: i64) -> Result<Segment> {
        let mut active = Segment::open_files(
            dir,
            recovered.base_offset,
            config,
            true,
            recovered.offset_index.len(),
            recovered.time_index.len(),
            now_ms,
        )?;
        active.size = recovered.size;
        active.flushed = recovered.size;
        active.next_offset = recovered.next_offset;
        active.max_timestamp = recovered.max_timestamp;
        active.max_timestamp_offset = recovered.max_timestamp_offset;
        active.bytes_since_index = recovered.bytes_since_index;
        active.needs_sync = true;
        Ok(active)
    }

    fn rebuild_indexes(&mut self, config: &LogConfig) -> Result<()> {
        self.offset_index.clear();
        self.time_index.clear();
        self.bytes_since_index = 0;
        self.max_timestamp = -1;
        let headers: Vec<_> = Batches::new(self.log.bytes(0..self.size)).collect();
        for (position, header) in headers {
            self.index_batch(&header, position, config)?;
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

    /// Updates in-memory state and the indexes for a batch written at `position`.
    fn index_batch(&mut self, header: &BatchHeader, position: usize, config: &LogConfig) -> Result<()> {
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

    /// Copies `bytes` (one whole batch) in at the end, lets `stamp` write the broker-assigned
    /// header fields in place, and indexes it.
    pub fn append(&mut self, bytes: &[u8], config: &LogConfig, stamp: impl FnOnce(&mut [u8])) -> Result<BatchHeader> {
        let position = self.size;
        let target = self.log.bytes_mut(position..position + bytes.len())?;
        target.copy_from_slice(bytes);
        stamp(target);
        let header = BatchHeader::parse(target).ok_or_else(|| StorageError::Corrupt {
            path: self.log.path().to_owned(),
            why: "appended a batch shorter than its header".into(),
        })?;
        self.index_batch(&header, position, config)?;
        self.size = position + bytes.len();
        Ok(header)
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

    /// Closes the segment to appends: a final time-index entry, and every file trimmed to its
    /// contents, as Kafka leaves a rolled segment.
    pub fn seal(&mut self) -> Result<()> {
        if self.max_timestamp >= 0 && self.time_index.last().map(|(ts, _)| ts) != Some(self.max_timestamp) {
            self.time_index.append(self.max_timestamp, self.max_timestamp_offset as u32)?;
        }
        self.log.truncate_file(self.size)?;
        self.offset_index.trim()?;
        self.time_index.trim()?;
        self.needs_sync = true;
        Ok(())
    }

    /// What a flush of this segment must do now, and the size it will have made durable.
    pub fn pending_flush(&self) -> Option<(Vec<RangeFlush>, Vec<PathBuf>, usize)> {
        if self.flushed == self.size && !self.needs_sync {
            return None;
        }
        let ranges = vec![self.log.flusher(self.flushed..self.size)];
        let syncs = if self.needs_sync {
            vec![self.log.path().to_owned(), self.offset_index.path().to_owned(), self.time_index.path().to_owned()]
        } else {
            Vec::new()
        };
        Some((ranges, syncs, self.size))
    }

    pub fn flushed_to(&mut self, size: usize, synced: bool) {
        self.flushed = self.flushed.max(size);
        if synced {
            self.needs_sync = false;
        }
    }

    pub fn delete(self) -> Result<()> {
        for path in [self.log.path(), self.offset_index.path(), self.time_index.path()] {
            match fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StorageError::io("remove", path)(e));
                }
                _ => {}
            }
        }
        Ok(())
    }
}
