//! Produce throughput benchmark: a release `weir serve` on a free port, one librdkafka producer
//! sending 1 KiB records, and the broker's CPU time read from /proc.
//!
//! `cargo run --release -p weir-integration-tests --bin produce_bench -- [RECORDS] [ACKS] [PARTITIONS] [METRICS]`
//! (defaults: 500000 records, acks=all, 4 partitions, metrics `off`). `on` starts the broker
//! with `--http-listen` (metrics recorded) and scrapes `/metrics` every second meanwhile, to
//! measure what metrics cost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use weir_integration_tests::{kafka, Weir};

struct Counter(Arc<AtomicU64>, Arc<AtomicU64>);
impl ClientContext for Counter {}
impl ProducerContext for Counter {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.0.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.1.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// (user+system CPU seconds, resident MiB) of a process, from /proc.
fn cpu_and_rss(pid: i32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as f64;
    ((ticks(11) + ticks(12)) / hz, ticks(21) * page / (1024.0 * 1024.0))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let records: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(500_000);
    let acks = args.get(2).cloned().unwrap_or_else(|| "all".into());
    let partitions: i32 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(4);
    let metrics = args.get(4).is_some_and(|a| a == "on");
    weir_integration_tests::use_release_binary();
    let dir = tempfile::tempdir().unwrap();
    let weir = Weir::start(&dir.path().join("data"), if metrics { &["--http-listen", "127.0.0.1:0"] } else { &[] });
    let scraping = Arc::new(std::sync::atomic::AtomicBool::new(metrics));
    let scraper = weir.http.clone().map(|http| {
        let scraping = scraping.clone();
        std::thread::spawn(move || {
            let mut scrapes = 0u32;
            while scraping.load(Ordering::Relaxed) {
                weir_integration_tests::http_get(&http, "/metrics");
                scrapes += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
            scrapes
        })
    });
    kafka::create_topic(&weir.client_config(), "bench", partitions, &[]).await;

    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let producer: BaseProducer<Counter> = weir
        .client_config()
        .set("acks", &acks)
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .create_with_context(Counter(ok.clone(), failed.clone()))
        .expect("producer");
    let value = vec![b'x'; 1024];
    let (cpu_before, _) = cpu_and_rss(weir.pid());
    let started = Instant::now();
    for i in 0..records {
        let key = i.to_be_bytes();
        let mut record = BaseRecord::to("bench").key(&key[..]).payload(&value[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(1));
                }
            }
        }
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
    let elapsed = started.elapsed().as_secs_f64();
    let (cpu_after, rss) = cpu_and_rss(weir.pid());
    scraping.store(false, Ordering::Relaxed);
    let scrapes = scraper.map_or(0, |s| s.join().unwrap_or(0));
    let delivered = ok.load(Ordering::Relaxed);
    println!(
        "metrics={} scrapes={scrapes} records={records} acks={acks} partitions={partitions} delivered={delivered} failed={} elapsed={elapsed:.2}s \
         rate={:.0} records/s ({:.1} MiB/s) broker_cpu={:.2}s ({:.0}% of one core) broker_rss={rss:.1} MiB",
        if metrics { "on" } else { "off" },
        failed.load(Ordering::Relaxed),
        delivered as f64 / elapsed,
        delivered as f64 * 1024.0 / elapsed / (1024.0 * 1024.0),
        cpu_after - cpu_before,
        (cpu_after - cpu_before) / elapsed * 100.0,
    );
}
