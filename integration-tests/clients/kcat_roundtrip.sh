#!/usr/bin/env bash
# kcat (Debian 12: librdkafka 2.0.2, which misreads non-empty tagged fields) round trip:
# produce keyed records with each codec, read them back, compare line by line.
# Usage: kcat_roundtrip.sh HOST:PORT TOPIC
set -euo pipefail
BOOT="$1"; TOPIC="$2"
command -v kcat >/dev/null || { echo "[kcat] FAIL: kcat not installed" >&2; exit 1; }
expected="$(mktemp)"; got="$(mktemp)"
trap 'rm -f "$expected" "$got"' EXIT
for codec in none gzip snappy lz4 zstd; do
    for i in $(seq 1 50); do echo "$codec-$i:value $codec $i"; done > "$expected.$codec"
    timeout 30 kcat -b "$BOOT" -t "$TOPIC" -P -K: -z "$codec" -X acks=all < "$expected.$codec"
    cat "$expected.$codec" >> "$expected"
    rm -f "$expected.$codec"
done
timeout 30 kcat -b "$BOOT" -t "$TOPIC" -C -e -q -f '%k:%s\n' > "$got"
if ! diff -u "$expected" "$got"; then
    echo "[kcat] FAIL: records read back differ from those produced" >&2
    exit 1
fi
timeout 10 kcat -b "$BOOT" -L -t "$TOPIC" | grep -q "topic \"$TOPIC\" with 1 partitions" || { echo "[kcat] FAIL: metadata" >&2; exit 1; }
echo "[kcat] OK: $(wc -l < "$got") records"
