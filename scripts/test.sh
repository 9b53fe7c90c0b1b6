#!/usr/bin/env bash
# Runs every test: the Helm chart's offline checks (helm/test.sh), the chart's rendered pods run
# as a 3-broker cluster (helm/test.sh --run-pods), a short fuzzing run of the wire decoders,
# bounded fault-injection runs on a 3-broker cluster (idempotent and transactional), then the
# unit tests of each crate and the integration tests that start the real `weir` binary and
# drive it with real Kafka clients.
# Installs the client stacks, helm and the fuzzer first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
bash integration-tests/clients/setup.sh
# The chart: helm lint, Kubernetes schema validation, template tests (a few seconds).
bash helm/test.sh
cargo build --quiet -p weir --bin weir
# The chart's rendered pods run for real: three brokers started with the StatefulSet's rendered
# command and environment, a rolling restart through each pod's preStop drain (about 15 s).
WEIR_BIN="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/debug/weir" bash helm/test.sh --run-pods
# A short coverage-guided fuzzing run (fuzz/README.md has the long one).
bash scripts/fuzz.sh --seconds "${WEIR_FUZZ_SECONDS:-30}"
# Fault injection (integration-tests/faults/README.md): the checker's and the harness's own
# tests, then bounded runs: 10 fault cycles on 3 brokers (kill -9 of a broker, a leader or a
# transaction coordinator, SIGSTOP, network partitions through the harness's proxies), about
# 80 s each.
FAULTS_BROKERS="${WEIR_FAULTS_BROKERS:-3}"
python3 -m pytest -q -p no:cacheprovider integration-tests/faults
python3 integration-tests/faults/harness.py --weir "${CARGO_TARGET_DIR:-target}/debug/weir" --brokers "$FAULTS_BROKERS" \
    --cycles 10 --seed "${WEIR_FAULTS_SEED:-1}"
# The same faults under transactional producers and a consume-transform-produce stage: exactly
# once on the read_committed side (about 75 s).
python3 integration-tests/faults/harness.py --weir "${CARGO_TARGET_DIR:-target}/debug/weir" --brokers "$FAULTS_BROKERS" \
    --cycles 10 --seed "${WEIR_FAULTS_SEED:-1}" --workload txn
cargo nextest run --workspace --no-fail-fast "$@"
