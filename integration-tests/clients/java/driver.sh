#!/usr/bin/env bash
# Runs the Java kafka-clients driver of the compatibility matrix (java/Matrix.java, compiled
# by ../setup.sh; the contract is ../SCENARIOS.md).
# Usage: java/driver.sh BOOTSTRAP PREFIX
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
BUILD="${WEIR_CLIENTS_BUILD_DIR:-$ROOT/target/clients-java}"
MAIN=Matrix
if [ ! -f "$BUILD/classpath" ] || [ ! -f "$BUILD/classes/$MAIN.class" ]; then
    echo "[java] FAIL: $MAIN is not built; run integration-tests/clients/setup.sh" >&2
    exit 1
fi
# Client-side JVM: quick startup, small heap.
exec java -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -cp "$(cat "$BUILD/classpath")" "$MAIN" "$@"
