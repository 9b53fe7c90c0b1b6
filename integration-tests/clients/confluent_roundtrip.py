#!/usr/bin/env python3
"""Round trip through a Kafka-compatible broker with confluent-kafka (librdkafka).

Usage: confluent_roundtrip.py HOST:PORT TOPIC

1. AdminClient creates TOPIC with 3 partitions; checked with list_topics and
   describe_topics.
2. An idempotent (enable.idempotence=true, acks=all) producer sends 1000
   records with keys, values, headers and explicit timestamps, some to
   explicit partitions and some placed by the key partitioner. One record has
   a null value, one a null key, one an empty value, a few large values.
3. One more idempotent producer per compression codec (none, gzip, snappy,
   lz4, zstd) sends 50 records each.
4. A consumer in assign mode (no subscribe, no commits; group.id is only
   there because the constructor requires it) reads all partitions from
   OFFSET_BEGINNING and compares every record with what was acknowledged:
   partition, offset, key, value, headers, timestamp. Offsets per partition
   must be strictly increasing without duplicates, must follow the send order
   and the watermarks must match the record counts.

Exit 0 only if everything checked out.
"""

import os
import sys
import threading
import time

from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_CREATE_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

PARTITIONS = 3
MAIN_RECORDS = 1000
PER_CODEC_RECORDS = 50
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
STEP_TIMEOUT = 20.0  # seconds, for each waiting step


class Failure(Exception):
    pass


def log(msg):
    print(f"[confluent] {msg}", flush=True)


def fail(msg):
    raise Failure(msg)


def make_record(seq, group):
    """Deterministic record content for global sequence number `seq`."""
    key = f"{group}-key-{seq}".encode()
    value = f"{group}-value-{seq}-".encode() + bytes([seq % 251]) * (seq % 37)
    headers = [("seq", str(seq).encode()), ("group", group.encode())]
    if seq % 3 == 0:
        headers.append(("dup", b"first"))
        headers.append(("dup", b"second"))
    if seq % 5 == 0:
        headers.append(("null-header", None))
    if seq % 7 == 0:
        headers = []  # some records without headers at all
    if seq == 10:
        value = None  # tombstone
    if seq == 11:
        key = None
    if seq == 12:
        value = b""
    if seq % 250 == 17:
        value = bytes(range(256)) * 400  # ~100 KiB
    # Explicit partition for even seq, key partitioner for odd ones.
    # (Records with a null key and no explicit partition would go anywhere.)
    partition = (seq // 2) % PARTITIONS if seq % 2 == 0 or key is None else None
    return {"seq": seq, "key": key, "value": value, "headers": headers, "partition": partition}


def norm_headers(h):
    return [(k, None if v is None else bytes(v)) for k, v in (h or [])]


def create_topic(bootstrap, topic):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)],
        operation_timeout=10,
        request_timeout=STEP_TIMEOUT,
    )
    try:
        futures[topic].result(timeout=STEP_TIMEOUT)
    except KafkaException as e:
        fail(f"create_topics({topic}) failed: {e}")
    except TimeoutError:
        fail(f"create_topics({topic}) timed out after {STEP_TIMEOUT}s")
    log(f"created topic {topic} with {PARTITIONS} partitions")

    # The topic must become visible in metadata with a leader for each partition.
    deadline = time.monotonic() + STEP_TIMEOUT
    last = None
    while True:
        try:
            md = admin.list_topics(topic=topic, timeout=5)
            t = md.topics.get(topic)
            if t is None:
                last = "topic missing from metadata"
            elif t.error is not None:
                last = f"topic error {t.error}"
            elif len(t.partitions) != PARTITIONS:
                last = f"{len(t.partitions)} partitions in metadata, expected {PARTITIONS}"
            elif any(p.leader < 0 or p.error is not None for p in t.partitions.values()):
                last = "partition without leader or with error: " + ", ".join(
                    f"{p.id}: leader={p.leader} error={p.error}" for p in t.partitions.values())
            else:
                break
        except KafkaException as e:
            last = f"list_topics raised {e}"
        if time.monotonic() > deadline:
            fail(f"topic not ready in metadata after {STEP_TIMEOUT}s: {last}")
        time.sleep(0.2)
    if not md.brokers:
        fail("metadata lists no brokers")
    log(f"list_topics ok: {len(md.brokers)} broker(s), partitions {sorted(t.partitions)}")

    try:
        desc = admin.describe_topics(TopicCollection([topic]), request_timeout=STEP_TIMEOUT)
        d = desc[topic].result(timeout=STEP_TIMEOUT)
    except KafkaException as e:
        fail(f"describe_topics({topic}) failed: {e}")
    except TimeoutError:
        fail(f"describe_topics({topic}) timed out after {STEP_TIMEOUT}s")
    if d.name != topic:
        fail(f"describe_topics returned name {d.name!r}")
    if sorted(p.id for p in d.partitions) != list(range(PARTITIONS)):
        fail(f"describe_topics partitions {[p.id for p in d.partitions]}, expected 0..{PARTITIONS - 1}")
    for p in d.partitions:
        if p.leader is None:
            fail(f"describe_topics: partition {p.id} has no leader")
    log("describe_topics ok")


def produce(bootstrap, topic, records, codec, base_ts):
    """Produce `records` with one idempotent producer; return delivery results by seq."""
    conf = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": codec,
        "linger.ms": 20,
        "message.timeout.ms": int(STEP_TIMEOUT * 1000),
    }
    errors = []
    delivered = {}

    def on_error(err):
        # Fatal errors (idempotence violations etc.) must fail the test.
        if err.fatal():
            errors.append(f"fatal producer error: {err}")
        else:
            log(f"producer ({codec}) warning: {err}")

    conf["error_cb"] = on_error
    p = Producer(conf)

    def make_cb(seq):
        def cb(err, msg):
            if err is not None:
                errors.append(f"delivery of seq {seq} failed: {err}")
            else:
                delivered[seq] = (msg.partition(), msg.offset(), msg.timestamp())
        return cb

    for r in records:
        kwargs = {"key": r["key"], "value": r["value"], "timestamp": base_ts + r["seq"],
                  "on_delivery": make_cb(r["seq"])}
        if r["headers"]:
            kwargs["headers"] = r["headers"]
        if r["partition"] is not None:
            kwargs["partition"] = r["partition"]
        while True:
            try:
                p.produce(topic, **kwargs)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    remaining = p.flush(STEP_TIMEOUT)
    if remaining:
        errors.append(f"{remaining} record(s) still undelivered after flush({STEP_TIMEOUT}s)")
    if errors:
        fail(f"producer ({codec}): " + "; ".join(errors[:10]))
    if len(delivered) != len(records):
        fail(f"producer ({codec}): {len(delivered)} acks for {len(records)} records")
    for seq, (part, off, _ts) in delivered.items():
        if off < 0:
            fail(f"producer ({codec}): seq {seq} acked with invalid offset {off} (partition {part})")
    log(f"produced {len(records)} records with compression {codec}")
    return delivered


def consume(bootstrap, topic, expected_total):
    errors = []
    c = Consumer({
        "bootstrap.servers": bootstrap,
        # Required by the constructor; no subscribe()/commit() is ever done.
        "group.id": f"unused-{topic}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "error",
        "enable.partition.eof": False,
        "error_cb": lambda err: errors.append(str(err)),
    })
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    got = []
    deadline = time.monotonic() + STEP_TIMEOUT
    while len(got) < expected_total and time.monotonic() < deadline:
        for msg in c.consume(num_messages=500, timeout=0.5):
            if msg.error():
                fail(f"consumer error: {msg.error()}")
            got.append(msg)
    if len(got) < expected_total:
        per = {}
        for m in got:
            per[m.partition()] = per.get(m.partition(), 0) + 1
        fail(f"consumed only {len(got)} of {expected_total} records within {STEP_TIMEOUT}s "
             f"(per partition {per}; client errors: {errors[:5]})")
    # Anything beyond the expected records would be duplicates or garbage.
    extra_deadline = time.monotonic() + 1.0
    while time.monotonic() < extra_deadline:
        for msg in c.consume(num_messages=500, timeout=0.2):
            if msg.error():
                fail(f"consumer error: {msg.error()}")
            got.append(msg)
    watermarks = {}
    for p in range(PARTITIONS):
        try:
            watermarks[p] = c.get_watermark_offsets(TopicPartition(topic, p), timeout=5)
        except KafkaException as e:
            fail(f"get_watermark_offsets(partition {p}) failed: {e}")
    c.close()
    if errors:
        log(f"consumer client warnings: {errors[:5]}")
    return got, watermarks


def main():
    if len(sys.argv) != 3:
        print("usage: confluent_roundtrip.py HOST:PORT TOPIC", file=sys.stderr)
        return 2
    bootstrap, topic = sys.argv[1], sys.argv[2]
    started = time.monotonic()

    create_topic(bootstrap, topic)

    base_ts = int(time.time() * 1000) - 3_600_000  # an hour ago, 1 ms apart
    expected = {}   # seq -> record
    delivered = {}  # seq -> (partition, offset, (ts_type, ts))
    main_records = [make_record(i, "main") for i in range(MAIN_RECORDS)]
    delivered.update(produce(bootstrap, topic, main_records, "none", base_ts))
    expected.update({r["seq"]: r for r in main_records})
    seq = MAIN_RECORDS
    for codec in CODECS:
        recs = [make_record(seq + i, codec) for i in range(PER_CODEC_RECORDS)]
        seq += PER_CODEC_RECORDS
        delivered.update(produce(bootstrap, topic, recs, codec, base_ts))
        expected.update({r["seq"]: r for r in recs})

    # Every record sent to an explicit partition must have landed there.
    for s, r in expected.items():
        if r["partition"] is not None and delivered[s][0] != r["partition"]:
            fail(f"seq {s} sent to partition {r['partition']} but acked on {delivered[s][0]}")

    # Acked offsets: unique per partition and in send order (idempotent producer,
    # producers run one after another).
    by_part = {}
    for s in sorted(delivered):
        part, off, _ = delivered[s]
        by_part.setdefault(part, []).append((off, s))
    for part, lst in by_part.items():
        offs = [o for o, _ in lst]
        if len(set(offs)) != len(offs):
            fail(f"partition {part}: duplicate acked offsets")
        if offs != sorted(offs):
            fail(f"partition {part}: acked offsets not in send order")

    got, watermarks = consume(bootstrap, topic, len(expected))

    # Index what we expect by (partition, offset).
    want = {(delivered[s][0], delivered[s][1]): s for s in expected}
    seen_offsets = {}
    problems = []
    for m in got:
        p, o = m.partition(), m.offset()
        prev = seen_offsets.get(p)
        if prev is not None and o <= prev:
            problems.append(f"partition {p}: offset {o} after {prev} (not strictly increasing)")
        seen_offsets[p] = o
        s = want.pop((p, o), None)
        if s is None:
            problems.append(f"unexpected or duplicate record at partition {p} offset {o} "
                            f"key={m.key()!r}")
            continue
        r = expected[s]
        if m.key() != r["key"]:
            problems.append(f"seq {s} ({p}/{o}): key {m.key()!r} != {r['key']!r}")
        if m.value() != r["value"]:
            mv = m.value()
            problems.append(f"seq {s} ({p}/{o}): value differs "
                            f"(got {None if mv is None else len(mv)} bytes {mv[:40] if mv else mv!r}, "
                            f"want {None if r['value'] is None else len(r['value'])} bytes)")
        if norm_headers(m.headers()) != norm_headers(r["headers"]):
            problems.append(f"seq {s} ({p}/{o}): headers {m.headers()!r} != {r['headers']!r}")
        ts_type, ts = m.timestamp()
        if ts_type != TIMESTAMP_CREATE_TIME or ts != base_ts + s:
            problems.append(f"seq {s} ({p}/{o}): timestamp ({ts_type}, {ts}) != "
                            f"(CREATE_TIME={TIMESTAMP_CREATE_TIME}, {base_ts + s})")
        if len(problems) > 20:
            break
    if want and len(problems) <= 20:
        missing = sorted(want)[:10]
        problems.append(f"{len(want)} acked record(s) never consumed, e.g. (partition, offset) {missing}")
    for p in range(PARTITIONS):
        count = len(by_part.get(p, []))
        low, high = watermarks[p]
        if low != 0 or high != count:
            problems.append(f"partition {p}: watermarks (low={low}, high={high}), "
                            f"expected (0, {count})")
    if problems:
        fail("record comparison failed:\n  " + "\n  ".join(problems[:20]))

    counts = {p: len(v) for p, v in sorted(by_part.items())}
    log(f"OK: {len(expected)} records round-tripped, per partition {counts}, "
        f"{time.monotonic() - started:.1f}s")
    return 0


def start_watchdog(seconds=75):
    """Hard stop so a hung client never blocks the caller."""
    def expire():
        print(f"[confluent] FAIL: overall timeout ({seconds} s)", file=sys.stderr, flush=True)
        os._exit(1)
    t = threading.Timer(seconds, expire)
    t.daemon = True
    t.start()


if __name__ == "__main__":
    start_watchdog()
    try:
        sys.exit(main())
    except Failure as e:
        print(f"[confluent] FAIL: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    except Exception as e:  # unexpected client exception: still a clear failure
        import traceback
        traceback.print_exc()
        print(f"[confluent] FAIL: unexpected {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
