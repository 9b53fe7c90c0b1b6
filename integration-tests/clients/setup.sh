#!/usr/bin/env bash
# Installs the real Kafka clients that the compatibility-matrix drivers in this
# directory use (SCENARIOS.md). Idempotent; quiet and fast (well under a
# second) when everything is already in place.
#
#   - Python: confluent-kafka, kafka-python, aiokafka, their codec libraries and
#     the wheel that carries the Java kafka-clients jars (requirements.txt,
#     exact pins)
#   - kcat:   a librdkafka.so.1 symlink to the confluent-kafka wheel's
#             librdkafka 2.16, so Debian's kcat can run on it
#   - Node:   kafkajs and its Snappy/LZ4/ZSTD codec packages (node/package.json,
#             exact pins; no lock file)
#   - Java:   java/*.java compiled into $WEIR_CLIENTS_BUILD_DIR (default
#             <repo>/target/clients-java/classes) plus a `classpath` file there
#             that java/driver.sh uses.
#
# Needs python3 + pip, node + npm, javac (JDK 17). Runs without stdin.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
BUILD="${WEIR_CLIENTS_BUILD_DIR:-$ROOT/target/clients-java}"
# PIP_BREAK_SYSTEM_PACKAGES: a Debian system python refuses plain `pip
# install` (PEP 668); these are test-only client libraries.
export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_BREAK_SYSTEM_PACKAGES=1 npm_config_yes=true
# kafkajs-lz4's native lz4 module is built by node-gyp: against the installed Node headers,
# never headers downloaded from outside the registry.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then
    export npm_config_nodedir=/usr
fi

for tool in "$PYTHON" node npm javac flock; do
    command -v "$tool" >/dev/null || { echo "setup.sh: $tool not found" >&2; exit 1; }
done

mkdir -p "$BUILD"
# Serialize concurrent runs (e.g. several tests calling setup at once).
exec 9>"$BUILD/.setup.lock"
flock -w 600 9

# --- Python packages ---------------------------------------------------------
. "$ROOT/scripts/pip-pins.sh"
ensure_pins "$PYTHON" "$HERE/requirements.txt" setup.sh

# --- kcat with librdkafka 2.16 -----------------------------------------------
# The confluent-kafka wheel bundles librdkafka 2.16 as a hashed .so; a symlink
# named librdkafka.so.1 on LD_LIBRARY_PATH makes the system kcat load it
# (python/kcat_driver.py with WEIR_KCAT_LIBRDKAFKA_DIR=that directory).
KCAT_RDKAFKA="$BUILD/../clients-kcat/librdkafka-2.16"
RDKAFKA_SO="$("$PYTHON" - <<'PY'
import importlib.metadata as md
for f in md.distribution("confluent-kafka").files or []:
    if str(f).startswith("confluent_kafka.libs/librdkafka") and ".so" in str(f):
        print(f.locate())
        break
PY
)"
[ -n "$RDKAFKA_SO" ] || { echo "setup.sh: librdkafka not found in the confluent-kafka wheel" >&2; exit 1; }
if [ "$(readlink "$KCAT_RDKAFKA/librdkafka.so.1" 2>/dev/null)" != "$RDKAFKA_SO" ]; then
    mkdir -p "$KCAT_RDKAFKA"
    ln -sfn "$RDKAFKA_SO" "$KCAT_RDKAFKA/librdkafka.so.1"
fi

# --- kafkajs and its codec packages ------------------------------------------
# Every dependency of node/package.json installed at exactly its pinned version?
node_deps_ok() {
    node -e 'const d = process.argv[1], deps = require(d + "/package.json").dependencies
for (const n of Object.keys(deps)) {
  let have = null
  try { have = require(d + "/node_modules/" + n + "/package.json").version } catch (e) {}
  if (have !== deps[n]) process.exit(1)
}' "$HERE/node"
}
if ! node_deps_ok; then
    (cd "$HERE/node" && npm install --no-audit --no-fund --no-package-lock --loglevel=error >/dev/null)
    node_deps_ok || { echo "setup.sh: node packages still not at the pinned versions" >&2; exit 1; }
fi

# --- Java --------------------------------------------------------------------
LIB="$("$PYTHON" - <<'PY'
import importlib.metadata as md, os
for f in md.distribution("shigawire-apache-flink-libraries").files or []:
    if str(f).endswith("pyflink/lib/kafka-clients.jar"):
        print(os.path.dirname(f.locate()))
        break
PY
)"
[ -n "$LIB" ] || { echo "setup.sh: kafka-clients.jar not found in the shigawire-apache-flink-libraries wheel" >&2; exit 1; }
CP="$BUILD/classes"
for jar in kafka-clients slf4j-api lz4-java snappy-java zstd-jni; do
    [ -f "$LIB/$jar.jar" ] || { echo "setup.sh: missing $LIB/$jar.jar" >&2; exit 1; }
    CP="$CP:$LIB/$jar.jar"
done
# Recompile when any source is newer than the classes, or the classpath changed.
STAMP="$BUILD/classes/.built"
stale=0
[ -f "$STAMP" ] || stale=1
for src in "$HERE"/java/*.java; do
    [ "$stale" = 1 ] || [ "$src" -nt "$STAMP" ] && stale=1
done
if [ "$stale" = 1 ] || [ "$(cat "$BUILD/classpath" 2>/dev/null)" != "$CP" ]; then
    rm -rf "$BUILD/classes.tmp"
    mkdir -p "$BUILD/classes.tmp"
    javac -nowarn -encoding UTF-8 -d "$BUILD/classes.tmp" -cp "$LIB/kafka-clients.jar" "$HERE"/java/*.java
    touch "$BUILD/classes.tmp/.built"
    rm -rf "$BUILD/classes"
    mv "$BUILD/classes.tmp" "$BUILD/classes"
    printf '%s' "$CP" >"$BUILD/classpath"
fi
