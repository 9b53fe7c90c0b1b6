#!/usr/bin/env bash
# Runs every test: unit tests of each crate, and integration tests that start the real `weir`
# binary and drive it with real Kafka clients. Installs the client stacks first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
bash integration-tests/clients/setup.sh
cargo build --quiet -p weir --bin weir
cargo nextest run --workspace --no-fail-fast "$@"
