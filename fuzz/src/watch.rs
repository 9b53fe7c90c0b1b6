//! Findings that are not a plain crash: panics that Weir's `catch_unwind` swallowed, and inputs
//! that make the process's resident memory balloon. The entry points call [`run`] around every
//! input.
//!
//! Environment (all optional):
//! - `WEIR_FUZZ_STRICT=1`: a panic caught inside the decoder aborts (so AFL++ saves it as a crash).
//! - `WEIR_FUZZ_CAUGHT_DIR=<dir>`: otherwise, one input per distinct caught-panic location is
//!   written there (the file name is the location), and fuzzing goes on.
//! - `WEIR_FUZZ_RSS_MB=<n>` (default 2048): abort when the peak resident set exceeds this, which
//!   catches decompression bombs and large buffers really written (an untouched `MAP_NORESERVE`
//!   reservation from the allocation guard costs no resident memory and does not count).

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::OnceLock;

struct Settings {
    strict: bool,
    caught_dir: Option<std::path::PathBuf>,
    rss_limit_kb: i64,
}

fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| Settings {
        strict: std::env::var("WEIR_FUZZ_STRICT").is_ok_and(|v| v == "1"),
        caught_dir: std::env::var_os("WEIR_FUZZ_CAUGHT_DIR").map(Into::into),
        rss_limit_kb: std::env::var("WEIR_FUZZ_RSS_MB").ok().and_then(|v| v.parse::<i64>().ok()).unwrap_or(2048) * 1024,
    })
}

thread_local! {
    static INPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    static SAVED: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

/// Installs the panic hook: it remembers where the last panic happened, and prints it (a panic
/// that escapes is a crash, and its message is what a reproduction shows).
pub fn install() {
    let _ = settings();
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map_or_else(|| "unknown".to_owned(), |l| format!("{}:{}", l.file(), l.line()));
        eprintln!("panic at {location}: {}", info.payload_as_str().unwrap_or("(non-string payload)"));
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(location));
    }));
}

/// Runs one input through a harness and checks the process's peak memory afterwards.
pub fn run(data: &[u8], harness: fn(&[u8])) {
    let s = settings();
    if s.caught_dir.is_some() {
        INPUT.with(|i| {
            let mut i = i.borrow_mut();
            i.clear();
            i.extend_from_slice(data);
        });
    }
    harness(data);
    let peak_kb = peak_rss_kb();
    if peak_kb > s.rss_limit_kb {
        eprintln!("resident memory peaked at {} MiB (limit {} MiB)", peak_kb / 1024, s.rss_limit_kb / 1024);
        std::process::abort();
    }
}

/// Called by a harness when Weir's unwind guard caught a panic in a decoder.
pub fn caught_panic() {
    let s = settings();
    if s.strict {
        eprintln!("a decoder panic was caught by Weir's guard (WEIR_FUZZ_STRICT=1: treating it as a crash)");
        std::process::abort();
    }
    let Some(dir) = &s.caught_dir else { return };
    let Some(location) = LAST_PANIC.with(|p| p.borrow_mut().take()) else { return };
    if !SAVED.with(|saved| saved.borrow_mut().insert(location.clone())) {
        return;
    }
    let name: String = location.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect();
    let path = dir.join(name);
    if !path.exists() {
        let _ = std::fs::create_dir_all(dir);
        INPUT.with(|i| {
            let _ = std::fs::write(&path, &*i.borrow());
        });
    }
}

fn peak_rss_kb() -> i64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    usage.ru_maxrss
}
