#!/usr/bin/env bash
# Runs every test: a short fuzzing run of the wire decoders, a bounded fault-injection run, then
# the unit tests of each crate and the integration tests that start the real `weir` binary and
# drive it with real Kafka clients. Installs the client stacks and the fuzzer first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
bash integration-tests/clients/setup.sh
cargo build --quiet -p weir --bin weir
# A short coverage-guided fuzzing run (fuzz/README.md has the long one).
bash scripts/fuzz.sh --seconds "${WEIR_FUZZ_SECONDS:-30}"
# Fault injection (integration-tests/faults/README.md): the checker's and the harness's own
# tests, then a bounded run (10 fault cycles: about 70 s on one broker, 80 s on three). One
# broker until the cluster mode lands (kill -9 and pause only); then set FAULTS_BROKERS=3 (all
# the faults: also leader kills and network partitions through the harness's proxies).
FAULTS_BROKERS="${WEIR_FAULTS_BROKERS:-1}"
python3 -m pytest -q -p no:cacheprovider integration-tests/faults
python3 integration-tests/faults/harness.py --weir target/debug/weir --brokers "$FAULTS_BROKERS" \
    --cycles 10 --seed "${WEIR_FAULTS_SEED:-1}"
cargo nextest run --workspace --no-fail-fast "$@"
