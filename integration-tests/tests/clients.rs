//! Unmodified client stacks against one `weir serve` each: every script under `clients/`
//! creates a topic, produces with its client's defaults, reads everything back and compares
//! record by record. `clients/setup.sh` installs the clients (CI runs it first).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use weir_integration_tests::Weir;

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// Runs `clients/setup.sh` (idempotent; fast once everything is installed).
fn install_clients() {
    let setup = Command::new("bash").arg(clients_dir().join("setup.sh")).output().expect("run setup.sh");
    assert!(setup.status.success(), "setup.sh failed:\n{}", String::from_utf8_lossy(&setup.stderr));
}

fn run_stack(name: &str, program: &str, script: &str, extra: &[&str]) {
    run_stack_with_env(name, program, script, extra, &[]);
}

fn run_stack_with_env(name: &str, program: &str, script: &str, extra: &[&str], env: &[(&str, &str)]) {
    install_clients();
    let dir = tempfile::tempdir().unwrap();
    let weir = Weir::start(&dir.path().join("data"), &[]);
    let started = Instant::now();
    let child = Command::new("timeout")
        .args(["-k", "5", "150", program])
        .arg(clients_dir().join(script))
        .arg(&weir.addr)
        .arg(format!("it-{name}"))
        .args(extra)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run client script");
    let output = String::from_utf8_lossy(&child.stdout).into_owned() + &String::from_utf8_lossy(&child.stderr);
    assert!(
        child.status.success(),
        "{name} failed after {:?}:\n{output}\n--- broker log ---\n{}",
        started.elapsed(),
        weir.log_text()
    );
    assert!(started.elapsed() < Duration::from_secs(150));
}

#[test]
fn confluent_kafka_librdkafka_2_16() {
    run_stack("confluent", "python3", "confluent_roundtrip.py", &[]);
}

#[test]
fn kafka_python() {
    run_stack("kafka-python", "python3", "kafka_python_roundtrip.py", &[]);
}

#[test]
fn java_kafka_clients_3_9() {
    run_stack("java", "bash", "java/roundtrip.sh", &[]);
}

#[test]
fn kafkajs_produce() {
    // kafkajs reads only through consumer groups; its full round trip arrives with them.
    run_stack("kafkajs", "node", "node/roundtrip.js", &["produce-only"]);
}

#[test]
fn kcat_debian_librdkafka_2_0() {
    run_stack("kcat", "bash", "kcat_roundtrip.sh", &[]);
}

/// The README's pytest fixture (`examples/python`), run as a user would run it.
#[test]
fn readme_python_fixture_example() {
    install_clients();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/python");
    let output = Command::new("timeout")
        .args(["-k", "5", "120", "python3", "-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(&examples)
        .env("WEIR_BIN", weir_integration_tests::weir_binary())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run pytest");
    assert!(
        output.status.success(),
        "pytest failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn kafkajs_consumer_group() {
    run_stack("kafkajs-group", "node", "node/roundtrip.js", &[]);
}

#[test]
fn java_consumer_group_with_admin() {
    run_stack_with_env("java-group", "bash", "java/roundtrip.sh", &[], &[("JAVA_MAIN", "GroupRoundTrip")]);
}

#[test]
fn confluent_kafka_consumer_group() {
    run_stack("confluent-group", "python3", "confluent_group.py", &[]);
}

#[test]
fn aiokafka() {
    run_stack("aiokafka", "python3", "aiokafka_roundtrip.py", &[]);
}
