//! The client compatibility matrix: every client stack's driver (`clients/SCENARIOS.md`) runs
//! against one broker, and their RESULT lines become the stack × scenario matrix shown as the
//! README's "Client compatibility" table.

pub mod driver;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Scenario ids in table order, with their row labels (`clients/SCENARIOS.md` defines them).
pub const SCENARIOS: &[(&str, &str)] = &[
    ("create_topics", "Create topics"),
    ("describe_topics", "Describe topics (metadata)"),
    ("describe_configs", "Describe configs"),
    ("create_partitions", "Create partitions"),
    ("describe_cluster", "Describe cluster"),
    ("delete_topics", "Delete topics"),
    ("keys_headers_nulls", "Keys, headers, null key/value"),
    ("codec_none", "Produce uncompressed"),
    ("codec_gzip", "Produce gzip"),
    ("codec_snappy", "Produce snappy"),
    ("codec_lz4", "Produce lz4"),
    ("codec_zstd", "Produce zstd"),
    ("acks_0", "acks=0"),
    ("acks_1", "acks=1"),
    ("acks_all", "acks=all"),
    ("idempotent", "Idempotent producer"),
    ("assign_seek", "Consume: assign + seek"),
    ("offsets_for_times", "Consume: offsets for times"),
    ("group_commit", "Consume: group subscribe + commit"),
    ("committed_offsets", "Read committed offsets"),
    ("transactions", "Transactions: commit, abort, read_committed"),
    ("send_offsets_to_transaction", "Transactions: send offsets (consume-transform-produce)"),
];

/// Scenarios that only make sense after another one passed.
pub const NEEDS: &[(&str, &str)] = &[
    ("describe_topics", "create_topics"),
    ("describe_configs", "create_topics"),
    ("create_partitions", "create_topics"),
    ("delete_topics", "create_topics"),
    ("committed_offsets", "group_commit"),
];

/// Drivers run at once: enough to overlap JVM and interpreter start-up on 2 cores.
pub const PARALLEL_DRIVERS: usize = 3;

/// The longest a driver may run before it is killed and its missing lines count as failures.
const DRIVER_DEADLINE_SECS: u32 = 150;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Status {
    Pass,
    Fail,
    Unsupported,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Unsupported => "UNSUPPORTED",
        }
    }
}

/// One client stack and how to run its driver.
pub struct Stack {
    pub id: &'static str,
    /// Column header in the README table.
    pub label: &'static str,
    /// Program and arguments before `BOOTSTRAP PREFIX`; relative paths are under `clients/`,
    /// `{bin}/` is the directory of the Rust driver binaries.
    command: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

/// Every stack, in README column order.
pub const STACKS: &[Stack] = &[
    Stack { id: "java", label: "Java kafka-clients 3.9.1", command: &["bash", "java/driver.sh"], env: &[] },
    Stack { id: "confluent", label: "confluent-kafka 2.16.1 (librdkafka 2.16.0)", command: &["python3", "python/confluent_driver.py"], env: &[] },
    Stack {
        id: "kcat-2.16",
        label: "kcat 1.7.1 on librdkafka 2.16.0",
        command: &["python3", "python/kcat_driver.py"],
        env: &[("WEIR_KCAT_LIBRDKAFKA_DIR", "{target}/clients-kcat/librdkafka-2.16"), ("WEIR_KCAT_EXPECT_LIBRDKAFKA", "2.16.0")],
    },
    Stack {
        id: "kcat-2.0",
        label: "kcat 1.7.1 on librdkafka 2.0.2 (Debian 12)",
        command: &["python3", "python/kcat_driver.py"],
        env: &[("WEIR_KCAT_EXPECT_LIBRDKAFKA", "2.0.2")],
    },
    Stack { id: "kafka-python", label: "kafka-python 3.0.12", command: &["python3", "python/kafka_python_driver.py"], env: &[] },
    Stack { id: "aiokafka", label: "aiokafka 0.14.0", command: &["python3", "python/aiokafka_driver.py"], env: &[] },
    Stack { id: "kafkajs", label: "kafkajs 2.2.4", command: &["node", "node/driver.js"], env: &[] },
    Stack { id: "rdkafka", label: "rdkafka crate 0.39 (librdkafka 2.12.1)", command: &["{bin}/compat-rdkafka"], env: &[] },
    Stack { id: "rskafka", label: "rskafka crate 0.6.0", command: &["{bin}/compat-rskafka"], env: &[] },
];

/// Where things are: the client scripts, the Rust driver binaries, the cargo target dir.
pub struct Paths {
    pub clients: PathBuf,
    pub rust_drivers: PathBuf,
    pub target: PathBuf,
}

impl Paths {
    /// `rust_drivers`: the directory holding `compat-rdkafka` and `compat-rskafka`.
    pub fn new(rust_drivers: &Path) -> Paths {
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| crate_dir.parent().expect("workspace root").join("target"));
        Paths { clients: crate_dir.join("clients"), rust_drivers: rust_drivers.to_owned(), target }
    }

    fn expand(&self, word: &str) -> String {
        let word = word
            .replace("{bin}", &self.rust_drivers.to_string_lossy())
            .replace("{target}", &self.target.to_string_lossy());
        if word.contains('/') && !word.starts_with('/') {
            self.clients.join(word).to_string_lossy().into_owned()
        } else {
            word
        }
    }
}

/// Runs `clients/setup.sh`, which installs every client (idempotent; fast once installed).
pub fn install_clients() -> Result<(), String> {
    let setup = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/setup.sh");
    let output = Command::new("bash").arg(setup).stdin(Stdio::null()).output().map_err(|e| format!("run setup.sh: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("setup.sh failed:\n{}", String::from_utf8_lossy(&output.stderr)))
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub status: Status,
    pub detail: String,
}

/// What one driver reported.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StackRun {
    pub stack: &'static str,
    pub label: &'static str,
    pub outcomes: BTreeMap<&'static str, Outcome>,
    pub seconds: f64,
    /// The driver's exit code and stderr, for diagnosing failures.
    pub exit: Option<i32>,
    pub stderr: String,
}

/// One line per failed scenario: `stack scenario: detail`.
pub fn failure_lines(runs: &[StackRun]) -> Vec<String> {
    runs.iter()
        .flat_map(|r| r.outcomes.iter().filter(|(_, o)| o.status == Status::Fail).map(move |(id, o)| format!("{} {id}: {}", r.stack, o.detail)))
        .collect()
}

/// Runs the drivers of `stacks` against `bootstrap`, `parallel` at a time.
pub fn run_matrix(bootstrap: &str, stacks: &[&'static Stack], paths: &Paths, parallel: usize) -> Vec<StackRun> {
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() % 100_000_000).unwrap_or_default();
    let queue = Mutex::new(stacks.iter().enumerate());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..parallel.max(1) {
            scope.spawn(|| loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some((index, stack)) = next else { break };
                let prefix = format!("m{stamp}-{}", stack.id);
                let run = run_driver(stack, bootstrap, &prefix, paths);
                results.lock().unwrap_or_else(|e| e.into_inner()).push((index, run));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, run)| run).collect()
}

fn run_driver(stack: &'static Stack, bootstrap: &str, prefix: &str, paths: &Paths) -> StackRun {
    let started = Instant::now();
    let ProgramRun { stdout, stderr, exit } = run_program(stack.command, stack.env, &[bootstrap, prefix], paths);
    let mut outcomes = parse_results(&stdout);
    for &(id, _) in SCENARIOS {
        outcomes.entry(id).or_insert_with(|| Outcome {
            status: Status::Fail,
            detail: format!("no RESULT line (driver exit {exit:?})"),
        });
    }
    StackRun { stack: stack.id, label: stack.label, outcomes, seconds: started.elapsed().as_secs_f64(), exit, stderr }
}

/// What a client program printed, and how it ended.
pub struct ProgramRun {
    pub stdout: String,
    pub stderr: String,
    /// `None`: killed by a signal, or it could not start (then `stderr` says why).
    pub exit: Option<i32>,
}

/// Runs a client program: `command` (words as in [`Stack`]: relative paths under `clients/`,
/// `{bin}`/`{target}` expanded) with `args`, in `clients/`, with `env`, killed after
/// [`DRIVER_DEADLINE_SECS`].
pub fn run_program(command: &[&str], env: &[(&str, &str)], args: &[&str], paths: &Paths) -> ProgramRun {
    let output = Command::new("timeout")
        .args(["-k", "5", &DRIVER_DEADLINE_SECS.to_string()])
        .args(command.iter().map(|word| paths.expand(word)))
        .args(args)
        // `cargo run`/`cargo test` put build dirs holding their own librdkafka on the library
        // path; a stack must load the libraries it ships with, as it would for a user.
        .env_remove("LD_LIBRARY_PATH")
        .envs(env.iter().map(|(k, v)| (*k, paths.expand(v))))
        .current_dir(&paths.clients)
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(out) => ProgramRun {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            exit: out.status.code(),
        },
        Err(e) => ProgramRun { stdout: String::new(), stderr: format!("could not start {command:?}: {e}"), exit: None },
    }
}

/// The `RESULT <id> <STATUS> <detail>` lines of `stdout` as `(id, status, detail)`, in order;
/// other and malformed lines are skipped.
pub fn result_lines(stdout: &str) -> Vec<(&str, Status, &str)> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut words = line.trim_end().splitn(4, ' ');
            if words.next() != Some("RESULT") {
                return None;
            }
            let (id, status) = (words.next()?, words.next()?);
            let status = match status {
                "PASS" => Status::Pass,
                "FAIL" => Status::Fail,
                "UNSUPPORTED" => Status::Unsupported,
                _ => return None,
            };
            Some((id, status, words.next().unwrap_or("")))
        })
        .collect()
}

/// The RESULT lines of the matrix scenarios; unknown ids and malformed lines are ignored.
fn parse_results(stdout: &str) -> BTreeMap<&'static str, Outcome> {
    let mut outcomes = BTreeMap::new();
    for (id, status, detail) in result_lines(stdout) {
        let Some(&(id, _)) = SCENARIOS.iter().find(|(known, _)| *known == id) else { continue };
        // A scenario reported twice keeps its first line.
        outcomes.entry(id).or_insert(Outcome { status, detail: detail.to_owned() });
    }
    outcomes
}

/// The README table: scenarios × stacks, with the unsupported reasons as numbered notes.
/// Deterministic (no timings), so the README can be checked against a fresh run.
pub fn markdown_table(runs: &[StackRun]) -> String {
    let mut notes: Vec<String> = Vec::new();
    let mut out = String::from("| Scenario |");
    for run in runs {
        out += &format!(" {} |", run.label);
    }
    out += "\n|---|";
    out += &"---|".repeat(runs.len());
    out += "\n";
    for &(id, label) in SCENARIOS {
        out += &format!("| {label} |");
        for run in runs {
            let cell = match run.outcomes.get(id) {
                Some(Outcome { status: Status::Pass, .. }) => "✅".to_owned(),
                Some(Outcome { status: Status::Unsupported, detail }) => {
                    // Reasons name their client, so stacks sharing a client share a note.
                    let number = match notes.iter().position(|n| n == detail) {
                        Some(i) => i + 1,
                        None => {
                            notes.push(detail.clone());
                            notes.len()
                        }
                    };
                    format!("n/a [{number}]")
                }
                _ => "❌".to_owned(),
            };
            out += &format!(" {cell} |");
        }
        out += "\n";
    }
    if !notes.is_empty() {
        out += "\nn/a: the client library cannot do this.\n\n";
        for (i, note) in notes.iter().enumerate() {
            out += &format!("{}. {note}\n", i + 1);
        }
    }
    out
}

/// Everything each driver said, with timings: the matrix's full report.
pub fn markdown_report(runs: &[StackRun], wall: Duration) -> String {
    let mut out = format!("# Client compatibility matrix\n\nWall time: {:.1} s\n\n", wall.as_secs_f64());
    out += &markdown_table(runs);
    for run in runs {
        let exit = run.exit.map_or_else(|| "by signal".to_owned(), |code| code.to_string());
        out += &format!("\n## {} ({:.1} s, exit {exit})\n\n", run.label, run.seconds);
        for &(id, _) in SCENARIOS {
            if let Some(o) = run.outcomes.get(id) {
                out += &format!("- `{id}` {}: {}\n", o.status.word(), o.detail);
            }
        }
        if run.outcomes.values().any(|o| o.status == Status::Fail) {
            out += &format!("\n```\n{}\n```\n", tail(&run.stderr, 60));
        }
    }
    out
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

const README_BEGIN: &str = "<!-- compat-matrix:begin (generated: cargo run -p weir-integration-tests --bin compat-matrix -- --update-readme) -->";
const README_END: &str = "<!-- compat-matrix:end -->";

pub fn readme_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")
}

/// The README with its generated table replaced by `table`.
pub fn readme_with_table(readme: &str, table: &str) -> Result<String, String> {
    let begin = readme.find(README_BEGIN).ok_or("README has no compat-matrix:begin marker")?;
    let end = readme.find(README_END).ok_or("README has no compat-matrix:end marker")?;
    if end < begin {
        return Err("README's compat-matrix markers are out of order".into());
    }
    Ok(format!("{}{README_BEGIN}\n{table}{}", &readme[..begin], &readme[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_parse_and_missing_lines_fail() {
        let parsed = parse_results("noise\nRESULT codec_gzip PASS 50 records\nRESULT acks_0 UNSUPPORTED no acks\nRESULT bogus PASS x\n");
        assert_eq!(parsed["codec_gzip"].status, Status::Pass);
        assert_eq!(parsed["codec_gzip"].detail, "50 records");
        assert_eq!(parsed["acks_0"].status, Status::Unsupported);
        assert!(!parsed.contains_key("bogus"));
    }

    #[test]
    fn readme_table_is_replaced_between_markers() {
        let readme = format!("intro\n{README_BEGIN}\nold\n{README_END}\nrest\n");
        let updated = readme_with_table(&readme, "| new |\n").unwrap();
        assert_eq!(updated, format!("intro\n{README_BEGIN}\n| new |\n{README_END}\nrest\n"));
    }
}
