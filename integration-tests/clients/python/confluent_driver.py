#!/usr/bin/env python3
"""Compatibility-matrix driver for confluent-kafka 2.16.1 (librdkafka 2.16).
Usage: confluent_driver.py BOOTSTRAP PREFIX. The scenarios are in ../SCENARIOS.md."""

import functools

from confluent_kafka import (OFFSET_BEGINNING, TIMESTAMP_CREATE_TIME, Consumer, KafkaError,
                             KafkaException, Producer, TopicCollection, TopicPartition)
from confluent_kafka.admin import (AdminClient, ConfigResource, NewPartitions, NewTopic,
                                   ResourceType)

import matrix
from matrix import T0, Rec, check_acked, collect, compare, fail, keyed_records, wait_until

BOOT, PREFIX = matrix.args()
TIMEOUT = matrix.STEP_TIMEOUT
ADMIN_TOPIC = f"{PREFIX}-admin"
GROUP_TOPIC = f"{PREFIX}-group"
state = {}  # what group_commit leaves for committed_offsets


@functools.cache
def admin():
    """One admin client, made on first use (so that a dead broker fails scenarios, not the driver)."""
    return AdminClient({"bootstrap.servers": BOOT})


def create_topic(topic, partitions=1, config=None):
    fut = admin().create_topics([NewTopic(topic, partitions, 1, config=config or {})],
                              request_timeout=TIMEOUT)[topic]
    fut.result(timeout=TIMEOUT)


def producer(settings=None):
    """(a producer, the list its error_cb appends fatal errors to)."""
    errors = []

    def on_error(err):
        if err.fatal():
            errors.append(f"fatal producer error: {err}")

    p = Producer({"bootstrap.servers": BOOT, "linger.ms": 5, "message.timeout.ms": int(TIMEOUT * 1000),
                  "error_cb": on_error, **(settings or {})})
    return p, errors


def produce(topic, recs, settings=None, partition=0):
    """Sends recs in order (to `partition`, or by key if None); returns the acked
    (partition, offset) of each, in send order."""
    p, errors = producer(settings)
    return send_all(p, errors, topic, recs, partition)


def send_all(p, errors, topic, recs, partition=0):
    """Sends recs with producer p and flushes; returns the acked (partition, offset) of each."""
    acks = [None] * len(recs)
    for i, r in enumerate(recs):
        def cb(err, msg, i=i):
            if err is not None:
                errors.append(f"record {i}: {err}")
            else:
                acks[i] = (msg.partition(), msg.offset())
        kw = {"key": r.key, "value": r.value, "on_delivery": cb}
        if r.headers:
            kw["headers"] = r.headers
        if r.timestamp is not None:
            kw["timestamp"] = r.timestamp
        if partition is not None:
            kw["partition"] = partition
        p.produce(topic, **kw)
        p.poll(0)
    left = p.flush(TIMEOUT)
    if errors or left:
        fail(f"produce to {topic}: {left} undelivered; " + "; ".join(errors[:3]))
    return acks


def to_rec(msg):
    if msg.error():
        fail(f"consumer error: {msg.error()}")
    ts_type, ts = msg.timestamp()
    if ts_type != TIMESTAMP_CREATE_TIME:
        fail(f"record {msg.partition()}/{msg.offset()}: timestamp type {ts_type}, want CreateTime")
    return Rec(msg.key(), msg.value(), msg.headers() or [], ts, msg.partition(), msg.offset())


def reader(**extra):
    return Consumer({"bootstrap.servers": BOOT, "group.id": f"{PREFIX}-reader",  # required, never joined
                     "enable.auto.commit": False, "auto.offset.reset": "error",
                     "enable.partition.eof": False, **extra})


def read(topic, partition, offset, n, seek=False):
    """Reads partition from offset (assigned there, or assigned at the start and then
    seek()) until n records have come, plus a short linger for extras."""
    c = reader()
    try:
        if seek:
            c.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
            c.seek(TopicPartition(topic, partition, offset))
        else:
            c.assign([TopicPartition(topic, partition, offset)])
        return collect(lambda: [to_rec(m) for m in c.consume(500, 0.2)], n)
    finally:
        c.close()


def read_isolated(topic, committed, n):
    """Partition 0 of topic from the beginning, read_committed or read_uncommitted."""
    c = reader(**{"isolation.level": "read_committed" if committed else "read_uncommitted"})
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        return collect(lambda: [to_rec(m) for m in c.consume(500, 0.2)], n)
    finally:
        c.close()


# --- admin -------------------------------------------------------------------

def create_topics():
    create_topic(ADMIN_TOPIC, 3, {"retention.ms": "3600000"})
    try:
        create_topic(ADMIN_TOPIC, 3)
    except KafkaException as e:
        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            fail(f"second create failed with {e.args[0]}, want TOPIC_ALREADY_EXISTS")
    else:
        fail("second create of the same topic succeeded")
    return "created with 3 partitions + retention.ms; second create -> TOPIC_ALREADY_EXISTS"


def describe(topic):
    return admin().describe_topics(TopicCollection([topic]), request_timeout=TIMEOUT)[topic].result(TIMEOUT)


def partitions_are(topic, n):
    def check():
        d = describe(topic)
        ids = sorted(p.id for p in d.partitions)
        brokers = set(admin().list_topics(timeout=10).brokers)
        leaders = {p.id: p.leader.id if p.leader else None for p in d.partitions}
        if ids != list(range(n)) or not set(leaders.values()) <= brokers:
            raise AssertionError(f"partitions {ids}, leaders {leaders}, brokers {sorted(brokers)}")
        return True
    wait_until(f"{topic} has partitions 0..{n - 1} with leaders", check)


def describe_topics():
    partitions_are(ADMIN_TOPIC, 3)
    return "partitions 0,1,2, each led by a cluster broker"


def describe_configs():
    res = admin().describe_configs([ConfigResource(ResourceType.TOPIC, ADMIN_TOPIC)],
                                 request_timeout=TIMEOUT)
    configs = list(res.values())[0].result(TIMEOUT)
    got = {k: configs[k].value if k in configs else None for k in ("retention.ms", "cleanup.policy")}
    if got != {"retention.ms": "3600000", "cleanup.policy": "delete"}:
        fail(f"configs {got}")
    return "retention.ms=3600000, cleanup.policy=delete"


def create_partitions():
    admin().create_partitions([NewPartitions(ADMIN_TOPIC, 5)], request_timeout=TIMEOUT)[ADMIN_TOPIC].result(TIMEOUT)
    partitions_are(ADMIN_TOPIC, 5)
    return "grown to 5; describe shows 0..4 with leaders"


def describe_cluster():
    d = admin().describe_cluster(request_timeout=TIMEOUT).result(TIMEOUT)
    nodes = [f"{n.host}:{n.port}" for n in d.nodes]
    if nodes != [BOOT]:
        fail(f"brokers {nodes}, want [{BOOT}]")
    if not d.cluster_id:
        fail(f"cluster id {d.cluster_id!r}")
    return f"one broker {nodes[0]} (id {d.nodes[0].id}), cluster id {d.cluster_id}, controller {d.controller.id if d.controller else None}"


def delete_topics():
    admin().delete_topics([ADMIN_TOPIC], request_timeout=TIMEOUT)[ADMIN_TOPIC].result(TIMEOUT)
    wait_until(f"{ADMIN_TOPIC} gone from metadata",
               lambda: ADMIN_TOPIC not in admin().list_topics(timeout=5).topics, timeout=10)
    return "deleted; gone from metadata"


# --- consume -----------------------------------------------------------------

def assign_seek():
    topic = f"{PREFIX}-seek"
    create_topic(topic)
    recs = keyed_records("seek", 20)
    check_acked([o for _, o in produce(topic, recs)])
    compare(recs[7:], read(topic, 0, 7, 13, seek=True), first_offset=7)
    return "assign(0) + seek(7) -> exactly records 7..19"


def offsets_for_times():
    topic = f"{PREFIX}-times"
    create_topic(topic)
    recs = keyed_records("times", 10, base_ts=T0)
    check_acked([o for _, o in produce(topic, recs)])
    c = reader()
    try:
        found = c.offsets_for_times([TopicPartition(topic, 0, T0 + 4500)], timeout=TIMEOUT)[0]
        none = c.offsets_for_times([TopicPartition(topic, 0, T0 + 100000)], timeout=TIMEOUT)[0]
    finally:
        c.close()
    if found.error or found.offset != 5:
        fail(f"offset for T0+4500: {found.offset} (error {found.error}), want 5")
    if none.error or none.offset != -1:
        fail(f"offset for T0+100000: {none.offset} (error {none.error}), want -1")
    compare(recs[5:], read(topic, 0, found.offset, 5), first_offset=5)
    return "T0+4500 -> 5, T0+100000 -> -1, records 5..9 from there"


def group_commit():
    create_topic(GROUP_TOPIC, 2)
    recs = keyed_records("group", 40)
    acks = produce(GROUP_TOPIC, recs, partition=None)
    c = Consumer({"bootstrap.servers": BOOT, "group.id": GROUP_TOPIC, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                  "heartbeat.interval.ms": 500})
    try:
        c.subscribe([GROUP_TOPIC])
        got = collect(lambda: [to_rec(m) for m in c.consume(500, 0.2)], 40)
        end = matrix.check_group_read(recs, acks, got)
        committed = c.commit(asynchronous=False)
    finally:
        c.close()
    bad = [tp for tp in committed if tp.error]
    if bad:
        fail(f"commit errors: {bad}")
    state["end"] = end
    return f"40 records once each over partitions {sorted(end)}; sync commit {[(tp.partition, tp.offset) for tp in committed]}"


def committed_offsets():
    end = state["end"]
    c = Consumer({"bootstrap.servers": BOOT, "group.id": GROUP_TOPIC, "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(GROUP_TOPIC, p) for p in range(2)], timeout=TIMEOUT)
        high = {p: c.get_watermark_offsets(TopicPartition(GROUP_TOPIC, p), timeout=TIMEOUT)[1] for p in range(2)}
    finally:
        c.close()
    got = {tp.partition: tp.offset for tp in tps}
    want = {p: end.get(p, 0) for p in range(2)}
    if any(tp.error for tp in tps) or got != want or high != want:
        fail(f"committed {got} (errors {[tp.error for tp in tps if tp.error]}), end offsets {high}, acked ends {want}")
    return f"committed() = end offsets {got}"


# --- transactions ------------------------------------------------------------

def txn_producer(txn_id):
    """A transactional producer, initialised (init_transactions)."""
    p, errors = producer({"transactional.id": txn_id})
    p.init_transactions(TIMEOUT)
    return p, errors


def produce_txns(topic, batches):
    """Each (recs, commit) of batches in its own transaction of one producer; the acked offsets."""
    create_topic(topic)
    p, errors = txn_producer(topic)
    offsets = []
    for recs, commit in batches:
        p.begin_transaction()
        offsets += [o for _, o in send_all(p, errors, topic, recs)]
        if commit:
            p.commit_transaction(TIMEOUT)
        else:
            p.abort_transaction(TIMEOUT)
    return offsets


def committed_offset(c, tp):
    """The group's committed offset of tp (None if none), through the consumer c (which is
    read_committed, so librdkafka asks for stable offsets: none pending in a transaction)."""
    [got] = c.committed([tp], timeout=TIMEOUT)
    if got.error:
        fail(f"committed({tp.topic}/{tp.partition}): {got.error}")
    return None if got.offset < 0 else got.offset


def wait_committed(c, tp, want):
    def check():
        got = committed_offset(c, tp)
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
    c = Consumer({"bootstrap.servers": BOOT, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                  "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
    p, errors = txn_producer(group)

    def process(recs, commit, first_offset):
        """Consumes recs, writes them upper-cased and sends the offsets in one transaction."""
        got = collect(lambda: [to_rec(m) for m in c.consume(500, 0.2)], len(recs))
        compare(recs, got, first_offset=first_offset)
        [pos] = c.position([tp])
        if pos.offset != first_offset + len(recs):
            fail(f"consumer position {pos.offset}, want {first_offset + len(recs)}")
        p.begin_transaction()
        acks = send_all(p, errors, dst, matrix.upper(recs))
        p.send_offsets_to_transaction([TopicPartition(src, 0, pos.offset)], c.consumer_group_metadata(), TIMEOUT)
        if commit:
            p.commit_transaction(TIMEOUT)
        else:
            p.abort_transaction(TIMEOUT)
        return pos.offset, acks

    try:
        c.subscribe([src])
        pos, acks = process(first, True, 0)
        wait_committed(c, tp, 10)
        out = read_isolated(dst, True, 10)
        matrix.compare_in_order(matrix.upper(first), out, [o for _, o in acks])
        check_acked([o for _, o in produce(src, more)], first=10)
        aborted_pos, _ = process(more, False, 10)
        out = read_isolated(dst, True, 10)
        matrix.compare_in_order(matrix.upper(first), out, [o for _, o in acks])
        after_abort = committed_offset(c, tp)
    finally:
        c.close()
    if after_abort != 10:
        fail(f"after the aborted transaction (offsets at {aborted_pos}) the committed offset is {after_abort}, want 10")
    return (f"10 records consumed, written upper-cased + offsets (position {pos}, consumer_group_metadata) "
            f"committed in a transaction: committed offset 10, read_committed output = those 10; "
            f"5 more in an aborted transaction: committed offset still 10, output still those 10")


matrix.run("confluent-kafka", {
    **matrix.by_name(create_topics, describe_topics, describe_configs, create_partitions,
                     describe_cluster, delete_topics),
    **matrix.produce_scenarios(
        PREFIX, produce, lambda topic, n: read(topic, 0, 0, n), create=create_topic,
        tricky=(matrix.tricky_records(), "null key/value, empty value, repeated + null headers, CreateTime"),
        codec=lambda c: {"compression.type": c}, acks=lambda a: {"acks": a},
        idempotent={"enable.idempotence": True}, check_acks=matrix.check_acked_on_0),
    **matrix.by_name(assign_seek, offsets_for_times, group_commit, committed_offsets),
    "transactions": matrix.transactions_scenario(
        lambda batches: produce_txns(f"{PREFIX}-txn", batches),
        lambda committed, n: read_isolated(f"{PREFIX}-txn", committed, n)),
    **matrix.by_name(send_offsets_to_transaction),
})
