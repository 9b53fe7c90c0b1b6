//! The log as a Raft log: random interleavings of append, commit, truncate, roll, retention
//! (DeleteRecords), reset and reopen against a simple in-memory model, equal at every step;
//! readers holding slices across truncation; recovery refusing a stale older-epoch tail.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use proptest::prelude::*;
use weir_protocol::batch;
use weir_storage::{EntryId, Log, LogConfig, Prepared, Stamp, StorageError};

/// A batch of `records` records whose values name `id`.
fn batch_of(id: u64, records: usize) -> Vec<u8> {
    let records: Vec<Record> = (0..records)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            timestamp: 1_000 + id as i64,
            key: Some(Bytes::from(format!("k{id}"))),
            value: Some(Bytes::from(format!("entry {id} record {i} {}", "x".repeat(40)))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression: Compression::None }).unwrap();
    buf.to_vec()
}

fn stamped(bytes: &[u8], base_offset: i64, epoch: i32) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    batch::set_base_offset(&mut bytes, base_offset);
    batch::set_partition_leader_epoch(&mut bytes, epoch);
    bytes
}

fn config() -> LogConfig {
    LogConfig { segment_bytes: 1_500, index_interval_bytes: 200, retention_ms: -1, ..LogConfig::default() }
}

#[derive(Clone, Debug)]
struct ModelEntry {
    index: u64,
    term: u64,
    end_offset: i64,
    bytes: Vec<u8>,
}

/// What the log must hold: every entry from `first`, the commit point, the start.
#[derive(Default, Debug)]
struct Model {
    entries: Vec<ModelEntry>,
    before_first: EntryId,
    log_start: i64,
    end_offset: i64,
    commit: u64,
    high_watermark: i64,
}

impl Model {
    fn last(&self) -> EntryId {
        self.entries.last().map_or(self.before_first, |e| EntryId { index: e.index, term: e.term })
    }
}

#[derive(Clone, Debug)]
enum Op {
    Append { records: usize, new_term: bool },
    Commit { entries: u64 },
    Truncate { keep_back: u64 },
    DeleteRecords,
    Reset,
    Reopen { clean: bool },
    Abandon,
    /// The broker's periodic sweep closes the files of idle partitions; then maybe a flush,
    /// which has to open the file itself.
    CloseIdle { flush: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (1usize..6, prop::bool::weighted(0.15)).prop_map(|(records, new_term)| Op::Append { records, new_term }),
        3 => (0u64..4).prop_map(|entries| Op::Commit { entries }),
        2 => (0u64..6).prop_map(|keep_back| Op::Truncate { keep_back }),
        1 => Just(Op::DeleteRecords),
        1 => Just(Op::Reset),
        2 => prop::bool::ANY.prop_map(|clean| Op::Reopen { clean }),
        1 => Just(Op::Abandon),
        2 => prop::bool::ANY.prop_map(|flush| Op::CloseIdle { flush }),
    ]
}

fn check(log: &Log, model: &Model) {
    assert_eq!(log.last_entry(), model.last(), "last entry");
    assert_eq!(log.log_end_offset(), model.end_offset, "log end");
    assert_eq!(log.high_watermark(), model.high_watermark, "high watermark");
    assert_eq!(log.log_start_offset(), model.log_start, "log start");
    // Retention works in whole segments: entries wholly below the start may or may not remain.
    let first = log.first_index();
    let needed = model.entries.iter().find(|e| e.end_offset > model.log_start).map_or(model.last().index + 1, |e| e.index);
    assert!(first <= needed, "first index {first} but entry {needed} is still needed");
    assert!(log.term(first - 1).is_ok(), "the term before the first entry is known");
    for entry in model.entries.iter().filter(|e| e.index >= first) {
        assert_eq!(log.term(entry.index).unwrap(), entry.term, "term of {}", entry.index);
        let got = log.entries(entry.index, entry.index + 1, 0).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(&got[0].data[..], &entry.bytes[..], "bytes of entry {}", entry.index);
    }
    assert!(matches!(log.term(model.last().index + 1), Err(StorageError::EntryUnavailable { .. })));
    // Reads serve committed batches only, from the log start.
    let mut offset = model.log_start;
    loop {
        // A read returns batches of one segment at most; read on until it comes back empty.
        let read = log.read(offset, usize::MAX, i64::MAX).unwrap().records;
        match batch::Batches::new(&read).last() {
            Some((_, h)) => offset = h.next_offset(),
            None => break,
        }
    }
    assert_eq!(offset.max(model.log_start), model.high_watermark.max(model.log_start), "reads end at the high watermark");
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p-0");
    let mut log = Log::open(&path, config(), false, 0).unwrap();
    let mut model = Model::default();
    let mut next_id = 0u64;
    for op in ops {
        match op {
            Op::Append { records, new_term } => {
                let term = model.last().term + u64::from(new_term || model.last().term == 0);
                next_id += 1;
                let bytes = batch_of(next_id, records);
                let Prepared::Append(stamp) = log.prepare(&bytes, term as i32, None).unwrap() else { panic!("not a duplicate") };
                assert_eq!(stamp.base_offset, model.end_offset);
                let index = model.last().index + 1;
                log.append_entry(&bytes, index, stamp, 0).unwrap();
                let end = model.end_offset + records as i64;
                model.entries.push(ModelEntry { index, term, end_offset: end, bytes: stamped(&bytes, model.end_offset, term as i32) });
                model.end_offset = end;
            }
            Op::Commit { entries } => {
                let target = (model.commit + entries).min(model.last().index);
                let hw = log.commit_to(target).unwrap();
                if target > model.commit {
                    model.commit = target;
                    model.high_watermark = model.entries.iter().find(|e| e.index == target).map_or(model.high_watermark, |e| e.end_offset);
                }
                assert_eq!(hw, model.high_watermark);
            }
            Op::Truncate { keep_back } => {
                let keep = model.last().index.saturating_sub(keep_back).max(model.commit).max(model.before_first.index);
                log.truncate_after(keep, 0).unwrap();
                model.entries.retain(|e| e.index <= keep);
                model.end_offset = model.entries.last().map_or(model.end_offset.min(model.log_start.max(model.high_watermark)), |e| e.end_offset);
                if model.entries.is_empty() {
                    model.end_offset = model.high_watermark.max(model.log_start);
                }
            }
            Op::DeleteRecords => {
                let start = log.delete_records_before(model.high_watermark).unwrap();
                model.log_start = model.log_start.max(model.high_watermark);
                assert_eq!(start, model.log_start);
            }
            Op::Reset => {
                let offset = model.end_offset + 10;
                let before = EntryId { index: model.last().index + 3, term: model.last().term + 1 };
                log.reset_to(offset, before, &log.producer_state(), 0).unwrap();
                model = Model { before_first: before, log_start: offset, end_offset: offset, commit: before.index, high_watermark: offset, ..Model::default() };
            }
            Op::Reopen { clean } => {
                if clean {
                    log.close().unwrap();
                }
                drop(log);
                log = Log::open(&path, config(), clean, 0).unwrap();
                // Raft restores its commit index from the hard state.
                log.commit_to(model.commit).unwrap();
            }
            Op::Abandon => {
                // A leader prepares a batch, loses its term before appending it.
                let bytes = batch_of(u64::MAX, 2);
                assert!(matches!(log.prepare(&bytes, 1, None).unwrap(), Prepared::Append(_)));
                log.abandon_prepared().unwrap();
            }
            Op::CloseIdle { flush } => {
                // A reader's slice outlives the map it came from.
                let held = log.read(model.log_start, 1 << 20, model.high_watermark).unwrap();
                log.close_idle_files();
                if flush {
                    log.flush().unwrap();
                }
                assert_eq!(log.read(model.log_start, 1 << 20, model.high_watermark).unwrap().records, held.records, "reads across a close");
            }
        }
        check(&log, &model);
    }
}

proptest! {
    // 64 cases in the test suite; `PROPTEST_CASES=5000` for a long run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]
    #[test]
    fn raft_log_matches_a_model(ops in prop::collection::vec(op(), 1..60)) {
        run(ops);
    }
}

#[test]
fn a_reader_keeps_its_slice_across_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), config(), false, 0).unwrap();
    for id in 1..=6 {
        let bytes = batch_of(id, 3);
        let Prepared::Append(stamp) = log.prepare(&bytes, 1, None).unwrap() else { panic!() };
        let index = log.last_index() + 1;
        log.append_entry(&bytes, index, stamp, 0).unwrap();
    }
    log.commit_to(3).unwrap();
    let committed = log.read(0, usize::MAX, i64::MAX).unwrap().records;
    let copy = committed.to_vec();
    assert_eq!(batch::Batches::new(&committed).count(), 3, "only committed batches are lent");
    // Uncommitted entries come out as copies, so cutting them cannot change what a peer holds.
    let uncommitted = log.entries(5, 7, u64::MAX).unwrap();
    let held: Vec<Vec<u8>> = uncommitted.iter().map(|e| e.data.to_vec()).collect();
    log.truncate_after(3, 0).unwrap();
    for id in 10..14 {
        let bytes = batch_of(id, 1);
        let Prepared::Append(stamp) = log.prepare(&bytes, 2, None).unwrap() else { panic!() };
        let index = log.last_index() + 1;
        log.append_entry(&bytes, index, stamp, 0).unwrap();
    }
    assert_eq!(&committed[..], &copy[..], "the slice still reads what it read");
    assert_eq!(uncommitted.iter().map(|e| e.data.to_vec()).collect::<Vec<_>>(), held);
    assert!(matches!(log.truncate_after(2, 0), Err(StorageError::TruncateCommitted { .. })));
    assert_eq!(log.end_offset_for_epoch(1), (1, 9));
    assert_eq!(log.end_offset_for_epoch(2), (2, log.log_end_offset()));
}

#[test]
fn recovery_drops_a_stale_tail_of_an_older_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), LogConfig::default(), false, 0).unwrap();
    let append = |log: &mut Log, id: u64, term: i32| {
        let bytes = batch_of(id, 2);
        let base_offset = log.log_end_offset();
        log.append_entry(&bytes, log.last_index() + 1, Stamp { base_offset, leader_epoch: term, log_append_time: None }, 0).unwrap();
    };
    append(&mut log, 1, 1);
    append(&mut log, 2, 3);
    let end = log.log_end_offset();
    let position = log.size();
    drop(log);
    // A valid batch of epoch 2 behind the epoch-3 one: what a truncation leaves when the crash
    // comes before its replacement was flushed.
    let stale = stamped(&batch_of(3, 2), end, 2);
    let file = OpenOptions::new().write(true).open(dir.path().join("00000000000000000000.log")).unwrap();
    file.write_all_at(&stale, position).unwrap();
    drop(file);
    let log = Log::open(dir.path(), LogConfig::default(), false, 0).unwrap();
    assert_eq!(log.log_end_offset(), end, "the stale batch did not come back");
    assert_eq!(log.last_entry(), EntryId { index: 2, term: 3 });
}

#[test]
fn idempotent_retries_of_in_flight_batches_are_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), LogConfig::default(), false, 0).unwrap();
    let producer_batch = |sequence: i32| {
        let mut bytes = batch_of(sequence as u64, 2);
        // producer id 7, epoch 0, base sequence `sequence`, then a fresh CRC.
        bytes[43..51].copy_from_slice(&7i64.to_be_bytes());
        bytes[51..53].copy_from_slice(&0i16.to_be_bytes());
        bytes[53..57].copy_from_slice(&sequence.to_be_bytes());
        let crc = batch::compute_crc(&bytes);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        bytes
    };
    let first = producer_batch(0);
    let Prepared::Append(stamp) = log.prepare(&first, 1, None).unwrap() else { panic!() };
    // Still in flight (not appended): a retry is a duplicate at the same offsets, and the next
    // sequence continues after it.
    assert!(matches!(log.prepare(&first, 1, None).unwrap(), Prepared::Duplicate(info) if info.base_offset == 0));
    let Prepared::Append(second) = log.prepare(&producer_batch(2), 1, None).unwrap() else { panic!() };
    assert_eq!(second.base_offset, 2);
    log.append_entry(&first, 1, stamp, 0).unwrap();
    log.append_entry(&producer_batch(2), 2, second, 0).unwrap();
    log.close().unwrap();
    drop(log);
    // The snapshot written at close restores the state without walking the log.
    let mut log = Log::open(dir.path(), LogConfig::default(), true, 0).unwrap();
    assert!(matches!(log.prepare(&producer_batch(2), 1, None).unwrap(), Prepared::Duplicate(info) if info.base_offset == 2));
    assert!(matches!(log.prepare(&producer_batch(7), 1, None), Err(StorageError::Sequence(_))));
}

/// Every entry the log holds, as `(index, term, bytes)`.
fn all_entries(log: &Log) -> Vec<(u64, u64, Vec<u8>)> {
    if log.last_index() < log.first_index() {
        return Vec::new();
    }
    log.entries(log.first_index(), log.last_index() + 1, u64::MAX).unwrap().into_iter().map(|e| (e.index, e.term, e.data.to_vec())).collect()
}

fn append_next(log: &mut Log, id: u64, records: usize, term: i32) -> weir_storage::Result<()> {
    let bytes = batch_of(id, records);
    let base_offset = log.log_end_offset();
    log.append_entry(&bytes, log.last_index() + 1, Stamp { base_offset, leader_epoch: term, log_append_time: None }, 0).map(|_| ())
}

#[test]
fn a_crash_at_any_step_of_a_truncation_leaves_the_old_or_the_truncated_log() {
    let mut outcomes = (0, 0);
    for step in 0..16 {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), config(), false, 0).unwrap();
        for id in 1..=24 {
            append_next(&mut log, id, 3, 1 + (id / 10) as i32).unwrap();
        }
        log.commit_to(5).unwrap();
        log.flush().unwrap();
        let before = all_entries(&log);
        let keep = 6;
        let truncated: Vec<_> = before.iter().filter(|e| e.0 <= keep).cloned().collect();
        log.crash_after_steps(Some(step));
        let result = log.truncate_after(keep, 0);
        drop(log);
        let mut log = Log::open(dir.path(), config(), false, 0).unwrap();
        let after = all_entries(&log);
        match result {
            Ok(()) => assert_eq!(after, truncated, "step {step}: finished"),
            Err(StorageError::SimulatedCrash) => {
                assert!(after == before || after == truncated, "step {step}: a mix of old and truncated");
                if after == before { outcomes.0 += 1 } else { outcomes.1 += 1 }
            }
            Err(e) => panic!("step {step}: {e}"),
        }
        // Whatever it recovered to, the log goes on: a new term appends and survives a restart.
        append_next(&mut log, 100, 2, 9).unwrap();
        let expected = all_entries(&log);
        drop(log);
        let log = Log::open(dir.path(), config(), false, 0).unwrap();
        assert_eq!(all_entries(&log), expected, "step {step}: after the next append");
    }
    assert!(outcomes.0 > 0 && outcomes.1 > 0, "crashes were seen both before and after the point of no return: {outcomes:?}");
}

#[test]
fn a_crash_at_any_step_of_a_roll_loses_nothing_written() {
    for step in 0..4 {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), config(), false, 0).unwrap();
        let mut id = 0;
        // Fill the active segment until the next append must roll.
        while log.log_end_offset() < 3 || std::fs::read_dir(dir.path()).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "log")).count() < 2 {
            id += 1;
            append_next(&mut log, id, 3, 1).unwrap();
        }
        let before = all_entries(&log);
        log.crash_after_steps(Some(step));
        let mut written = before.clone();
        loop {
            id += 1;
            match append_next(&mut log, id, 3, 1) {
                Ok(()) => written = all_entries(&log),
                Err(StorageError::SimulatedCrash) => break,
                Err(e) => panic!("{e}"),
            }
        }
        drop(log);
        let mut log = Log::open(dir.path(), config(), false, 0).unwrap();
        assert_eq!(all_entries(&log), written, "step {step}");
        append_next(&mut log, 1000, 1, 1).unwrap();
    }
}

/// Found by the simulated network: DeleteRecords to the log end keeps the (then active) segment
/// below the new start; once a roll follows, a restart must keep it too, or the entries after it
/// are renumbered.
#[test]
fn a_segment_below_the_start_kept_by_delete_records_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), config(), false, 0).unwrap();
    for id in 1..=6 {
        append_next(&mut log, id, 2, 1).unwrap();
    }
    log.commit_to(log.last_index()).unwrap();
    let end = log.log_end_offset();
    assert_eq!(log.delete_records_before(end).unwrap(), end);
    let mut id = 100;
    while log.entries(1, 2, 0).is_ok() && std::fs::read_dir(dir.path()).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "log")).count() < 2 {
        id += 1;
        append_next(&mut log, id, 2, 1).unwrap();
    }
    let before = all_entries(&log);
    drop(log);
    let log = Log::open(dir.path(), config(), false, 0).unwrap();
    assert_eq!(all_entries(&log), before);
}
