#!/usr/bin/env bash
# Runs every test: unit tests of each crate, and integration tests that start the real `weir`
# binary and drive it with real Kafka clients, then a short fuzzing run. Installs the client
# stacks (and the fuzzer) first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
bash integration-tests/clients/setup.sh
cargo build --quiet -p weir --bin weir
cargo nextest run --workspace --no-fail-fast "$@"
# A short coverage-guided fuzzing run of the wire decoders (fuzz/README.md has the long one).
bash scripts/fuzz.sh --seconds "${WEIR_FUZZ_SECONDS:-30}"
