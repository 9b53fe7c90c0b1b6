//! The client compatibility matrix: starts one `weir serve` (or uses `--bootstrap`), runs every
//! client stack's driver against it and writes `target/compat-matrix.{md,json}`.
//!
//!     cargo run -p weir-integration-tests --bin compat-matrix -- [--update-readme]
//!         [--bootstrap HOST:PORT] [--only STACK,STACK]
//!
//! `--update-readme` rewrites the README's "Client compatibility" table from this run.
//! Exits 1 if any scenario failed.

use std::process::ExitCode;
use std::time::Instant;

use weir_integration_tests::compat::{self, Paths, STACKS};
use weir_integration_tests::{build_rust_drivers, Weir};

fn main() -> ExitCode {
    let mut update_readme = false;
    let mut bootstrap = None;
    let mut only: Option<Vec<String>> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--update-readme" => update_readme = true,
            "--bootstrap" => bootstrap = args.next(),
            "--only" => only = args.next().map(|list| list.split(',').map(str::to_owned).collect()),
            _ => {
                eprintln!("usage: compat-matrix [--update-readme] [--bootstrap HOST:PORT] [--only STACK,STACK]");
                return ExitCode::from(2);
            }
        }
    }
    let stacks: Vec<_> = STACKS.iter().filter(|s| only.as_ref().is_none_or(|o| o.iter().any(|id| id == s.id))).collect();
    if update_readme && stacks.len() != STACKS.len() {
        eprintln!("--update-readme needs every stack (drop --only)");
        return ExitCode::from(2);
    }
    if let Err(e) = compat::install_clients() {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    let paths = Paths::new(&build_rust_drivers());
    let data = tempfile::tempdir().expect("temp dir");
    let broker = bootstrap.is_none().then(|| Weir::start(&data.path().join("data"), &[]));
    let bootstrap = bootstrap.unwrap_or_else(|| broker.as_ref().map(|b| b.addr.clone()).unwrap_or_default());

    let started = Instant::now();
    let runs = compat::run_matrix(&bootstrap, &stacks, &paths, compat::PARALLEL_DRIVERS);
    let report = compat::markdown_report(&runs, started.elapsed());
    let json = serde_json::to_string_pretty(&runs).unwrap_or_default();
    for (name, text) in [("compat-matrix.md", &report), ("compat-matrix.json", &json)] {
        if let Err(e) = std::fs::write(paths.target.join(name), text) {
            eprintln!("writing target/{name}: {e}");
        }
    }
    print!("{}", compat::markdown_table(&runs));
    println!("\nwall time {:.1} s; full report in {}", started.elapsed().as_secs_f64(), paths.target.join("compat-matrix.md").display());

    if update_readme {
        let path = compat::readme_path();
        let updated = std::fs::read_to_string(&path).map_err(|e| e.to_string()).and_then(|readme| compat::readme_with_table(&readme, &compat::markdown_table(&runs)));
        match updated.and_then(|text| std::fs::write(&path, text).map_err(|e| e.to_string())) {
            Ok(()) => println!("README table updated"),
            Err(e) => {
                eprintln!("updating README: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let failed = compat::failure_lines(&runs);
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("\nFAILED:\n  {}", failed.join("\n  "));
        ExitCode::FAILURE
    }
}
