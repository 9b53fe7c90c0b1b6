//! Weir's produce/consume benchmark: starts a release `weir serve` (or uses another broker given
//! by address and PID), drives it with librdkafka, and reports per scenario MB/s, records/s,
//! broker CPU seconds per GB (from /proc) and produce latency percentiles, next to probes of
//! the machine's own limits measured in the same run:
//!
//! - disk: `pwrite` + `fdatasync` of 16 KiB (and 1 MiB) at the end of a file in the data
//!   directory's filesystem, one flush per write;
//! - CPU floor of produce: a loopback socket receive + one `pwrite` copy into the page cache +
//!   CRC-32C of the same bytes, per GB; of consume: a loopback socket send, per GB.
//!
//! ```text
//! cargo run --release -p weir-integration-tests --bin bench -- [OPTIONS] [SCENARIO...]
//!   --runs N          repeat every scenario N times and report medians (default 3)
//!   --seconds S       produce for S seconds per throughput scenario (default 5)
//!   --partitions P    partitions of the `partitions` scenario (default 5000)
//!   --txn-records N   records per transaction of the `txn` scenario (default 1000)
//!   --dir DIR         where brokers keep their data and the disk probe writes (default: temp)
//!   --broker HOST:PORT --pid PID   measure that broker instead of starting one
//!   --cluster N       start N brokers (a Raft cluster on loopback, topics with N replicas);
//!                     broker CPU is all N processes'
//! SCENARIOS: java java-nofsync txn java-client java-client-nofsync java-client-txn large acks1
//!            single single-nofsync consume multi partitions failover
//!            (default: all but failover; failover needs --cluster)
//! ```
//!
//! `txn`: the `java` load from a transactional producer that commits every `--txn-records N`
//! records (default 1000), to compare with `java` (the same producer, idempotent only).
//!
//! `java-client*`: the same load from the Java client itself (kafka-clients 3.9.1 with its
//! defaults, `clients/java/PerfProducer.java`), which keeps up to 5 requests in flight where
//! librdkafka's idempotent producer keeps one: plain, against `weir.acks.all.fsync=false`, and
//! transactional (committing every `--txn-records`).
//!
//! `NAME-drop` (`large-drop`, `consume-drop`, `java-client-drop`, …): scenario NAME against a
//! broker with `weir.log.drop.behind.bytes` = 64 MiB (flushed log pages further behind are
//! dropped from the page cache, so writes reuse them instead of fresh memory).
//! `NAME-nofsync` (`java-nofsync`, `single-nofsync`, …): scenario NAME against
//! `weir.acks.all.fsync=false`: the client's and broker's own cost without the disk.
//!
//! `failover` (cluster only): one record at a time with acks=all while the partition's leader
//! is `kill -9`-ed; reports the time from the kill to the first acknowledgement of a record
//! sent after it, and the longest gap between acknowledgements.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use weir_integration_tests::cluster::TestCluster;
use weir_integration_tests::{open_files, Weir};

const RECORD: usize = 1024;
const ALL: &[&str] = &["java", "java-nofsync", "txn", "java-client", "java-client-nofsync", "java-client-txn", "large", "acks1", "single", "single-nofsync", "consume", "multi", "partitions"];
const CLUSTER_ONLY: &[&str] = &["failover"];

struct Args {
    runs: usize,
    seconds: f64,
    partitions: i32,
    /// Records per transaction of the `txn` scenario.
    txn_records: u64,
    dir: Option<PathBuf>,
    broker: Option<(String, i32)>,
    cluster: Option<usize>,
    scenarios: Vec<String>,
}

fn parse_args() -> Args {
    let mut args = Args { runs: 3, seconds: 5.0, partitions: 5000, txn_records: 1000, dir: None, broker: None, cluster: None, scenarios: Vec::new() };
    let mut it = std::env::args().skip(1);
    let mut addr = None;
    let mut pid = None;
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--runs" => args.runs = value().parse().expect("--runs N"),
            "--seconds" => args.seconds = value().parse().expect("--seconds S"),
            "--partitions" => args.partitions = value().parse().expect("--partitions P"),
            "--txn-records" => args.txn_records = value().parse().expect("--txn-records N"),
            "--dir" => args.dir = Some(PathBuf::from(value())),
            "--broker" => addr = Some(value()),
            "--pid" => pid = Some(value().parse().expect("--pid PID")),
            "--cluster" => args.cluster = Some(value().parse().expect("--cluster N")),
            s if ALL.contains(&variant(s).0) || CLUSTER_ONLY.contains(&variant(s).0) => args.scenarios.push(s.to_owned()),
            other => panic!("unknown argument {other}; scenarios: {ALL:?}"),
        }
    }
    if let Some(addr) = addr {
        args.broker = Some((addr, pid.expect("--broker needs --pid (for the CPU figures)")));
    }
    if args.scenarios.is_empty() {
        args.scenarios = ALL.iter().map(|s| s.to_string()).collect();
    }
    args
}

// --- Measuring processes and threads ---------------------------------------------------------

/// User + system CPU seconds of the broker processes (all their threads), from /proc.
fn brokers_cpu(pids: &[i32]) -> f64 {
    pids.iter().map(|&pid| process_cpu(pid)).sum()
}

/// User + system CPU seconds of a process (all its threads, live and exited), from /proc.
fn process_cpu(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// Resident memory (MiB) and number of memory maps of a process.
fn rss_and_maps(pid: i32) -> (f64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).map(|m| m.lines().count()).unwrap_or(0);
    (rss_kb / 1024.0, maps)
}

/// CPU seconds the calling thread has used.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.retain(|v| v.is_finite());
    values.sort_by(|a, b| a.total_cmp(b));
    percentile(&values, 50.0)
}

// --- Probes: the machine's own limits --------------------------------------------------------

/// `count` appends of `size` bytes, each followed by fdatasync; latencies in ms, sorted.
fn disk_probe(dir: &Path, size: usize, count: usize) -> Vec<f64> {
    let path = dir.join(format!("disk-probe-{}", std::process::id()));
    let file = OpenOptions::new().create(true).truncate(true).read(true).write(true).open(&path).expect("probe file");
    let data = vec![0x5au8; size];
    let mut latencies = Vec::with_capacity(count);
    for i in 0..count {
        let started = Instant::now();
        file.write_all_at(&data, (i * size) as u64).expect("probe write");
        file.sync_data().expect("probe fdatasync");
        latencies.push(started.elapsed().as_secs_f64() * 1e3);
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    latencies.sort_by(|a, b| a.total_cmp(b));
    latencies
}

const FLOOR_BYTES: usize = 256 << 20;

/// CPU seconds per GB of a loopback transfer: (receiver, sender).
fn socket_floor() -> (f64, f64) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let receiver = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut buf = vec![0u8; 64 << 10];
        let started = thread_cpu();
        let mut total = 0;
        while total < FLOOR_BYTES {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
        thread_cpu() - started
    });
    let mut stream = TcpStream::connect(addr).expect("connect");
    let chunk = vec![0x33u8; 1 << 20];
    let started = thread_cpu();
    for _ in 0..FLOOR_BYTES / chunk.len() {
        stream.write_all(&chunk).expect("send");
    }
    let send = thread_cpu() - started;
    let recv = receiver.join().expect("receiver");
    let per_gb = |s: f64| s * (1u64 << 30) as f64 / FLOOR_BYTES as f64;
    (per_gb(recv), per_gb(send))
}

/// CPU seconds per GB of one `pwrite` copy into the page cache (fresh pages), and of CRC-32C.
fn copy_and_crc_floor(dir: &Path) -> (f64, f64) {
    let path = dir.join(format!("copy-probe-{}", std::process::id()));
    let file = OpenOptions::new().create(true).truncate(true).write(true).open(&path).expect("probe file");
    let chunk = vec![0x42u8; 1 << 20];
    let started = thread_cpu();
    for i in 0..FLOOR_BYTES / chunk.len() {
        file.write_all_at(&chunk, (i * chunk.len()) as u64).expect("probe write");
    }
    let copy = thread_cpu() - started;
    drop(file);
    let _ = std::fs::remove_file(&path);
    let buffer = vec![0x17u8; FLOOR_BYTES];
    let started = thread_cpu();
    let crc = weir_protocol::batch::compute_crc(&buffer);
    let crc_cpu = thread_cpu() - started;
    std::hint::black_box(crc);
    let per_gb = |s: f64| s * (1u64 << 30) as f64 / FLOOR_BYTES as f64;
    (per_gb(copy), per_gb(crc_cpu))
}

// --- Brokers ---------------------------------------------------------------------------------

struct Broker {
    addr: String,
    /// Every broker process (one, or the cluster's).
    pids: Vec<i32>,
    own: Option<Weir>,
    cluster: Option<TestCluster>,
    /// Replicas of the topics it creates.
    replication: i32,
    _dir: Option<tempfile::TempDir>,
}

impl Broker {
    fn start(args: &Args, env: &[(&str, &str)]) -> Broker {
        if let Some((addr, pid)) = &args.broker {
            return Broker { addr: addr.clone(), pids: vec![*pid], own: None, cluster: None, replication: 1, _dir: None };
        }
        if let Some(n) = args.cluster {
            let fsync = if env.iter().any(|(k, v)| *k == "WEIR_WEIR_ACKS_ALL_FSYNC" && *v == "false") { vec!["--ephemeral"] } else { vec![] };
            let cluster = TestCluster::start(n, &fsync);
            let pids = (1..=n as i32).map(|id| cluster.broker(id).pid()).collect();
            return Broker { addr: cluster.bootstrap(), pids, own: None, cluster: Some(cluster), replication: n as i32, _dir: None };
        }
        let dir = match &args.dir {
            Some(d) => tempfile::tempdir_in(d),
            None => tempfile::tempdir(),
        }
        .expect("temp dir");
        let weir = Weir::start_with_env(&dir.path().join("data"), &[], env);
        Broker { addr: weir.addr.clone(), pids: vec![weir.pid()], own: Some(weir), cluster: None, replication: 1, _dir: Some(dir) }
    }

    fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.addr).set("broker.address.family", "v4");
        config
    }

    fn create_topic(&self, prefix: &str, partitions: i32) -> String {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let name = format!("bench-{prefix}-{nanos}");
        // Creating tens of thousands of partitions takes the filesystem a minute or more.
        let admin: AdminClient<DefaultClientContext> = self.config().set("socket.timeout.ms", "300000").create().expect("admin client");
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(300))).request_timeout(Some(Duration::from_secs(300)));
        let topic = NewTopic::new(&name, partitions, TopicReplication::Fixed(self.replication));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let results = runtime.block_on(admin.create_topics(&[topic], &options)).expect("create_topics");
        for result in results {
            result.unwrap_or_else(|(topic, e)| panic!("creating {topic}: {e}"));
        }
        name
    }
}

// --- Load ------------------------------------------------------------------------------------

struct Tally {
    started: Instant,
    ok: AtomicU64,
    failed: AtomicU64,
    latencies_us: Mutex<Vec<u32>>,
}

struct Ctx(Arc<Tally>);
impl ClientContext for Ctx {}
impl ProducerContext for Ctx {
    /// Nanoseconds since `Tally::started` at which the record was handed to the client.
    type DeliveryOpaque = usize;
    fn delivery(&self, result: &DeliveryResult<'_>, sent_at: usize) {
        match result {
            Ok(_) => {
                self.0.ok.fetch_add(1, Ordering::Relaxed);
                let now = self.0.started.elapsed().as_nanos() as usize;
                let micros = (now.saturating_sub(sent_at) / 1000).min(u32::MAX as usize) as u32;
                if let Ok(mut l) = self.0.latencies_us.lock() {
                    l.push(micros);
                }
            }
            Err(_) => {
                self.0.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// How the producers are configured.
#[derive(Clone, Copy)]
struct Load {
    acks: &'static str,
    idempotent: bool,
    batch_size: usize,
    producers: usize,
    partitions: i32,
    /// Wait for each record's acknowledgement before sending the next (and no linger).
    one_at_a_time: bool,
    /// Transactional: commit a transaction every this many records.
    commit_every: Option<u64>,
}


/// The Java client's defaults (acks=all, idempotent, 16 KiB batches, linger 5 ms, ≤ 5 in flight).
const JAVA: Load = Load { acks: "all", idempotent: true, batch_size: 16384, producers: 1, partitions: 1, one_at_a_time: false, commit_every: None };

#[derive(Default, Clone)]
struct Outcome {
    mb_s: f64,
    records_s: f64,
    cpu_s_per_gb: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    failed: u64,
    extra: BTreeMap<&'static str, f64>,
}

fn producer_config(broker: &Broker, load: &Load) -> ClientConfig {
    let mut config = broker.config();
    config
        .set("acks", load.acks)
        .set("enable.idempotence", if load.idempotent { "true" } else { "false" })
        .set("batch.size", load.batch_size.to_string())
        .set("linger.ms", if load.one_at_a_time { "0" } else { "5" })
        .set("max.in.flight.requests.per.connection", "5")
        .set("compression.type", "none")
        .set("queue.buffering.max.kbytes", "32768") // the Java client's buffer.memory
        .set("queue.buffering.max.messages", "1000000");
    config
}

/// Runs `load` against `topic` for `seconds`; the broker's CPU is measured over the whole run
/// (including the final flush).
fn produce(broker: &Broker, topic: &str, load: Load, seconds: f64, max_records: u64) -> Outcome {
    let tally = Arc::new(Tally { started: Instant::now(), ok: AtomicU64::new(0), failed: AtomicU64::new(0), latencies_us: Mutex::new(Vec::new()) });
    let cpu_before = brokers_cpu(&broker.pids);
    let started = Instant::now();
    let threads: Vec<_> = (0..load.producers)
        .map(|p| {
            let tally = tally.clone();
            let mut config = producer_config(broker, &load);
            if load.commit_every.is_some() {
                config.set("transactional.id", format!("{topic}-{p}"));
            }
            let topic = topic.to_owned();
            std::thread::spawn(move || {
                let producer: BaseProducer<Ctx> = config.create_with_context(Ctx(tally.clone())).expect("producer");
                if load.commit_every.is_some() {
                    producer.init_transactions(Duration::from_secs(30)).expect("init_transactions");
                    producer.begin_transaction().expect("begin_transaction");
                }
                let mine: Vec<i32> = (0..load.partitions).filter(|q| *q as usize % load.producers == p).collect();
                let value = vec![b'x'; RECORD];
                let deadline = Duration::from_secs_f64(seconds);
                let mut i: u64 = 0;
                while started.elapsed() < deadline && i < max_records {
                    let key = i.to_be_bytes();
                    let partition = mine[(i % mine.len() as u64) as usize];
                    let sent_at = tally.started.elapsed().as_nanos() as usize;
                    let mut record = BaseRecord::with_opaque_to(&topic, sent_at).partition(partition).key(&key[..]).payload(&value[..]);
                    loop {
                        match producer.send(record) {
                            Ok(()) => break,
                            Err((_, r)) => {
                                record = r;
                                producer.poll(Duration::from_millis(1));
                            }
                        }
                    }
                    i += 1;
                    if load.commit_every.is_some_and(|n| i.is_multiple_of(n)) {
                        producer.commit_transaction(Duration::from_secs(30)).expect("commit_transaction");
                        producer.begin_transaction().expect("begin_transaction");
                    }
                    if load.one_at_a_time {
                        let want = tally.ok.load(Ordering::Relaxed) + tally.failed.load(Ordering::Relaxed) + 1;
                        while tally.ok.load(Ordering::Relaxed) + tally.failed.load(Ordering::Relaxed) < want {
                            producer.poll(Duration::from_millis(1));
                        }
                    } else if i.is_multiple_of(64) {
                        producer.poll(Duration::ZERO);
                    }
                }
                if load.commit_every.is_some() {
                    producer.commit_transaction(Duration::from_secs(120)).expect("commit_transaction");
                }
                producer.flush(Duration::from_secs(120)).expect("flush");
            })
        })
        .collect();
    for t in threads {
        t.join().expect("producer thread");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = brokers_cpu(&broker.pids) - cpu_before;
    let ok = tally.ok.load(Ordering::Relaxed);
    let bytes = ok as f64 * RECORD as f64;
    let mut latencies: Vec<f64> = tally.latencies_us.lock().map(|l| l.iter().map(|&us| us as f64 / 1e3).collect()).unwrap_or_default();
    latencies.sort_by(|a, b| a.total_cmp(b));
    Outcome {
        mb_s: bytes / elapsed / 1e6,
        records_s: ok as f64 / elapsed,
        cpu_s_per_gb: cpu / (bytes / 1e9),
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        p999_ms: percentile(&latencies, 99.9),
        failed: tally.failed.load(Ordering::Relaxed),
        extra: BTreeMap::new(),
    }
}

/// Runs the Java client as the producer (`clients/java/PerfProducer.java`), transactional
/// with `txn_records` records per transaction; the broker's CPU is measured over the run.
fn java_client(broker: &Broker, name: &str, seconds: f64, txn_records: Option<u64>) -> Outcome {
    let topic = broker.create_topic(name, 1);
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients");
    let mut args = vec![broker.addr.clone(), topic.clone(), seconds.to_string()];
    if let Some(records) = txn_records {
        args.extend([format!("{topic}-txn"), records.to_string()]);
    }
    let cpu_before = brokers_cpu(&broker.pids);
    let output = std::process::Command::new("timeout")
        .args(["-k", "5", "300", "bash"])
        .arg(clients.join("java/driver.sh"))
        .args(&args)
        .env("WEIR_JAVA_MAIN", "PerfProducer")
        .current_dir(&clients)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the Java producer");
    let cpu = brokers_cpu(&broker.pids) - cpu_before;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(line) = stdout.lines().find(|l| l.starts_with("PERF ")) else {
        panic!("the Java producer printed no result:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    };
    let field = |name: &str| -> f64 {
        line.split_whitespace().find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok()).unwrap_or(f64::NAN)
    };
    let bytes = field("acked") * RECORD as f64;
    Outcome {
        mb_s: bytes / field("seconds") / 1e6,
        records_s: field("acked") / field("seconds"),
        cpu_s_per_gb: cpu / (bytes / 1e9),
        p50_ms: field("p50_ms"),
        p99_ms: field("p99_ms"),
        p999_ms: field("p999_ms"),
        failed: field("failed") as u64,
        extra: BTreeMap::new(),
    }
}

/// Produces `seconds` of large batches, then reads the partition from the start; CPU and rate
/// are the reading's.
fn consume(broker: &Broker, seconds: f64) -> Outcome {
    let topic = broker.create_topic("consume", 1);
    let load = Load { acks: "1", idempotent: false, batch_size: 1_000_000, producers: 1, partitions: 1, one_at_a_time: false, commit_every: None };
    produce(broker, &topic, load, seconds, u64::MAX);
    let consumer: BaseConsumer = broker
        .config()
        .set("group.id", "weir-bench")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "100")
        .create()
        .expect("consumer");
    let (_, end) = consumer.fetch_watermarks(&topic, 0, Duration::from_secs(10)).expect("watermarks");
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(&topic, 0, Offset::Beginning).expect("assignment");
    consumer.assign(&assignment).expect("assign");
    let cpu_before = brokers_cpu(&broker.pids);
    let started = Instant::now();
    let (mut records, mut bytes) = (0u64, 0u64);
    let deadline = Duration::from_secs(120);
    while records < end as u64 && started.elapsed() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            records += 1;
            bytes += message.payload_len() as u64;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = brokers_cpu(&broker.pids) - cpu_before;
    Outcome {
        mb_s: bytes as f64 / elapsed / 1e6,
        records_s: records as f64 / elapsed,
        cpu_s_per_gb: cpu / (bytes as f64 / 1e9),
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        p999_ms: f64::NAN,
        failed: (end as u64).saturating_sub(records),
        extra: BTreeMap::new(),
    }
}

/// Many partitions: create, write a little to each, then idle CPU, RSS, maps, and (own broker
/// only) shutdown and restart times.
fn partitions(args: &Args, broker: &mut Broker, seconds: f64) -> Outcome {
    let count = args.partitions;
    let started = Instant::now();
    let topic = broker.create_topic("partitions", count);
    let create_s = started.elapsed().as_secs_f64();
    let load = Load { partitions: count, ..JAVA };
    let mut outcome = produce(broker, &topic, load, seconds, count as u64 * 4);
    std::thread::sleep(Duration::from_secs(1));
    let cpu_before = brokers_cpu(&broker.pids);
    std::thread::sleep(Duration::from_secs(3));
    let idle = (brokers_cpu(&broker.pids) - cpu_before) / 3.0 * 100.0;
    let (rss, maps) = rss_and_maps(broker.pids[0]);
    outcome.extra.insert("create_s", create_s);
    outcome.extra.insert("idle_cpu_%", idle);
    outcome.extra.insert("rss_mib", rss);
    outcome.extra.insert("maps", maps as f64);
    outcome.extra.insert("fds", open_files(broker.pids[0]).unwrap_or(0) as f64);
    if let Some(weir) = broker.own.take() {
        let data = weir.data_dir.clone();
        let started = Instant::now();
        let status = weir.terminate();
        outcome.extra.insert("shutdown_s", started.elapsed().as_secs_f64());
        assert!(status.success(), "broker exited with {status}");
        let started = Instant::now();
        let weir = Weir::start(&data, &[]);
        outcome.extra.insert("restart_s", started.elapsed().as_secs_f64());
        let (rss, maps) = rss_and_maps(weir.pid());
        outcome.extra.insert("restart_rss_mib", rss);
        outcome.extra.insert("restart_maps", maps as f64);
        outcome.extra.insert("restart_fds", open_files(weir.pid()).unwrap_or(0) as f64);
        broker.pids = vec![weir.pid()];
        broker.addr = weir.addr.clone();
        broker.own = Some(weir);
    }
    outcome
}

/// One record at a time (acks=all, idempotent) while the leader of the partition is killed:
/// the time from the kill to the first acknowledgement of a record sent after it.
fn failover(broker: &mut Broker) -> Outcome {
    let Some(cluster) = broker.cluster.as_mut() else { return Outcome::default() };
    let topic = {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        format!("bench-failover-{nanos}")
    };
    let admin: AdminClient<DefaultClientContext> = cluster.client_config().create().expect("admin client");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let new = NewTopic::new(&topic, 1, TopicReplication::Fixed(cluster.size() as i32));
    for result in runtime.block_on(admin.create_topics(&[new], &options)).expect("create_topics") {
        result.unwrap_or_else(|(topic, e)| panic!("creating {topic}: {e}"));
    }
    let tally = Arc::new(Tally { started: Instant::now(), ok: AtomicU64::new(0), failed: AtomicU64::new(0), latencies_us: Mutex::new(Vec::new()) });
    let acks: Arc<Mutex<Vec<(f64, f64)>>> = Arc::default();
    let producer: BaseProducer<Ctx> = cluster
        .client_config()
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "0")
        .set("retry.backoff.ms", "20")
        .set("topic.metadata.refresh.interval.ms", "1000")
        .create_with_context(Ctx(tally.clone()))
        .expect("producer");
    let leader = cluster.leader_of(&topic, 0);
    let mut killed_at = None;
    let value = vec![b'x'; RECORD];
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if killed_at.is_none() && started.elapsed() > Duration::from_secs(2) {
            cluster.kill9(leader);
            killed_at = Some(tally.started.elapsed().as_secs_f64());
        }
        let sent = tally.started.elapsed().as_secs_f64();
        let before = tally.ok.load(Ordering::Relaxed) + tally.failed.load(Ordering::Relaxed);
        let mut record = BaseRecord::<(), [u8], usize>::with_opaque_to(&topic, 0usize).partition(0).payload(&value[..]);
        while let Err((_, r)) = producer.send(record) {
            record = r;
            producer.poll(Duration::from_millis(1));
        }
        while tally.ok.load(Ordering::Relaxed) + tally.failed.load(Ordering::Relaxed) == before && started.elapsed() < Duration::from_secs(60) {
            producer.poll(Duration::from_millis(1));
        }
        acks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((sent, tally.started.elapsed().as_secs_f64()));
        if killed_at.is_some_and(|k| sent > k + 3.0) {
            break;
        }
    }
    cluster.restart(leader);
    let acks = acks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let killed_at = killed_at.unwrap_or(f64::NAN);
    let recovered = acks.iter().find(|(sent, _)| *sent >= killed_at).map_or(f64::NAN, |(_, acked)| acked - killed_at);
    let longest_gap = acks.windows(2).map(|w| w[1].1 - w[0].1).fold(0.0, f64::max);
    let mut outcome = Outcome { failed: tally.failed.load(Ordering::Relaxed), ..Outcome::default() };
    outcome.extra.insert("failover_s", recovered);
    outcome.extra.insert("longest_ack_gap_s", longest_gap);
    outcome
}

/// Page-cache pages a `-drop` scenario's broker keeps behind each partition's flushed end.
const DROP_BEHIND: &str = "67108864";

/// A scenario name's base scenario and the broker settings (environment) its suffixes ask for:
/// `-drop` (drop-behind) and `-nofsync` (acks=all without waiting for fsync), in any order.
fn variant(name: &str) -> (&str, Vec<(&'static str, &'static str)>) {
    let mut base = name;
    let mut env = Vec::new();
    loop {
        if let Some(rest) = base.strip_suffix("-drop") {
            env.push(("WEIR_WEIR_LOG_DROP_BEHIND_BYTES", DROP_BEHIND));
            base = rest;
        } else if let Some(rest) = base.strip_suffix("-nofsync") {
            env.push(("WEIR_WEIR_ACKS_ALL_FSYNC", "false"));
            base = rest;
        } else {
            return (base, env);
        }
    }
}

fn run_scenario(args: &Args, name: &str) -> Outcome {
    let (base, env) = variant(name);
    if !env.is_empty() && args.broker.is_some() {
        return Outcome::default();
    }
    let mut broker = Broker::start(args, &env);
    let s = args.seconds;
    match base {
        "java" => produce(&broker, &broker.create_topic(name, 1), JAVA, s, u64::MAX),
        "txn" => produce(&broker, &broker.create_topic(name, 1), Load { commit_every: Some(args.txn_records), ..JAVA }, s, u64::MAX),
        "java-client" => java_client(&broker, name, s, None),
        "java-client-txn" => java_client(&broker, name, s, Some(args.txn_records)),
        "large" => {
            let load = Load { acks: "all", idempotent: false, batch_size: 1_000_000, ..JAVA };
            produce(&broker, &broker.create_topic(name, 1), load, s, u64::MAX)
        }
        "acks1" => produce(&broker, &broker.create_topic(name, 1), Load { acks: "1", idempotent: false, ..JAVA }, s, u64::MAX),
        "single" => produce(&broker, &broker.create_topic(name, 1), Load { one_at_a_time: true, ..JAVA }, s, 5000),
        "multi" => produce(&broker, &broker.create_topic(name, 4), Load { producers: 4, partitions: 4, ..JAVA }, s, u64::MAX),
        "consume" => consume(&broker, s),
        "partitions" => partitions(args, &mut broker, s),
        "failover" => failover(&mut broker),
        _ => unreachable!("checked by parse_args"),
    }
}

fn main() {
    let args = parse_args();
    if args.broker.is_none() {
        weir_integration_tests::use_release_binary();
    }
    if args.scenarios.iter().any(|s| s.starts_with("java-client")) {
        weir_integration_tests::compat::install_clients().unwrap_or_else(|e| panic!("{e}"));
    }
    let probe_dir = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let mut probes: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut results: BTreeMap<String, Vec<Outcome>> = BTreeMap::new();
    for run in 0..args.runs {
        let small = disk_probe(&probe_dir, 16 << 10, 2000);
        let large = disk_probe(&probe_dir, 1 << 20, 100);
        let (recv, send) = socket_floor();
        let (copy, crc) = copy_and_crc_floor(&probe_dir);
        let mut record = |k, v: f64| probes.entry(k).or_default().push(v);
        record("disk16k_p50_ms", percentile(&small, 50.0));
        record("disk16k_p99_ms", percentile(&small, 99.0));
        record("disk16k_mb_s", 16384.0 * small.len() as f64 / small.iter().sum::<f64>() / 1e3);
        record("disk1m_mb_s", (1u64 << 20) as f64 * large.len() as f64 / large.iter().sum::<f64>() / 1e3);
        record("recv_s_gb", recv);
        record("send_s_gb", send);
        record("copy_s_gb", copy);
        record("crc_s_gb", crc);
        record("produce_floor_s_gb", recv + copy + crc);
        println!(
            "run {run} probe: 16k write+fdatasync p50 {:.3} ms p99 {:.3} ms; 1 MiB {:.0} MB/s; floors s/GB: recv {recv:.3} send {send:.3} copy {copy:.3} crc {crc:.3}",
            percentile(&small, 50.0),
            percentile(&small, 99.0),
            (1u64 << 20) as f64 * large.len() as f64 / large.iter().sum::<f64>() / 1e3,
        );
        for name in &args.scenarios {
            let o = run_scenario(&args, name);
            println!(
                "run {run} {name}: {:.1} MB/s {:.0} rec/s broker {:.3} s/GB latency p50 {:.2} p99 {:.2} p99.9 {:.2} ms failed {} {:?}",
                o.mb_s, o.records_s, o.cpu_s_per_gb, o.p50_ms, o.p99_ms, o.p999_ms, o.failed, o.extra
            );
            results.entry(name.clone()).or_default().push(o);
        }
    }
    let probe = |k: &str| median(probes.get(k).cloned().unwrap_or_default());
    println!("\nMedians of {} runs (uptime: {})", args.runs, std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
    println!(
        "probe: disk 16 KiB write+fdatasync p50 {:.3} ms, p99 {:.3} ms, {:.1} MB/s; 1 MiB {:.0} MB/s; produce floor {:.3} s/GB (recv {:.3} + copy {:.3} + crc {:.3}); consume floor (send) {:.3} s/GB",
        probe("disk16k_p50_ms"),
        probe("disk16k_p99_ms"),
        probe("disk16k_mb_s"),
        probe("disk1m_mb_s"),
        probe("produce_floor_s_gb"),
        probe("recv_s_gb"),
        probe("copy_s_gb"),
        probe("crc_s_gb"),
        probe("send_s_gb"),
    );
    println!("| scenario | MB/s | records/s | broker s/GB | ratio | p50 ms | p99 ms | p99.9 ms | other |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for name in &args.scenarios {
        let Some(outcomes) = results.get(name) else { continue };
        let m = |f: &dyn Fn(&Outcome) -> f64| median(outcomes.iter().map(f).collect());
        let (mb_s, cpu, p99) = (m(&|o| o.mb_s), m(&|o| o.cpu_s_per_gb), m(&|o| o.p99_ms));
        let ratio = match variant(name).0 {
            "java" | "java-client" | "acks1" | "multi" => format!("{:.2}× disk16k MB/s", mb_s / probe("disk16k_mb_s")),
            "large" => format!("{:.2}× produce floor", cpu / probe("produce_floor_s_gb")),
            "consume" => format!("{:.2}× consume floor", cpu / probe("send_s_gb")),
            // Without fsync the disk's p99 is not part of the latency.
            "single" if !name.contains("-nofsync") => format!("p99 − disk p99 = {:+.2} ms", p99 - probe("disk16k_p99_ms")),
            _ => String::new(),
        };
        let keys: Vec<&str> = outcomes.first().map(|o| o.extra.keys().copied().collect()).unwrap_or_default();
        let extra: Vec<String> = keys.iter().map(|k| format!("{k} {:.2}", m(&|o| o.extra.get(k).copied().unwrap_or(f64::NAN)))).collect();
        println!(
            "| {name} | {mb_s:.1} | {:.0} | {cpu:.3} | {ratio} | {:.2} | {p99:.2} | {:.2} | {} |",
            m(&|o| o.records_s),
            m(&|o| o.p50_ms),
            m(&|o| o.p999_ms),
            extra.join(", ")
        );
    }
}
