#!/usr/bin/env python3
"""Compatibility-matrix driver for aiokafka 0.14.0 (asyncio; codecs through cramjam).
Usage: aiokafka_driver.py BOOTSTRAP PREFIX. The scenarios are in ../SCENARIOS.md.
Each scenario runs its own event loop (asyncio.run) and its own clients."""

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code

import matrix
from matrix import T0, Rec, compare, compare_exactly_once, fail, keyed_records

BOOT, PREFIX = matrix.args()
TIMEOUT = matrix.STEP_TIMEOUT
TIMEOUT_MS = int(TIMEOUT * 1000)
ADMIN_TOPIC = f"{PREFIX}-admin"
GROUP_TOPIC = f"{PREFIX}-group"
GROUP = f"{PREFIX}-group"
TOPIC_ALREADY_EXISTS = 36
state = {}  # what group_commit leaves for committed_offsets


def scenario(coro_fn):
    """A scenario function for matrix.run: runs the coroutine in a fresh event loop."""
    def run():
        return asyncio.run(coro_fn())
    run.__name__ = coro_fn.__name__
    return run


async def step(what, aw, timeout=TIMEOUT):
    try:
        return await asyncio.wait_for(aw, timeout)
    except asyncio.TimeoutError:
        fail(f"{what}: no answer within {timeout:.0f}s")


class Admin:
    async def __aenter__(self):
        self.client = AIOKafkaAdminClient(bootstrap_servers=BOOT, request_timeout_ms=TIMEOUT_MS)
        await step("admin start", self.client.start())
        return self.client

    async def __aexit__(self, *exc):
        await self.client.close()


def error_name(code):
    return for_code(code).__name__


async def create_topic(admin, topic, partitions=1, config=None):
    resp = await step(f"create {topic}", admin.create_topics(
        [NewTopic(topic, partitions, 1, topic_configs=config or {})], timeout_ms=TIMEOUT_MS))
    errors = topic_errors(resp.to_object(), "topic_errors")
    code, msg = errors.get(topic, (None, None))
    if code is None:
        fail(f"CreateTopics answer has no entry for {topic}: {resp.to_object()}")
    return code, msg


def topic_errors(obj, field):
    out = {}
    for t in obj.get(field, []):
        out[t["topic"]] = (t["error_code"], t.get("error_message"))
    return out


async def metadata_topic(admin, topic):
    topics = await step("metadata", admin.describe_topics([topic]))
    for t in topics:
        if t["topic"] == topic:
            return t
    fail(f"metadata has no entry for {topic}: {topics}")


async def produce(topic, recs, partition=0, **settings):
    """Sends recs in order (to `partition`, or by key if None), waits for every ack;
    returns the acked offset of each, in send order (None with acks=0)."""
    p = AIOKafkaProducer(bootstrap_servers=BOOT, request_timeout_ms=TIMEOUT_MS, linger_ms=5, **settings)
    await step("producer start", p.start())
    try:
        return await send_all(p, topic, recs, partition)
    finally:
        await p.stop()


async def send_all(p, topic, recs, partition=0):
    """Sends recs with the started producer p, waits for every ack; the acked offsets."""
    futs = []
    for r in recs:
        futs.append(await step("send", p.send(topic, r.value, key=r.key, partition=partition,
                                              headers=r.headers or None,
                                              timestamp_ms=r.timestamp)))
    metas = await step(f"acks from {topic}", asyncio.gather(*futs))
    # acks=0: aiokafka resolves each send with None (nothing was acknowledged).
    return [None if m is None else m.offset for m in metas]


def to_rec(r):
    if r.timestamp_type != 0:
        fail(f"record {r.partition}/{r.offset}: timestamp type {r.timestamp_type}, want CreateTime (0)")
    return Rec(r.key, r.value, list(r.headers or []), r.timestamp, r.partition, r.offset)


async def drain(consumer, n, what, linger=0.5):
    """getmany() until n records arrived, then `linger` more seconds for extra ones."""
    got = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while len(got) < n:
        if loop.time() > deadline:
            fail(f"received {len(got)} of {n} {what} within {TIMEOUT:.0f}s")
        batch = await consumer.getmany(timeout_ms=200)
        for records in batch.values():
            got.extend(to_rec(r) for r in records)
    end = loop.time() + linger
    while loop.time() < end:
        batch = await consumer.getmany(timeout_ms=100)
        for records in batch.values():
            got.extend(to_rec(r) for r in records)
    return got


def reader():
    return AIOKafkaConsumer(bootstrap_servers=BOOT, enable_auto_commit=False,
                            auto_offset_reset="none", request_timeout_ms=TIMEOUT_MS)


async def read(topic, partition, offset, n):
    """Manual assignment (no group), seek to `offset`, read n records (and catch extras)."""
    c = reader()
    await step("consumer start", c.start())
    try:
        tp = TopicPartition(topic, partition)
        c.assign([tp])
        c.seek(tp, offset)
        return await drain(c, n, f"records of {topic}")
    finally:
        await c.stop()


async def read_isolated(topic, committed, n):
    """Partition 0 of topic from the beginning, read_committed or read_uncommitted."""
    c = AIOKafkaConsumer(bootstrap_servers=BOOT, enable_auto_commit=False, auto_offset_reset="none",
                         request_timeout_ms=TIMEOUT_MS,
                         isolation_level="read_committed" if committed else "read_uncommitted")
    await step("consumer start", c.start())
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        await step("seek_to_beginning", c.seek_to_beginning(tp))
        return await drain(c, n, f"records of {topic}")
    finally:
        await c.stop()


# --- admin -------------------------------------------------------------------------------

@scenario
async def create_topics():
    async with Admin() as admin:
        code, msg = await create_topic(admin, ADMIN_TOPIC, 3, {"retention.ms": "3600000"})
        if code != 0:
            fail(f"create {ADMIN_TOPIC}: {error_name(code)} {msg}")
        code, msg = await create_topic(admin, ADMIN_TOPIC, 3)
        if code != TOPIC_ALREADY_EXISTS:
            fail(f"second create of {ADMIN_TOPIC}: error {code} ({error_name(code)}), want TOPIC_ALREADY_EXISTS")
    return "3 partitions + retention.ms; second create -> TopicAlreadyExistsError"


async def check_partitions(admin, want):
    cluster = await step("describe_cluster", admin.describe_cluster())
    brokers = {b["node_id"] for b in cluster["brokers"]}
    t = await metadata_topic(admin, ADMIN_TOPIC)
    if t["error_code"]:
        fail(f"metadata of {ADMIN_TOPIC}: {error_name(t['error_code'])}")
    parts = sorted(t["partitions"], key=lambda p: p["partition"])
    ids = [p["partition"] for p in parts]
    if ids != list(range(want)):
        fail(f"partitions {ids}, want 0..{want - 1}")
    for p in parts:
        if p["error_code"] or p["leader"] not in brokers:
            fail(f"partition {p['partition']}: error {p['error_code']}, leader {p['leader']} not in brokers {sorted(brokers)}")
    return f"partitions 0..{want - 1}, leaders in brokers {sorted(brokers)}"


@scenario
async def describe_topics():
    async with Admin() as admin:
        return await check_partitions(admin, 3)


@scenario
async def describe_configs():
    async with Admin() as admin:
        resps = await step("describe_configs", admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, ADMIN_TOPIC)]))
        configs = {}
        for resp in resps:
            for res in resp.to_object()["resources"]:
                if res["error_code"]:
                    fail(f"describe_configs {res['resource_name']}: {error_name(res['error_code'])} {res['error_message']}")
                for e in res["config_entries"]:
                    configs[e["config_names"]] = e["config_value"]
    want = {"retention.ms": "3600000", "cleanup.policy": "delete"}
    bad = {k: configs.get(k) for k in want if configs.get(k) != want[k]}
    if bad:
        fail(f"configs {bad}, want {want}")
    return f"retention.ms=3600000, cleanup.policy=delete ({len(configs)} entries)"


@scenario
async def create_partitions():
    async with Admin() as admin:
        resp = await step("create_partitions", admin.create_partitions(
            {ADMIN_TOPIC: NewPartitions(total_count=5)}, timeout_ms=TIMEOUT_MS))
        for topic, code, msg in resp.topic_errors:
            if code:
                fail(f"create_partitions {topic}: {error_name(code)} {msg}")
        return await check_partitions(admin, 5)


@scenario
async def describe_cluster():
    async with Admin() as admin:
        cluster = await step("describe_cluster", admin.describe_cluster())
    brokers = [f"{b['host']}:{b['port']}" for b in cluster["brokers"]]
    if brokers != [BOOT]:
        fail(f"brokers {brokers}, want exactly [{BOOT}]")
    if not cluster.get("cluster_id"):
        fail(f"empty cluster id: {cluster}")
    return f"one broker {BOOT}, cluster id {cluster['cluster_id']}, controller {cluster.get('controller_id')}"


@scenario
async def delete_topics():
    async with Admin() as admin:
        resp = await step("delete_topics", admin.delete_topics([ADMIN_TOPIC], timeout_ms=TIMEOUT_MS))
        code, _ = topic_errors(resp.to_object(), "topic_error_codes").get(ADMIN_TOPIC, (None, None))
        if code != 0:
            fail(f"delete {ADMIN_TOPIC}: error {code} in {resp.to_object()}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while ADMIN_TOPIC in await step("list_topics", admin.list_topics()):
            if loop.time() > deadline:
                fail(f"{ADMIN_TOPIC} still listed 10s after delete")
            await asyncio.sleep(0.2)
    return "deleted; gone from list_topics"


# --- consume -----------------------------------------------------------------------------

@scenario
async def assign_seek():
    topic = f"{PREFIX}-seek"
    recs = keyed_records("seek", 20)
    await produce(topic, recs)
    compare(recs[7:], await read(topic, 0, 7, 13), first_offset=7)
    return "assign(p0) + seek(7) -> records 7..19"


@scenario
async def offsets_for_times():
    topic = f"{PREFIX}-times"
    recs = keyed_records("times", 10, base_ts=T0)
    await produce(topic, recs)
    c = reader()
    await step("consumer start", c.start())
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        found = await step("offsets_for_times", c.offsets_for_times({tp: T0 + 4500}))
        hit = found.get(tp)
        if hit is None or hit.offset != 5 or hit.timestamp != T0 + 5000:
            fail(f"offsets_for_times(T0+4500) = {hit}, want offset 5 at T0+5000")
        after = await step("offsets_for_times", c.offsets_for_times({tp: T0 + 100000}))
        if after.get(tp) is not None:
            fail(f"offsets_for_times(T0+100000) = {after.get(tp)}, want None")
        c.seek(tp, hit.offset)
        got = await drain(c, 5, f"records of {topic}")
    finally:
        await c.stop()
    compare(recs[5:], got, first_offset=5)
    return "T0+4500 -> offset 5 (ts T0+5000), T0+100000 -> None, records 5..9 from there"


@scenario
async def group_commit():
    async with Admin() as admin:
        code, msg = await create_topic(admin, GROUP_TOPIC, 2)
        if code != 0:
            fail(f"create {GROUP_TOPIC}: {error_name(code)} {msg}")
    recs = keyed_records("group", 40)
    for p in (0, 1):
        await produce(GROUP_TOPIC, recs[p::2], partition=p)
    c = AIOKafkaConsumer(GROUP_TOPIC, bootstrap_servers=BOOT, group_id=GROUP,
                         enable_auto_commit=False, auto_offset_reset="earliest",
                         request_timeout_ms=TIMEOUT_MS)
    await step("consumer start", c.start())
    try:
        got = await drain(c, 40, f"records of {GROUP_TOPIC} in group {GROUP}", linger=1.0)
        compare_exactly_once(recs, got)
        assigned = sorted(tp.partition for tp in c.assignment())
        await step("commit", c.commit())
    finally:
        await c.stop()
    if assigned != [0, 1]:
        fail(f"assigned partitions {assigned}, want [0, 1]")
    state["ends"] = {0: 20, 1: 20}
    return "2 partitions, 40 records exactly once, commit() with auto-commit off, left group"


@scenario
async def committed_offsets():
    tps = [TopicPartition(GROUP_TOPIC, p) for p in (0, 1)]
    c = AIOKafkaConsumer(bootstrap_servers=BOOT, group_id=GROUP, enable_auto_commit=False,
                         request_timeout_ms=TIMEOUT_MS)
    await step("consumer start", c.start())
    try:
        ends = await step("end_offsets", c.end_offsets(tps))
        ends = {tp.partition: o for tp, o in ends.items()}
        committed = {tp.partition: await step("committed", c.committed(tp)) for tp in tps}
    finally:
        await c.stop()
    if ends != state["ends"]:
        fail(f"end offsets {ends}, want {state['ends']}")
    if committed != ends:
        fail(f"consumer.committed() {committed}, want end offsets {ends}")
    async with Admin() as admin:
        listed = await step("list_consumer_group_offsets", admin.list_consumer_group_offsets(GROUP))
    listed = {tp.partition: om.offset for tp, om in listed.items() if tp.topic == GROUP_TOPIC}
    if listed != ends:
        fail(f"admin list_consumer_group_offsets {listed}, want end offsets {ends}")
    return f"committed() and admin list_consumer_group_offsets = end offsets {ends}"


# --- transactions ------------------------------------------------------------------------

async def create_topics_1(*topics):
    async with Admin() as admin:
        for topic in topics:
            code, msg = await create_topic(admin, topic)
            if code != 0:
                fail(f"create {topic}: {error_name(code)} {msg}")


async def txn_producer(txn_id):
    """A started transactional producer (start() initialises its producer id)."""
    p = AIOKafkaProducer(bootstrap_servers=BOOT, request_timeout_ms=TIMEOUT_MS, linger_ms=5,
                         transactional_id=txn_id)
    await step("transactional producer start", p.start())
    return p


async def in_transaction(p, body, commit):
    """body() in a transaction of p: the transaction() context commits it; an abort is
    begin_transaction() ... abort_transaction(). Returns what body() returned."""
    if commit:
        async with p.transaction():
            return await body()
    await step("begin_transaction", p.begin_transaction())
    result = await body()
    await step("abort_transaction", p.abort_transaction())
    return result


async def produce_txns(topic, batches):
    """Each (recs, commit) of batches in its own transaction of one producer; the acked offsets."""
    await create_topics_1(topic)
    p = await txn_producer(topic)
    try:
        offsets = []
        for recs, commit in batches:
            offsets += await step(f"{'committed' if commit else 'aborted'} transaction",
                                  in_transaction(p, lambda recs=recs: send_all(p, topic, recs), commit))
        return offsets
    finally:
        await p.stop()


async def wait_committed(c, tp, want):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while (got := await step("committed", c.committed(tp))) != want:
        if loop.time() > deadline:
            fail(f"committed offset of {tp.topic}/{tp.partition} is {got} after {TIMEOUT:.0f}s, want {want}")
        await asyncio.sleep(0.2)


@scenario
async def send_offsets_to_transaction():
    group, src, dst = f"{PREFIX}-eos", f"{PREFIX}-eos-in", f"{PREFIX}-eos-out"
    await create_topics_1(src, dst)
    first, more = keyed_records("eos", 10), keyed_records("eos-more", 5)
    matrix.check_acked(await produce(src, first))
    tp = TopicPartition(src, 0)
    c = AIOKafkaConsumer(src, bootstrap_servers=BOOT, group_id=group, enable_auto_commit=False,
                         auto_offset_reset="earliest", isolation_level="read_committed",
                         request_timeout_ms=TIMEOUT_MS)
    await step("consumer start", c.start())
    p = None

    async def process(recs, commit, first_offset):
        """Consumes recs, writes them upper-cased and sends the offsets in one transaction."""
        got = await drain(c, len(recs), f"records of {src} in group {group}")
        compare(recs, got, first_offset=first_offset)
        pos = await step("position", c.position(tp))
        if pos != first_offset + len(recs):
            fail(f"consumer position {pos}, want {first_offset + len(recs)}")

        async def body():
            acks = await send_all(p, dst, matrix.upper(recs))
            # aiokafka takes the group id only (no generation or member id).
            await step("send_offsets_to_transaction", p.send_offsets_to_transaction({tp: pos}, group))
            return acks
        return pos, await step(f"{'committed' if commit else 'aborted'} transaction",
                               in_transaction(p, body, commit))

    try:
        p = await txn_producer(group)
        pos, acks = await process(first, True, 0)
        await wait_committed(c, tp, 10)
        matrix.compare_in_order(matrix.upper(first), await read_isolated(dst, True, 10), acks)
        matrix.check_acked(await produce(src, more), first=10)
        aborted_pos, _ = await process(more, False, 10)
        matrix.compare_in_order(matrix.upper(first), await read_isolated(dst, True, 10), acks)
        after_abort = await step("committed", c.committed(tp))
    finally:
        await c.stop()
        if p is not None:
            await p.stop()
    if after_abort != 10:
        fail(f"after the aborted transaction (offsets at {aborted_pos}) the committed offset is {after_abort}, want 10")
    return (f"10 records consumed, written upper-cased + offsets (position {pos}, group id: aiokafka "
            f"takes no group metadata) committed in a transaction: committed offset 10, read_committed "
            f"output = those 10; 5 more in an aborted transaction: committed offset still 10, "
            f"output still those 10")


matrix.run("aiokafka", {
    **matrix.by_name(create_topics, describe_topics, describe_configs, create_partitions,
                     describe_cluster, delete_topics),
    # Each produce and each read runs in its own event loop, with its own client.
    **matrix.produce_scenarios(
        PREFIX, lambda topic, recs, settings: asyncio.run(produce(topic, recs, **settings)),
        lambda topic, n: asyncio.run(read(topic, 0, 0, n)),
        tricky=(matrix.tricky_records(), "null key, null/empty value, repeated + null-valued headers, CreateTime"),
        codec=lambda c: {"compression_type": None if c == "none" else c},
        acks=lambda a: {"acks": a if a == "all" else int(a)},
        idempotent={"enable_idempotence": True, "acks": "all"}, checked=["idempotent"]),
    **matrix.by_name(assign_seek, offsets_for_times, group_commit, committed_offsets),
    "transactions": matrix.transactions_scenario(
        lambda batches: asyncio.run(produce_txns(f"{PREFIX}-txn", batches)),
        lambda committed, n: asyncio.run(read_isolated(f"{PREFIX}-txn", committed, n))),
    **matrix.by_name(send_offsets_to_transaction),
})
