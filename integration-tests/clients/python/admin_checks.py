#!/usr/bin/env python3
"""Admin checks with confluent-kafka's AdminClient (librdkafka 2.16).
Usage: admin_checks.py BOOTSTRAP PREFIX [configs|lead|all]

Prints one `RESULT <id> PASS|FAIL|UNSUPPORTED <detail>` line per check (the contract of
../SCENARIOS.md). Section `configs`: topic and broker configs (DescribeConfigs, AlterConfigs,
IncrementalAlterConfigs). Section `lead`: admin APIs implemented on main in parallel
(DeleteRecords, ElectLeaders, ...). The Java twin is ../java/AdminChecks.java."""

import os
import sys
import time

from confluent_kafka import (OFFSET_BEGINNING, Consumer, ElectionType, KafkaError, KafkaException,
                             Producer, TopicPartition)
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   ConfigSource, NewTopic, OffsetSpec, ResourceType)

import matrix
from matrix import Unsupported, fail

if len(sys.argv) not in (3, 4):
    raise SystemExit("usage: admin_checks.py BOOTSTRAP PREFIX [configs|lead|all]")
BOOT, PREFIX = sys.argv[1], sys.argv[2]
SECTION = sys.argv[3] if len(sys.argv) == 4 else "all"
TIMEOUT = matrix.STEP_TIMEOUT
HERE = os.path.dirname(os.path.abspath(__file__))
ADMIN = AdminClient({"bootstrap.servers": BOOT})


def full_config_set():
    """The shared full topic config set (../full-topic-configs.properties)."""
    out = {}
    with open(os.path.join(HERE, "..", "full-topic-configs.properties")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                k, v = line.split("=", 1)
                out[k] = v
    return out


def create(topic, config=None, partitions=1):
    ADMIN.create_topics([NewTopic(topic, partitions, 1, config=config or {})],
                        request_timeout=TIMEOUT)[topic].result(timeout=TIMEOUT)


def describe(rtype, name):
    """{config name: ConfigEntry} of one resource."""
    res = ConfigResource(rtype, name)
    return ADMIN.describe_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)


def src(entry):
    """A ConfigEntry's source as a ConfigSource name."""
    return ConfigSource(entry.source).name


def error_code(fn):
    """The KafkaError code fn() fails with, or None if it succeeds."""
    try:
        fn()
        return None
    except KafkaException as e:
        return e.args[0].code()


def incremental(rtype, name, ops, validate_only=False):
    """ops: [(config, AlterConfigOpType, value)]"""
    entries = [ConfigEntry(n, v, incremental_operation=op) for n, op, v in ops]
    res = ConfigResource(rtype, name, incremental_configs=entries)
    ADMIN.incremental_alter_configs([res], validate_only=validate_only,
                                    request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)


def expect_code(what, code, fn):
    got = error_code(fn)
    if got != code:
        fail(f"{what}: expected {KafkaError(code).name()}, got {got if got is None else KafkaError(got).name()}")


def broker_id():
    return str(ADMIN.describe_cluster(request_timeout=TIMEOUT).result(timeout=TIMEOUT).nodes[0].id)


# --- configs -------------------------------------------------------------------------------

def create_topic_full_config_set_kafka_accepts():
    topic = f"{PREFIX}-full"
    wanted = full_config_set()
    create(topic, wanted)
    got = describe(ResourceType.TOPIC, topic)
    for name, value in wanted.items():
        e = got.get(name)
        if e is None:
            fail(f"{name} not described")
        if e.value != value or src(e) != "DYNAMIC_TOPIC_CONFIG":
            fail(f"{name}: {e.value!r} source {e.source}, wanted {value!r} DYNAMIC_TOPIC_CONFIG")
    extra = sorted(set(got) - set(wanted))
    if extra:
        fail(f"described configs outside Kafka's topic config set: {extra}")
    return f"{len(wanted)} configs created and described as DYNAMIC_TOPIC_CONFIG"


def describe_topic_defaults_and_synonyms():
    topic = f"{PREFIX}-plain"
    create(topic)
    got = describe(ResourceType.TOPIC, topic)
    ret, seg = got["retention.ms"], got["segment.bytes"]
    if (ret.value, src(ret)) != ("604800000", "DEFAULT_CONFIG"):
        fail(f"retention.ms {ret.value} source {ret.source}")
    syn = {s.name: (s.value, src(s)) for s in seg.synonyms.values()}
    if syn.get("log.segment.bytes") != ("1073741824", "DEFAULT_CONFIG"):
        fail(f"segment.bytes synonyms {syn}")
    if ret.is_read_only or ret.is_sensitive:
        fail("retention.ms read-only or sensitive")
    expect_code("unknown topic", KafkaError.UNKNOWN_TOPIC_OR_PART,
                lambda: describe(ResourceType.TOPIC, f"{PREFIX}-missing"))
    return f"{len(got)} configs; defaults with DEFAULT_CONFIG synonyms; unknown topic refused"


def create_topic_invalid_values_refused():
    cases = {"segment.bytes": "100", "retention.ms": "-5", "cleanup.policy": "sometimes",
             "message.timestamp.type": "Now", "preallocate": "yes", "min.cleanable.dirty.ratio": "2",
             "no.such.config": "1", "remote.storage.enable": "true"}
    for name, value in cases.items():
        expect_code(f"{name}={value}", KafkaError.INVALID_CONFIG,
                    lambda: create(f"{PREFIX}-bad-{name.replace('.', '-')}", {name: value}))
    return f"{len(cases)} invalid configs refused with INVALID_CONFIG"


def alter_configs_topic_replaces_overrides():
    topic = f"{PREFIX}-legacy"
    create(topic, {"max.message.bytes": "5000", "retention.ms": "100000"})
    res = ConfigResource(ResourceType.TOPIC, topic, set_config={"retention.ms": "200000"})
    ADMIN.alter_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)
    got = describe(ResourceType.TOPIC, topic)
    if got["retention.ms"].value != "200000":
        fail(f"retention.ms {got['retention.ms'].value}")
    if src(got["max.message.bytes"]) != "DEFAULT_CONFIG":
        fail("max.message.bytes kept its override: AlterConfigs must replace the whole set")
    return "retention.ms altered; the other override removed (AlterConfigs replaces the set)"


def incremental_alter_topic():
    topic = f"{PREFIX}-incr"
    create(topic, {"max.message.bytes": "5000"})
    incremental(ResourceType.TOPIC, topic, [
        ("retention.ms", AlterConfigOpType.SET, "300000"),
        ("max.message.bytes", AlterConfigOpType.DELETE, None),
        ("cleanup.policy", AlterConfigOpType.APPEND, "compact"),
    ])
    got = describe(ResourceType.TOPIC, topic)
    seen = (got["retention.ms"].value, got["max.message.bytes"].value, got["cleanup.policy"].value)
    if seen != ("300000", "1048588", "delete,compact"):
        fail(f"after SET/DELETE/APPEND: {seen}")
    incremental(ResourceType.TOPIC, topic, [("cleanup.policy", AlterConfigOpType.SUBTRACT, "delete")])
    if describe(ResourceType.TOPIC, topic)["cleanup.policy"].value != "compact":
        fail("SUBTRACT delete did not leave compact")
    incremental(ResourceType.TOPIC, topic, [("retention.ms", AlterConfigOpType.SET, "1")], validate_only=True)
    if describe(ResourceType.TOPIC, topic)["retention.ms"].value != "300000":
        fail("validate_only changed retention.ms")
    expect_code("APPEND to a LONG", KafkaError.INVALID_CONFIG, lambda: incremental(
        ResourceType.TOPIC, topic, [("retention.ms", AlterConfigOpType.APPEND, "1")]))
    expect_code("segment.bytes=1", KafkaError.INVALID_CONFIG, lambda: incremental(
        ResourceType.TOPIC, topic, [("segment.bytes", AlterConfigOpType.SET, "1")]))
    expect_code("unknown topic", KafkaError.UNKNOWN_TOPIC_OR_PART, lambda: incremental(
        ResourceType.TOPIC, f"{PREFIX}-missing", [("retention.ms", AlterConfigOpType.SET, "1")]))
    return "SET, DELETE, APPEND, SUBTRACT, validate_only; bad values, APPEND to non-list, unknown topic refused"


def alter_topic_applies_live():
    topic = f"{PREFIX}-live"
    create(topic)
    incremental(ResourceType.TOPIC, topic, [("max.message.bytes", AlterConfigOpType.SET, "1000")])
    errors = []
    p = Producer({"bootstrap.servers": BOOT, "message.max.bytes": 100000, "retries": 0})
    p.produce(topic, value=b"x" * 3000, partition=0, on_delivery=lambda err, msg: errors.append(err))
    p.flush(TIMEOUT)
    if not errors or errors[0] is None or errors[0].code() != KafkaError.MSG_SIZE_TOO_LARGE:
        fail(f"a 3000-byte record after max.message.bytes=1000: {errors}")
    return "max.message.bytes=1000 applied to the live partition (MSG_SIZE_TOO_LARGE)"


def broker_configs_dynamic():
    node = broker_id()
    topic = f"{PREFIX}-plain"
    # log.segment.delete.delay.ms is the broker synonym of file.delete.delay.ms. (librdkafka
    # cannot name the cluster-default resource "", so only the per-broker one is altered here.)
    incremental(ResourceType.BROKER, node, [("log.segment.delete.delay.ms", AlterConfigOpType.SET, "80000")])
    e = describe(ResourceType.TOPIC, topic)["file.delete.delay.ms"]
    if (e.value, src(e)) != ("80000", "DYNAMIC_BROKER_CONFIG"):
        fail(f"topic after a per-broker value: {e.value} source {e.source}")
    b = describe(ResourceType.BROKER, node)["log.segment.delete.delay.ms"]
    if (b.value, src(b), b.is_read_only) != ("80000", "DYNAMIC_BROKER_CONFIG", False):
        fail(f"broker {node}: {b.value} source {b.source} read-only {b.is_read_only}")
    incremental(ResourceType.BROKER, node, [("log.segment.delete.delay.ms", AlterConfigOpType.DELETE, None)])
    e = describe(ResourceType.TOPIC, topic)["file.delete.delay.ms"]
    if (e.value, src(e)) != ("60000", "DEFAULT_CONFIG"):
        fail(f"after DELETE: {e.value} source {e.source}")
    if not describe(ResourceType.BROKER, node)["num.partitions"].is_read_only:
        fail("num.partitions not read-only")
    expect_code("static num.partitions", KafkaError.INVALID_REQUEST, lambda: incremental(
        ResourceType.BROKER, node, [("num.partitions", AlterConfigOpType.SET, "3")]))
    expect_code("bad value", KafkaError.INVALID_REQUEST, lambda: incremental(
        ResourceType.BROKER, node, [("log.retention.ms", AlterConfigOpType.SET, "soon")]))
    expect_code("validate_only bad value", KafkaError.INVALID_REQUEST, lambda: incremental(
        ResourceType.BROKER, node, [("log.segment.bytes", AlterConfigOpType.SET, "10")], validate_only=True))
    return "per-broker value with its source on the broker and the topic, DELETE; static configs and bad values refused"


CONFIG_CHECKS = [create_topic_full_config_set_kafka_accepts, describe_topic_defaults_and_synonyms,
                 create_topic_invalid_values_refused, alter_configs_topic_replaces_overrides,
                 incremental_alter_topic, alter_topic_applies_live, broker_configs_dynamic]


# --- lead: admin APIs implemented on main in parallel -------------------------------------

def lead_topic_with_records(name, n=10, settings=None):
    topic = f"{PREFIX}-{name}"
    create(topic)
    p = Producer({"bootstrap.servers": BOOT, **(settings or {})})
    for i in range(n):
        p.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=0)
    if p.flush(TIMEOUT):
        fail("records not acknowledged")
    return topic


def delete_records():
    topic = lead_topic_with_records("delrec")
    tp = TopicPartition(topic, 0, 4)
    low = ADMIN.delete_records([tp], request_timeout=TIMEOUT)[tp].result(timeout=TIMEOUT).low_watermark
    if low != 4:
        fail(f"low watermark {low}")
    spec = {TopicPartition(topic, 0): OffsetSpec.earliest()}
    earliest = ADMIN.list_offsets(spec, request_timeout=TIMEOUT)[TopicPartition(topic, 0)].result(timeout=TIMEOUT).offset
    if earliest != 4:
        fail(f"earliest after DeleteRecords {earliest}")
    c = Consumer({"bootstrap.servers": BOOT, "group.id": f"{PREFIX}-delrec", "auto.offset.reset": "error"})
    c.assign([TopicPartition(topic, 0, 0)])
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error() and m.error().code() == KafkaError._AUTO_OFFSET_RESET:
                return "low watermark 4; earliest follows; fetching 0 → offset out of range"
            fail(f"fetching offset 0: {m.error() or m.offset()}")
        fail("no offset-out-of-range error fetching offset 0")
    finally:
        c.close()


def describe_log_dirs():
    raise Unsupported("confluent-kafka has no DescribeLogDirs API")


def describe_producers():
    raise Unsupported("confluent-kafka has no DescribeProducers API")


def elect_leaders():
    topic = lead_topic_with_records("elect", n=1)
    tp = TopicPartition(topic, 0)
    # (confluent-kafka 2.16.1 raises SystemError when elect_leaders gets keyword options.)
    result = ADMIN.elect_leaders(ElectionType.PREFERRED, [tp]).result(timeout=TIMEOUT)
    err = result.get(tp)
    if err is None or err.code() != KafkaError.ELECTION_NOT_NEEDED:
        fail(f"PREFERRED election on a single broker: {err}")
    return "PREFERRED → ELECTION_NOT_NEEDED"


def list_partition_reassignments():
    raise Unsupported("confluent-kafka has no ListPartitionReassignments API")


def alter_partition_reassignments():
    raise Unsupported("confluent-kafka has no AlterPartitionReassignments API")


LEAD_CHECKS = [delete_records, describe_log_dirs, describe_producers, elect_leaders,
               list_partition_reassignments, alter_partition_reassignments]


matrix.run_checks("confluent admin", {"configs": CONFIG_CHECKS, "lead": LEAD_CHECKS, "all": CONFIG_CHECKS + LEAD_CHECKS}[SECTION])
