#!/usr/bin/env python3
"""Compatibility-matrix driver for kafka-python 3.0.12 (snappy/lz4/zstd through the optional
python-snappy, lz4 and zstandard packages). Usage: kafka_python_driver.py BOOTSTRAP PREFIX.
The scenarios are in ../SCENARIOS.md."""

import functools

import kafka.errors as Errors
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.admin import ConfigResource

import matrix
from matrix import T0, Rec, check_acked, collect, compare, fail, keyed_records, wait_until, within

BOOT, PREFIX = matrix.args()
TIMEOUT = matrix.STEP_TIMEOUT
MS = int(TIMEOUT * 1000)
COMMON = {"bootstrap_servers": BOOT, "request_timeout_ms": MS, "bootstrap_timeout_ms": MS}
ADMIN_TOPIC = f"{PREFIX}-admin"
GROUP_TOPIC = f"{PREFIX}-group"
state = {}  # what group_commit leaves for committed_offsets


@functools.cache
def admin():
    """One admin client, made on first use (so that a dead broker fails scenarios, not the driver)."""
    return KafkaAdminClient(**COMMON)


def create_topic(topic, partitions=1, configs=None):
    admin().create_topics({topic: {"num_partitions": partitions, "replication_factor": 1,
                                 "configs": configs or {}}}, timeout_ms=MS, wait_for_metadata=True)


def produce(topic, recs, settings=None, partition=0):
    """Sends recs in order (to `partition`, or by key if None); returns the acked
    (partition, offset) of each, in send order."""
    p = KafkaProducer(linger_ms=5, max_block_ms=MS, **COMMON, **(settings or {}))
    try:
        return send_all(p, topic, recs, partition)
    finally:
        p.close(timeout=5)


def send_all(p, topic, recs, partition=0):
    """Sends recs with producer p, flushes and returns the acked (partition, offset) of each."""
    futures = [p.send(topic, key=r.key, value=r.value, headers=r.headers, partition=partition,
                      timestamp_ms=r.timestamp) for r in recs]
    p.flush(timeout=TIMEOUT)
    acks = []
    for i, f in enumerate(futures):
        try:
            md = f.get(timeout=TIMEOUT)
        except Exception as e:
            fail(f"produce to {topic}: record {i}: {type(e).__name__}: {e}")
        acks.append((md.partition, md.offset))
    return acks


def to_recs(batches):
    out = []
    for msgs in batches.values():
        for m in msgs:
            if m.timestamp_type != 0:
                fail(f"record {m.partition}/{m.offset}: timestamp type {m.timestamp_type}, want 0 (CreateTime)")
            out.append(Rec(m.key, m.value, m.headers or [], m.timestamp, m.partition, m.offset))
    return out


def reader():
    return KafkaConsumer(group_id=None, enable_auto_commit=False, auto_offset_reset="none", **COMMON)


def read(topic, partition, offset, n):
    """Assigns partition, seeks to offset and reads until n records have come, plus a short
    linger for extras."""
    c = reader()
    try:
        tp = TopicPartition(topic, partition)
        c.assign([tp])
        c.seek(tp, offset)
        return collect(lambda: to_recs(c.poll(timeout_ms=200)), n)
    finally:
        c.close(autocommit=False)


def read_isolated(topic, committed, n):
    """Partition 0 of topic from the beginning, read_committed or read_uncommitted."""
    c = KafkaConsumer(group_id=None, enable_auto_commit=False, auto_offset_reset="none",
                      isolation_level="read_committed" if committed else "read_uncommitted", **COMMON)
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        return collect(lambda: to_recs(c.poll(timeout_ms=200)), n)
    finally:
        c.close(autocommit=False)


# --- admin -------------------------------------------------------------------

def create_topics():
    create_topic(ADMIN_TOPIC, 3, {"retention.ms": "3600000"})
    try:
        create_topic(ADMIN_TOPIC, 3)
    except Errors.TopicAlreadyExistsError:
        pass
    else:
        fail("second create of the same topic succeeded")
    return "created with 3 partitions + retention.ms; second create -> TopicAlreadyExistsError"


def partitions_are(topic, n):
    def check():
        [d] = admin().describe_topics([topic])
        ids = sorted(p["partition_index"] for p in d["partitions"])
        brokers = {b["broker_id"] for b in admin().describe_cluster()["brokers"]}
        leaders = {p["partition_index"]: p["leader_id"] for p in d["partitions"]}
        if d["error_code"] or ids != list(range(n)) or not set(leaders.values()) <= brokers:
            raise AssertionError(f"error {d['error_code']}, partitions {ids}, leaders {leaders}, brokers {sorted(brokers)}")
        return True
    wait_until(f"{topic} has partitions 0..{n - 1} with leaders", check)


def describe_topics():
    partitions_are(ADMIN_TOPIC, 3)
    return "partitions 0,1,2, each led by a cluster broker"


def describe_configs():
    res = admin().describe_configs([ConfigResource("TOPIC", ADMIN_TOPIC)], config_filter="all")
    configs = res["topic"][ADMIN_TOPIC]
    got = {k: configs[k]["value"] if k in configs else None for k in ("retention.ms", "cleanup.policy")}
    if got != {"retention.ms": "3600000", "cleanup.policy": "delete"}:
        fail(f"configs {got}")
    return "retention.ms=3600000, cleanup.policy=delete"


def create_partitions():
    admin().create_partitions({ADMIN_TOPIC: 5}, timeout_ms=MS)
    partitions_are(ADMIN_TOPIC, 5)
    return "grown to 5; describe shows 0..4 with leaders"


def describe_cluster():
    d = admin().describe_cluster()
    nodes = [f"{b['host']}:{b['port']}" for b in d["brokers"]]
    if nodes != [BOOT]:
        fail(f"brokers {nodes}, want [{BOOT}]")
    if not d.get("cluster_id"):
        fail(f"cluster id {d.get('cluster_id')!r}")
    return f"one broker {nodes[0]} (id {d['brokers'][0]['broker_id']}), cluster id {d['cluster_id']}, controller {d.get('controller_id')}"


def delete_topics():
    admin().delete_topics([ADMIN_TOPIC], timeout_ms=MS)
    wait_until(f"{ADMIN_TOPIC} gone from metadata", lambda: ADMIN_TOPIC not in admin().list_topics(), timeout=10)
    return "deleted; gone from the topic list"


# --- consume -----------------------------------------------------------------

def assign_seek():
    topic = f"{PREFIX}-seek"
    create_topic(topic)
    recs = keyed_records("seek", 20)
    check_acked([o for _, o in produce(topic, recs)])
    compare(recs[7:], read(topic, 0, 7, 13), first_offset=7)
    return "assign(0) + seek(7) -> exactly records 7..19"


def offsets_for_times():
    topic = f"{PREFIX}-times"
    create_topic(topic)
    recs = keyed_records("times", 10, base_ts=T0)
    check_acked([o for _, o in produce(topic, recs)])
    tp = TopicPartition(topic, 0)
    c = reader()
    try:
        found = c.offsets_for_times({tp: T0 + 4500}, timeout_ms=MS)[tp]
        none = c.offsets_for_times({tp: T0 + 100000}, timeout_ms=MS)[tp]
    finally:
        c.close(autocommit=False)
    if found is None or found.offset != 5 or found.timestamp != T0 + 5000:
        fail(f"offset for T0+4500: {found}, want 5 at T0+5000")
    if none is not None:
        fail(f"offset for T0+100000: {none}, want None")
    compare(recs[5:], read(topic, 0, found.offset, 5), first_offset=5)
    return "T0+4500 -> 5 (timestamp T0+5000), T0+100000 -> None, records 5..9 from there"


def group_commit():
    create_topic(GROUP_TOPIC, 2)
    recs = keyed_records("group", 40)
    acks = produce(GROUP_TOPIC, recs, partition=None)
    c = KafkaConsumer(GROUP_TOPIC, group_id=GROUP_TOPIC, enable_auto_commit=False,
                      auto_offset_reset="earliest", session_timeout_ms=6000,
                      heartbeat_interval_ms=500, **COMMON)
    try:
        got = collect(lambda: to_recs(c.poll(timeout_ms=200)), 40)
        end = matrix.check_group_read(recs, acks, got)
        c.commit(timeout_ms=MS)
    finally:
        c.close(autocommit=False)
    state["end"] = end
    return f"40 records once each over partitions {sorted(end)}; sync commit() then close"


def committed_offsets():
    end = state["end"]
    tps = [TopicPartition(GROUP_TOPIC, p) for p in range(2)]
    c = KafkaConsumer(group_id=GROUP_TOPIC, enable_auto_commit=False, **COMMON)
    try:
        got = {tp.partition: c.committed(tp, timeout_ms=MS) for tp in tps}
        high = {tp.partition: o for tp, o in c.end_offsets(tps, timeout_ms=MS).items()}
    finally:
        c.close(autocommit=False)
    want = {p: end.get(p, 0) for p in range(2)}
    if got != want or high != want:
        fail(f"committed {got}, end offsets {high}, acked ends {want}")
    return f"committed() = end offsets {got}"


# --- transactions ------------------------------------------------------------
# commit_transaction(), abort_transaction() and send_offsets_to_transaction() take no timeout:
# they run under matrix.within().

def txn_producer(txn_id):
    """A transactional producer, initialised (init_transactions waits up to max_block_ms)."""
    p = KafkaProducer(transactional_id=txn_id, linger_ms=5, max_block_ms=MS, **COMMON)
    try:
        p.init_transactions()
    except BaseException:
        p.close(timeout=5)
        raise
    return p


def end_transaction(p, commit):
    if commit:
        within("commit_transaction", p.commit_transaction)
    else:
        within("abort_transaction", p.abort_transaction)


def produce_txns(topic, batches):
    """Each (recs, commit) of batches in its own transaction of one producer; the acked offsets."""
    create_topic(topic)
    p = txn_producer(topic)
    try:
        offsets = []
        for recs, commit in batches:
            p.begin_transaction()
            offsets += [o for _, o in send_all(p, topic, recs)]
            end_transaction(p, commit)
        return offsets
    finally:
        p.close(timeout=5)


def wait_committed(c, tp, want):
    def check():
        got = c.committed(tp, timeout_ms=MS)
        if got != want:
            raise AssertionError(f"committed offset {got}")
        return True
    wait_until(f"committed offset of {tp.topic}/{tp.partition} is {want}", check)


def send_offsets_to_transaction():
    group, src, dst = f"{PREFIX}-eos", f"{PREFIX}-eos-in", f"{PREFIX}-eos-out"
    create_topic(src)
    create_topic(dst)
    first, more = keyed_records("eos", 10), keyed_records("eos-more", 5)
    check_acked([o for _, o in produce(src, first)])
    tp = TopicPartition(src, 0)
    c = KafkaConsumer(src, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest",
                      isolation_level="read_committed", session_timeout_ms=6000,
                      heartbeat_interval_ms=500, **COMMON)
    p = None

    def process(recs, commit, first_offset):
        """Consumes recs, writes them upper-cased and sends the offsets in one transaction."""
        got = collect(lambda: to_recs(c.poll(timeout_ms=200)), len(recs))
        compare(recs, got, first_offset=first_offset)
        pos = c.position(tp, timeout_ms=MS)
        if pos != first_offset + len(recs):
            fail(f"consumer position {pos}, want {first_offset + len(recs)}")
        p.begin_transaction()
        acks = send_all(p, dst, matrix.upper(recs))
        meta = c.group_metadata()
        within("send_offsets_to_transaction", lambda: p.send_offsets_to_transaction(
            {tp: OffsetAndMetadata(pos, "", -1)}, meta))
        end_transaction(p, commit)
        return pos, meta, acks

    try:
        p = txn_producer(group)
        pos, meta, acks = process(first, True, 0)
        wait_committed(c, tp, 10)
        out = read_isolated(dst, True, 10)
        matrix.compare_in_order(matrix.upper(first), out, [o for _, o in acks])
        check_acked([o for _, o in produce(src, more)], first=10)
        aborted_pos, _, _ = process(more, False, 10)
        out = read_isolated(dst, True, 10)
        matrix.compare_in_order(matrix.upper(first), out, [o for _, o in acks])
        after_abort = c.committed(tp, timeout_ms=MS)
    finally:
        c.close(autocommit=False)
        if p is not None:
            p.close(timeout=5)
    if after_abort != 10:
        fail(f"after the aborted transaction (offsets at {aborted_pos}) the committed offset is {after_abort}, want 10")
    return (f"10 records consumed, written upper-cased + offsets (position {pos}, group_metadata() "
            f"generation {meta.generation_id}) committed in a transaction: committed offset 10, "
            f"read_committed output = those 10; 5 more in an aborted transaction: committed offset "
            f"still 10, output still those 10")


matrix.run("kafka-python", {
    **matrix.by_name(create_topics, describe_topics, describe_configs, create_partitions,
                     describe_cluster, delete_topics),
    **matrix.produce_scenarios(
        PREFIX, produce, lambda topic, n: read(topic, 0, 0, n), create=create_topic,
        # send() only takes (str, bytes) headers: no null header values.
        tricky=(matrix.tricky_records(null_header_values=False),
                "null key/value, empty value, repeated headers, CreateTime"),
        codec=lambda c: {"compression_type": None if c == "none" else c},
        # Idempotence (on by default) needs acks=all; the plain acks scenarios turn it off.
        acks=lambda a: {"acks": "all" if a == "all" else int(a), "enable_idempotence": False},
        idempotent={"enable_idempotence": True}, check_acks=matrix.check_acked_on_0),
    **matrix.by_name(assign_seek, offsets_for_times, group_commit, committed_offsets),
    "transactions": matrix.transactions_scenario(
        lambda batches: produce_txns(f"{PREFIX}-txn", batches),
        lambda committed, n: read_isolated(f"{PREFIX}-txn", committed, n)),
    **matrix.by_name(send_offsets_to_transaction),
})
