//! A partition's log: an ordered set of segments, the offsets that bound it, and the producer
//! state derived from it.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use tracing::{info, warn};
use weir_protocol::batch::{self, BatchHeader};

use crate::checkpoint;
use crate::mapped_file::RangeFlush;
use crate::producer_state::ProducerStates;
use crate::segment::Segment;
use crate::{Result, StorageError};

const LOG_START_OFFSET_FILE: &str = "log-start-offset.checkpoint";
const RECOVERY_POINT_FILE: &str = "recovery-point.checkpoint";
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
        }
    }
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
    segments: BTreeMap<i64, Segment>,
    log_start_offset: i64,
    /// Everything below this offset is known to be on disk.
    recovery_point: i64,
    producers: ProducerStates,
    /// Bytes appended or read since mapped pages were last released.
    touched: AtomicUsize,
}

/// A flush prepared under the log's lock and run outside it, so appends continue meanwhile.
pub struct FlushJob {
    ranges: Vec<RangeFlush>,
    syncs: Vec<PathBuf>,
    positions: Vec<(i64, usize)>,
    /// Offsets below this are durable once the job has run.
    pub end_offset: i64,
}

impl FlushJob {
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.syncs.is_empty()
    }

    /// Does the I/O (msync, fsync). Blocking.
    pub fn run(&self) -> Result<()> {
        for range in &self.ranges {
            range.run()?;
        }
        for path in &self.syncs {
            File::open(path)
                .and_then(|f| f.sync_all())
                .map_err(StorageError::io("fsync", path))?;
        }
        Ok(())
    }
}

impl Log {
    /// Opens (or creates) the log in `dir`. After an unclean shutdown (`clean == false`) every
    /// segment from the one holding the recovery point on is validated batch by batch and cut at
    /// the first torn or corrupt batch; segments after a cut are deleted.
    pub fn open(dir: &Path, config: LogConfig, clean: bool, now_ms: i64) -> Result<Log> {
        fs::create_dir_all(dir).map_err(StorageError::io("create", dir))?;
        let mut bases: Vec<i64> = fs::read_dir(dir)
            .map_err(StorageError::io("list", dir))?
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".log")?.parse().ok()
            })
            .collect();
        bases.sort_unstable();
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
        for (i, &base) in bases.iter().enumerate() {
            let active = i + 1 == bases.len();
            if cut {
                warn!(dir = %dir.display(), base, "deleting segment after a corrupt one");
                Segment::open_trusted(dir, base, &config, false, now_ms)?.delete()?;
                continue;
            }
            let segment = if base >= first_to_recover {
                let recovered = Segment::recover(dir, base, &config, active, now_ms)?;
                if recovered.truncated_bytes > 0 {
                    warn!(dir = %dir.display(), base, bytes = recovered.truncated_bytes, "truncated a torn or corrupt tail");
                    cut = true;
                    needs_active = !active;
                }
                recovered.segment
            } else {
                Segment::open_trusted(dir, base, &config, active, now_ms)?
            };
            segments.insert(base, segment);
        }
        let mut log = Log {
            dir: dir.to_owned(),
            config,
            segments,
            log_start_offset: 0,
            recovery_point: 0,
            producers: ProducerStates::default(),
            touched: AtomicUsize::new(0),
        };
        if log.segments.is_empty() {
            log.segments.insert(0, Segment::create(dir, 0, &log.config, now_ms)?);
        } else if needs_active {
            let next = log.log_end_offset();
            log.roll(now_ms, next)?;
        }
        let first_base = log.segments.keys().next().copied().unwrap_or(0);
        let start = checkpoint::read_i64(&dir.join(LOG_START_OFFSET_FILE), first_base)?;
        log.log_start_offset = start.clamp(first_base, log.log_end_offset());
        log.recovery_point = if clean { log.log_end_offset() } else { recovery_point.min(log.log_end_offset()) };
        log.rebuild_producer_state();
        info!(dir = %dir.display(), start = log.log_start_offset, end = log.log_end_offset(), clean, "opened log");
        Ok(log)
    }

    fn rebuild_producer_state(&mut self) {
        let mut producers = ProducerStates::default();
        for segment in self.segments.values() {
            let mut position = 0;
            while let Some((at, header)) = segment.find_from_position(position) {
                producers.record(&header);
                position = at + header.size();
            }
        }
        self.producers = producers;
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

    /// Appends one validated batch, assigning its offsets and `leader_epoch`, and stamping it
    /// with `log_append_time` when the topic uses LogAppendTime. A batch that repeats an
    /// idempotent producer's recent batch is not written again: its original offsets come back.
    pub fn append(&mut self, bytes: &[u8], leader_epoch: i32, log_append_time: Option<i64>, now_ms: i64) -> Result<AppendInfo> {
        let header = BatchHeader::parse(bytes).ok_or_else(|| StorageError::Corrupt {
            path: self.dir.clone(),
            why: "batch shorter than its header".into(),
        })?;
        if let Some(written) = self.producers.check(&header)? {
            return Ok(AppendInfo {
                base_offset: written.base_offset,
                last_offset: written.last_offset,
                max_timestamp: written.max_timestamp,
                duplicate: true,
            });
        }
        if bytes.len() as u64 > self.config.segment_bytes {
            return Err(StorageError::BatchTooLarge { size: bytes.len(), segment_bytes: self.config.segment_bytes });
        }
        let base_offset = self.log_end_offset();
        let last_offset = base_offset + header.last_offset_delta as i64;
        let active = self.active();
        let expired = now_ms - active.created_ms() >= self.config.segment_ms;
        if !active.is_empty() && (expired || !active.fits(bytes.len(), last_offset)) {
            self.roll(now_ms, base_offset)?;
        }
        let Log { segments, config, .. } = self;
        let active = segments.values_mut().next_back().expect("a log always has an active segment");
        let written = active.append(bytes, config, |b| {
            batch::set_base_offset(b, base_offset);
            batch::set_partition_leader_epoch(b, leader_epoch);
            if let Some(now) = log_append_time {
                batch::set_log_append_time(b, now);
            }
        })?;
        self.producers.record(&written);
        self.touch(bytes.len());
        Ok(AppendInfo { base_offset, last_offset, max_timestamp: written.max_timestamp, duplicate: false })
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

    /// Seals the active segment and starts a new one at `base_offset`.
    fn roll(&mut self, now_ms: i64, base_offset: i64) -> Result<()> {
        self.active_mut().seal()?;
        let segment = Segment::create(&self.dir, base_offset, &self.config, now_ms)?;
        self.segments.insert(base_offset, segment);
        info!(dir = %self.dir.display(), base_offset, "rolled segment");
        Ok(())
    }

    /// Whole batches starting with the one that holds `offset`, at most `max_bytes` (but always
    /// the first batch, however large: KIP-74), none reaching `upper_bound` (the high watermark).
    pub fn read(&self, offset: i64, max_bytes: usize, upper_bound: i64) -> Result<ReadResult> {
        let end = self.log_end_offset();
        if offset < self.log_start_offset || offset > end {
            return Err(StorageError::OffsetOutOfRange { offset, start: self.log_start_offset, end });
        }
        for segment in self.segments.range(self.segment_base_for(offset)..).map(|(_, s)| s) {
            if let Some((position, _)) = segment.find(offset) {
                let records = segment.read_from(position, max_bytes, upper_bound);
                self.touch(records.len());
                return Ok(ReadResult { records });
            }
        }
        Ok(ReadResult { records: Bytes::new() })
    }

    /// The first batch with a timestamp at or after `timestamp` (whole, zero-copy), for
    /// ListOffsets by time. The caller finds the exact record inside it.
    pub fn batch_by_timestamp(&self, timestamp: i64) -> Option<Bytes> {
        self.segments.values().find_map(|segment| {
            if segment.max_timestamp() < timestamp || segment.is_empty() {
                return None;
            }
            let (position, header) = segment.find_by_timestamp(timestamp)?;
            (header.next_offset() > self.log_start_offset).then(|| segment.batch_at(position))?
        })
    }

    /// The batch holding the log's newest timestamp (ListOffsets MAX_TIMESTAMP).
    pub fn batch_with_max_timestamp(&self) -> Option<Bytes> {
        let segment = self.segments.values().filter(|s| !s.is_empty()).max_by_key(|s| s.max_timestamp())?;
        let (position, _) = segment.find(segment.max_timestamp_offset())?;
        segment.batch_at(position)
    }

    /// Prepares a flush of everything appended so far. Run it with [`FlushJob::run`] outside any
    /// lock, then report it with [`Log::flush_done`].
    pub fn flush_job(&self) -> FlushJob {
        let mut job = FlushJob { ranges: Vec::new(), syncs: Vec::new(), positions: Vec::new(), end_offset: self.log_end_offset() };
        for (&base, segment) in self.segments.range(self.segment_base_for(self.recovery_point)..) {
            if let Some((ranges, syncs, size)) = segment.pending_flush() {
                job.ranges.extend(ranges);
                job.syncs.extend(syncs);
                job.positions.push((base, size));
            }
        }
        job
    }

    pub fn flush_done(&mut self, job: &FlushJob) {
        for &(base, size) in &job.positions {
            if let Some(segment) = self.segments.get_mut(&base) {
                segment.flushed_to(size, true);
            }
        }
        self.recovery_point = self.recovery_point.max(job.end_offset);
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

    /// Deletes whole sealed segments past `retention.ms` or beyond `retention.bytes`, oldest
    /// first, and moves the log start offset. Returns how many were deleted.
    pub fn enforce_retention(&mut self, now_ms: i64) -> Result<usize> {
        let mut size = self.size() as i64;
        let mut doomed = Vec::new();
        for (&base, segment) in self.segments.iter().take(self.segments.len() - 1) {
            let too_old = self.config.retention_ms >= 0 && now_ms - segment.max_timestamp() > self.config.retention_ms;
            let too_big = self.config.retention_bytes >= 0 && size - segment.size() as i64 >= self.config.retention_bytes;
            if !(too_old || too_big) {
                break;
            }
            size -= segment.size() as i64;
            doomed.push(base);
        }
        if doomed.is_empty() {
            return Ok(0);
        }
        let next_start = self.segments.range(doomed[doomed.len() - 1] + 1..).next().map_or(0, |(b, _)| *b);
        self.log_start_offset = self.log_start_offset.max(next_start);
        checkpoint::write_i64(&self.dir.join(LOG_START_OFFSET_FILE), self.log_start_offset)?;
        for base in &doomed {
            if let Some(segment) = self.segments.remove(base) {
                segment.delete()?;
            }
        }
        info!(dir = %self.dir.display(), segments = doomed.len(), log_start_offset = self.log_start_offset, "retention deleted segments");
        Ok(doomed.len())
    }

    /// Kafka's DeleteRecords: makes `offset` the log start offset, so reads below it get
    /// OFFSET_OUT_OF_RANGE and ListOffsets(earliest) returns it, and deletes the segments that
    /// now lie wholly below it. An offset at or below the current start changes nothing; the
    /// caller bounds `offset` by the high watermark. Returns the log start offset.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64> {
        if offset <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        let end = self.log_end_offset();
        if offset > end {
            return Err(StorageError::OffsetOutOfRange { offset, start: self.log_start_offset, end });
        }
        self.log_start_offset = offset;
        checkpoint::write_i64(&self.dir.join(LOG_START_OFFSET_FILE), offset)?;
        // A segment goes when the next one starts at or below the new start offset.
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        let doomed: Vec<i64> = bases.windows(2).filter(|w| w[1] <= offset).map(|w| w[0]).collect();
        for base in &doomed {
            if let Some(segment) = self.segments.remove(base) {
                segment.delete()?;
            }
        }
        info!(dir = %self.dir.display(), log_start_offset = offset, segments = doomed.len(), "deleted records");
        Ok(offset)
    }

    /// The idempotent producers with batches in this log (DescribeProducers).
    pub fn active_producers(&self) -> Vec<crate::ActiveProducer> {
        self.producers.active()
    }

    /// Persists the recovery point, so the next unclean start validates less.
    pub fn checkpoint(&self) -> Result<()> {
        checkpoint::write_i64(&self.dir.join(RECOVERY_POINT_FILE), self.recovery_point)
    }

    /// A clean close: everything flushed, the active segment trimmed like a sealed one, the
    /// recovery point at the end.
    pub fn close(&mut self) -> Result<()> {
        self.active_mut().seal()?;
        self.flush()?;
        self.checkpoint()
    }

    /// Removes the log's directory and everything in it.
    pub fn delete(self) -> Result<()> {
        let dir = self.dir.clone();
        drop(self);
        fs::remove_dir_all(&dir).map_err(StorageError::io("remove", &dir))
    }
}
