//! Throughput of one Raft group of 3 replicas on loopback, durable (every replica fsyncs before
//! acknowledging): `cargo run --release -p weir-replication --example loopback_bench -- [BATCHES]
//! [BATCH_KIB] [IN_FLIGHT] [DIR]` (defaults 4000 batches of 16 KiB, 64 in flight, a temp dir in
//! the current directory).

#[path = "../tests/support/loopback.rs"]
#[allow(dead_code)] // the test uses the fields this benchmark does not
mod loopback;

use std::time::{Duration, Instant};

use tokio::task::JoinSet;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let batches: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(4000);
    let kib: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(16);
    let in_flight: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(64);
    let parent = args.get(4).cloned().unwrap_or_else(|| ".".into());
    let dir = tempfile::Builder::new().prefix("weir-raft-bench-").tempdir_in(parent).expect("temp dir");
    let members = loopback::start(dir.path(), 3, true).await;
    let leader = loopback::leader(&members, Duration::from_secs(30)).await;
    let handle = members[leader].handle.clone();
    let payload = loopback::batch(0, kib, 1000);
    let started = Instant::now();
    let mut running = JoinSet::new();
    let mut latencies = Vec::with_capacity(batches);
    for _ in 0..batches {
        if running.len() >= in_flight {
            if let Some(Ok(latency)) = running.join_next().await {
                latencies.push(latency);
            }
        }
        let (handle, payload) = (handle.clone(), payload.clone());
        running.spawn(async move {
            let sent = Instant::now();
            handle.propose(payload, None).await.expect("committed");
            sent.elapsed()
        });
    }
    while let Some(Ok(latency)) = running.join_next().await {
        latencies.push(latency);
    }
    let took = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let mb = (batches * payload.len()) as f64 / 1e6;
    println!(
        "3 replicas, loopback, fsync: {batches} entries of {} bytes, {in_flight} in flight: {:.0} entries/s, {:.1} MB/s; commit latency p50 {:.2?} p99 {:.2?}",
        payload.len(),
        batches as f64 / took,
        mb / took,
        at(0.5),
        at(0.99)
    );
}
