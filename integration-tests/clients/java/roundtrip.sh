#!/usr/bin/env bash
# Runs RoundTrip (java/RoundTrip.java, compiled by ../setup.sh).
# Usage: java/roundtrip.sh HOST:PORT TOPIC
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
BUILD="${WEIR_CLIENTS_BUILD_DIR:-$ROOT/target/clients-java}"
if [ ! -f "$BUILD/classpath" ] || [ ! -f "$BUILD/classes/RoundTrip.class" ]; then
    echo "[java] FAIL: RoundTrip is not built; run integration-tests/clients/setup.sh" >&2
    exit 1
fi
# Client-side JVM: quick startup, small heap.
exec java -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -cp "$(cat "$BUILD/classpath")" RoundTrip "$@"
