//! Test harness: runs the real `weir` binary as a child process on a free port, in a temporary
//! data directory, and gives tests what they need to drive it with real clients.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;

/// How long a broker may take to start listening before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub mod cluster;
pub mod compat;
pub mod raw;

/// The path of the `weir` binary, built once per test process (`WEIR_BIN` overrides).
pub fn weir_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| std::env::var("WEIR_BIN").map(PathBuf::from).unwrap_or_else(|_| cargo_build(&["-p", "weir", "--bin", "weir"]).join("weir")))
        .clone()
}

/// Benchmarks measure the release build: builds it and points [`weir_binary`] at it (unless
/// `WEIR_BIN` already names a binary). Call before any broker starts.
pub fn use_release_binary() {
    if std::env::var("WEIR_BIN").is_ok() {
        return;
    }
    let dir = cargo_build(&["--release", "-p", "weir", "--bin", "weir"]);
    std::env::set_var("WEIR_BIN", dir.join("weir"));
}

/// Builds the Rust client drivers of the compatibility matrix; returns their directory.
pub fn build_rust_drivers() -> PathBuf {
    cargo_build(&["-p", "weir-integration-tests", "--bin", "compat-rdkafka", "--bin", "compat-rskafka"])
}

/// `cargo build --quiet ARGS` in the workspace; returns the directory the binaries land in.
fn cargo_build(args: &[&str]) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_owned();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet"])
        .args(args)
        .current_dir(&root)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build {args:?} failed");
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
    target.join(if args.contains(&"--release") { "release" } else { "debug" })
}

/// A running `weir serve` child process.
pub struct Weir {
    child: Child,
    /// `host:port` it listens on.
    pub addr: String,
    /// `host:port` of its HTTP listener (`/metrics`, `/livez`, `/readyz`), when started with
    /// `--http-listen`.
    pub http: Option<String>,
    pub data_dir: PathBuf,
    log: PathBuf,
    /// The broker's stdout, line by line (in a mutex so `Weir` stays `Sync`).
    lines: std::sync::Mutex<mpsc::Receiver<String>>,
}

impl Weir {
    /// Starts a broker on a free port with its data in `data_dir`; `extra` are more CLI args.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Weir {
        Weir::start_with_env(data_dir, extra, &[])
    }

    pub fn start_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Weir {
        let mut weir = Weir::spawn(data_dir, extra, env);
        weir.wait_listening();
        weir
    }

    /// [`Weir::start`] with the process's open-file limit (`RLIMIT_NOFILE`, soft and hard) set
    /// to `limit`.
    pub fn start_with_open_file_limit(data_dir: &Path, extra: &[&str], limit: u64) -> Weir {
        let mut weir = Weir::spawn_limited(data_dir, extra, &[], Some(limit));
        weir.wait_listening();
        weir
    }

    /// Starts a broker without waiting for it to listen (see [`Weir::wait_http`],
    /// [`Weir::wait_listening`]).
    pub fn spawn(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Weir {
        Weir::spawn_limited(data_dir, extra, env, None)
    }

    fn spawn_limited(data_dir: &Path, extra: &[&str], env: &[(&str, &str)], open_files: Option<u64>) -> Weir {
        let log = data_dir.with_extension("log");
        let stderr = std::fs::OpenOptions::new().create(true).append(true).open(&log).expect("open broker log");
        // A free port unless the test names one.
        let listen: &[&str] = if extra.contains(&"--listen") { &[] } else { &["--listen", "127.0.0.1:0"] };
        let mut command = Command::new(weir_binary());
        command
            .arg("serve")
            .args(listen)
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        if let Some(limit) = open_files {
            use std::os::unix::process::CommandExt;
            let limit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
            // SAFETY: between fork and exec only the async-signal-safe setrlimit runs.
            unsafe {
                command.pre_exec(move || if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) });
            }
        }
        let mut child = command.spawn().expect("spawn weir");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Weir { child, addr: String::new(), http: None, data_dir: data_dir.to_owned(), log, lines: std::sync::Mutex::new(lines) }
    }

    /// Waits for `listening on HOST:PORT` (the Kafka listener); returns the address.
    pub fn wait_listening(&mut self) -> String {
        self.addr = self.wait_line("listening on ");
        self.addr.clone()
    }

    /// Waits for `http listening on HOST:PORT`, printed before the logs are recovered.
    pub fn wait_http(&mut self) -> String {
        if let Some(http) = &self.http {
            return http.clone();
        }
        let http = self.wait_line("http listening on ");
        self.http = Some(http.clone());
        http
    }

    fn wait_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let received = self.lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv_timeout(left);
            let Ok(line) = received else {
                let _ = self.child.kill();
                panic!("weir did not print {prefix:?}; log:\n{}", self.log_text());
            };
            if let Some(http) = line.strip_prefix("http listening on ") {
                self.http = Some(http.trim().to_owned());
            }
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim().to_owned();
            }
        }
    }

    /// `GET path` on the HTTP listener: (status, body).
    pub fn http_get(&self, path: &str) -> (u16, String) {
        http_get(self.http.as_deref().expect("weir was started with --http-listen"), path)
    }

    /// Scrapes `/metrics` and parses it as Prometheus text.
    pub fn scrape(&self) -> prometheus_parse::Scrape {
        let (status, body) = self.http_get("/metrics");
        assert_eq!(status, 200, "{body}");
        prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).expect("/metrics is Prometheus text")
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGKILL: no flush, no clean-shutdown marker.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits (bounded) for the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        wait_with_timeout(&mut self.child, Duration::from_secs(30)).unwrap_or_else(|| panic!("weir did not exit after SIGTERM; log: {}", self.log_text()))
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A client config pointing at this broker.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.addr).set("broker.address.family", "v4");
        config
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Open file descriptors of process `pid` (entries of `/proc/PID/fd`).
pub fn open_files(pid: i32) -> std::io::Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// A plain HTTP/1.0 GET (10 s timeouts): (status, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.set_write_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("bad response: {response}"));
    (status, body.to_owned())
}

/// Runs `weir ARGS` (the admin CLI) to completion (bounded: 60 s).
pub fn weir_cli(args: &[&str]) -> std::process::Output {
    let mut command = Command::new(weir_binary());
    command.args(args).stdin(Stdio::null());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(command.output());
    });
    rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| panic!("weir {args:?} did not finish in 60 s")).expect("run weir")
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// Polls `check` until it returns `Some`, or panics after `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Helpers over the rdkafka crate (librdkafka), the reference client of these tests.
pub mod kafka {
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Headers, Message};
    use rdkafka::{ClientConfig, Offset, TopicPartitionList};

    /// One record as read back, for comparing with what was sent.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Received {
        pub partition: i32,
        pub offset: i64,
        pub key: Option<Vec<u8>>,
        pub value: Option<Vec<u8>>,
        pub headers: Vec<(String, Option<Vec<u8>>)>,
    }

    pub async fn create_topic(config: &ClientConfig, name: &str, partitions: i32, configs: &[(&str, &str)]) {
        let admin: AdminClient<DefaultClientContext> = config.create().expect("admin client");
        let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        for (k, v) in configs {
            topic = topic.set(k, v);
        }
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = admin.create_topics(&[topic], &options).await.expect("create_topics");
        for result in results {
            result.unwrap_or_else(|(topic, e)| panic!("creating {topic}: {e}"));
        }
    }

    /// A consumer of every partition of `topic` from the beginning (assign mode, no group;
    /// `config` may add `isolation.level` and the like).
    pub fn assigned_consumer(config: &ClientConfig, topic: &str, partitions: i32) -> BaseConsumer {
        let consumer: BaseConsumer = config.clone().set("group.id", "weir-tests-assign-only").set("enable.auto.commit", "false").create().expect("consumer");
        let mut assignment = TopicPartitionList::new();
        for p in 0..partitions {
            assignment.add_partition_offset(topic, p, Offset::Beginning).expect("assignment");
        }
        consumer.assign(&assignment).expect("assign");
        consumer
    }

    /// Reads every partition of `topic` from the beginning (assign mode, no group) until
    /// `expected` records arrived or `timeout` passed.
    pub fn consume_all(config: &ClientConfig, topic: &str, partitions: i32, expected: usize, timeout: Duration) -> Vec<Received> {
        let consumer = assigned_consumer(config, topic, partitions);
        let deadline = Instant::now() + timeout;
        let mut received = Vec::new();
        while received.len() < expected && Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(message)) => received.push(Received {
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key().map(<[u8]>::to_vec),
                    value: message.payload().map(<[u8]>::to_vec),
                    headers: message
                        .headers()
                        .map(|headers| headers.iter().map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec))).collect())
                        .unwrap_or_default(),
                }),
                Some(Err(e)) => eprintln!("consumer error (retrying): {e}"),
                None => {}
            }
        }
        received
    }

    /// Reads every partition of `topic` up to its high watermark at the time of the call.
    pub fn consume_to_end(config: &ClientConfig, topic: &str, partitions: i32, timeout: Duration) -> Vec<Received> {
        let probe: BaseConsumer = config.clone().set("group.id", "weir-tests-assign-only").create().expect("consumer");
        let ends: Vec<i64> = (0..partitions)
            .map(|p| probe.fetch_watermarks(topic, p, Duration::from_secs(10)).expect("watermarks").1)
            .collect();
        let total: i64 = ends.iter().sum();
        let received = consume_all(config, topic, partitions, total as usize, timeout);
        for (p, end) in ends.iter().enumerate() {
            let last = received.iter().filter(|r| r.partition == p as i32).map(|r| r.offset).max().unwrap_or(-1);
            assert!(last + 1 >= *end, "partition {p}: read up to {last}, high watermark {end}");
        }
        received
    }

    /// Records grouped by key, to compare sent and received independent of partitioning.
    pub fn by_key(records: &[Received]) -> BTreeMap<Vec<u8>, Received> {
        records.iter().map(|r| (r.key.clone().unwrap_or_default(), r.clone())).collect()
    }
}
