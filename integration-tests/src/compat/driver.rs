//! What the Rust drivers (`compat-rdkafka`, `compat-rskafka`) share: the runner that prints
//! one RESULT line per scenario, the records each scenario sends and the record-by-record
//! comparison. Mirrors `clients/python/matrix.py`; the contract is `clients/SCENARIOS.md`.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{Status, NEEDS, SCENARIOS};

/// What a scenario returns: a one-line summary of what it checked, or what went wrong.
pub type Checked = Result<String, String>;
pub type ScenarioFuture<'a> = Pin<Box<dyn Future<Output = Checked> + 'a>>;

/// How a driver answers for one scenario id.
pub enum Step<'a> {
    Run(ScenarioFuture<'a>),
    /// The client library has no way to do this; the reason is shown in the README.
    Unsupported(&'static str),
}

/// Longest wait of any single step.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(20);
const DRIVER_TIMEOUT: Duration = Duration::from_secs(120);

/// Returns `Err(message)` from the enclosing scenario unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// `(bootstrap, prefix)` from the command line.
pub fn args() -> (String, String) {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: {} BOOTSTRAP PREFIX", args.first().map(String::as_str).unwrap_or("driver"));
        std::process::exit(2);
    }
    (args[1].clone(), args[2].clone())
}

/// Runs every scenario in [`SCENARIOS`] order and prints its RESULT line; `step` says how
/// the driver does each id.
pub async fn run<'a>(stack: &str, mut step: impl FnMut(&'static str) -> Step<'a>) {
    let stack = stack.to_owned();
    std::thread::spawn(move || {
        std::thread::sleep(DRIVER_TIMEOUT);
        eprintln!("[{stack}] driver timed out after {DRIVER_TIMEOUT:?}");
        std::process::exit(3);
    });
    let mut passed: Vec<&str> = Vec::new();
    for &(id, _) in SCENARIOS {
        let started = Instant::now();
        let unmet = NEEDS.iter().find(|(scenario, need)| *scenario == id && !passed.contains(need)).map(|(_, need)| *need);
        let (status, detail) = match (step(id), unmet) {
            (Step::Unsupported(why), _) => (Status::Unsupported, why.to_owned()),
            (Step::Run(_), Some(need)) => (Status::Fail, format!("needs {need}")),
            (Step::Run(scenario), None) => match scenario.await {
                Ok(summary) => {
                    passed.push(id);
                    (Status::Pass, format!("{summary} ({:.1}s)", started.elapsed().as_secs_f64()))
                }
                Err(why) => (Status::Fail, why),
            },
        };
        println!("RESULT {id} {} {}", status.word(), detail.split_whitespace().collect::<Vec<_>>().join(" "));
    }
}

/// A record as sent, or as received (then `partition`/`offset` are set).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rec {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// CreateTime in ms; `None`: not set (sent) or not exposed (received).
    pub timestamp: Option<i64>,
    pub partition: i32,
    pub offset: i64,
}

/// CreateTime base of the records that carry explicit timestamps: an hour ago, whole seconds.
pub fn t0() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default();
    (now - 3600) * 1000
}

/// `n` plain keyed records; with `base_ts`, record i has CreateTime `base_ts + i*1000`.
pub fn keyed_records(tag: &str, n: usize, base_ts: Option<i64>) -> Vec<Rec> {
    (0..n)
        .map(|i| Rec {
            key: Some(format!("{tag}-key-{i}").into_bytes()),
            value: Some(format!("{tag}-value-{i}").into_bytes()),
            timestamp: base_ts.map(|t| t + i as i64 * 1000),
            ..Rec::default()
        })
        .collect()
}

/// The 30 records of `keys_headers_nulls` (same as matrix.py's `tricky_records`).
pub fn tricky_records(null_header_values: bool, repeated_header_keys: bool, base_ts: i64) -> Vec<Rec> {
    (0..30u8)
        .map(|i| {
            let mut headers = Vec::new();
            if i % 3 != 0 {
                headers.push(("seq".to_owned(), Some(i.to_string().into_bytes())));
                headers.push(("dup".to_owned(), Some(b"first".to_vec())));
                if repeated_header_keys {
                    headers.push(("dup".to_owned(), Some(b"second".to_vec())));
                }
                if i % 4 == 1 && null_header_values {
                    headers.push(("null-value".to_owned(), None));
                }
            }
            let mut value = format!("value-{i}-").into_bytes();
            value.extend(std::iter::repeat_n(i.wrapping_mul(7), i as usize));
            Rec {
                key: (i != 3).then(|| format!("key-{i}").into_bytes()),
                value: match i {
                    4 => None,
                    5 => Some(Vec::new()),
                    _ => Some(value),
                },
                headers,
                timestamp: Some(base_ts + i as i64),
                ..Rec::default()
            }
        })
        .collect()
}

/// All of `sent` (in send order) must be `got`, on `partition` at consecutive offsets from
/// `first_offset`, field by field, with nothing extra.
pub fn compare(sent: &[Rec], got: &[Rec], partition: i32, first_offset: i64) -> Result<(), String> {
    let mut got = got.to_vec();
    got.sort_by_key(|r| (r.partition, r.offset));
    let mut problems = Vec::new();
    if got.len() != sent.len() {
        problems.push(format!("got {} records, sent {}", got.len(), sent.len()));
    }
    for (i, (want, have)) in sent.iter().zip(&got).enumerate() {
        let offset = first_offset + i as i64;
        if (have.partition, have.offset) != (partition, offset) {
            problems.push(format!("record {i}: at {}/{}, want {partition}/{offset}", have.partition, have.offset));
        }
        field_problems(&format!("record {i}"), want, have, &mut problems);
        if let (Some(w), Some(h)) = (want.timestamp, have.timestamp) {
            if w != h {
                problems.push(format!("record {i}: timestamp {h} != {w}"));
            }
        }
    }
    verdict(problems)
}

/// How record `have` differs from `want` in key, value and headers, added to `problems`.
fn field_problems(at: &str, want: &Rec, have: &Rec, problems: &mut Vec<String>) {
    if have.key != want.key {
        problems.push(format!("{at}: key {} != {}", short(&have.key), short(&want.key)));
    }
    if have.value != want.value {
        problems.push(format!("{at}: value {} != {}", short(&have.value), short(&want.value)));
    }
    if have.headers != want.headers {
        problems.push(format!("{at}: headers {:?} != {:?}", have.headers, want.headers));
    }
}

/// A comparison's outcome: the first five problems, if any.
fn verdict(mut problems: Vec<String>) -> Result<(), String> {
    if problems.is_empty() {
        return Ok(());
    }
    let more = problems.len().saturating_sub(5);
    problems.truncate(5);
    Err(problems.join("; ") + &if more > 0 { format!(" (+{more} more)") } else { String::new() })
}

/// Records `tag`0..`tag`9 of the `transactions` scenario (key = value).
pub fn txn_records(tag: &str) -> Vec<Rec> {
    (0..10)
        .map(|i| {
            let text = format!("{tag}{i}").into_bytes();
            Rec { key: Some(text.clone()), value: Some(text), ..Rec::default() }
        })
        .collect()
}

/// What `send_offsets_to_transaction` writes for `records`: the same keys, values upper-cased.
pub fn upper(records: &[Rec]) -> Vec<Rec> {
    records
        .iter()
        .map(|r| Rec { key: r.key.clone(), value: r.value.as_ref().map(|v| v.to_ascii_uppercase()), ..Rec::default() })
        .collect()
}

/// Reads of transactional records: control records take offsets too, so `got` (in the order
/// received) must be `sent` in order on `partition` at strictly increasing offsets; with
/// `acked` (offsets in send order), exactly at those.
pub fn compare_in_order(sent: &[Rec], got: &[Rec], acked: Option<&[i64]>, partition: i32) -> Result<(), String> {
    let mut problems = Vec::new();
    if got.len() != sent.len() {
        let values = |recs: &[Rec]| recs.iter().take(12).map(|r| short(&r.value)).collect::<Vec<_>>().join(", ");
        problems.push(format!("got {} records [{}], want {} [{}]", got.len(), values(got), sent.len(), values(sent)));
    }
    for (i, (want, have)) in sent.iter().zip(got).enumerate() {
        let at = format!("record {i} ({})", short(&want.value));
        if have.partition != partition {
            problems.push(format!("{at}: on partition {}, want {partition}", have.partition));
        }
        if let Some(offset) = acked.and_then(|a| a.get(i)) {
            if have.offset != *offset {
                problems.push(format!("{at}: at offset {}, acked at {offset}", have.offset));
            }
        }
        if i > 0 && have.offset <= got[i - 1].offset {
            problems.push(format!("{at}: offset {} after {}", have.offset, got[i - 1].offset));
        }
        field_problems(&at, want, have, &mut problems);
    }
    verdict(problems)
}

/// For reads across partitions (groups): every sent record arrives exactly once, by key.
pub fn compare_exactly_once(sent: &[Rec], got: &[Rec]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for r in got {
        ensure!(seen.insert(&r.key), "record {} received twice", short(&r.key));
        let want = sent.iter().find(|s| s.key == r.key).ok_or_else(|| format!("unexpected record {}", short(&r.key)))?;
        ensure!(want.value == r.value, "record {}: value {} != {}", short(&r.key), short(&r.value), short(&want.value));
    }
    let missing = sent.iter().filter(|s| !seen.contains(&s.key)).count();
    ensure!(missing == 0, "{missing} of {} records never received", sent.len());
    Ok(())
}

fn short(bytes: &Option<Vec<u8>>) -> String {
    match bytes {
        None => "None".to_owned(),
        Some(b) => format!("{} bytes {:?}", b.len(), String::from_utf8_lossy(&b[..b.len().min(20)])),
    }
}

/// Polls `check` until it returns `Some`, for at most [`STEP_TIMEOUT`]; the error names `what`
/// and the last answer.
pub async fn wait_until<T, F, Fut>(what: &str, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, String>>,
{
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let last = match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => "not yet".to_owned(),
            Err(e) => e,
        };
        ensure!(Instant::now() < deadline, "{what} not true after {STEP_TIMEOUT:?} (last: {last})");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
