#!/usr/bin/env bash
# Runs every real-client round trip against a running broker.
# Usage: run_all.sh HOST:PORT
# Prints one `PASS <stack>` / `FAIL <stack>` line per client stack (with the
# client's output indented below a FAIL); exits non-zero if any failed.
set -uo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 HOST:PORT" >&2
    exit 2
fi
BOOT="$1"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STAMP="$(date +%s)-$$"
failed=0

if ! out="$("$HERE/setup.sh" 2>&1)"; then
    echo "FAIL setup"
    printf '%s\n' "$out" | sed 's/^/    /'
    exit 1
fi

run() {
    local name="$1"; shift
    local log rc
    log="$(mktemp)"
    timeout -k 5 120 "$@" >"$log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        echo "PASS $name"
    else
        echo "FAIL $name (exit $rc$([ $rc -eq 124 ] && echo ', timed out'))"
        tail -n 60 "$log" | sed 's/^/    /'
        failed=1
    fi
    rm -f "$log"
}

run confluent-kafka   python3 "$HERE/confluent_roundtrip.py" "$BOOT" "rt-confluent-$STAMP"
run kafka-python      python3 "$HERE/kafka_python_roundtrip.py" "$BOOT" "rt-kafka-python-$STAMP"
run kafkajs-produce   node "$HERE/node/roundtrip.js" "$BOOT" "rt-kafkajs-produce-$STAMP" produce-only
run kafkajs           node "$HERE/node/roundtrip.js" "$BOOT" "rt-kafkajs-$STAMP"
run java              "$HERE/java/roundtrip.sh" "$BOOT" "rt-java-$STAMP"
exit $failed
