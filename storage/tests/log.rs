//! The partition log against real files: append/read, roll, retention, indexes, recovery.

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use weir_protocol::batch::{self, Batches};
use weir_storage::{Log, LogConfig, LogDir, StorageError};

fn batch_with(first_ts: i64, records: usize, producer: Option<(i64, i16, i32)>) -> Vec<u8> {
    let (producer_id, producer_epoch, base_sequence) = producer.unwrap_or((-1, -1, -1));
    let records: Vec<Record> = (0..records)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: base_sequence.max(0) + i as i32,
            timestamp: first_ts + i as i64,
            key: Some(Bytes::from(format!("key-{first_ts}-{i}"))),
            value: Some(Bytes::from(vec![b'x'; 200])),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression: Compression::None }).unwrap();
    buf.to_vec()
}

/// A single node's view: everything in the log is committed once it is opened.
fn committed(mut log: Log) -> Log {
    log.commit_to(log.last_index()).unwrap();
    log
}

fn batch(first_ts: i64, records: usize) -> Vec<u8> {
    batch_with(first_ts, records, None)
}

fn small_segments() -> LogConfig {
    LogConfig { segment_bytes: 4096, index_interval_bytes: 512, ..LogConfig::default() }
}

fn keys(records: &Bytes) -> Vec<String> {
    let mut buf = records.clone();
    let mut keys = Vec::new();
    while !buf.is_empty() {
        for record in RecordBatchDecoder::decode(&mut buf).unwrap().records {
            keys.push(String::from_utf8(record.key.unwrap().to_vec()).unwrap());
        }
    }
    keys
}

fn offsets_of(records: &Bytes) -> Vec<i64> {
    Batches::new(records).flat_map(|(_, h)| h.base_offset..=h.last_offset()).collect()
}

fn segment_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    names
}

#[test]
fn appends_assign_offsets_and_read_back_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = committed(Log::open(dir.path(), LogConfig::default(), false, 0).unwrap());
    let a = log.append(&batch(1_000, 3), 5, None, 0).unwrap();
    let b = log.append(&batch(2_000, 2), 5, None, 0).unwrap();
    assert_eq!((a.base_offset, a.last_offset, b.base_offset, b.last_offset), (0, 2, 3, 4));
    assert_eq!(log.log_end_offset(), 5);

    let all = log.read(0, 1 << 20, 5).unwrap().records;
    assert_eq!(offsets_of(&all), vec![0, 1, 2, 3, 4]);
    assert_eq!(keys(&all)[3], "key-2000-0");
    // Stored batches carry the broker's offset and epoch, and still pass validation.
    for (at, header) in Batches::new(&all) {
        assert_eq!(header.partition_leader_epoch, 5);
        batch::validate(&all[at..at + header.size()]).unwrap();
    }
    // A read from the middle of a batch starts at that batch; the high watermark bounds it;
    // max_bytes smaller than a batch still returns the first batch whole (KIP-74).
    assert_eq!(offsets_of(&log.read(1, 1 << 20, 5).unwrap().records), vec![0, 1, 2, 3, 4]);
    assert_eq!(offsets_of(&log.read(0, 1 << 20, 3).unwrap().records), vec![0, 1, 2]);
    assert_eq!(offsets_of(&log.read(0, 10, 5).unwrap().records), vec![0, 1, 2]);
    assert!(log.read(5, 1 << 20, 5).unwrap().records.is_empty());
    assert!(matches!(log.read(6, 100, 5), Err(StorageError::OffsetOutOfRange { .. })));
}

#[test]
fn rolls_segments_and_reads_across_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = committed(Log::open(dir.path(), small_segments(), false, 0).unwrap());
    for i in 0..40 {
        log.append(&batch(i * 10, 2), 0, None, 0).unwrap();
    }
    let files = segment_files(dir.path());
    assert!(files.len() >= 5, "{files:?}");
    assert_eq!(files[0], "00000000000000000000.log");
    // Sealed segments are trimmed to their contents.
    assert!(fs::metadata(dir.path().join(&files[0])).unwrap().len() <= 4096);
    let mut offset = 0;
    while offset < 80 {
        let records = log.read(offset, 1 << 20, 80).unwrap().records;
        let got = offsets_of(&records);
        assert_eq!(got[0], offset - offset % 2);
        offset = got.last().unwrap() + 1;
    }
    // The index is used: a read near the end of a segment starts at the right batch.
    assert_eq!(offsets_of(&log.read(77, 1, 80).unwrap().records), vec![76, 77]);
    // Rolled by time as well as size.
    let mut log = committed(Log::open(&dir.path().join("timed"), LogConfig { segment_ms: 100, ..LogConfig::default() }, false, 0).unwrap());
    log.append(&batch(0, 1), 0, None, 0).unwrap();
    log.append(&batch(0, 1), 0, None, 50).unwrap();
    log.append(&batch(0, 1), 0, None, 150).unwrap();
    assert_eq!(segment_files(&dir.path().join("timed")).len(), 2);
}

#[test]
fn finds_batches_by_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = committed(Log::open(dir.path(), small_segments(), false, 0).unwrap());
    for i in 0..30 {
        log.append(&batch(10_000 + i * 100, 2), 0, None, 0).unwrap();
    }
    let found = log.batch_by_timestamp(10_000 + 1_050).unwrap().unwrap();
    let header = weir_protocol::batch::BatchHeader::parse(&found).unwrap();
    assert_eq!(header.base_offset, 22); // batch 11 holds timestamps 11100..11101
    assert!(log.batch_by_timestamp(99_999).unwrap().is_none());
    let newest = weir_protocol::batch::BatchHeader::parse(&log.batch_with_max_timestamp().unwrap().unwrap()).unwrap();
    assert_eq!(newest.base_offset, 58);
    // LogAppendTime stamps the broker clock into the batch.
    log.append(&batch(1, 1), 0, Some(777_777), 0).unwrap();
    let stamped = log.read(60, 1 << 20, 61).unwrap().records;
    let header = weir_protocol::batch::BatchHeader::parse(&stamped).unwrap();
    assert!(header.is_log_append_time());
    assert_eq!(header.max_timestamp, 777_777);
}

#[test]
fn retention_deletes_whole_old_segments() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { retention_ms: 1_000, ..small_segments() };
    let mut log = committed(Log::open(dir.path(), config.clone(), false, 0).unwrap());
    for i in 0..40 {
        // The first 20 batches are old; the rest are recent.
        let ts = if i < 20 { 0 } else { 100_000 };
        log.append(&batch(ts, 2), 0, None, 0).unwrap();
    }
    let before = segment_files(dir.path()).len();
    let deleted = log.enforce_retention(100_500).unwrap();
    assert!(deleted > 0);
    assert_eq!(segment_files(dir.path()).len(), before - deleted);
    let start = log.log_start_offset();
    assert!(start > 0 && start <= 40, "{start}");
    assert!(matches!(log.read(0, 100, 80), Err(StorageError::OffsetOutOfRange { .. })));
    assert_eq!(offsets_of(&log.read(start, 1, 80).unwrap().records)[0], start);
    // The log start offset survives a restart.
    log.close().unwrap();
    drop(log);
    let log = committed(Log::open(dir.path(), config, true, 0).unwrap());
    assert_eq!(log.log_start_offset(), start);

    // retention.bytes keeps at most that many bytes (whole segments).
    let dir = tempfile::tempdir().unwrap();
    let mut log = committed(Log::open(dir.path(), LogConfig { retention_bytes: 5_000, retention_ms: -1, ..small_segments() }, false, 0).unwrap());
    for i in 0..40 {
        log.append(&batch(i, 2), 0, None, 0).unwrap();
    }
    log.enforce_retention(0).unwrap();
    assert!(log.size() <= 5_000 + 4096, "{}", log.size());
    assert!(log.size() > 0);
}

#[test]
fn clean_restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data = LogDir::open(dir.path()).unwrap();
    let mut log = committed(data.open_log("t", 0, small_segments(), 0).unwrap());
    for i in 0..25 {
        log.append(&batch(i, 3), 0, None, 0).unwrap();
    }
    log.close().unwrap();
    drop(log);
    data.mark_clean_shutdown().unwrap();
    drop(data);

    let data = LogDir::open(dir.path()).unwrap();
    assert!(data.was_clean());
    // The directory is locked while open.
    assert!(matches!(LogDir::open(dir.path()), Err(StorageError::Locked { .. })));
    assert_eq!(data.partitions_on_disk().unwrap(), vec![("t".to_string(), 0)]);
    let mut log = committed(data.open_log("t", 0, small_segments(), 0).unwrap());
    assert_eq!(log.log_end_offset(), 75);
    assert_eq!(log.append(&batch(99, 1), 0, None, 0).unwrap().base_offset, 75);
    assert_eq!(offsets_of(&log.read(72, 1 << 20, 76).unwrap().records), vec![72, 73, 74, 75]);
    // A second open without a marker is unclean.
    drop(log);
    drop(data);
    assert!(!LogDir::open(dir.path()).unwrap().was_clean());
}

fn write_log_then_crash(dir: &Path, batches: usize) -> Vec<u8> {
    let mut log = committed(Log::open(dir, LogConfig::default(), false, 0).unwrap());
    for i in 0..batches {
        log.append(&batch(i as i64, 2), 0, None, 0).unwrap();
    }
    // No close: the files are left as a kill -9 leaves them (full-size, untrimmed).
    let records = log.read(0, usize::MAX, i64::MAX).unwrap().records.to_vec();
    drop(log);
    records
}

#[test]
fn recovery_truncates_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = write_log_then_crash(dir.path(), 10);
    let batch_len = bytes.len() / 10;
    // Tear the last batch: zero its second half, as a crash mid-write would.
    let path = dir.path().join("00000000000000000000.log");
    let mut file = OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start((9 * batch_len + batch_len / 2) as u64)).unwrap();
    file.write_all(&vec![0u8; batch_len]).unwrap();
    drop(file);

    let mut log = committed(Log::open(dir.path(), LogConfig::default(), false, 0).unwrap());
    assert_eq!(log.log_end_offset(), 18);
    assert_eq!(log.append(&batch(5, 1), 0, None, 0).unwrap().base_offset, 18);
    assert_eq!(offsets_of(&log.read(0, usize::MAX, 19).unwrap().records), (0..19).collect::<Vec<_>>());
}

#[test]
fn recovery_cuts_at_a_flipped_bit_and_rebuilds_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { index_interval_bytes: 256, ..LogConfig::default() };
    let mut log = committed(Log::open(dir.path(), config.clone(), false, 0).unwrap());
    for i in 0..20 {
        log.append(&batch(i, 2), 0, None, 0).unwrap();
    }
    let batch_len = log.read(0, 1, 40).unwrap().records.len();
    drop(log);
    // Flip one bit inside batch 12's records, and scribble over the index.
    let path = dir.path().join("00000000000000000000.log");
    let mut bytes = fs::read(&path).unwrap();
    bytes[12 * batch_len + 100] ^= 0x10;
    fs::write(&path, &bytes).unwrap();
    fs::write(dir.path().join("00000000000000000000.index"), vec![0xAB; 64]).unwrap();

    let log = committed(Log::open(dir.path(), config, false, 0).unwrap());
    assert_eq!(log.log_end_offset(), 24);
    // The rebuilt index serves reads in the middle of the log.
    assert_eq!(offsets_of(&log.read(21, 1, 24).unwrap().records), vec![20, 21]);
    assert_eq!(offsets_of(&log.read(0, usize::MAX, 24).unwrap().records).len(), 24);
}

#[test]
fn idempotent_producer_state_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = committed(Log::open(dir.path(), LogConfig::default(), false, 0).unwrap());
    let first = batch_with(0, 3, Some((42, 0, 0)));
    assert!(!log.append(&first, 0, None, 0).unwrap().duplicate);
    let retry = log.append(&first, 0, None, 0).unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.base_offset, 0);
    drop(log);

    let mut log = committed(Log::open(dir.path(), LogConfig::default(), false, 0).unwrap());
    assert!(log.append(&first, 0, None, 0).unwrap().duplicate);
    let gap = batch_with(0, 1, Some((42, 0, 10)));
    assert!(matches!(log.append(&gap, 0, None, 0), Err(StorageError::Sequence(_))));
    let next = batch_with(0, 1, Some((42, 0, 3)));
    assert_eq!(log.append(&next, 0, None, 0).unwrap().base_offset, 3);
    assert_eq!(log.log_end_offset(), 4);
}

#[test]
fn flush_jobs_cover_what_was_appended() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = committed(Log::open(dir.path(), small_segments(), false, 0).unwrap());
    for i in 0..30 {
        log.append(&batch(i, 2), 0, None, 0).unwrap();
    }
    let job = log.flush_job();
    assert_eq!(job.end_offset, 60);
    assert!(!job.is_empty());
    job.run().unwrap();
    log.flush_done(&job);
    assert_eq!(log.recovery_point(), 60);
    assert!(log.flush_job().is_empty());
    log.checkpoint().unwrap();
    drop(log);
    // A restart after a flush recovers only the segment holding the recovery point.
    let log = committed(Log::open(dir.path(), small_segments(), false, 0).unwrap());
    assert_eq!(log.log_end_offset(), 60);
}

#[test]
fn delete_records_moves_the_log_start_and_drops_whole_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = committed(Log::open(dir.path(), small_segments(), false, 0).unwrap());
    for i in 0..30 {
        log.append(&batch(i, 2), 0, None, 0).unwrap();
    }
    let segments = segment_files(dir.path()).len();
    assert!(segments > 3);
    // At or below the current start: nothing changes.
    assert_eq!(log.delete_records_before(0).unwrap(), 0);
    assert!(matches!(log.delete_records_before(61), Err(StorageError::OffsetOutOfRange { .. })));
    assert_eq!(log.delete_records_before(31).unwrap(), 31);
    assert_eq!(log.log_start_offset(), 31);
    assert!(segment_files(dir.path()).len() < segments, "segments wholly below 31 are gone");
    assert!(matches!(log.read(30, 100, 60), Err(StorageError::OffsetOutOfRange { .. })));
    // The batch holding 31 is still read whole; the start survives a restart.
    assert!(offsets_of(&log.read(31, 1, 60).unwrap().records).contains(&31));
    log.close().unwrap();
    drop(log);
    let log = committed(Log::open(dir.path(), small_segments(), true, 0).unwrap());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (31, 60));
}

#[test]
fn active_producers_report_their_last_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = committed(Log::open(dir.path(), small_segments(), false, 0).unwrap());
    log.append(&batch_with(500, 3, Some((9, 2, 0))), 0, None, 0).unwrap();
    log.append(&batch_with(600, 2, Some((9, 2, 3))), 0, None, 0).unwrap();
    log.append(&batch(700, 1), 0, None, 0).unwrap();
    let active = log.active_producers();
    assert_eq!(active.len(), 1);
    assert_eq!((active[0].producer_id, active[0].producer_epoch, active[0].last_sequence, active[0].last_timestamp), (9, 2, 4, 601));
}

/// A batch of `records` records in producer `(id, epoch)`'s transaction from `sequence`, or
/// (`marker`) its COMMIT (`Some(true)`) or ABORT marker.
fn transactional(producer: (i64, i16), sequence: i32, records: usize, marker: Option<bool>) -> Vec<u8> {
    let control = marker.is_some();
    let records: Vec<Record> = (0..if control { 1 } else { records })
        .map(|i| Record {
            transactional: true,
            control,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: producer.0,
            producer_epoch: producer.1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: if control { -1 } else { sequence + i as i32 },
            timestamp: 1_000,
            key: Some(match marker {
                Some(commit) => Bytes::from(vec![0, 0, 0, commit as u8]),
                None => Bytes::from(format!("key-{i}")),
            }),
            value: Some(if control { Bytes::from_static(&[0, 0, 0, 0, 0, 0]) } else { Bytes::from(vec![b'x'; 200]) }),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression: Compression::None }).unwrap();
    buf.to_vec()
}

#[test]
fn transactions_bound_the_stable_offset_and_aborts_survive_restarts() {
    let tiny_segments = || LogConfig { segment_bytes: 1500, index_interval_bytes: 512, ..LogConfig::default() };
    let dir = tempfile::tempdir().unwrap();
    let mut log = committed(Log::open(dir.path(), tiny_segments(), false, 0).unwrap());
    // Producer 1 commits offsets 0..=4 at 5; producer 2 aborts 6..=8 at 9 (with producer 1's
    // second transaction, 10..=12, opened between); segments roll on the way.
    log.append(&transactional((1, 0), 0, 5, None), 0, None, 0).unwrap();
    log.append(&transactional((1, 0), 0, 0, Some(true)), 0, None, 0).unwrap();
    log.append(&transactional((2, 0), 0, 3, None), 0, None, 0).unwrap();
    assert_eq!(log.last_stable_offset(), 6);
    log.append(&transactional((1, 0), 5, 3, None), 0, None, 0).unwrap();
    log.append(&transactional((2, 0), 0, 0, Some(false)), 0, None, 0).unwrap();
    assert_eq!((log.last_stable_offset(), log.high_watermark()), (9, 13));
    let aborted = |log: &Log| log.aborted_transactions(0, i64::MAX).into_iter().map(|a| (a.producer_id, a.first_offset, a.last_offset)).collect::<Vec<_>>();
    assert_eq!(aborted(&log), vec![(2, 6, 12)]);
    assert!(log.aborted_transactions(13, 20).is_empty());
    assert_eq!(log.open_transaction(1), Some((0, 9)));
    assert!(segment_files(dir.path()).len() > 1, "segments rolled");

    // A clean restart reads the snapshot; an unclean one replays the log.
    log.close().unwrap();
    let log = committed(Log::open(dir.path(), tiny_segments(), true, 0).unwrap());
    assert_eq!((log.last_stable_offset(), aborted(&log)), (9, vec![(2, 6, 12)]));
    drop(log);
    for snapshot in fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "snapshot")) {
        fs::remove_file(snapshot).unwrap();
    }
    let mut log = committed(Log::open(dir.path(), tiny_segments(), false, 0).unwrap());
    assert_eq!((log.last_stable_offset(), aborted(&log)), (9, vec![(2, 6, 12)]));
    log.append(&transactional((1, 0), 0, 0, Some(true)), 0, None, 0).unwrap();
    assert_eq!(log.last_stable_offset(), log.high_watermark());
}
