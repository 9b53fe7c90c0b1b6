//! Unmodified client stacks against one `weir serve`: the compatibility matrix
//! (`clients/SCENARIOS.md`), and the README's pytest example.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use weir_integration_tests::compat::{self, Paths, STACKS};
use weir_integration_tests::Weir;

/// Every stack runs every scenario it supports against a single broker; none may fail, and the
/// README's table must be the one this run produces.
#[test]
fn client_compatibility_matrix() {
    compat::install_clients().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let weir = Weir::start(&dir.path().join("data"), &[]);
    let paths = Paths::new(Path::new(env!("CARGO_BIN_EXE_compat-rdkafka")).parent().expect("bin dir"));
    let stacks: Vec<_> = STACKS.iter().collect();

    let started = Instant::now();
    let runs = compat::run_matrix(&weir.addr, &stacks, &paths, compat::PARALLEL_DRIVERS);
    let report = compat::markdown_report(&runs, started.elapsed());
    let _ = std::fs::write(paths.target.join("compat-matrix.md"), &report);

    let failures = compat::failure_lines(&runs);
    assert!(failures.is_empty(), "{} scenario(s) failed:\n  {}\n\n{report}\n--- broker log ---\n{}", failures.len(), failures.join("\n  "), weir.log_text());

    let readme = std::fs::read_to_string(compat::readme_path()).expect("read README");
    let expected = compat::readme_with_table(&readme, &compat::markdown_table(&runs)).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        readme == expected,
        "the README's client compatibility table differs from this run; regenerate it with \
         `cargo run -p weir-integration-tests --bin compat-matrix -- --update-readme`\n\n{}",
        compat::markdown_table(&runs)
    );
}

/// The README's pytest fixture (`examples/python`), run as a user would run it.
#[test]
fn readme_python_fixture_example() {
    compat::install_clients().unwrap_or_else(|e| panic!("{e}"));
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
