//! Startup and footprint of `weir serve --ephemeral` as a test suite would use it: spawn →
//! accepting connections, idle RSS, RSS after producing and consuming 100 MB, shutdown time.
//!
//! `cargo run -p weir-integration-tests --bin startup_bench -- [RUNS]` (default 20), against
//! the release binary (built first unless `WEIR_BIN` is set).

use std::net::TcpStream;
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use weir_integration_tests::kafka::consume_all;
use weir_integration_tests::Weir;

/// Resident memory from /proc/<pid>/status, in MiB: (total, anonymous, file-backed).
fn rss(pid: i32) -> (f64, f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("RssAnon:"), field("RssFile:") + field("RssShmem:"))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    weir_integration_tests::use_release_binary();
    let scratch = tempfile::tempdir().unwrap();
    let (mut ready, mut idle, mut shutdown) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let started = Instant::now();
        let weir = Weir::start_with_env(&scratch.path().join(format!("unused-{run}")), &["--ephemeral"], &[("RUST_LOG", "warn")]);
        TcpStream::connect(&weir.addr).expect("accepting connections");
        ready.push(started.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(100));
        idle.push(rss(weir.pid()).0);
        let stopping = Instant::now();
        assert!(weir.terminate().success());
        shutdown.push(stopping.elapsed().as_secs_f64() * 1000.0);
    }
    println!("runs={runs} ready_median={:.1}ms ready_max={:.1}ms idle_rss_median={:.1}MiB shutdown_median={:.1}ms shutdown_max={:.1}ms",
        median(ready.clone()), ready.iter().cloned().fold(0.0, f64::max), median(idle), median(shutdown.clone()), shutdown.iter().cloned().fold(0.0, f64::max));

    // 100 MB through one broker: 102 400 records of 1 KiB, produced and consumed back.
    let weir = Weir::start_with_env(&scratch.path().join("unused-load"), &["--ephemeral"], &[("RUST_LOG", "warn")]);
    let producer: BaseProducer = weir.client_config().set("acks", "1").set("linger.ms", "5").create().unwrap();
    let value = vec![b'x'; 1024];
    let records = 102_400;
    for i in 0u64..records {
        let key = i.to_be_bytes();
        let mut record = BaseRecord::to("load").key(&key[..]).payload(&value[..]);
        while let Err((_, r)) = producer.send(record) {
            record = r;
            producer.poll(Duration::from_millis(1));
        }
    }
    producer.flush(Duration::from_secs(60)).unwrap();
    let read = consume_all(&weir.client_config(), "load", 1, records as usize, Duration::from_secs(120));
    assert_eq!(read.len() as u64, records);
    let (total, anon, file) = rss(weir.pid());
    println!("after 100 MB produced+consumed: rss={total:.1}MiB (anonymous {anon:.1}MiB, file/shmem-backed {file:.1}MiB)");
    let stopping = Instant::now();
    assert!(weir.terminate().success());
    println!("shutdown after load: {:.1}ms", stopping.elapsed().as_secs_f64() * 1000.0);
}
