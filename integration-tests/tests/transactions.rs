//! Transactions (KIP-98, KIP-447) driven by real clients, on one broker and on the 3-broker
//! cluster:
//!
//! - confluent-kafka (`clients/python/txn_checks.py`): commit, abort, abort-then-retry,
//!   `send_offsets_to_transaction` committed and aborted, a fenced zombie, the last stable offset.
//! - kafkajs (`clients/node/txn.js`): commit, abort, `sendOffsets`, read back with
//!   `readUncommitted: false`.
//! - Java kafka-clients (`clients/java/TxnChecks.java`): the last stable offset seen through
//!   `endOffsets` and `Admin.listOffsets` at READ_COMMITTED, aborted records never read.
//! - Java consume-transform-produce (`clients/java/TxnPipeline.java`) SIGKILLed inside a
//!   transaction and restarted with the same transactional.id and group: the output, read with
//!   read_committed, holds each input record exactly once.
//! - Java producer (`clients/java/TxnFailover.java`) whose transaction coordinator (the leader of
//!   its `__transaction_state` partition) is `kill -9`-ed mid-transaction: it commits through the
//!   new coordinator, and read_committed sees each record exactly once.
//!
//! The brokers keep `__consumer_offsets` and `__transaction_state` at 3 partitions each (Kafka's
//! 50 make the internal topics slow to create).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use weir_integration_tests::cluster::TestCluster;
use weir_integration_tests::compat::{self, Paths, ProgramRun, Status};
use weir_integration_tests::{eventually, Weir};

/// Small internal topics, as environment variables of a single broker.
const SMALL_INTERNAL_TOPICS: &[(&str, &str)] = &[("WEIR_TRANSACTION_STATE_LOG_NUM_PARTITIONS", "3"), ("WEIR_OFFSETS_TOPIC_NUM_PARTITIONS", "3")];
/// The same, as a config file of the cluster's brokers (`TestCluster` passes CLI arguments only).
const SMALL_INTERNAL_TOPICS_CONFIG: &str = "transaction.state.log.num.partitions=3\noffsets.topic.num.partitions=3\n";

/// One broker or the 3-broker cluster, with what the tests need of either.
enum Brokers {
    Single { weir: Weir, _dir: tempfile::TempDir },
    Cluster { cluster: TestCluster, _config: tempfile::TempDir },
}

impl Brokers {
    fn single() -> Brokers {
        let dir = tempfile::tempdir().expect("temp dir");
        let weir = Weir::start_with_env(&dir.path().join("data"), &[], SMALL_INTERNAL_TOPICS);
        Brokers::Single { weir, _dir: dir }
    }

    fn cluster() -> Brokers {
        let (cluster, config) = start_cluster();
        Brokers::Cluster { cluster, _config: config }
    }

    fn bootstrap(&self) -> String {
        match self {
            Brokers::Single { weir, .. } => weir.addr.clone(),
            Brokers::Cluster { cluster, .. } => cluster.bootstrap(),
        }
    }

    fn client_config(&self) -> ClientConfig {
        match self {
            Brokers::Single { weir, .. } => weir.client_config(),
            Brokers::Cluster { cluster, .. } => cluster.client_config(),
        }
    }

    /// The replication factor of the tests' topics: every broker holds a copy.
    fn replication(&self) -> i32 {
        match self {
            Brokers::Single { .. } => 1,
            Brokers::Cluster { cluster, .. } => cluster.size() as i32,
        }
    }

    fn logs(&self) -> String {
        match self {
            Brokers::Single { weir, .. } => weir.log_text(),
            Brokers::Cluster { cluster, .. } => cluster_logs(cluster),
        }
    }
}

/// A 3-broker cluster with small internal topics; the config file lives as long as the
/// returned directory (a restarted broker reads it again).
fn start_cluster() -> (TestCluster, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("weir.properties");
    std::fs::write(&config, SMALL_INTERNAL_TOPICS_CONFIG).expect("write the broker config");
    let cluster = TestCluster::start(3, &["--config", &config.to_string_lossy()]);
    (cluster, dir)
}

/// Every broker's log (killed ones too: the log file stays next to the data directory).
fn cluster_logs(cluster: &TestCluster) -> String {
    (1..=cluster.size() as i32)
        .map(|id| {
            let log = std::fs::read_to_string(cluster.data_dir(id).with_extension("log")).unwrap_or_default();
            format!("--- broker {id} log ---\n{log}\n")
        })
        .collect()
}

fn create_topics(config: &ClientConfig, topics: &[(&str, i32)], replication: i32) {
    let admin: AdminClient<DefaultClientContext> = config.create().expect("admin client");
    let new: Vec<NewTopic<'_>> = topics.iter().map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(replication))).collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(20))).request_timeout(Some(Duration::from_secs(30)));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let results = runtime.block_on(admin.create_topics(&new, &options)).expect("create_topics");
    for result in results {
        result.unwrap_or_else(|(topic, e)| panic!("creating {topic}: {e}"));
    }
}

/// Input records `k<i>` → `v<i>` for i in 0..n, idempotent and acks=all (plain, not transactional).
fn produce_input(config: &ClientConfig, topic: &str, n: usize) {
    let producer: BaseProducer = config
        .clone()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "60000")
        .create()
        .expect("producer");
    for i in 0..n {
        let (key, value) = (format!("k{i}"), format!("v{i}"));
        loop {
            match producer.send(BaseRecord::to(topic).key(&key).payload(&value)) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => panic!("produce the input: {e}"),
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(60)).expect("every input record delivered");
}

/// (key, value) of every record a consumer at `isolation` (`read_committed` or
/// `read_uncommitted`) reads from the beginning of `topic` (assign mode): until `expected`
/// records arrived, then 3 s more so that extra and duplicate records show up too, or until
/// 60 s passed.
fn read_topic(config: &ClientConfig, topic: &str, partitions: i32, isolation: &str, expected: usize) -> Vec<(String, String)> {
    let consumer = weir_integration_tests::kafka::assigned_consumer(config.clone().set("isolation.level", isolation), topic, partitions);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut settle: Option<Instant> = None;
    let mut read = Vec::new();
    loop {
        let now = Instant::now();
        if settle.is_none() && read.len() >= expected {
            settle = Some(now + Duration::from_secs(3));
        }
        if settle.is_some_and(|s| now > s) || now > deadline {
            return read;
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let text = |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
                read.push((text(m.key()), text(m.payload())));
            }
            Some(Err(e)) => eprintln!("{topic} ({isolation}): consumer error (retrying): {e}"),
            None => {}
        }
    }
}

/// Each wanted key read exactly once, with its wanted value, and nothing else.
fn check_exactly_once(read: &[(String, String)], want: &BTreeMap<String, String>) -> Result<(), String> {
    let mut seen: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (key, value) in read {
        seen.entry(key.as_str()).or_default().push(value.as_str());
    }
    let twice: Vec<_> = seen.iter().filter(|(_, values)| values.len() > 1).take(5).collect();
    let missing: Vec<_> = want.keys().filter(|k| !seen.contains_key(k.as_str())).take(5).collect();
    let unexpected: Vec<_> = seen.keys().filter(|k| !want.contains_key(**k)).take(5).collect();
    let wrong: Vec<_> = seen.iter().filter(|(k, values)| want.get(**k).is_some_and(|w| values.iter().any(|v| *v != w.as_str()))).take(5).collect();
    if twice.is_empty() && missing.is_empty() && unexpected.is_empty() && wrong.is_empty() && read.len() == want.len() {
        return Ok(());
    }
    Err(format!(
        "read {} records for {} wanted: read more than once {twice:?}; missing {missing:?}; unexpected {unexpected:?}; wrong values {wrong:?}",
        read.len(),
        want.len()
    ))
}

// --- client programs ------------------------------------------------------------------------

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// Runs a RESULT-line program (`BOOTSTRAP PREFIX REPLICATION`) against `brokers` and asserts
/// that it passed each of `checks` and exited 0.
fn run_checks(brokers: &Brokers, command: &[&str], env: &[(&str, &str)], checks: &[&str]) {
    compat::install_clients().unwrap_or_else(|e| panic!("{e}"));
    let paths = Paths::new(Path::new(env!("CARGO_BIN_EXE_compat-rdkafka")).parent().expect("bin dir"));
    let replication = brokers.replication().to_string();
    let ProgramRun { stdout, stderr, exit } = compat::run_program(command, env, &[&brokers.bootstrap(), "txn", &replication], &paths);
    let lines = compat::result_lines(&stdout);
    let mut failures = Vec::new();
    for check in checks {
        match lines.iter().find(|(id, _, _)| id == check) {
            Some((_, Status::Pass, _)) => {}
            Some((_, status, detail)) => failures.push(format!("{check} {}: {detail}", status.word())),
            None => failures.push(format!("{check}: no RESULT line")),
        }
    }
    if exit != Some(0) {
        failures.push(format!("{command:?} exited with {exit:?}"));
    }
    assert!(
        failures.is_empty(),
        "{command:?}: {} check(s) failed:\n  {}\n\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}\n{}",
        failures.len(),
        failures.join("\n  "),
        brokers.logs()
    );
}

/// A Java program of `clients/java` (through `java/driver.sh`, which `exec`s the JVM, so a
/// kill reaches the JVM itself), with its stdout lines on a channel and its stderr in a file.
/// Dropping it kills it.
struct JavaProgram {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every stdout line received so far.
    output: Vec<String>,
    stderr: tempfile::NamedTempFile,
}

impl JavaProgram {
    fn spawn(main: &str, args: &[&str], env: &[(&str, &str)]) -> JavaProgram {
        let clients = clients_dir();
        let stderr = tempfile::NamedTempFile::new().expect("stderr file");
        let mut child = Command::new("bash")
            .arg(clients.join("java/driver.sh"))
            .args(args)
            .env("WEIR_JAVA_MAIN", main)
            .envs(env.iter().copied())
            .current_dir(&clients)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr.reopen().expect("reopen the stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("start {main}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        JavaProgram { child, lines, output: Vec::new(), stderr }
    }

    /// Reads lines until `done(line)` holds; Err (with the output so far) after `timeout` or
    /// when the program's stdout closed first.
    fn wait_for(&mut self, timeout: Duration, mut done: impl FnMut(&str) -> bool) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = done(line.as_str());
                    self.output.push(line);
                    if hit {
                        return Ok(());
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => return Err(format!("nothing matching after {timeout:?}\n{}", self.describe())),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(format!("the program's output ended\n{}", self.describe())),
            }
        }
    }

    fn send_line(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("piped stdin");
        writeln!(stdin, "{line}").and_then(|()| stdin.flush()).expect("write to the program's stdin");
    }

    /// SIGKILL.
    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits (bounded) for the program to exit; returns its exit code (None: killed, by us
    /// after `timeout` or by a signal) and collects the rest of its output.
    fn finish(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break Some(status);
            }
            if Instant::now() > deadline {
                self.kill9();
                break None;
            }
            while let Ok(line) = self.lines.try_recv() {
                self.output.push(line);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.output.push(line);
        }
        status.and_then(|s| s.code())
    }

    /// Its stdout so far and its stderr, for failure messages.
    fn describe(&self) -> String {
        let stderr = std::fs::read_to_string(self.stderr.path()).unwrap_or_default();
        format!("--- program stdout ---\n{}\n--- program stderr ---\n{stderr}", self.output.join("\n"))
    }
}

impl Drop for JavaProgram {
    fn drop(&mut self) {
        self.kill9();
    }
}

// --- confluent-kafka, kafkajs, Java checks --------------------------------------------------

const CONFLUENT: &[&str] = &["python3", "python/txn_checks.py"];
const CONFLUENT_CHECKS: &[&str] = &["commit", "abort", "abort_then_retry", "send_offsets_commit", "send_offsets_abort", "zombie_fenced", "lso"];
const KAFKAJS: &[&str] = &["node", "node/txn.js"];
const KAFKAJS_CHECKS: &[&str] = &["commit", "abort", "send_offsets"];
const JAVA: &[&str] = &["bash", "java/driver.sh"];
const JAVA_CHECKS: &[&str] = &["lso", "aborted_invisible"];

#[test]
fn confluent_kafka_transactions_on_one_broker() {
    run_checks(&Brokers::single(), CONFLUENT, &[], CONFLUENT_CHECKS);
}

#[test]
fn confluent_kafka_transactions_on_a_cluster() {
    run_checks(&Brokers::cluster(), CONFLUENT, &[], CONFLUENT_CHECKS);
}

#[test]
fn kafkajs_transactions_on_one_broker() {
    run_checks(&Brokers::single(), KAFKAJS, &[], KAFKAJS_CHECKS);
}

#[test]
fn kafkajs_transactions_on_a_cluster() {
    run_checks(&Brokers::cluster(), KAFKAJS, &[], KAFKAJS_CHECKS);
}

#[test]
fn java_last_stable_offset_on_one_broker() {
    run_checks(&Brokers::single(), JAVA, &[("WEIR_JAVA_MAIN", "TxnChecks")], JAVA_CHECKS);
}

#[test]
fn java_last_stable_offset_on_a_cluster() {
    run_checks(&Brokers::cluster(), JAVA, &[("WEIR_JAVA_MAIN", "TxnChecks")], JAVA_CHECKS);
}

// --- consume-transform-produce through a kill -9 of the application ----------------------------

/// Input records of the pipeline.
const PIPELINE_INPUT: usize = 2000;

/// TxnPipeline (a read_committed group consumer + a transactional producer with a fixed
/// transactional.id, one transaction per poll with `sendOffsetsToTransaction`) is SIGKILLed
/// inside a transaction whose records and offsets are already written, then started again with
/// the same transactional.id and group; it runs until the input is consumed. read_committed then
/// sees each input record exactly once in the output, transformed; read_uncommitted also sees
/// the killed transaction's (aborted) records.
fn consume_transform_produce_survives_kill9(brokers: &Brokers) {
    compat::install_clients().unwrap_or_else(|e| panic!("{e}"));
    let config = brokers.client_config();
    let (input, output) = ("pipeline-in", "pipeline-out");
    create_topics(&config, &[(input, 3), (output, 3)], brokers.replication());
    produce_input(&config, input, PIPELINE_INPUT);
    let produced = read_topic(&config, input, 3, "read_uncommitted", PIPELINE_INPUT);
    assert_eq!(produced.len(), PIPELINE_INPUT, "the input was produced\n{}", brokers.logs());

    let bootstrap = brokers.bootstrap();
    let args = [bootstrap.as_str(), input, output, "pipeline-group", "pipeline-txn"];
    // The first run pauses 300 ms inside each transaction, after its records and offsets were
    // flushed (it prints OPEN then): it is killed in such a pause, a few transactions in.
    let mut first = JavaProgram::spawn("TxnPipeline", &args, &[("WEIR_TXN_PAUSE_MS", "300")]);
    let mut commits = 0;
    let killed_inside = first.wait_for(Duration::from_secs(120), |line| {
        if line.starts_with("COMMITTED ") {
            commits += 1;
        }
        line.starts_with("OPEN ") && commits >= 3
    });
    if let Err(e) = killed_inside {
        panic!("the first run did not reach an open transaction after 3 commits: {e}\n{}", brokers.logs());
    }
    first.kill9();

    let mut second = JavaProgram::spawn("TxnPipeline", &args, &[]);
    let exit = second.finish(Duration::from_secs(180));
    let done = second.output.iter().any(|l| l.starts_with("DONE "));
    assert!(
        exit == Some(0) && done,
        "the restarted pipeline did not finish (exit {exit:?})\n--- first run ---\n{}\n--- second run ---\n{}\n{}",
        first.describe(),
        second.describe(),
        brokers.logs()
    );

    let want: BTreeMap<String, String> = (0..PIPELINE_INPUT).map(|i| (format!("k{i}"), format!("v{i}|t"))).collect();
    let committed = read_topic(&config, output, 3, "read_committed", PIPELINE_INPUT);
    if let Err(e) = check_exactly_once(&committed, &want) {
        panic!(
            "read_committed output: {e}\n--- first run ---\n{}\n--- second run ---\n{}\n{}",
            first.describe(),
            second.describe(),
            brokers.logs()
        );
    }
    // The killed transaction's records reached the log (it was flushed before the pause) and
    // were aborted when the second run's producer fenced the first.
    let uncommitted = read_topic(&config, output, 3, "read_uncommitted", PIPELINE_INPUT + 1);
    assert!(
        uncommitted.len() > PIPELINE_INPUT,
        "read_uncommitted read {} records: the killed transaction's records are missing from the log\n{}",
        uncommitted.len(),
        first.describe()
    );
}

#[test]
fn java_consume_transform_produce_survives_kill9() {
    consume_transform_produce_survives_kill9(&Brokers::single());
}

#[test]
fn java_consume_transform_produce_survives_kill9_on_a_cluster() {
    consume_transform_produce_survives_kill9(&Brokers::cluster());
}

// --- transaction coordinator failover -------------------------------------------------------

/// Weir's partition of a coordinator key: Java's `key.hashCode()` with the sign bit cleared,
/// modulo `partitions` (Kafka takes `Utils.abs` instead; the two agree for this test's id,
/// whose hash code is positive).
fn coordinator_partition(key: &str, partitions: i32) -> i32 {
    let hash = key.encode_utf16().fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(unit as i32));
    (hash & i32::MAX) % partitions
}

/// FindCoordinator (key type 1, transaction) at broker `at`: the coordinator's node id, once
/// there is one.
fn transaction_coordinator(cluster: &TestCluster, at: i32, transactional_id: &str) -> i32 {
    use kafka_protocol::messages::FindCoordinatorRequest;
    use kafka_protocol::protocol::StrBytes;
    use weir_integration_tests::raw::RawClient;
    let mut client = RawClient::connect(&cluster.address(at));
    eventually(Duration::from_secs(30), "a transaction coordinator", || {
        let request = FindCoordinatorRequest::default().with_key_type(1).with_coordinator_keys(vec![StrBytes::from_string(transactional_id.to_owned())]);
        let response = client.call(4, &request);
        let found = response.coordinators.first()?;
        (found.error_code == 0 && found.node_id.0 >= 1).then_some(found.node_id.0)
    })
}

/// Transactions the failover producer writes, records in each, and the one held open while its
/// coordinator is killed.
const FAILOVER_TXNS: usize = 6;
const FAILOVER_RECORDS: usize = 50;
const FAILOVER_HOLD: usize = 1;
/// Its hash code is positive: Kafka's `Utils.abs(hash) % n` and `(hash & 0x7fffffff) % n` agree.
const FAILOVER_TXN_ID: &str = "failover-txn";

/// A Java transactional producer begins a transaction and sends (and flushes) its records; the
/// broker leading its `__transaction_state` partition (its coordinator) is killed with kill -9;
/// the producer then commits, through the new coordinator (or aborts and retries if the client
/// reports the transaction failed), and writes more transactions. read_committed sees each
/// record exactly once, with the value of its transaction's committed attempt, also after the
/// killed broker is back.
#[test]
fn java_transaction_survives_coordinator_failover() {
    compat::install_clients().unwrap_or_else(|e| panic!("{e}"));
    let (mut cluster, _config) = start_cluster();
    let config = cluster.client_config();
    let topic = "failover";
    create_topics(&config, &[(topic, 3)], 3);
    let bootstrap = cluster.bootstrap();
    let (txns, records, hold) = (FAILOVER_TXNS.to_string(), FAILOVER_RECORDS.to_string(), FAILOVER_HOLD.to_string());
    let mut producer = JavaProgram::spawn("TxnFailover", &[&bootstrap, topic, FAILOVER_TXN_ID, &txns, &records, &hold], &[]);
    let open = format!("OPEN {FAILOVER_HOLD}");
    if let Err(e) = producer.wait_for(Duration::from_secs(90), |line| line == open) {
        panic!("the producer did not open transaction {FAILOVER_HOLD}: {e}\n{}", cluster_logs(&cluster));
    }

    let coordinator = transaction_coordinator(&cluster, 1, FAILOVER_TXN_ID);
    let partition = coordinator_partition(FAILOVER_TXN_ID, 3);
    assert_eq!(
        cluster.leader_of("__transaction_state", partition),
        coordinator,
        "FindCoordinator names the leader of __transaction_state partition {partition} (the partition of {FAILOVER_TXN_ID:?})"
    );
    cluster.kill9(coordinator);
    producer.send_line("commit");
    let exit = producer.finish(Duration::from_secs(180));
    let logs = cluster_logs(&cluster);
    assert!(
        exit == Some(0) && producer.output.iter().any(|l| l.starts_with("DONE ")),
        "the producer did not finish after coordinator {coordinator} was killed (exit {exit:?})\n{}\n{logs}",
        producer.describe()
    );

    // The attempt each transaction committed with.
    let mut attempts: BTreeMap<usize, usize> = BTreeMap::new();
    for line in &producer.output {
        if let ["COMMITTED", txn, attempt] = line.split_whitespace().collect::<Vec<_>>().as_slice() {
            attempts.insert(txn.parse().expect("transaction"), attempt.parse().expect("attempt"));
        }
    }
    assert_eq!(attempts.len(), FAILOVER_TXNS, "every transaction committed once\n{}", producer.describe());
    let want: BTreeMap<String, String> = attempts
        .iter()
        .flat_map(|(txn, attempt)| (0..FAILOVER_RECORDS).map(move |r| (format!("t{txn}-r{r}"), format!("t{txn}-r{r}-a{attempt}"))))
        .collect();
    let read = read_topic(&config, topic, 3, "read_committed", want.len());
    if let Err(e) = check_exactly_once(&read, &want) {
        panic!("read_committed after the failover: {e}\n{}\n{logs}", producer.describe());
    }

    // The killed broker comes back and catches up; nothing changes for read_committed.
    cluster.restart(coordinator);
    cluster.wait_registered();
    let read = read_topic(&config, topic, 3, "read_committed", want.len());
    if let Err(e) = check_exactly_once(&read, &want) {
        panic!("read_committed after broker {coordinator} restarted: {e}\n{}", cluster_logs(&cluster));
    }
}
