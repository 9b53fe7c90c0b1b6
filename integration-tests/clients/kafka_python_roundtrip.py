#!/usr/bin/env python3
"""Round trip through a Kafka-compatible broker with kafka-python.

Usage: kafka_python_roundtrip.py HOST:PORT TOPIC

1. KafkaAdminClient.create_topics creates TOPIC with 2 partitions (waiting
   until metadata shows a leader for every partition); describe_topics must
   report 2 partitions.
2. A KafkaProducer with acks='all' and gzip compression sends 300 records,
   a second one with no compression sends 200 more: keys, values, headers,
   explicit timestamps, some to explicit partitions, some placed by key.
3. A KafkaConsumer with group_id=None assigns both partitions,
   seek_to_beginning(), polls until every record was seen and compares
   record by record with the acknowledged (partition, offset) of each send.

Exit 0 only if everything checked out.
"""

import os
import sys
import threading
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

PARTITIONS = 2
STEP_TIMEOUT = 20.0  # seconds, for each waiting step
BATCHES = [("gzip", 300), (None, 200)]


class Failure(Exception):
    pass


def log(msg):
    print(f"[kafka-python] {msg}", flush=True)


def fail(msg):
    raise Failure(msg)


def make_record(seq, group):
    key = f"{group}-key-{seq}".encode()
    value = f"{group}-value-{seq}-".encode() + bytes([seq % 251]) * (seq % 41)
    headers = [("seq", str(seq).encode()), ("group", group.encode())]
    if seq % 3 == 0:
        headers += [("dup", b"first"), ("dup", b"second")]
    if seq % 4 == 0:
        headers.append(("empty", b""))
    if seq % 7 == 0:
        headers = []
    if seq == 5:
        value = None  # tombstone
    if seq == 6:
        key = None
    if seq == 8:
        value = b""
    if seq % 150 == 33:
        value = bytes(range(256)) * 300  # ~75 KiB
    partition = seq % PARTITIONS if seq % 2 == 0 or key is None else None
    return {"seq": seq, "key": key, "value": value, "headers": headers, "partition": partition}


def main():
    if len(sys.argv) != 3:
        print("usage: kafka_python_roundtrip.py HOST:PORT TOPIC", file=sys.stderr)
        return 2
    bootstrap, topic = sys.argv[1], sys.argv[2]
    started = time.monotonic()
    common = {"bootstrap_servers": bootstrap, "request_timeout_ms": int(STEP_TIMEOUT * 1000)}

    # --- admin ---------------------------------------------------------------
    admin = KafkaAdminClient(**common)
    try:
        res = admin.create_topics({topic: {"num_partitions": PARTITIONS, "replication_factor": 1}},
                                  timeout_ms=10000, wait_for_metadata=True)
    except Exception as e:
        fail(f"create_topics({topic}) failed: {type(e).__name__}: {e}")
    for t in res.get("topics", []):
        if t.get("error_code", 0) != 0:
            fail(f"create_topics returned error for {t.get('name')}: {t}")
    desc = admin.describe_topics([topic])
    if len(desc) != 1 or desc[0].get("name") != topic:
        fail(f"describe_topics returned {desc!r}")
    if desc[0].get("error_code", 0) != 0 or len(desc[0].get("partitions") or []) != PARTITIONS:
        fail(f"describe_topics: expected {PARTITIONS} partitions without error, got {desc[0]!r}")
    admin.close()
    log(f"created topic {topic} with {PARTITIONS} partitions")

    # --- produce -------------------------------------------------------------
    base_ts = int(time.time() * 1000) - 3_600_000
    expected = {}   # seq -> record
    acked = {}      # seq -> RecordMetadata
    seq = 0
    for codec, n in BATCHES:
        producer = KafkaProducer(acks="all", compression_type=codec, linger_ms=20,
                                 max_block_ms=int(STEP_TIMEOUT * 1000), **common)
        futures = []
        for _ in range(n):
            r = make_record(seq, codec or "none")
            expected[seq] = r
            futures.append((seq, producer.send(topic, key=r["key"], value=r["value"],
                                               headers=r["headers"], partition=r["partition"],
                                               timestamp_ms=base_ts + seq)))
            seq += 1
        producer.flush(timeout=STEP_TIMEOUT)
        for s, f in futures:
            try:
                acked[s] = f.get(timeout=STEP_TIMEOUT)
            except Exception as e:
                fail(f"send of seq {s} ({codec or 'none'}) failed: {type(e).__name__}: {e}")
        producer.close(timeout=5)
        log(f"produced {n} records with compression {codec or 'none'}")

    by_part = {}
    for s in sorted(acked):
        md = acked[s]
        r = expected[s]
        if r["partition"] is not None and md.partition != r["partition"]:
            fail(f"seq {s} sent to partition {r['partition']} but acked on {md.partition}")
        if md.offset < 0:
            fail(f"seq {s} acked with invalid offset {md.offset}")
        by_part.setdefault(md.partition, []).append(md.offset)
    for p, offs in by_part.items():
        if len(set(offs)) != len(offs) or offs != sorted(offs):
            fail(f"partition {p}: acked offsets duplicated or out of send order")

    # --- consume (no group) --------------------------------------------------
    consumer = KafkaConsumer(group_id=None, enable_auto_commit=False,
                             auto_offset_reset="none", **common)
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    consumer.seek_to_beginning()
    want = {(acked[s].partition, acked[s].offset): s for s in expected}
    total = len(want)
    got = []
    deadline = time.monotonic() + STEP_TIMEOUT
    while len(got) < total and time.monotonic() < deadline:
        for tp, recs in consumer.poll(timeout_ms=500).items():
            got.extend(recs)
    if len(got) < total:
        fail(f"consumed only {len(got)} of {total} records within {STEP_TIMEOUT}s")
    extra_deadline = time.monotonic() + 1.0
    while time.monotonic() < extra_deadline:
        for tp, recs in consumer.poll(timeout_ms=200).items():
            got.extend(recs)
    try:
        beginning = consumer.beginning_offsets(tps, timeout_ms=5000)
        end = consumer.end_offsets(tps, timeout_ms=5000)
    except Exception as e:
        fail(f"beginning_offsets/end_offsets failed: {type(e).__name__}: {e}")
    consumer.close(autocommit=False)

    problems = []
    last = {}
    for m in got:
        p, o = m.partition, m.offset
        if p in last and o <= last[p]:
            problems.append(f"partition {p}: offset {o} after {last[p]} (not strictly increasing)")
        last[p] = o
        s = want.pop((p, o), None)
        if s is None:
            problems.append(f"unexpected or duplicate record at partition {p} offset {o} key={m.key!r}")
            continue
        r = expected[s]
        if m.key != r["key"]:
            problems.append(f"seq {s} ({p}/{o}): key {m.key!r} != {r['key']!r}")
        if m.value != r["value"]:
            problems.append(f"seq {s} ({p}/{o}): value differs (got "
                            f"{None if m.value is None else len(m.value)} bytes, want "
                            f"{None if r['value'] is None else len(r['value'])} bytes)")
        if [(k, bytes(v) if v is not None else None) for k, v in (m.headers or [])] != r["headers"]:
            problems.append(f"seq {s} ({p}/{o}): headers {m.headers!r} != {r['headers']!r}")
        if m.timestamp != base_ts + s or m.timestamp_type != 0:
            problems.append(f"seq {s} ({p}/{o}): timestamp {m.timestamp} (type {m.timestamp_type}) "
                            f"!= {base_ts + s} (type 0 = CreateTime)")
        if len(problems) > 20:
            break
    if want and len(problems) <= 20:
        problems.append(f"{len(want)} acked record(s) never consumed, e.g. {sorted(want)[:10]}")
    for p in range(PARTITIONS):
        n = len(by_part.get(p, []))
        tp = TopicPartition(topic, p)
        if beginning.get(tp) != 0 or end.get(tp) != n:
            problems.append(f"partition {p}: beginning/end offsets {beginning.get(tp)}/{end.get(tp)}, "
                            f"expected 0/{n}")
    if problems:
        fail("record comparison failed:\n  " + "\n  ".join(problems[:20]))

    counts = {p: len(v) for p, v in sorted(by_part.items())}
    log(f"OK: {total} records round-tripped, per partition {counts}, "
        f"{time.monotonic() - started:.1f}s")
    return 0


def start_watchdog(seconds=75):
    """Hard stop so a hung client never blocks the caller."""
    def expire():
        print(f"[kafka-python] FAIL: overall timeout ({seconds} s)", file=sys.stderr, flush=True)
        os._exit(1)
    t = threading.Timer(seconds, expire)
    t.daemon = True
    t.start()


if __name__ == "__main__":
    start_watchdog()
    try:
        sys.exit(main())
    except Failure as e:
        print(f"[kafka-python] FAIL: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    except Exception as e:
        import traceback
        traceback.print_exc()
        print(f"[kafka-python] FAIL: unexpected {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
