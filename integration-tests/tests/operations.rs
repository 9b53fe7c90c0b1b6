//! Operating Weir (issue #15): `/metrics` after real produce/consume traffic, `/livez` and
//! `/readyz` around log recovery, every admin CLI command against a running broker, and logs
//! written to a pipe.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use prometheus_parse::{Scrape, Value};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value as Json;
use weir_integration_tests::{eventually, http_get, kafka, weir_binary, weir_cli, Weir};

const TIMEOUT: Duration = Duration::from_secs(20);

/// The value of the sample `name{labels}` (labels given must match; others are ignored).
fn sample(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
            Value::Summary(_) => f64::NAN,
        })
}

fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    sample(scrape, name, labels).unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
}

fn start_with_http(dir: &tempfile::TempDir) -> Weir {
    let mut weir = Weir::start(&dir.path().join("data"), &["--http-listen", "127.0.0.1:0"]);
    weir.wait_http();
    weir
}

/// Runs `weir ARGS --bootstrap-server ADDR`, expecting success; returns stdout.
fn cli(weir: &Weir, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--bootstrap-server", &weir.addr, "--timeout", "10"]);
    let output = weir_cli(&all);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "weir {all:?} failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

fn cli_json(weir: &Weir, args: &[&str]) -> Json {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let stdout = cli(weir, &all);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("weir {all:?}: not JSON ({e}): {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_produce_and_consume_run() {
    let dir = tempfile::tempdir().unwrap();
    let weir = start_with_http(&dir);
    let config = weir.client_config();
    kafka::create_topic(&config, "metered", 2, &[]).await;

    let before = weir.scrape();
    assert_eq!(value(&before, "weir_topic_records_in_total", &[("topic", "metered")]), 0.0);
    let produces_before = sample(&before, "weir_requests_total", &[("api", "Produce")]).unwrap_or(0.0);

    // 100 records, acks=all, one request each (no batching across records).
    let producer: FutureProducer = config.clone().set("acks", "all").set("linger.ms", "0").set("max.in.flight", "1").create().unwrap();
    for i in 0..100u32 {
        let key = format!("k{i}");
        let payload = format!("value-{i}");
        producer
            .send(FutureRecord::to("metered").key(&key).payload(&payload).partition((i % 2) as i32), Duration::from_secs(10))
            .await
            .expect("delivered");
    }
    let received = kafka::consume_all(&config, "metered", 2, 100, TIMEOUT);
    assert_eq!(received.len(), 100);

    let after = eventually(TIMEOUT, "fetch counters", || {
        let scrape = weir.scrape();
        (value(&scrape, "weir_topic_records_out_total", &[("topic", "metered")]) >= 100.0).then_some(scrape)
    });
    assert_eq!(value(&after, "weir_topic_records_in_total", &[("topic", "metered")]), 100.0);
    assert_eq!(value(&after, "weir_topic_records_out_total", &[("topic", "metered")]), 100.0);
    let bytes_in = value(&after, "weir_topic_bytes_in_total", &[("topic", "metered")]);
    // Every appended byte is in the log, and was read back once.
    assert_eq!(bytes_in, value(&after, "weir_log_size_bytes", &[("topic", "metered")]));
    assert_eq!(value(&after, "weir_topic_bytes_out_total", &[("topic", "metered")]), bytes_in);
    // 100 batches of one record: 61-byte header + the record (≥ 10 bytes each).
    assert!(bytes_in >= 100.0 * 71.0, "{bytes_in}");
    let produces = value(&after, "weir_requests_total", &[("api", "Produce")]) - produces_before;
    assert_eq!(produces, 100.0);
    // The duration histogram counted every Produce (its +Inf bucket is the count).
    assert!(value(&after, "weir_request_duration_seconds", &[("api", "Produce")]) >= 100.0);
    let histogram = after.samples.iter().find(|s| s.metric == "weir_request_duration_seconds" && s.labels.get("api") == Some("Produce")).unwrap();
    let Value::Histogram(buckets) = &histogram.value else { panic!("not a histogram: {histogram:?}") };
    assert!(buckets.iter().any(|b| b.less_than == 0.001), "explicit buckets: {buckets:?}");
    // acks=all waited for flushes, which were timed.
    assert!(value(&after, "weir_log_flush_duration_seconds", &[]) >= 1.0);
    assert_eq!(value(&after, "weir_partition_log_end_offset", &[("topic", "metered"), ("partition", "0")]), 50.0);
    // `metered` and the 50 of `__consumer_offsets` (created by the consumer's FindCoordinator).
    assert_eq!(value(&after, "weir_partitions", &[]), 52.0);
    assert_eq!(value(&after, "weir_partitions_led", &[]), 52.0);
    assert!(value(&after, "weir_connections_active", &[]) >= 1.0);
    assert!(value(&after, "weir_disk_total_bytes", &[]) >= value(&after, "weir_disk_free_bytes", &[]));
    assert_eq!(value(&after, "weir_ready", &[]), 1.0);
    let build = after.samples.iter().find(|s| s.metric == "weir_build_info").expect("weir_build_info");
    assert!(build.labels.get("version").is_some() && build.labels.get("revision").is_some_and(|r| !r.is_empty()));

    // An error code counts once per occurrence, by API and Kafka's error name.
    let output = weir_cli(&["topic", "create", "metered", "--bootstrap-server", &weir.addr, "--timeout", "10"]);
    assert!(!output.status.success());
    let errors = weir.scrape();
    assert_eq!(value(&errors, "weir_request_errors_total", &[("api", "CreateTopics"), ("error", "TOPIC_ALREADY_EXISTS")]), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_and_groups_are_exported() {
    let dir = tempfile::tempdir().unwrap();
    let weir = start_with_http(&dir);
    cli(&weir, &["topic", "create", "lagging", "--partitions", "1"]);
    cli(&weir, &["produce", "lagging", "a", "b", "c", "d"]);
    cli(&weir, &["consume", "lagging", "--group", "readers", "--from-beginning", "--count", "3", "--idle-timeout-ms", "15000"]);
    let scrape = weir.scrape();
    let committed = value(&scrape, "weir_consumer_group_committed_offset", &[("group", "readers"), ("topic", "lagging"), ("partition", "0")]);
    let end = value(&scrape, "weir_partition_log_end_offset", &[("topic", "lagging"), ("partition", "0")]);
    assert_eq!((committed, end), (3.0, 4.0), "lag = end - committed = 1");
    assert_eq!(value(&scrape, "weir_consumer_groups", &[("state", "Empty")]), 1.0);
}

#[test]
fn metrics_are_off_without_an_http_listener() {
    let dir = tempfile::tempdir().unwrap();
    let weir = Weir::start(&dir.path().join("data"), &[]);
    assert!(weir.http.is_none());
}

/// `/readyz` is 503 while the logs are being opened and 200 after; `/livez` is 200 throughout.
/// The metadata file is replaced by a FIFO, so opening the logs blocks until the test writes
/// the real contents into it: no timing, no test hook in the broker.
#[test]
fn readyz_waits_for_log_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let weir = Weir::start(&data, &[]);
    let output = weir_cli(&["topic", "create", "kept", "--bootstrap-server", &weir.addr, "--timeout", "10"]);
    assert!(output.status.success());
    assert!(weir.terminate().success());

    let metadata = data.join("metadata.checkpoint");
    let contents = std::fs::read(&metadata).expect("metadata file");
    std::fs::remove_file(&metadata).unwrap();
    let path = std::ffi::CString::new(metadata.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "mkfifo");

    let mut weir = Weir::spawn(&data, &["--http-listen", "127.0.0.1:0"], &[]);
    let http = weir.wait_http();
    assert_eq!(http_get(&http, "/livez"), (200, "ok\n".to_owned()));
    let (status, body) = http_get(&http, "/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("[-]logs failed"), "{body}");
    assert!(body.contains("[-]listeners failed"), "{body}");
    let (status, metrics) = http_get(&http, "/metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("\nweir_ready 0\n"), "{metrics}");

    // Let the recovery finish.
    let writer = std::thread::spawn(move || std::fs::write(&metadata, contents));
    let addr = weir.wait_listening();
    writer.join().unwrap().expect("write the metadata into the FIFO");
    let (status, body) = eventually(TIMEOUT, "/readyz to be 200", || {
        let answer = http_get(&http, "/readyz");
        (answer.0 == 200).then_some(answer)
    });
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (_, verbose) = http_get(&http, "/readyz?verbose");
    assert!(verbose.contains("[+]logs ok") && verbose.contains("[+]listeners ok"), "{verbose}");
    let topics = weir_cli(&["topic", "list", "--bootstrap-server", &addr, "--format", "json"]);
    assert!(String::from_utf8_lossy(&topics.stdout).contains("\"kept\""));
    assert_eq!(http_get(&http, "/nope").0, 404);
    assert!(weir.terminate().success());
}

#[test]
fn every_admin_command_against_a_running_broker() {
    let dir = tempfile::tempdir().unwrap();
    let weir = Weir::start(&dir.path().join("data"), &[]);

    // Topics.
    let created = cli_json(&weir, &["topic", "create", "orders", "--partitions", "3", "--config", "retention.ms=3600000"]);
    assert_eq!(created["created"], "orders");
    assert!(cli(&weir, &["topic", "list"]).contains("orders"));
    let list = cli_json(&weir, &["topic", "list"]);
    assert_eq!(list, serde_json::json!([{"topic": "orders", "partitions": 3, "replicas": 1}]));
    let described = cli_json(&weir, &["topic", "describe", "orders"]);
    assert_eq!(described["partition_count"], 3);
    assert_eq!(described["partitions"].as_array().unwrap().len(), 3);
    assert_eq!(described["configs"], serde_json::json!([{"config": "retention.ms", "value": "3600000", "source": "DYNAMIC_TOPIC_CONFIG"}]));
    let altered = cli_json(&weir, &["topic", "alter-config", "orders", "--set", "max.message.bytes=2000000", "--delete", "retention.ms"]);
    assert_eq!(altered["configs"], serde_json::json!({"max.message.bytes": "2000000"}));
    let described = cli_json(&weir, &["topic", "describe", "orders", "--all-configs"]);
    let configs = described["configs"].as_array().unwrap();
    let find = |name: &str| configs.iter().find(|c| c["config"] == name).cloned().unwrap();
    assert_eq!(find("max.message.bytes")["source"], "DYNAMIC_TOPIC_CONFIG");
    assert_eq!(find("retention.ms")["source"], "DEFAULT_CONFIG");
    assert!(cli(&weir, &["topic", "describe", "orders"]).contains("max.message.bytes"));

    // Produce with key and headers, consume them back.
    let produced = cli_json(&weir, &["produce", "orders", "--key", "k", "--header", "h=1", "--partition", "0", "one", "two", "three"]);
    assert_eq!(produced["produced"], 3);
    let stdin_produce = {
        let mut child = Command::new(weir_binary())
            .args(["produce", "orders", "--partition", "1", "--key-separator", ":", "--bootstrap-server", &weir.addr])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"a:1\nb:2\n").unwrap();
        child.wait_with_output().unwrap()
    };
    assert!(stdin_produce.status.success());
    assert!(String::from_utf8_lossy(&stdin_produce.stdout).contains("produced 2 records"));
    let consumed = cli_json(&weir, &["consume", "orders", "--from-beginning", "--partition", "0", "--count", "3"]);
    let records = consumed.as_array().unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["key"], "k");
    assert_eq!(records[0]["value"], "one");
    assert_eq!(records[0]["headers"], serde_json::json!({"h": "1"}));
    let keyed = cli_json(&weir, &["consume", "orders", "--from-beginning", "--partition", "1", "--count", "2"]);
    assert_eq!(keyed[1]["key"], "b");
    assert_eq!(keyed[1]["value"], "2");
    assert!(cli(&weir, &["consume", "orders", "--from-beginning", "--count", "5"]).contains("three"));

    // Groups: consume two records as a group, then look at its lag.
    cli(&weir, &["consume", "orders", "--group", "billing", "--from-beginning", "--count", "2", "--idle-timeout-ms", "15000"]);
    let groups = cli_json(&weir, &["group", "list"]);
    assert_eq!(groups[0]["group"], "billing");
    assert_eq!(groups[0]["state"], "Empty");
    let described = cli_json(&weir, &["group", "describe", "billing"]);
    assert_eq!(described["state"], "Empty");
    let offsets = described["offsets"].as_array().unwrap();
    let committed: i64 = offsets.iter().map(|o| o["current_offset"].as_i64().unwrap()).sum();
    assert_eq!(committed, 2);
    let mut total = 0;
    for o in offsets {
        total += o["lag"].as_i64().unwrap();
        assert_eq!(o["lag"].as_i64().unwrap(), o["log_end_offset"].as_i64().unwrap() - o["current_offset"].as_i64().unwrap());
    }
    assert_eq!(described["total_lag"], total);
    assert!(cli(&weir, &["group", "describe", "billing"]).contains("LAG"));

    // Reset offsets: a dry run changes nothing; --execute does.
    let dry = cli_json(&weir, &["group", "reset-offsets", "billing", "--topic", "orders", "--to-latest"]);
    assert_eq!(dry["executed"], false);
    let new: Vec<i64> = dry["offsets"].as_array().unwrap().iter().map(|o| o["new_offset"].as_i64().unwrap()).collect();
    assert_eq!(new, vec![3, 2, 0]);
    assert_eq!(cli_json(&weir, &["group", "describe", "billing"])["total_lag"], total, "a dry run commits nothing");
    assert!(cli(&weir, &["group", "reset-offsets", "billing", "--topic", "orders", "--to-latest"]).contains("dry run"));
    cli_json(&weir, &["group", "reset-offsets", "billing", "--topic", "orders", "--to-latest", "--execute"]);
    assert_eq!(cli_json(&weir, &["group", "describe", "billing"])["total_lag"], 0);
    cli_json(&weir, &["group", "reset-offsets", "billing", "--topic", "orders:0", "--to-offset", "1", "--execute"]);
    let lagging = cli_json(&weir, &["group", "describe", "billing"]);
    assert_eq!(lagging["total_lag"], 2);
    cli_json(&weir, &["group", "reset-offsets", "billing", "--all-topics", "--to-datetime", "2000-01-01T00:00:00Z", "--execute"]);
    assert_eq!(cli_json(&weir, &["group", "describe", "billing"])["total_lag"], 5);
    cli_json(&weir, &["group", "reset-offsets", "billing", "--all-topics", "--to-datetime", "2999-01-01T00:00:00Z", "--execute"]);
    assert_eq!(cli_json(&weir, &["group", "describe", "billing"])["total_lag"], 0);
    cli_json(&weir, &["group", "reset-offsets", "billing", "--all-topics", "--to-earliest", "--execute"]);
    assert_eq!(cli_json(&weir, &["group", "describe", "billing"])["total_lag"], 5);

    // Cluster.
    let cluster = cli_json(&weir, &["cluster", "info"]);
    assert!(cluster["cluster_id"].as_str().is_some_and(|id| !id.is_empty()), "{cluster}");
    assert_eq!(cluster["brokers"].as_array().unwrap().len(), 1);
    assert!(cli(&weir, &["cluster", "info"]).contains("BROKERS"));

    // Delete, and errors reach the user.
    cli_json(&weir, &["topic", "delete", "orders"]);
    assert_eq!(cli_json(&weir, &["topic", "list"]), serde_json::json!([]));
    let missing = weir_cli(&["topic", "describe", "orders", "--bootstrap-server", &weir.addr, "--timeout", "5"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).starts_with("weir: "));
}

#[test]
fn version_names_the_git_revision_and_serve_help_points_to_the_configs() {
    let version = weir_cli(&["--version"]);
    let text = String::from_utf8_lossy(&version.stdout);
    assert!(text.starts_with("weir ") && text.contains("(revision "), "{text}");
    let help = weir_cli(&["serve", "--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("--http-listen") && text.contains("\"Configuration\""), "{text}");
}

/// Logs written to a pipe carry no ANSI escapes; `--log-format json` writes one JSON object
/// per line with the event's fields.
#[test]
fn logs_to_a_pipe_are_plain_and_json_on_request() {
    for json in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", dir.path().to_str().unwrap()];
        if json {
            args.extend(["--log-format", "json"]);
        }
        let mut child = Command::new(weir_binary())
            .args(&args)
            .env("RUST_LOG", "info")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        let addr = line.trim().strip_prefix("listening on ").expect("listening line").to_owned();
        // A connection that closes, so a line with the client's address is logged.
        drop(std::net::TcpStream::connect(&addr).unwrap());
        std::thread::sleep(Duration::from_millis(200));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert!(child.wait().unwrap().success());
        assert!(!stderr.contains('\u{1b}'), "escape bytes in piped logs:\n{stderr}");
        assert!(stderr.contains("weir is serving"), "{stderr}");
        if json {
            let events: Vec<Json> = stderr.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
            assert!(events.iter().all(|e| e["level"].is_string() && e["message"].is_string() && e["timestamp"].is_string()));
            let closed = events.iter().find(|e| e["message"] == "connection closed").expect("connection closed event");
            assert!(closed["client"].as_str().is_some_and(|c| c.starts_with("127.0.0.1:")), "{closed}");
        } else {
            assert!(stderr.lines().any(|l| l.contains("connection closed") && l.contains("client=127.0.0.1:")), "{stderr}");
        }
    }
}

/// The Grafana dashboard only queries series the README documents.
#[test]
fn grafana_dashboard_uses_documented_metrics() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dashboard: Json = serde_json::from_str(&std::fs::read_to_string(root.join("helm/weir/files/weir-dashboard.json")).unwrap()).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut checked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for (at, _) in expr.match_indices("weir_") {
                let name: String = expr[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                let base = name.trim_end_matches("_bucket");
                assert!(readme.contains(&format!("`{base}`")) || readme.contains(&format!("`{base} ")), "{base} is not in the README's metrics table");
                checked += 1;
            }
        }
    }
    assert!(checked > 10);
}
