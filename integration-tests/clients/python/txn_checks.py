#!/usr/bin/env python3
"""Transactions (KIP-98, KIP-447) with confluent-kafka (librdkafka 2.16), run by
tests/transactions.rs on one broker and on the 3-broker cluster.
Usage: txn_checks.py BOOTSTRAP PREFIX [REPLICATION]

Prints one `RESULT <id> PASS|FAIL <detail>` line per check (the contract of ../SCENARIOS.md),
exits 0. Topics are PREFIX-<check>, created with REPLICATION replicas (default 1).

- commit: a committed transaction over two partitions is read by read_committed once each.
- abort: an aborted transaction's records never reach a read_committed consumer (a
  read_uncommitted one sees them); records produced after the abort are visible.
- abort_then_retry: abort, then the same records in a new transaction, committed: read_committed
  sees them once, with the retried values.
- send_offsets_commit: send_offsets_to_transaction (offsets of two partitions) with a subscribed
  consumer's group metadata: the group's committed offsets are unchanged while the transaction is
  open and move at commit.
- send_offsets_abort: an aborted transaction's offsets leave the group's offsets unchanged, and
  its records stay invisible to read_committed.
- zombie_fenced: a second producer with the same transactional.id fences the first: the
  first's open transaction is aborted and its commit fails; the second's commit is visible.
- lso: a transaction left open holds the last stable offset at its first offset: read_committed
  consumers get nothing from it on (not even later non-transactional records), ListOffsets
  (AdminClient.list_offsets, and get_watermark_offsets of a read_committed consumer) with
  read_committed stop there, read_uncommitted sees everything; after the commit everything
  is visible to the same read_committed consumer, and the LSO is the high watermark.
"""

import sys
import time
import uuid

from confluent_kafka import (OFFSET_BEGINNING, OFFSET_INVALID, Consumer, ConsumerGroupTopicPartitions,
                             IsolationLevel, KafkaError, KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

import matrix
from matrix import fail

if len(sys.argv) not in (3, 4):
    raise SystemExit("usage: txn_checks.py BOOTSTRAP PREFIX [REPLICATION]")
BOOT, PREFIX = sys.argv[1], sys.argv[2]
REPLICATION = int(sys.argv[3]) if len(sys.argv) == 4 else 1
TIMEOUT = matrix.STEP_TIMEOUT
ADMIN = AdminClient({"bootstrap.servers": BOOT})
RC, RU = "read_committed", "read_uncommitted"


def create(topic, partitions=1):
    ADMIN.create_topics([NewTopic(topic, partitions, REPLICATION)],
                        request_timeout=TIMEOUT)[topic].result(timeout=TIMEOUT)
    # Every partition led before the first produce (the cluster elects leaders after the create).
    def led():
        parts = ADMIN.list_topics(topic, timeout=5).topics[topic].partitions
        return len(parts) == partitions and all(p.leader >= 0 for p in parts.values())
    matrix.wait_until(f"{topic} has leaders", led)


class Txn:
    """A transactional producer that records delivery errors."""

    def __init__(self, txn_id, **extra):
        self.errors = []
        self.producer = Producer({"bootstrap.servers": BOOT, "transactional.id": txn_id,
                                  "transaction.timeout.ms": 60000, **extra})
        self.producer.init_transactions(TIMEOUT)

    def send(self, topic, records, partition=None):
        """records: [(key, value)] (str). partition None: the default partitioner."""
        for key, value in records:
            kwargs = {} if partition is None else {"partition": partition}
            self.producer.produce(topic, key=key.encode(), value=value.encode(), on_delivery=self._delivered, **kwargs)
            self.producer.poll(0)

    def flush(self):
        left = self.producer.flush(TIMEOUT)
        if left:
            fail(f"{left} records not delivered within {TIMEOUT:.0f}s")
        if self.errors:
            fail(f"delivery errors: {self.errors[:3]}")

    def _delivered(self, err, msg):
        if err is not None:
            self.errors.append(str(err))


def plain_produce(topic, records, partition=0):
    errors = []
    p = Producer({"bootstrap.servers": BOOT, "acks": "all"})
    for key, value in records:
        p.produce(topic, key=key.encode(), value=value.encode(), partition=partition,
                  on_delivery=lambda err, msg: err is not None and errors.append(str(err)))
    left = p.flush(TIMEOUT)
    if left or errors:
        fail(f"plain produce to {topic}: {left} undelivered, errors {errors[:3]}")


def recs(tag, n):
    return [(f"{tag}-k{i}", f"{tag}-v{i}") for i in range(n)]


class Reader:
    """An assign-mode consumer from the beginning of every partition of a topic; keeps its
    position between drain() calls."""

    def __init__(self, topic, isolation, partitions=1):
        self.topic, self.partitions = topic, partitions
        self.consumer = Consumer({
            "bootstrap.servers": BOOT, "group.id": f"{PREFIX}-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False, "isolation.level": isolation,
            "enable.partition.eof": True, "fetch.wait.max.ms": 100,
        })
        self.consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        self.records = []  # (partition, offset, key, value), everything received so far

    def drain(self, want=0, settle=1.5, timeout=TIMEOUT):
        """Polls until `want` records arrived in this call and every partition reported EOF
        (its end: the high watermark, or for read_committed the last stable offset), then
        `settle` seconds more, so that anything delivered beyond the end shows up too.
        (Transaction markers are written after the commit or abort returns: a reader may reach
        an end before they are, which is why callers say how many records they wait for.)
        Returns the records received in this call."""
        got, eof = [], set()
        deadline = time.monotonic() + timeout
        settle_until = None
        while True:
            now = time.monotonic()
            if settle_until is None and len(eof) == self.partitions and len(got) >= want:
                settle_until = now + settle
            if settle_until is not None and now > settle_until:
                break
            if now > deadline:
                fail(f"{self.topic}: {len(got)} of {want} records and the end of partitions {sorted(eof)} "
                     f"of {self.partitions} within {timeout:.0f}s")
            m = self.consumer.poll(0.1)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                else:
                    print(f"{self.topic}: consumer error {m.error()}", file=sys.stderr, flush=True)
                continue
            got.append((m.partition(), m.offset(), m.key().decode(), m.value().decode()))
        self.records += got
        return got

    def close(self):
        self.consumer.close()


def read(topic, isolation, want, partitions=1):
    """Everything from the beginning (at least `want` records, see Reader.drain)."""
    r = Reader(topic, isolation, partitions)
    try:
        return r.drain(want)
    finally:
        r.close()


def expect_exactly(got, want, what):
    """got: reader records; want: [(key, value)]. Each wanted record exactly once, nothing else."""
    have = [(k, v) for _, _, k, v in got]
    keys = [k for k, _ in have]
    dups = sorted({k for k in keys if keys.count(k) > 1})
    if dups:
        fail(f"{what}: keys read more than once: {dups[:5]}")
    if sorted(have) != sorted(want):
        extra = sorted(set(have) - set(want))
        missing = sorted(set(want) - set(have))
        fail(f"{what}: read {len(have)} records, want {len(want)}; extra {extra[:3]}, missing {missing[:3]}")


def end_offset(topic, isolation, partition=0):
    """ListOffsets(latest) through AdminClient.list_offsets at `isolation`."""
    tp = TopicPartition(topic, partition)
    level = IsolationLevel.READ_COMMITTED if isolation == RC else IsolationLevel.READ_UNCOMMITTED
    res = ADMIN.list_offsets({tp: OffsetSpec.latest()}, isolation_level=level, request_timeout=TIMEOUT)
    return res[tp].result(timeout=TIMEOUT).offset


def group_offset(group, topic, partition=0):
    """The group's committed offset (OffsetFetch without require_stable); OFFSET_INVALID: none."""
    req = [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, partition)])]
    res = ADMIN.list_consumer_group_offsets(req, require_stable=False, request_timeout=TIMEOUT)[group].result(timeout=TIMEOUT)
    return res.topic_partitions[0].offset


def topic(name):
    return f"{PREFIX}-{name}"


# --- checks ------------------------------------------------------------------------------

def commit():
    t = topic("commit")
    create(t, partitions=2)
    txn = Txn(f"{t}-txn")
    want = recs("c", 40)
    txn.producer.begin_transaction()
    txn.send(t, want)
    txn.flush()
    txn.producer.commit_transaction(TIMEOUT)
    got = read(t, RC, len(want), partitions=2)
    expect_exactly(got, want, "read_committed")
    if len({p for p, _, _, _ in got}) != 2:
        fail(f"the transaction's records landed on partitions {sorted({p for p, _, _, _ in got})}, want both")
    # A second transaction on the same producer commits too.
    more = recs("c2", 10)
    txn.producer.begin_transaction()
    txn.send(t, more)
    txn.producer.commit_transaction(TIMEOUT)
    expect_exactly(read(t, RC, len(want + more), partitions=2), want + more, "read_committed after a second transaction")
    return f"{len(want)} + {len(more)} records over 2 partitions in two transactions, read_committed read each once"


def abort():
    t = topic("abort")
    create(t)
    txn = Txn(f"{t}-txn")
    aborted = recs("aborted", 10)
    txn.producer.begin_transaction()
    txn.send(t, aborted, partition=0)
    txn.flush()
    txn.producer.abort_transaction(TIMEOUT)
    after = recs("after", 3)
    plain_produce(t, after)
    got = read(t, RC, len(after))
    expect_exactly(got, after, "read_committed")
    everything = read(t, RU, len(aborted + after))
    expect_exactly(everything, aborted + after, "read_uncommitted")
    last_aborted = max(o for _, o, k, _ in everything if k.startswith("aborted-"))
    if any(o <= last_aborted for _, o, _, _ in got):
        fail(f"records after the abort at offsets {[o for _, o, _, _ in got]}, the aborted ones end at {last_aborted}")
    return f"{len(aborted)} aborted records invisible to read_committed, {len(after)} later ones visible; read_uncommitted sees all"


def abort_then_retry():
    t = topic("retry")
    create(t)
    txn = Txn(f"{t}-txn")
    first = [(k, v + "-attempt1") for k, v in recs("r", 20)]
    second = [(k, v + "-attempt2") for k, v in recs("r", 20)]
    txn.producer.begin_transaction()
    txn.send(t, first, partition=0)
    txn.flush()
    txn.producer.abort_transaction(TIMEOUT)
    txn.producer.begin_transaction()
    txn.send(t, second, partition=0)
    txn.flush()
    txn.producer.commit_transaction(TIMEOUT)
    expect_exactly(read(t, RC, len(second)), second, "read_committed")
    uncommitted = len(read(t, RU, len(first) + len(second)))
    if uncommitted != len(first) + len(second):
        fail(f"read_uncommitted read {uncommitted} records, want {len(first) + len(second)}")
    return f"{len(first)} records aborted then resent and committed: read_committed sees each once (the retry)"


def _group_consumer(group, t, n):
    """A subscribed read_committed consumer of `t` in `group` that has received `n` records."""
    c = Consumer({"bootstrap.servers": BOOT, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "isolation.level": RC,
                  "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
    c.subscribe([t])
    return c, _poll_n(c, n)


def _poll_n(c, n):
    got = []
    deadline = time.monotonic() + TIMEOUT
    while len(got) < n:
        if time.monotonic() > deadline:
            fail(f"the group consumer received {len(got)} of {n} input records")
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m)
    return got


def _next_offsets(msgs):
    """{partition: next offset} of what a consumer received."""
    out = {}
    for m in msgs:
        out[m.partition()] = max(out.get(m.partition(), 0), m.offset() + 1)
    return out


def _group_offsets(group, t):
    return {p: group_offset(group, t, p) for p in (0, 1)}


# The input of the send_offsets checks has two partitions: one TxnOffsetCommit carries the
# offsets of both (several offset records written in one transactional write).
EOS_IN, EOS_OUT, EOS_GROUP = "eos-in", "eos-out", "eos-group"


# What send_offsets_commit committed (a cluster's partitions start after the Raft leader's entry,
# so the offsets are read from the log, not assumed).
EOS_COMMITTED = {}


def send_offsets_commit():
    t_in, t_out, group = topic(EOS_IN), topic(EOS_OUT), f"{PREFIX}-{EOS_GROUP}"
    create(t_in, partitions=2)
    create(t_out)
    inputs = recs("in", 10)
    plain_produce(t_in, inputs[:5], partition=0)
    plain_produce(t_in, inputs[5:], partition=1)
    c, got = _group_consumer(group, t_in, 10)
    try:
        offsets = _next_offsets(got)
        if sorted(offsets) != [0, 1]:
            fail(f"the group consumer read partitions {sorted(offsets)}, want 0 and 1")
        txn = Txn(f"{PREFIX}-eos-txn")
        txn.producer.begin_transaction()
        txn.send(t_out, [(m.key().decode(), m.value().decode() + "-out") for m in got], partition=0)
        txn.producer.send_offsets_to_transaction([TopicPartition(t_in, p, o) for p, o in offsets.items()],
                                                 c.consumer_group_metadata(), TIMEOUT)
        txn.flush()
        pending = _group_offsets(group, t_in)
        if pending != {0: OFFSET_INVALID, 1: OFFSET_INVALID}:
            fail(f"the group's offsets are {pending} while the transaction is open, want none committed")
        txn.producer.commit_transaction(TIMEOUT)
        matrix.wait_until(f"the group's offsets at {offsets} after the commit", lambda: _group_offsets(group, t_in) == offsets)
        EOS_COMMITTED.update(offsets)
        expect_exactly(read(t_out, RC, 10), [(k, v + "-out") for k, v in inputs], "read_committed output")
    finally:
        c.close()
    return f"group offsets none while the transaction was open, {offsets} after its commit; output read once"


def send_offsets_abort():
    # Runs after send_offsets_commit: the group is past the 5 records of each partition.
    t_in, t_out, group = topic(EOS_IN), topic(EOS_OUT), f"{PREFIX}-{EOS_GROUP}"
    committed = _group_offsets(group, t_in)
    if not EOS_COMMITTED or committed != EOS_COMMITTED:
        fail(f"needs send_offsets_commit (the group is at {committed}, not {EOS_COMMITTED})")
    more = recs("in2", 5)
    plain_produce(t_in, more[:3], partition=0)
    plain_produce(t_in, more[3:], partition=1)
    c, got = _group_consumer(group, t_in, 5)
    try:
        keys = sorted(m.key().decode() for m in got)
        if keys != sorted(k for k, _ in more):
            fail(f"the group resumed with {keys}, want only the 5 new records (from its committed offsets)")
        txn = Txn(f"{PREFIX}-eos-txn")
        txn.producer.begin_transaction()
        txn.send(t_out, [(m.key().decode(), m.value().decode() + "-out") for m in got], partition=0)
        txn.producer.send_offsets_to_transaction([TopicPartition(t_in, p, o) for p, o in _next_offsets(got).items()],
                                                 c.consumer_group_metadata(), TIMEOUT)
        txn.flush()
        txn.producer.abort_transaction(TIMEOUT)
        # abort_transaction returns once the abort is decided; give a wrong commit time to show.
        time.sleep(1)
        after = _group_offsets(group, t_in)
        if after != committed:
            fail(f"the group's offsets are {after} after the abort, want {committed} (unchanged)")
        expect_exactly(read(t_out, RC, 10), [(k, v + "-out") for k, v in recs("in", 10)], "read_committed output")
    finally:
        c.close()
    return f"an aborted transaction's offsets left the group at {committed}; its output invisible to read_committed"


def zombie_fenced():
    t = topic("zombie")
    create(t)
    txn_id = f"{t}-txn"
    zombie = Txn(txn_id)
    zombie.producer.begin_transaction()
    zombie.send(t, recs("zombie", 5), partition=0)
    zombie.flush()
    successor = Txn(txn_id)  # InitProducerId bumps the epoch and aborts the zombie's transaction
    try:
        zombie.producer.commit_transaction(TIMEOUT)
        fail("the fenced producer's commit succeeded")
    except KafkaException as e:
        err = e.args[0]
        if not (err.fatal() or err.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                                               KafkaError.INVALID_PRODUCER_EPOCH)):
            fail(f"the fenced producer's commit failed with a non-fencing error: {err}")
        how = err.name()
    successor.producer.begin_transaction()
    successor.send(t, recs("successor", 5), partition=0)
    successor.producer.commit_transaction(TIMEOUT)
    expect_exactly(read(t, RC, 5), recs("successor", 5), "read_committed")
    return f"the zombie's commit failed with {how}; only the successor's records are visible"


def lso():
    t = topic("lso")
    create(t)
    before, open_recs, later = recs("before", 3), recs("open", 5), recs("later", 4)
    plain_produce(t, before)                                   # offsets 0..2
    txn = Txn(f"{t}-txn")
    txn.producer.begin_transaction()
    txn.send(t, open_recs, partition=0)                        # offsets 3..7, left open
    txn.flush()
    plain_produce(t, later)                                    # offsets 8..11
    rc_reader = Reader(t, RC)
    try:
        rc_got = rc_reader.drain(len(before), settle=3.0)
        expect_exactly(rc_got, before, "read_committed with a transaction open")
        ru = read(t, RU, len(before + open_recs + later))
        expect_exactly(ru, before + open_recs + later, "read_uncommitted with a transaction open")
        first_open = min(o for _, o, k, _ in ru if k.startswith("open-"))
        hw = max(o for _, o, _, _ in ru) + 1
        lso_rc = end_offset(t, RC)
        if lso_rc != first_open:
            fail(f"ListOffsets(latest, read_committed) = {lso_rc} with a transaction open from offset {first_open}")
        if end_offset(t, RU) != hw:
            fail(f"ListOffsets(latest, read_uncommitted) = {end_offset(t, RU)}, high watermark {hw}")
        _, wm_high = rc_reader.consumer.get_watermark_offsets(TopicPartition(t, 0), timeout=TIMEOUT, cached=False)
        if wm_high != first_open:
            fail(f"get_watermark_offsets of a read_committed consumer: high {wm_high}, want the LSO {first_open}")
        position = rc_reader.consumer.position([TopicPartition(t, 0)])[0].offset
        if position > first_open:
            fail(f"the read_committed consumer's position {position} is past the LSO {first_open}")

        txn.producer.commit_transaction(TIMEOUT)
        rest = rc_reader.drain(len(open_recs + later))
        expect_exactly(rc_reader.records, before + open_recs + later, "read_committed after the commit")
        if [k for _, _, k, _ in rest] != [k for k, _ in open_recs + later]:
            fail(f"after the commit the read_committed consumer got {[k for _, _, k, _ in rest]} (in this order)")
        end_rc, end_ru = end_offset(t, RC), end_offset(t, RU)
        if not (end_rc == end_ru and end_rc > hw):
            fail(f"after the commit ListOffsets read_committed {end_rc}, read_uncommitted {end_ru} "
                 f"(want equal, past the {hw} before the marker)")
    finally:
        rc_reader.close()
    return (f"open transaction at {first_open}: read_committed stopped there (ListOffsets and watermark {lso_rc}, "
            f"high watermark {hw}); after commit everything visible, LSO = HW = {end_rc}")


CHECKS = [commit, abort, abort_then_retry, send_offsets_commit, send_offsets_abort, zombie_fenced, lso]


matrix.run_checks("confluent transactions", CHECKS, seconds=140)
