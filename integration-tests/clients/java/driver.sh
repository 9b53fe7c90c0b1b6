#!/usr/bin/env bash
# Runs a Java client program: the compatibility-matrix driver java/Matrix.java (default) or
# another class named by WEIR_JAVA_MAIN (AdminChecks, FailoverProducer, TxnChecks, TxnPipeline,
# TxnFailover), compiled
# by ../setup.sh; the contract is ../SCENARIOS.md).
# Usage: [WEIR_JAVA_MAIN=Class] java/driver.sh BOOTSTRAP PREFIX [ARGS...]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
BUILD="${WEIR_CLIENTS_BUILD_DIR:-$ROOT/target/clients-java}"
MAIN="${WEIR_JAVA_MAIN:-Matrix}"
if [ ! -f "$BUILD/classpath" ] || [ ! -f "$BUILD/classes/$MAIN.class" ]; then
    echo "[java] FAIL: $MAIN is not built; run integration-tests/clients/setup.sh" >&2
    exit 1
fi
# Client-side JVM: quick startup, small heap.
exec java -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -cp "$(cat "$BUILD/classpath")" "$MAIN" "$@"
