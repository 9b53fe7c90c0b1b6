//! How long opening a log takes, by its size, when idempotent producers wrote it: the cost the
//! producer-state snapshots and entry indexes are there to keep flat.
//!
//! `cargo run --release -p weir-storage --example open_bench -- [GIB] [PRODUCERS] [DIR] [cold]`
//! (defaults: 1 GiB, 1000 producers, a temporary directory on the current filesystem). Writes
//! the log with 16 KiB batches, closes it cleanly, then times five clean opens and one open
//! after a crash (no close, everything flushed). `cold` drops the page cache before each open
//! (needs root), so the opens read from disk.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use weir_protocol::batch;
use weir_storage::{Log, LogConfig};

const BATCH_RECORDS: usize = 16;
const RECORD_BYTES: usize = 1000;

fn template() -> Vec<u8> {
    let records: Vec<Record> = (0..BATCH_RECORDS)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: 0,
            producer_epoch: 0,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32,
            timestamp: 1_700_000_000_000,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(vec![b'v'; RECORD_BYTES])),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression: Compression::None }).expect("encode");
    buf.to_vec()
}

/// The template as producer `producer`'s batch starting at `sequence` (header fields + CRC).
fn producer_batch(template: &[u8], producer: i64, sequence: i32) -> Vec<u8> {
    let mut bytes = template.to_vec();
    bytes[43..51].copy_from_slice(&producer.to_be_bytes());
    bytes[53..57].copy_from_slice(&sequence.to_be_bytes());
    let crc = batch::compute_crc(&bytes);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    bytes
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let gib: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1.0);
    let producers: i64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let parent = args.get(3).cloned().unwrap_or_else(|| ".".into());
    let dir = tempfile::Builder::new().prefix("weir-open-bench-").tempdir_in(&parent).expect("temp dir");
    let path = dir.path().join("bench-0");
    let config = LogConfig::default();
    let template = template();
    let batches = (gib * (1u64 << 30) as f64 / template.len() as f64) as u64;

    let started = Instant::now();
    let mut log = Log::open(&path, config.clone(), false, 0).expect("open");
    for n in 0..batches {
        let producer = n as i64 % producers;
        let sequence = ((n as i64 / producers) * BATCH_RECORDS as i64) as i32;
        log.append(&producer_batch(&template, producer, sequence), 0, None, 0).expect("append");
    }
    log.close().expect("close");
    let size = log.size();
    drop(log);
    println!("wrote {:.2} GiB ({batches} batches of {} bytes, {producers} producers) in {:.1?}", size as f64 / (1u64 << 30) as f64, template.len(), started.elapsed());

    let cold = args.get(4).is_some_and(|a| a == "cold");
    let drop_caches = || {
        if cold {
            // SAFETY: sync(2) has no arguments and cannot fail.
            unsafe { libc_sync() };
            if let Err(e) = std::fs::write("/proc/sys/vm/drop_caches", "3") {
                eprintln!("cannot drop the page cache: {e}");
            }
        }
    };
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            drop_caches();
            let started = Instant::now();
            let mut log = Log::open(&path, config.clone(), true, 0).expect("open");
            let took = started.elapsed();
            assert_eq!(log.log_end_offset(), batches as i64 * BATCH_RECORDS as i64);
            log.close().expect("close");
            took
        })
        .collect();
    times.sort();
    println!("clean open: median {:.2?} (min {:.2?}, max {:.2?})", times[2], times[0], times[4]);

    // A crash after everything was flushed: the open that follows does not trust the marker.
    let mut log = Log::open(&path, config.clone(), true, 0).expect("open");
    log.append(&producer_batch(&template, producers, 0), 0, None, 0).expect("append");
    log.flush().expect("flush");
    log.checkpoint().expect("checkpoint");
    drop(log);
    drop_caches();
    let started = Instant::now();
    let log = Log::open(&path, config, false, 0).expect("open");
    println!("open after a crash (recovery point at the end): {:.2?}", started.elapsed());
    drop(log);
}

extern "C" {
    #[link_name = "sync"]
    fn libc_sync();
}
