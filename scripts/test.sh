#!/usr/bin/env bash
# Runs every test: a short fuzzing run of the wire decoders, then the unit tests of each crate
# and the integration tests that start the real `weir` binary and drive it with real Kafka
# clients. Installs the client stacks and the fuzzer first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
bash integration-tests/clients/setup.sh
cargo build --quiet -p weir --bin weir
# A short coverage-guided fuzzing run (fuzz/README.md has the long one).
bash scripts/fuzz.sh --seconds "${WEIR_FUZZ_SECONDS:-30}"
cargo nextest run --workspace --no-fail-fast "$@"
