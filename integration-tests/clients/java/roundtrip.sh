#!/usr/bin/env bash
# Runs a Java client check (java/*.java, compiled by ../setup.sh): RoundTrip by default, or the
# class named in JAVA_MAIN (GroupRoundTrip).
# Usage: java/roundtrip.sh HOST:PORT TOPIC
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
BUILD="${WEIR_CLIENTS_BUILD_DIR:-$ROOT/target/clients-java}"
MAIN="${JAVA_MAIN:-RoundTrip}"
if [ ! -f "$BUILD/classpath" ] || [ ! -f "$BUILD/classes/$MAIN.class" ]; then
    echo "[java] FAIL: $MAIN is not built; run integration-tests/clients/setup.sh" >&2
    exit 1
fi
# Client-side JVM: quick startup, small heap.
exec java -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -cp "$(cat "$BUILD/classpath")" "$MAIN" "$@"
