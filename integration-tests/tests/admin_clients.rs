//! Admin APIs driven by two real admin clients, Java kafka-clients' `Admin`
//! (`clients/java/AdminChecks.java`) and confluent-kafka's `AdminClient`
//! (`clients/python/admin_checks.py`), against one `weir serve`. Each program prints one
//! `RESULT <id> PASS|FAIL|UNSUPPORTED <detail>` line per check.
//!
//! - `admin_config_checks`: topic and broker configs (section `configs`), then a restart that
//!   must keep every dynamic config (`configs_survive_restart`).
//! - `admin_lead_checks`: DeleteRecords, DescribeLogDirs, DescribeProducers, ElectLeaders and
//!   partition reassignments (section `lead`).

use std::path::Path;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, AlterConfig, ConfigSource, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use weir_integration_tests::compat::{self, Paths, ProgramRun, Status};
use weir_integration_tests::Weir;

/// An environment variable of a program.
type Env = (&'static str, &'static str);

/// `(stack, command, env)` of each admin program; the words are as in `compat::STACKS`.
const PROGRAMS: &[(&str, &[&str], &[Env])] = &[
    ("java", &["bash", "java/driver.sh"], &[("WEIR_JAVA_MAIN", "AdminChecks")]),
    ("confluent", &["python3", "python/admin_checks.py"], &[]),
];

/// Runs every program's `section` against `weir`; returns the FAIL lines (and programs that
/// printed nothing), each as `stack id: detail`, and the programs' stderr.
fn run_section(weir: &Weir, section: &str) -> (Vec<String>, String) {
    let paths = Paths::new(Path::new(env!("CARGO_BIN_EXE_compat-rdkafka")).parent().expect("bin dir"));
    let mut failures = Vec::new();
    let mut stderr = String::new();
    for (stack, command, env) in PROGRAMS {
        let prefix = format!("adm-{stack}");
        let ProgramRun { stdout, stderr: err, exit } = compat::run_program(command, env, &[&weir.addr, &prefix, section], &paths);
        let lines = compat::result_lines(&stdout);
        if lines.is_empty() || exit != Some(0) {
            failures.push(format!("{stack}: {} RESULT lines, exit {exit:?}", lines.len()));
        }
        failures.extend(lines.iter().filter(|(_, status, _)| *status == Status::Fail).map(|(id, _, detail)| format!("{stack} {id}: {detail}")));
        stderr += &format!("--- {stack} stderr ---\n{err}\n");
    }
    (failures, stderr)
}

#[test]
fn admin_config_checks() {
    compat::install_clients().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let weir = Weir::start(&data, &[]);
    let (mut failures, stderr) = run_section(&weir, "configs");

    // configs_survive_restart: the Java run left `adm-java-full` with every topic config set;
    // add dynamic broker configs, restart, and read them all back.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let admin: AdminClient<DefaultClientContext> = weir.client_config().create().expect("admin client");
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let broker = AlterConfig::new(ResourceSpecifier::Broker(1)).set("log.cleaner.backoff.ms", "20000").set("log.roll.ms", "7200000");
    let altered = runtime.block_on(admin.alter_configs(&[broker], &options)).expect("alter_configs");
    assert!(altered.iter().all(Result::is_ok), "altering broker configs: {altered:?}\n{}", weir.log_text());
    drop(admin);
    let log_before = weir.log_text();
    assert!(weir.terminate().success());
    let weir = Weir::start(&data, &[]);
    let admin: AdminClient<DefaultClientContext> = weir.client_config().create().expect("admin client");
    let described = runtime
        .block_on(admin.describe_configs(&[ResourceSpecifier::Topic("adm-java-full"), ResourceSpecifier::Broker(1)], &options))
        .expect("describe_configs");
    match described.as_slice() {
        [Ok(topic), Ok(broker)] => {
            let overridden = topic.entries.iter().filter(|e| matches!(e.source, ConfigSource::DynamicTopic)).count();
            if overridden != 34 {
                failures.push(format!("configs_survive_restart: {overridden} of 34 topic overrides after restart"));
            }
            let backoff = broker.get("log.cleaner.backoff.ms");
            if !backoff.is_some_and(|e| e.value.as_deref() == Some("20000") && matches!(e.source, ConfigSource::DynamicBroker)) {
                failures.push(format!("configs_survive_restart: broker log.cleaner.backoff.ms after restart: {backoff:?}"));
            }
            // log.roll.ms is the broker synonym of segment.ms: the topic default follows it.
            let segment_ms = topic.get("segment.ms").and_then(|e| e.value.clone());
            if segment_ms.as_deref() != Some("3600000") {
                failures.push(format!("configs_survive_restart: adm-java-full segment.ms {segment_ms:?} (its own override is 3600000)"));
            }
        }
        other => failures.push(format!("configs_survive_restart: describe after restart: {other:?}")),
    }
    let plain = runtime.block_on(admin.describe_configs(&[ResourceSpecifier::Topic("adm-java-plain")], &options)).expect("describe_configs");
    let segment_ms = plain.first().and_then(|r| r.as_ref().ok()).and_then(|r| r.get("segment.ms")).map(|e| (e.value.clone(), format!("{:?}", e.source)));
    if segment_ms != Some((Some("7200000".into()), "DynamicBroker".into())) {
        failures.push(format!("configs_survive_restart: adm-java-plain segment.ms from the dynamic log.roll.ms: {segment_ms:?}"));
    }

    assert!(
        failures.is_empty(),
        "{} admin check(s) failed:\n  {}\n\n{stderr}\n--- broker log (first run) ---\n{log_before}\n--- broker log (after restart) ---\n{}",
        failures.len(),
        failures.join("\n  "),
        weir.log_text()
    );
}

/// The lead's admin APIs (DeleteRecords, DescribeLogDirs, DescribeProducers, ElectLeaders,
/// reassignments). Checks a client has no API for report UNSUPPORTED and do not fail.
#[test]
fn admin_lead_checks() {
    compat::install_clients().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let weir = Weir::start(&dir.path().join("data"), &[]);
    let (failures, stderr) = run_section(&weir, "lead");
    assert!(failures.is_empty(), "{} admin check(s) failed:\n  {}\n\n{stderr}\n--- broker log ---\n{}", failures.len(), failures.join("\n  "), weir.log_text());
}
