//! A partition's log, which is also its Raft log: an ordered set of segments, the offsets and
//! Raft indexes that bound it, its commit point (the high watermark), and the state derived from
//! it (idempotent producers, leader epochs).
//!
//! One Raft entry is one record batch, written once. Appending is two steps: the leader
//! [`Log::prepare`]s a batch (dedup of idempotent producers against what is in the log *and*
//! in flight, offsets assigned), then every replica [`Log::append_entry`]s the same bytes at the
//! same offset and term, unconditionally. A single node runs both steps at once ([`Log::append`]).
//!
//! Zero-copy rule: only entries at or below the commit point are lent to readers as slices of
//! the maps; anything above it is copied out, because Raft may truncate it. Truncation
//! ([`Log::truncate_after`]) therefore never cuts bytes under a live slice.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use bytes::Bytes;
use tracing::{info, warn};
use weir_protocol::batch::{transaction_marker, BatchHeader, TransactionMarker};

use crate::checkpoint;
use crate::leader_epochs::LeaderEpochs;
use crate::mapped_file::RangeFlush;
use crate::producer_state::ProducerStates;
use crate::segment::{delete_files, file_name, sync_files, Segment};
use crate::{Result, StorageError};

/// Log start offset and the Raft entry just before the first retained one.
const LOG_START_FILE: &str = "log-start.checkpoint";
/// The log start offset alone, as logs written before Raft indexes kept it.
const LEGACY_LOG_START_FILE: &str = "log-start-offset.checkpoint";
const RECOVERY_POINT_FILE: &str = "recovery-point.checkpoint";
/// A truncation in progress: its target, so a crash midway is finished on the next open.
const TRUNCATION_FILE: &str = "truncation.checkpoint";
/// Producer-state snapshots (Kafka's `.snapshot`) kept beside the log.
const SNAPSHOTS_KEPT: usize = 2;
/// Bytes appended or read between releases of mapped pages.
const RELEASE_EVERY: usize = 32 << 20;

/// The per-partition settings that shape the files. Defaults are Kafka's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// `segment.bytes`
    pub segment_bytes: u64,
    /// `segment.ms`
    pub segment_ms: i64,
    /// `retention.ms` (-1: keep forever)
    pub retention_ms: i64,
    /// `retention.bytes` (-1: no size limit)
    pub retention_bytes: i64,
    /// `index.interval.bytes`
    pub index_interval_bytes: usize,
    /// `segment.index.bytes`
    pub segment_index_bytes: usize,
    /// `weir.log.drop.behind.bytes`: after each flush, the log's pages more than this many
    /// bytes behind the flushed end are dropped from the page cache (`POSIX_FADV_DONTNEED`), so
    /// new writes reuse those pages instead of taking fresh ones from the kernel (costly where
    /// free memory is not backed yet, as in many VMs). Readers further behind then read from
    /// disk. `None`: the kernel decides, as for Kafka.
    pub drop_behind_bytes: Option<u64>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            index_interval_bytes: 4096,
            segment_index_bytes: 10 << 20,
            drop_behind_bytes: None,
        }
    }
}

/// A Raft entry's position: its index and term.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryId {
    pub index: u64,
    pub term: u64,
}

/// One Raft entry as the log returns it: a whole record batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub index: u64,
    pub term: u64,
    /// The batch, exactly as stored (offsets, leader epoch = term, CRC all stamped).
    pub data: Bytes,
}

/// What [`Log::prepare`] decided for a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepared {
    /// A new batch: append it with these stamps (every replica writes the same bytes).
    Append(Stamp),
    /// It repeats an idempotent producer's batch, in the log or in flight: nothing to write;
    /// the original offsets.
    Duplicate(AppendInfo),
}

/// The broker-assigned header fields of a batch, written into it at append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub base_offset: i64,
    /// The Raft term, stored as the batch's partition leader epoch.
    pub leader_epoch: i32,
    /// `message.timestamp.type=LogAppendTime`: the broker's clock, in ms.
    pub log_append_time: Option<i64>,
}

/// Where an appended batch landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
    /// The batch repeated one already in the log (idempotent retry); nothing was written.
    pub duplicate: bool,
}

/// The result of a read: whole batches, zero-copy out of the segment map.
#[derive(Debug, Clone)]
pub struct ReadResult {
    pub records: Bytes,
}

pub struct Log {
    dir: PathBuf,
    config: LogConfig,
    /// Boxed: a map node holds eleven values, and a log usually has one segment (a partition
    /// is then a few hundred bytes, not a 4 KiB node).
    segments: BTreeMap<i64, Box<Segment>>,
    log_start_offset: i64,
    /// The Raft entry just before the first retained one ((0, 0) for a log that has all).
    before_first: EntryId,
    /// Everything below this offset is known to be on disk.
    recovery_point: i64,
    /// The recovery point last written to its checkpoint file (by this process).
    checkpointed: AtomicI64,
    /// The commit point: the last committed entry, and the offset after it (high watermark).
    commit_index: u64,
    high_watermark: i64,
    /// Offsets handed out by `prepare` so far (the log end plus batches in flight).
    prepared_end: i64,
    producers: ProducerStates,
    epochs: LeaderEpochs,
    /// Bytes appended or read since mapped pages were last released.
    touched: AtomicUsize,
    /// What the log-start file says (read at open, or last written), so a close rewrites it
    /// only when it changed.
    log_start_on_disk: (i64, EntryId),
    /// Crash tests: how many more steps of a truncation or roll may run (see
    /// [`Log::crash_after_steps`]).
    crash_countdown: Option<u32>,
}

/// A flush prepared under the log's lock and run outside it, so appends continue meanwhile.
/// Flushes of many logs can share the disk's work: [`FlushJob::start`] them all, then
/// [`FlushJob::finish`] each.
pub struct FlushJob {
    ranges: Vec<RangeFlush>,
    syncs: Vec<PathBuf>,
    /// What the job makes durable and drops, per segment it covers.
    segments: Vec<SegmentFlushed>,
    /// Offsets below this are durable once the job has run.
    pub end_offset: i64,
    /// So is every entry up to this index.
    pub last_index: u64,
}

/// One segment's part of a [`FlushJob`], recorded by [`Log::flush_done`].
struct SegmentFlushed {
    base_offset: i64,
    /// Log bytes durable once the job has run.
    size: usize,
    /// Where the pages the job drops from the page cache end.
    dropped_to: usize,
}

impl FlushJob {
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.syncs.is_empty()
    }

    /// Log files (segments) whose new bytes the job makes durable.
    pub fn files(&self) -> usize {
        self.ranges.len()
    }

    /// Starts the write-back of the new bytes without waiting for it. Blocking only briefly.
    pub fn start(&self) -> Result<()> {
        for range in &self.ranges {
            range.start()?;
        }
        Ok(())
    }

    /// Waits until everything the job covers is durable (`fdatasync` of the logs, fsync of
    /// files trimmed since the last flush). Blocking.
    pub fn finish(&self) -> Result<()> {
        for range in &self.ranges {
            range.finish()?;
        }
        sync_files(&self.syncs)
    }

    /// [`FlushJob::start`] then [`FlushJob::finish`]. Blocking.
    pub fn run(&self) -> Result<()> {
        self.start()?;
        self.finish()
    }
}

impl Log {
    /// Opens (or creates) the log in `dir`. A truncation a crash interrupted is finished first.
    /// After an unclean shutdown (`clean == false`) every segment from the one holding the
    /// recovery point on is validated batch by batch (CRC, offsets that only grow, leader
    /// epochs that never decrease) and cut at the first torn, corrupt or stale batch; segments
    /// after a cut are deleted. Producer state comes from the newest snapshot plus the batches
    /// after it, so a cleanly closed log opens without walking its batches.
    pub fn open(dir: &Path, config: LogConfig, clean: bool, now_ms: i64) -> Result<Log> {
        fs::create_dir_all(dir).map_err(StorageError::io("create", dir))?;
        if let Some(reset) = read_reset(dir)? {
            // A reset (snapshot install) a crash interrupted: finish it.
            finish_reset(dir, reset)?;
        }
        let (log_start, before_first) = read_log_start(dir)?;
        let mut bases = segment_bases(dir)?;
        if let Some(end_offset) = read_truncation(dir)? {
            finish_truncation(dir, &config, &mut bases, end_offset, now_ms)?;
        }
        let recovery_point = checkpoint::read_i64(&dir.join(RECOVERY_POINT_FILE), 0)?;
        let first_to_recover = if clean {
            i64::MAX
        } else {
            bases.iter().rev().find(|&&base| base <= recovery_point).copied().unwrap_or(i64::MIN)
        };
        let mut segments = BTreeMap::new();
        let mut cut = false;
        // A cut in a sealed segment leaves no active one: appends then go to a fresh segment.
        let mut needs_active = false;
        let mut next_index = before_first.index.saturating_add(1);
        let mut epoch = 0;
        for (i, &base) in bases.iter().enumerate() {
            let active = i + 1 == bases.len();
            if cut {
                warn!(dir = %dir.display(), base, "deleting segment after a corrupt one");
                delete_files(dir, base)?;
                continue;
            }
            let segment = if base >= first_to_recover {
                let recovered = Segment::recover(dir, base, &config, active, next_index, epoch, now_ms)?;
                if recovered.truncated_bytes > 0 {
                    warn!(dir = %dir.display(), base, bytes = recovered.truncated_bytes, "truncated a torn, corrupt or stale tail");
                    cut = true;
                    needs_active = !active;
                }
                recovered.segment
            } else {
                Segment::open_trusted(dir, base, &config, active, next_index, now_ms)?
            };
            if let Some(last) = segment.entries().last() {
                next_index = last.index + 1;
                epoch = epoch.max(last.term as i32);
            }
            segments.insert(base, Box::new(segment));
        }
        // Retention and DeleteRecords checkpoint the entry before the first they keep, then
        // delete segments: finish what a crash interrupted. (By entry index, not offset: a
        // segment below the log start is kept when it was the active one at the time.)
        while segments.len() > 1 {
            let (&base, first) = segments.iter().next().expect("more than one segment");
            if first.entries().last().is_none_or(|e| e.index > before_first.index) {
                break;
            }
            warn!(dir = %dir.display(), base, "deleting a segment retention had already let go");
            if let Some(segment) = segments.remove(&base) {
                segment.delete()?;
            }
        }
        let epochs = LeaderEpochs::open(dir)?;
        let mut log = Log {
            dir: dir.to_owned(),
            config,
            segments,
            log_start_offset: 0,
            before_first,
            recovery_point: 0,
            checkpointed: AtomicI64::new(recovery_point),
            commit_index: 0,
            high_watermark: 0,
            prepared_end: 0,
            producers: ProducerStates::default(),
            epochs,
            touched: AtomicUsize::new(0),
            log_start_on_disk: (log_start, before_first),
            crash_countdown: None,
        };
        if log.segments.is_empty() {
            let base = log_start.max(0);
            log.segments.insert(base, Box::new(Segment::create(dir, base, &log.config, now_ms)?));
        } else if needs_active {
            let next = log.log_end_offset();
            log.roll(now_ms, next)?;
        }
        let first_base = log.segments.keys().next().copied().unwrap_or(0);
        log.log_start_offset = log_start.max(first_base).min(log.log_end_offset());
        if let Some(first) = log.segments.values().find_map(|s| s.entries().first().copied()) {
            // The first retained entry decides; the checkpoint only matters for an empty log.
            if first.index != log.before_first.index.saturating_add(1) {
                log.before_first = EntryId { index: first.index.saturating_sub(1), term: log.before_first.term };
            }
        }
        log.recovery_point = if clean { log.log_end_offset() } else { recovery_point.min(log.log_end_offset()) };
        let end = log.log_end_offset();
        if !clean {
            // Epochs that start at or past the recovered end began in a lost tail. After a clean
            // close the file matches the log (an epoch starting at the end is the current
            // leader's, begun with nothing appended yet), and rewriting it would cost every
            // idle partition a synced write per start.
            log.epochs.truncate_from_end(end)?;
        }
        log.rebuild_epochs_if_missing()?;
        log.prepared_end = end;
        log.rebuild_producer_state()?;
        log.close_idle_files();
        info!(dir = %dir.display(), start = log.log_start_offset, end, first_index = log.first_index(), last_index = log.last_index(), clean, "opened log");
        Ok(log)
    }

    /// Logs written before the epoch cache existed: one pass over the entries fills it.
    fn rebuild_epochs_if_missing(&mut self) -> Result<()> {
        if self.epochs.latest().is_some() {
            return Ok(());
        }
        let starts: Vec<(i32, i64)> = self
            .segments
            .values()
            .flat_map(|s| s.entries().iter().map(move |e| (e.term as i32, s.base_offset() + e.relative_offset as i64)))
            .collect();
        for (epoch, start) in starts {
            self.epochs.assign(epoch, start)?;
        }
        Ok(())
    }

    /// Producer state for the log as it is on disk: the newest snapshot at or below the log
    /// end, then every batch after it. In-flight (prepared) batches are forgotten.
    fn rebuild_producer_state(&mut self) -> Result<()> {
        let end = self.log_end_offset();
        let first_base = self.segments.keys().next().copied().unwrap_or(0);
        let (mut producers, from) = match self.snapshots()?.into_iter().rev().find(|&o| o <= end) {
            Some(offset) => {
                let path = self.dir.join(file_name(offset, "snapshot"));
                match checkpoint::read(&path).ok().flatten().and_then(|b| ProducerStates::decode(&b)) {
                    Some(state) => (state, offset.max(first_base)),
                    None => {
                        warn!(path = %path.display(), "unreadable producer snapshot; rebuilding from the log");
                        (ProducerStates::default(), first_base)
                    }
                }
            }
            None => (ProducerStates::default(), first_base),
        };
        for segment in self.segments.range(self.segment_base_for(from)..).map(|(_, s)| s) {
            let segment = segment.readable()?;
            let mut position = segment.entry_containing(from).map_or(0, |(_, e)| e.position as usize);
            while let Some((at, header)) = segment.find_from_position(position) {
                let marker = if header.is_control() { segment.batch_at(at).and_then(|b| transaction_marker(&b)) } else { None };
                producers.record(&header, marker);
                position = at + header.size();
            }
        }
        self.producers = producers;
        self.prepared_end = end;
        Ok(())
    }

    /// Offsets of the producer snapshots on disk, ascending.
    fn snapshots(&self) -> Result<Vec<i64>> {
        snapshot_offsets(&self.dir)
    }

    /// Writes the producer state of everything below `offset` (the log end, or a new segment's
    /// base) as `<offset>.snapshot`, and keeps only the newest few.
    fn write_producer_snapshot(&self, offset: i64) -> Result<()> {
        self.write_producer_snapshot_with(offset, true)
    }

    /// `sync == false`: no fsyncs (a torn snapshot is rebuilt from the log; the caller syncs).
    fn write_producer_snapshot_with(&self, offset: i64, sync: bool) -> Result<()> {
        let path = self.dir.join(file_name(offset, "snapshot"));
        let payload = self.producers.encode_below(offset);
        if sync {
            checkpoint::write(&path, &payload)?;
        } else {
            checkpoint::write_unsynced(&path, &payload)?;
        }
        let snapshots = self.snapshots()?;
        for old in snapshots.iter().take(snapshots.len().saturating_sub(SNAPSHOTS_KEPT)) {
            remove_if_present(&self.dir.join(file_name(*old, "snapshot")))?;
        }
        Ok(())
    }

    /// Removes snapshots above `offset` (they describe a tail that was cut).
    fn drop_snapshots_above(&self, offset: i64) -> Result<()> {
        for snapshot in self.snapshots()?.into_iter().filter(|&o| o > offset) {
            remove_if_present(&self.dir.join(file_name(snapshot, "snapshot")))?;
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn config(&self) -> &LogConfig {
        &self.config
    }
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }
    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset()
    }
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }
    /// The commit point as an offset: consumers read below it; retention never deletes at or
    /// above it.
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }
    pub fn commit_index(&self) -> u64 {
        self.commit_index
    }
    /// Bytes in all segments.
    pub fn size(&self) -> u64 {
        self.segments.values().map(|s| s.size() as u64).sum()
    }

    fn active(&self) -> &Segment {
        self.segments.values().next_back().expect("a log always has an active segment")
    }
    fn active_mut(&mut self) -> &mut Segment {
        self.segments.values_mut().next_back().expect("a log always has an active segment")
    }

    // --- Raft view -------------------------------------------------------------------------

    /// Index of the first retained entry (one past the last when the log holds none).
    pub fn first_index(&self) -> u64 {
        self.before_first.index + 1
    }

    /// Index of the last entry (`first_index() - 1` when the log holds none).
    pub fn last_index(&self) -> u64 {
        self.segments.values().rev().find_map(|s| s.entries().last().map(|e| e.index)).unwrap_or(self.before_first.index)
    }

    /// The last entry's index and term.
    pub fn last_entry(&self) -> EntryId {
        self.segments
            .values()
            .rev()
            .find_map(|s| s.entries().last().map(|e| EntryId { index: e.index, term: e.term as u64 }))
            .unwrap_or(self.before_first)
    }

    /// The entry just before the first retained one (what a Raft snapshot covers).
    pub fn before_first(&self) -> EntryId {
        self.before_first
    }

    /// The segment holding entry `index`.
    fn segment_for_index(&self, index: u64) -> Option<&Segment> {
        // Segments are ordered by offset and by index alike: find the last one starting at or
        // before `index` (binary search over the few segment starts).
        let starts: Vec<(u64, &Segment)> = self.segments.values().filter_map(|s| Some((s.entries().first()?.index, &**s))).collect();
        let at = starts.partition_point(|(first, _)| *first <= index).checked_sub(1)?;
        let segment = starts[at].1;
        segment.entry(index).map(|_| segment)
    }

    /// The term of entry `index`: that of the entry before the first one too (Raft asks for
    /// it); [`StorageError::EntryCompacted`] below that, [`StorageError::EntryUnavailable`]
    /// past the last entry.
    pub fn term(&self, index: u64) -> Result<u64> {
        if index == self.before_first.index {
            return Ok(self.before_first.term);
        }
        if index < self.before_first.index {
            return Err(StorageError::EntryCompacted { index });
        }
        self.segment_for_index(index).and_then(|s| s.entry(index)).map(|e| e.term as u64).ok_or(StorageError::EntryUnavailable { index })
    }

    /// Entries `lo..hi`, at most `max_bytes` of them but always the first. Committed entries
    /// are lent zero-copy; entries above the commit point are copied (Raft may cut them).
    pub fn entries(&self, lo: u64, hi: u64, max_bytes: u64) -> Result<Vec<LogEntry>> {
        if lo < self.first_index() {
            return Err(StorageError::EntryCompacted { index: lo });
        }
        if hi > self.last_index() + 1 {
            return Err(StorageError::EntryUnavailable { index: hi - 1 });
        }
        let mut out = Vec::new();
        let mut bytes = 0u64;
        let mut index = lo;
        while index < hi {
            let segment = self.segment_for_index(index).ok_or(StorageError::EntryUnavailable { index })?.readable()?;
            let first = segment.entries()[0].index;
            for ordinal in (index - first) as usize..segment.entries().len() {
                let meta = segment.entries()[ordinal];
                if meta.index >= hi {
                    break;
                }
                let data = segment.entry_bytes(ordinal, meta.index <= self.commit_index).ok_or(StorageError::EntryUnavailable { index: meta.index })?;
                bytes += data.len() as u64;
                if !out.is_empty() && bytes > max_bytes {
                    return Ok(out);
                }
                out.push(LogEntry { index: meta.index, term: meta.term as u64, data });
                index = meta.index + 1;
            }
        }
        Ok(out)
    }

    /// The offset after entry `index` (the offset of entry `index + 1`).
    fn end_offset_of(&self, index: u64) -> Result<i64> {
        if index == self.before_first.index {
            return Ok(self.first_entry_offset());
        }
        let segment = self.segment_for_index(index).ok_or(StorageError::EntryUnavailable { index })?;
        let ordinal = (index - segment.entries()[0].index) as usize;
        Ok(segment.entry_end_offset(ordinal))
    }

    /// The base offset of the first retained entry (the log end when there is none).
    fn first_entry_offset(&self) -> i64 {
        self.segments
            .values()
            .find_map(|s| s.entries().first().map(|e| s.base_offset() + e.relative_offset as i64))
            .unwrap_or_else(|| self.log_end_offset())
    }

    /// Moves the commit point up to entry `index` (never down): the high watermark becomes the
    /// offset after it. Returns the high watermark.
    pub fn commit_to(&mut self, index: u64) -> Result<i64> {
        // Everything before the first retained entry is committed too (it was, to be removed).
        let index = index.min(self.last_index()).max(self.before_first.index);
        if index > self.commit_index || self.high_watermark < self.log_start_offset {
            self.commit_index = self.commit_index.max(index);
            self.high_watermark = self.high_watermark.max(self.end_offset_of(self.commit_index)?);
            self.producers.settle(self.high_watermark);
        }
        Ok(self.high_watermark)
    }

    // --- Appends -----------------------------------------------------------------------------

    /// The leader's step: decides what a validated batch becomes. A repeat of an idempotent
    /// producer's batch, in the log or in flight, is a duplicate with its original offsets;
    /// a sequence gap or stale epoch is refused; otherwise the batch gets the next offsets
    /// (after those already handed out) and its producer state is recorded as in flight.
    pub fn prepare(&mut self, bytes: &[u8], leader_epoch: i32, log_append_time: Option<i64>) -> Result<Prepared> {
        let header = BatchHeader::parse(bytes).ok_or_else(|| StorageError::Corrupt { path: self.dir.clone(), why: "batch shorter than its header".into() })?;
        // One entry is one batch: replicas refuse anything else.
        if header.size() != bytes.len() {
            return Err(StorageError::Corrupt { path: self.dir.clone(), why: format!("an entry of {} bytes holds a batch of {}", bytes.len(), header.size()) });
        }
        let marker = control_marker(&header, bytes);
        if let Some(written) = self.producers.check(&header, marker)? {
            return Ok(Prepared::Duplicate(AppendInfo {
                base_offset: written.base_offset,
                last_offset: written.last_offset,
                max_timestamp: written.max_timestamp,
                duplicate: true,
            }));
        }
        if bytes.len() as u64 > self.config.segment_bytes {
            return Err(StorageError::BatchTooLarge { size: bytes.len(), segment_bytes: self.config.segment_bytes });
        }
        let base_offset = self.prepared_end.max(self.log_end_offset());
        let stamped = BatchHeader { base_offset, max_timestamp: log_append_time.unwrap_or(header.max_timestamp), ..header };
        // A marker takes effect when it is in the log: preparing it changes nothing, so a
        // dropped proposal of one is undone exactly like a data batch's.
        if !header.is_control() {
            self.producers.record(&stamped, None);
        }
        self.prepared_end = stamped.next_offset();
        Ok(Prepared::Append(Stamp { base_offset, leader_epoch, log_append_time }))
    }

    /// The step every replica runs: writes the batch as the next entry (`index` must be
    /// `last_index() + 1`) at `stamp.base_offset` (which must be the log end), stamping it.
    /// Nothing is deduplicated or refused here: replicas must end byte-identical.
    pub fn append_entry(&mut self, bytes: &[u8], index: u64, stamp: Stamp, now_ms: i64) -> Result<AppendInfo> {
        let header = BatchHeader::parse(bytes).ok_or_else(|| StorageError::Corrupt { path: self.dir.clone(), why: "batch shorter than its header".into() })?;
        let expected = (self.last_index() + 1, self.log_end_offset());
        if (index, stamp.base_offset) != expected {
            return Err(StorageError::OutOfSequence { index, offset: stamp.base_offset, expected_index: expected.0, expected_offset: expected.1 });
        }
        if stamp.leader_epoch < 0 || self.last_entry().term > stamp.leader_epoch as u64 {
            return Err(StorageError::StaleTerm { term: stamp.leader_epoch as i64, last: self.last_entry().term });
        }
        let base_offset = stamp.base_offset;
        let last_offset = base_offset + header.last_offset_delta as i64;
        let active = self.active();
        let expired = now_ms - active.created_ms() >= self.config.segment_ms;
        if !active.is_empty() && (expired || !active.fits(bytes.len(), last_offset)) {
            self.roll(now_ms, base_offset)?;
        }
        let Log { segments, config, .. } = self;
        let active = segments.values_mut().next_back().expect("a log always has an active segment");
        let written = active.append(bytes, config, index, base_offset, stamp.leader_epoch, stamp.log_append_time)?;
        self.producers.record(&written, control_marker(&header, bytes));
        self.epochs.assign(stamp.leader_epoch, base_offset)?;
        self.prepared_end = self.prepared_end.max(last_offset + 1);
        self.touch(bytes.len());
        Ok(AppendInfo { base_offset, last_offset, max_timestamp: written.max_timestamp, duplicate: false })
    }

    /// A replica's append of entry `index` of `term`, received from the leader: the batch is
    /// checked whole (length, CRC, counts) and keeps the offsets the leader stamped; its leader
    /// epoch is the entry's term.
    pub fn append_replicated(&mut self, bytes: &[u8], index: u64, term: u64, now_ms: i64) -> Result<AppendInfo> {
        let header = weir_protocol::batch::validate(bytes).map_err(|e| StorageError::Corrupt { path: self.dir.clone(), why: format!("replicated entry {index}: {e}") })?;
        let leader_epoch = i32::try_from(term).map_err(|_| StorageError::StaleTerm { term: i64::MAX, last: self.last_entry().term })?;
        let log_append_time = header.is_log_append_time().then_some(header.max_timestamp);
        self.append_entry(bytes, index, Stamp { base_offset: header.base_offset, leader_epoch, log_append_time }, now_ms)
    }

    /// Takes back the most recent [`Log::prepare`] of `bytes` (its Raft proposal was dropped
    /// before it reached the log). Anything else in flight is kept.
    pub fn unprepare(&mut self, bytes: &[u8], stamp: Stamp) -> Result<()> {
        let header = BatchHeader::parse(bytes).ok_or_else(|| StorageError::Corrupt { path: self.dir.clone(), why: "batch shorter than its header".into() })?;
        if self.prepared_end == stamp.base_offset + header.last_offset_delta as i64 + 1 {
            self.prepared_end = stamp.base_offset;
            self.producers.forget(header.producer_id, stamp.base_offset);
            Ok(())
        } else {
            self.abandon_prepared()
        }
    }

    /// Forgets batches prepared but never appended (a leader that lost its term): offsets and
    /// producer state go back to what the log holds.
    pub fn abandon_prepared(&mut self) -> Result<()> {
        if self.prepared_end > self.log_end_offset() {
            self.rebuild_producer_state()?;
        }
        Ok(())
    }

    /// A single node's append: both steps at once, committed at once (one replica is a quorum).
    /// A batch that repeats an idempotent producer's recent batch is not written again: its
    /// original offsets come back.
    pub fn append(&mut self, bytes: &[u8], leader_epoch: i32, log_append_time: Option<i64>, now_ms: i64) -> Result<AppendInfo> {
        let stamp = match self.prepare(bytes, leader_epoch, log_append_time)? {
            Prepared::Duplicate(info) => return Ok(info),
            Prepared::Append(stamp) => stamp,
        };
        let index = self.last_index() + 1;
        let info = match self.append_entry(bytes, index, stamp, now_ms) {
            Ok(info) => info,
            Err(e) => {
                // Nothing was written (a full disk, say): take the prepare back, or a retry would
                // be "acknowledged" at offsets that hold nothing.
                self.unprepare(bytes, stamp)?;
                return Err(e);
            }
        };
        self.commit_to(index)?;
        Ok(info)
    }

    /// Closes every segment's files and drops their maps (the next read or write opens what it
    /// needs), so an idle partition holds no descriptors and no maps: a broker can host more
    /// partitions than its open-file limit and `vm.max_map_count` would otherwise allow. Called
    /// after open and then periodically by the broker; a busy partition then opens and maps
    /// again what it uses (a log and its two indexes per segment).
    pub fn close_idle_files(&mut self) {
        for segment in self.segments.values_mut() {
            segment.close_idle();
        }
    }

    /// Counts traffic through the maps; every `RELEASE_EVERY` bytes, unmaps the touched pages
    /// so the broker's resident memory does not grow with the data it has moved (record data
    /// belongs in the page cache, not in the process).
    fn touch(&self, bytes: usize) {
        if self.touched.fetch_add(bytes, Ordering::Relaxed) + bytes >= RELEASE_EVERY {
            self.touched.store(0, Ordering::Relaxed);
            for segment in self.segments.values() {
                segment.release_pages();
            }
        }
    }

    /// Crash tests: lets only `steps` more steps of a truncation or a roll run, then fails the
    /// operation with [`StorageError::SimulatedCrash`] as if the process died there (drop the
    /// log without closing it, then reopen it). `None` turns it off.
    #[doc(hidden)]
    pub fn crash_after_steps(&mut self, steps: Option<u32>) {
        self.crash_countdown = steps;
    }

    /// A point between two writes of a multi-step change (where a crash test may stop it).
    fn step(&mut self) -> Result<()> {
        match self.crash_countdown.as_mut() {
            Some(0) => Err(StorageError::SimulatedCrash),
            Some(left) => {
                *left -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Seals the active segment and starts a new one at `base_offset`, with a producer-state
    /// snapshot at that offset (so opening never walks sealed segments).
    fn roll(&mut self, now_ms: i64, base_offset: i64) -> Result<()> {
        self.step()?;
        self.active_mut().append_final_time_entry()?;
        self.active_mut().seal(true)?;
        self.step()?;
        self.write_producer_snapshot(base_offset)?;
        self.step()?;
        let segment = Segment::create(&self.dir, base_offset, &self.config, now_ms)?;
        // The new files' directory entries must survive a power loss as their data will.
        checkpoint::sync_dir(&self.dir)?;
        self.segments.insert(base_offset, Box::new(segment));
        info!(dir = %self.dir.display(), base_offset, "rolled segment");
        Ok(())
    }

    // --- Truncation and reset ------------------------------------------------------------------

    /// Raft conflict resolution: removes every entry after `index`, with the indexes, producer
    /// state, leader epochs and snapshots that describe them, and lowers the recovery point.
    /// Crash-safe: the target is recorded first and a crash midway is finished by the next
    /// open, so the log is either as before or truncated, never a mix. Refused at or below the
    /// commit point (committed entries are never cut, and only they are lent to readers).
    pub fn truncate_after(&mut self, index: u64, now_ms: i64) -> Result<()> {
        if index >= self.last_index() {
            return self.abandon_prepared();
        }
        if index < self.commit_index {
            return Err(StorageError::TruncateCommitted { index, commit: self.commit_index });
        }
        let end_offset = self.end_offset_of(index)?;
        // The segment that will be cut is read while it is cut: map it now, before anything
        // changes, so running out of descriptors or maps fails the truncation cleanly.
        let first_base = self.segments.keys().next().copied();
        if let Some(cut) = self.segments.range(..end_offset).next_back().map(|(b, _)| *b).or(first_base) {
            if let Some(segment) = self.segments.get_mut(&cut) {
                segment.reopen()?;
            }
        }
        self.step()?;
        write_truncation(&self.dir, end_offset)?;
        let doomed: Vec<i64> = self.segments.keys().copied().filter(|&b| b >= end_offset && Some(b) != first_base).collect();
        for base in doomed.iter().rev() {
            self.step()?;
            if let Some(segment) = self.segments.remove(base) {
                segment.delete()?;
            }
        }
        self.step()?;
        let last_base = *self.segments.keys().next_back().expect("a log always has a segment");
        let mut segment = self.segments.remove(&last_base).expect("just found");
        segment.truncate_to(end_offset, &self.config)?;
        let mut segment = Box::new(segment.reactivate(&self.dir, &self.config, now_ms)?);
        segment.entries_write_now()?;
        if let Some(flush) = segment.pending_flush(None) {
            flush.run()?;
            segment.flushed_to(flush.size, flush.dropped_to, true);
        }
        self.segments.insert(last_base, segment);
        self.step()?;
        self.drop_snapshots_above(end_offset)?;
        self.epochs.truncate_from_end(end_offset)?;
        self.step()?;
        self.recovery_point = self.recovery_point.min(end_offset);
        checkpoint::write_i64(&self.dir.join(RECOVERY_POINT_FILE), self.recovery_point)?;
        self.checkpointed.store(self.recovery_point, Ordering::Relaxed);
        self.step()?;
        clear_truncation(&self.dir)?;
        self.rebuild_producer_state()?;
        info!(dir = %self.dir.display(), index, end_offset, "truncated the log");
        Ok(())
    }

    /// Empties the log so it restarts after entry `before` at `offset` (installing a Raft
    /// snapshot on a replica that fell behind the leader's log start): every segment, snapshot
    /// and epoch goes; `producer_state` (from [`Log::producer_state`] on the leader) becomes
    /// this log's. Crash-safe like truncation.
    pub fn reset_to(&mut self, offset: i64, before: EntryId, producer_state: &[u8], now_ms: i64) -> Result<()> {
        let producers = ProducerStates::decode(producer_state).ok_or_else(|| StorageError::Corrupt { path: self.dir.clone(), why: "producer state does not parse".into() })?;
        let reset = Reset { offset, before, producer_state: producer_state.to_vec() };
        write_reset(&self.dir, &reset)?;
        self.segments.clear();
        finish_reset(&self.dir, reset)?;
        self.segments.insert(offset, Box::new(Segment::create(&self.dir, offset, &self.config, now_ms)?));
        checkpoint::sync_dir(&self.dir)?;
        self.log_start_offset = offset;
        self.before_first = before;
        self.recovery_point = offset;
        self.commit_index = before.index;
        self.high_watermark = offset;
        self.prepared_end = offset;
        self.producers = producers;
        self.epochs = LeaderEpochs::open(&self.dir)?;
        info!(dir = %self.dir.display(), offset, index = before.index, term = before.term, "reset the log");
        Ok(())
    }

    /// The producer state of everything up to the high watermark, as bytes.
    pub fn producer_state(&self) -> Vec<u8> {
        self.producers.encode_below(self.high_watermark)
    }

    /// What a Raft snapshot of this log is: the offset where the first retained entry starts
    /// (the log restarts there after [`Log::before_first`]) and the producer state of the
    /// batches below it that are still cached; the entries after it rebuild the rest.
    pub fn snapshot_start(&self) -> (i64, Vec<u8>) {
        let offset = self.first_entry_offset();
        (offset, self.producers.encode_below(offset))
    }

    // --- Reads -----------------------------------------------------------------------------------

    /// Whole batches starting with the one that holds `offset`, at most `max_bytes` (but always
    /// the first batch, however large: KIP-74), none reaching `upper_bound` (the high watermark,
    /// so only committed bytes are lent).
    pub fn read(&self, offset: i64, max_bytes: usize, upper_bound: i64) -> Result<ReadResult> {
        let end = self.log_end_offset();
        if offset < self.log_start_offset || offset > end {
            return Err(StorageError::OffsetOutOfRange { offset, start: self.log_start_offset, end });
        }
        let upper_bound = upper_bound.min(self.high_watermark.max(self.log_start_offset));
        for segment in self.segments.range(self.segment_base_for(offset)..).map(|(_, s)| s) {
            if let Some((position, _)) = segment.readable()?.find(offset) {
                let records = segment.read_from(position, max_bytes, upper_bound);
                self.touch(records.len());
                return Ok(ReadResult { records });
            }
        }
        Ok(ReadResult { records: Bytes::new() })
    }

    /// The first batch with a timestamp at or after `timestamp` (whole, zero-copy), for
    /// ListOffsets by time. The caller finds the exact record inside it.
    pub fn batch_by_timestamp(&self, timestamp: i64) -> Result<Option<Bytes>> {
        for segment in self.segments.values() {
            if segment.max_timestamp() < timestamp || segment.is_empty() {
                continue;
            }
            let segment = segment.readable()?;
            let Some((position, header)) = segment.find_by_timestamp(timestamp) else { continue };
            if header.next_offset() > self.log_start_offset && header.next_offset() <= self.high_watermark {
                return Ok(segment.batch_at(position));
            }
        }
        Ok(None)
    }

    /// The batch holding the log's newest timestamp (ListOffsets MAX_TIMESTAMP).
    pub fn batch_with_max_timestamp(&self) -> Result<Option<Bytes>> {
        let Some(segment) = self.segments.values().filter(|s| !s.is_empty()).max_by_key(|s| s.max_timestamp()) else { return Ok(None) };
        let segment = segment.readable()?;
        let Some((position, header)) = segment.find(segment.max_timestamp_offset()) else { return Ok(None) };
        Ok((header.next_offset() <= self.high_watermark).then(|| segment.batch_at(position)).flatten())
    }

    /// Kafka's OffsetForLeaderEpoch: `(epoch, end offset)` for `requested` — the largest epoch
    /// at or below it and where the next one starts (the log end for the latest); `(-1, -1)`
    /// for an epoch above every known one.
    pub fn end_offset_for_epoch(&self, requested: i32) -> (i32, i64) {
        self.epochs.end_offset_for(requested, self.log_end_offset())
    }

    /// A new leader's epoch starts at the log end (Kafka assigns it when a replica becomes
    /// leader, before anything is appended in it).
    pub fn begin_epoch(&mut self, epoch: i32) -> Result<()> {
        let end = self.log_end_offset();
        self.epochs.assign(epoch, end)
    }

    // --- Durability --------------------------------------------------------------------------

    /// Prepares a flush of everything appended so far. Run it with [`FlushJob::run`] outside any
    /// lock, then report it with [`Log::flush_done`].
    pub fn flush_job(&self) -> FlushJob {
        let mut job = FlushJob {
            ranges: Vec::new(),
            syncs: Vec::new(),
            segments: Vec::new(),
            end_offset: self.log_end_offset(),
            last_index: self.last_index(),
        };
        for (&base, segment) in self.segments.range(self.segment_base_for(self.recovery_point)..) {
            if let Some(flush) = segment.pending_flush(self.config.drop_behind_bytes) {
                job.ranges.push(flush.range);
                job.syncs.extend(flush.syncs);
                job.segments.push(SegmentFlushed { base_offset: base, size: flush.size, dropped_to: flush.dropped_to });
            }
        }
        job
    }

    pub fn flush_done(&mut self, job: &FlushJob) {
        for flushed in &job.segments {
            if let Some(segment) = self.segments.get_mut(&flushed.base_offset) {
                segment.flushed_to(flushed.size, flushed.dropped_to, true);
            }
        }
        // A truncation since the job was prepared may have cut what it flushed.
        self.recovery_point = self.recovery_point.max(job.end_offset.min(self.log_end_offset()));
    }

    /// Flushes now, under the caller's borrow (shutdown, tests).
    pub fn flush(&mut self) -> Result<()> {
        let job = self.flush_job();
        job.run()?;
        self.flush_done(&job);
        Ok(())
    }

    fn segment_base_for(&self, offset: i64) -> i64 {
        self.segments.range(..=offset).next_back().map_or(i64::MIN, |(base, _)| *base)
    }

    // --- Retention ---------------------------------------------------------------------------

    /// Deletes whole sealed segments past `retention.ms` or beyond `retention.bytes`, oldest
    /// first, never one holding anything at or above the high watermark, and moves the log
    /// start offset. Returns how many were deleted.
    pub fn enforce_retention(&mut self, now_ms: i64) -> Result<usize> {
        let mut size = self.size() as i64;
        let mut doomed = Vec::new();
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        for (i, (&base, segment)) in self.segments.iter().take(self.segments.len() - 1).enumerate() {
            let too_old = self.config.retention_ms >= 0 && now_ms - segment.max_timestamp() > self.config.retention_ms;
            let too_big = self.config.retention_bytes >= 0 && size - segment.size() as i64 >= self.config.retention_bytes;
            let committed = bases[i + 1] <= self.high_watermark;
            if !(too_old || too_big) || !committed {
                break;
            }
            size -= segment.size() as i64;
            doomed.push(base);
        }
        if doomed.is_empty() {
            return Ok(0);
        }
        let next_start = self.segments.range(doomed[doomed.len() - 1] + 1..).next().map_or(0, |(b, _)| *b);
        self.drop_segments(&doomed, self.log_start_offset.max(next_start))?;
        info!(dir = %self.dir.display(), segments = doomed.len(), log_start_offset = self.log_start_offset, "retention deleted segments");
        Ok(doomed.len())
    }

    /// Kafka's DeleteRecords: makes `offset` the log start offset, so reads below it get
    /// OFFSET_OUT_OF_RANGE and ListOffsets(earliest) returns it, and deletes the segments that
    /// now lie wholly below it. An offset at or below the current start changes nothing; one
    /// above the high watermark is refused. Returns the log start offset.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64> {
        if offset <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        if offset > self.high_watermark {
            return Err(StorageError::OffsetOutOfRange { offset, start: self.log_start_offset, end: self.high_watermark });
        }
        // A segment goes when the next one starts at or below the new start offset.
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        let doomed: Vec<i64> = bases.windows(2).filter(|w| w[1] <= offset).map(|w| w[0]).collect();
        self.drop_segments(&doomed, offset)?;
        info!(dir = %self.dir.display(), log_start_offset = offset, segments = doomed.len(), "deleted records");
        Ok(offset)
    }

    /// Deletes leading segments and moves the log start to `new_start`, recording the last
    /// deleted entry as the one before the first (checkpointed before any file goes).
    fn drop_segments(&mut self, doomed: &[i64], new_start: i64) -> Result<()> {
        let last_gone = doomed
            .iter()
            .rev()
            .find_map(|base| self.segments.get(base)?.entries().last().copied())
            .map(|e| EntryId { index: e.index, term: e.term as u64 });
        if let Some(last_gone) = last_gone {
            self.before_first = last_gone;
        }
        self.log_start_offset = new_start;
        self.producers.forget_aborted_below(new_start);
        write_log_start(&self.dir, new_start, self.before_first)?;
        self.log_start_on_disk = (new_start, self.before_first);
        for base in doomed {
            if let Some(segment) = self.segments.remove(base) {
                segment.delete()?;
            }
        }
        self.epochs.truncate_from_start(new_start)?;
        Ok(())
    }

    /// Persists the recovery point, so the next unclean start validates less (one fsync: see
    /// [`checkpoint::write_replacing`]). Skipped when the recovery point has not moved since
    /// this process last wrote it.
    pub fn checkpoint(&self) -> Result<()> {
        if self.checkpointed.load(Ordering::Relaxed) == self.recovery_point {
            return Ok(());
        }
        checkpoint::write_replacing(&self.dir.join(RECOVERY_POINT_FILE), &self.recovery_point.to_be_bytes())?;
        self.checkpointed.store(self.recovery_point, Ordering::Relaxed);
        Ok(())
    }

    /// A clean close: everything flushed, the active segment trimmed like a sealed one, a
    /// producer-state snapshot at the log end, the recovery point at the end.
    /// Files that already say the same (a log closed cleanly and not written since) are not
    /// rewritten, so closing an idle log costs little more than trimming its active segment.
    pub fn close(&mut self) -> Result<()> {
        self.active_mut().seal(true)?;
        self.flush()?;
        self.close_files(true)
    }

    /// [`Log::close`] without fsyncs: the caller makes the whole filesystem durable afterwards
    /// ([`crate::LogDir::sync_filesystem`]) and then marks the shutdown clean, before relying on
    /// it (a broker closing thousands of logs). The recovery point is not rewritten: the clean
    /// marker supersedes it, and without the marker the one on disk is still true. The log
    /// start, when it changed, is still replaced atomically (written, synced, renamed).
    pub fn close_unsynced(&mut self) -> Result<()> {
        self.active_mut().seal(false)?;
        // No write-back per log: the caller's one `syncfs` writes everything back in a single
        // pass (starting thousands of small write-backs here cost more than the sync itself).
        // The recovery point stays where the last real flush left it: after a crash before
        // that sync, recovery re-validates from there.
        self.close_files(false)
    }

    /// The checkpoint files of a close (the producer snapshot without fsyncs unless `sync`).
    fn close_files(&mut self, sync: bool) -> Result<()> {
        let end = self.log_end_offset();
        // Producer state changes only with appends, truncations and resets, which all leave the
        // snapshots on disk describing the log below their offsets: one at the end is current.
        // A log with no entries and no producers has nothing to snapshot (opening it replays
        // nothing either way).
        let nothing = self.last_index() < self.first_index() && self.producers.active().is_empty();
        if !nothing && !self.dir.join(file_name(end, "snapshot")).exists() {
            self.write_producer_snapshot_with(end, sync)?;
        }
        // What the next open would read (the defaults, for a log that never wrote the file).
        if self.log_start_on_disk != (self.log_start_offset, self.before_first) {
            write_log_start(&self.dir, self.log_start_offset, self.before_first)?;
            self.log_start_on_disk = (self.log_start_offset, self.before_first);
        }
        if !sync {
            // The clean-shutdown marker that follows makes the next open trust the whole log;
            // without it, the recovery point already on disk is still a true one.
            return Ok(());
        }
        self.checkpoint()
    }

    /// Removes the log's directory and everything in it.
    pub fn delete(self) -> Result<()> {
        let dir = self.dir.clone();
        drop(self);
        fs::remove_dir_all(&dir).map_err(StorageError::io("remove", &dir))
    }

    /// The idempotent producers with batches in this log (DescribeProducers).
    pub fn active_producers(&self) -> Vec<crate::ActiveProducer> {
        self.producers.active()
    }

    /// The last stable offset (KIP-98): read_committed consumers read below it. It is the high
    /// watermark, or the first offset of the oldest transaction not yet settled below it.
    pub fn last_stable_offset(&self) -> i64 {
        // Never below the log start: retention may have removed a transaction's start.
        let first_unstable = self.producers.first_unstable(self.high_watermark).map_or(self.high_watermark, |first| first.min(self.high_watermark));
        first_unstable.max(self.log_start_offset)
    }

    /// The aborted transactions with data in `[from, upper)`, oldest marker first: what a
    /// read_committed Fetch returns beside records read from `from` up to `upper`.
    pub fn aborted_transactions(&self, from: i64, upper: i64) -> Vec<crate::TransactionRange> {
        self.producers.aborted_between(from, upper)
    }

    /// A counter of the transaction markers appended for the producer (since the log opened or
    /// was rebuilt): equal before and after means no transaction of it ended in between.
    pub fn transaction_markers(&self, producer_id: i64) -> u64 {
        self.producers.markers(producer_id)
    }

    /// `(producer epoch, first offset)` of the producer's open transaction in this log, if any.
    pub fn open_transaction(&self, producer_id: i64) -> Option<(i16, i64)> {
        self.producers.open_transaction(producer_id)
    }
}

/// The transaction marker in `bytes`, when `header` says it is a control batch.
fn control_marker(header: &BatchHeader, bytes: &[u8]) -> Option<TransactionMarker> {
    header.is_control().then(|| transaction_marker(bytes)).flatten()
}

// --- Checkpoint files beside the log --------------------------------------------------------

fn segment_bases(dir: &Path) -> Result<Vec<i64>> {
    let mut bases: Vec<i64> = fs::read_dir(dir)
        .map_err(StorageError::io("list", dir))?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".log")?.parse().ok()
        })
        .collect();
    bases.sort_unstable();
    Ok(bases)
}

/// Offsets of the producer snapshots (`<offset>.snapshot`) in `dir`, ascending.
fn snapshot_offsets(dir: &Path) -> Result<Vec<i64>> {
    let mut offsets: Vec<i64> = fs::read_dir(dir)
        .map_err(StorageError::io("list", dir))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok()?.strip_suffix(".snapshot")?.parse().ok())
        .collect();
    offsets.sort_unstable();
    Ok(offsets)
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StorageError::io("remove", path)(e)),
        _ => Ok(()),
    }
}

fn i64_at(bytes: &[u8], at: usize) -> i64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    i64::from_be_bytes(word)
}

/// The log start offset and the entry before the first retained one.
fn read_log_start(dir: &Path) -> Result<(i64, EntryId)> {
    let path = dir.join(LOG_START_FILE);
    match checkpoint::read(&path)? {
        Some(p) if p.len() == 24 => Ok((i64_at(&p, 0), EntryId { index: i64_at(&p, 8) as u64, term: i64_at(&p, 16) as u64 })),
        Some(_) => Err(StorageError::Corrupt { path, why: "expected 24 bytes".into() }),
        None => Ok((checkpoint::read_i64(&dir.join(LEGACY_LOG_START_FILE), 0)?, EntryId::default())),
    }
}

fn write_log_start(dir: &Path, log_start: i64, before_first: EntryId) -> Result<()> {
    let mut payload = Vec::with_capacity(24);
    payload.extend_from_slice(&log_start.to_be_bytes());
    payload.extend_from_slice(&(before_first.index as i64).to_be_bytes());
    payload.extend_from_slice(&(before_first.term as i64).to_be_bytes());
    checkpoint::write(&dir.join(LOG_START_FILE), &payload)
}

fn read_truncation(dir: &Path) -> Result<Option<i64>> {
    let path = dir.join(TRUNCATION_FILE);
    if !path.exists() {
        return Ok(None);
    }
    checkpoint::read_i64(&path, 0).map(Some)
}

fn write_truncation(dir: &Path, end_offset: i64) -> Result<()> {
    checkpoint::write_i64(&dir.join(TRUNCATION_FILE), end_offset)
}

fn clear_truncation(dir: &Path) -> Result<()> {
    remove_if_present(&dir.join(TRUNCATION_FILE))?;
    checkpoint::sync_dir(dir)
}

/// Finishes a truncation to `end_offset` found at open: segments from it on go, the one
/// holding it is validated, cut and trimmed, and its entry index is dropped so the open that
/// follows renumbers it; snapshots and epochs above the cut go too.
fn finish_truncation(dir: &Path, config: &LogConfig, bases: &mut Vec<i64>, end_offset: i64, now_ms: i64) -> Result<()> {
    warn!(dir = %dir.display(), end_offset, "finishing a truncation a crash interrupted");
    let first = bases.first().copied();
    for &base in bases.iter().filter(|&&b| b >= end_offset && Some(b) != first) {
        delete_files(dir, base)?;
    }
    bases.retain(|&b| b < end_offset || Some(b) == first);
    if let Some(&last) = bases.last() {
        let mut segment = Segment::recover(dir, last, config, false, 1, 0, now_ms)?.segment;
        segment.truncate_to(end_offset, config)?;
        segment.seal(true)?;
        drop(segment);
        remove_if_present(&dir.join(file_name(last, "entryindex")))?;
    }
    let mut epochs = LeaderEpochs::open(dir)?;
    epochs.truncate_from_end(end_offset)?;
    for offset in snapshot_offsets(dir)?.into_iter().filter(|&o| o > end_offset) {
        remove_if_present(&dir.join(file_name(offset, "snapshot")))?;
    }
    let recovery_point = checkpoint::read_i64(&dir.join(RECOVERY_POINT_FILE), 0)?;
    checkpoint::write_i64(&dir.join(RECOVERY_POINT_FILE), recovery_point.min(end_offset))?;
    clear_truncation(dir)
}

/// A reset in progress (see [`Log::reset_to`]).
struct Reset {
    offset: i64,
    before: EntryId,
    producer_state: Vec<u8>,
}

const RESET_FILE: &str = "reset.checkpoint";

fn write_reset(dir: &Path, reset: &Reset) -> Result<()> {
    let mut payload = Vec::with_capacity(24 + reset.producer_state.len());
    payload.extend_from_slice(&reset.offset.to_be_bytes());
    payload.extend_from_slice(&(reset.before.index as i64).to_be_bytes());
    payload.extend_from_slice(&(reset.before.term as i64).to_be_bytes());
    payload.extend_from_slice(&reset.producer_state);
    checkpoint::write(&dir.join(RESET_FILE), &payload)
}

fn read_reset(dir: &Path) -> Result<Option<Reset>> {
    let path = dir.join(RESET_FILE);
    match checkpoint::read(&path)? {
        None => Ok(None),
        Some(p) if p.len() >= 24 => Ok(Some(Reset {
            offset: i64_at(&p, 0),
            before: EntryId { index: i64_at(&p, 8) as u64, term: i64_at(&p, 16) as u64 },
            producer_state: p[24..].to_vec(),
        })),
        Some(_) => Err(StorageError::Corrupt { path, why: "shorter than a reset record".into() }),
    }
}

/// Empties the directory of segments, snapshots and epochs, and writes the reset's start point
/// and producer state; idempotent, so a crash midway is finished by the next open.
fn finish_reset(dir: &Path, reset: Reset) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(StorageError::io("list", dir))? {
        let path = entry.map_err(StorageError::io("list", dir))?.path();
        let doomed = matches!(path.extension().and_then(|e| e.to_str()), Some("log" | "index" | "timeindex" | "entryindex" | "snapshot"));
        if doomed {
            remove_if_present(&path)?;
        }
    }
    LeaderEpochs::open(dir)?.clear()?;
    checkpoint::write(&dir.join(file_name(reset.offset, "snapshot")), &reset.producer_state)?;
    write_log_start(dir, reset.offset, reset.before)?;
    checkpoint::write_i64(&dir.join(RECOVERY_POINT_FILE), reset.offset)?;
    remove_if_present(&dir.join(RESET_FILE))?;
    checkpoint::sync_dir(dir)
}
