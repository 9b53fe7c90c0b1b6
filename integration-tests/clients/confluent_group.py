"""confluent-kafka (librdkafka 2.16) consumer groups against Weir: two members of one group
share a 4-partition topic while the second joins and the first leaves, committing
synchronously after every message; every record arrives exactly once, and the committed offsets
add up. Usage: confluent_group.py HOST:PORT TOPIC
"""
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

RECORDS = 400
boot, topic = sys.argv[1:3]
group = topic + "-group"


def fail(msg):
    print(f"[confluent-group] FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


admin = AdminClient({"bootstrap.servers": boot})
for f in admin.create_topics([NewTopic(topic, 4, 1)]).values():
    f.result(20)
producer = Producer({"bootstrap.servers": boot, "acks": "all"})
for i in range(RECORDS):
    producer.produce(topic, key=f"k{i}", value=f"v{i}")
if producer.flush(30) != 0:
    fail("produce did not finish")

config = {
    "bootstrap.servers": boot,
    "group.id": group,
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 500,
}
seen = {}


def take(consumer):
    message = consumer.poll(0.05)
    if message is None or message.error():
        return
    key = message.key().decode()
    seen[key] = seen.get(key, 0) + 1
    consumer.commit(message=message, asynchronous=False)


deadline = time.time() + 90
first = Consumer(config)
first.subscribe([topic])
while len(seen) < RECORDS // 4:
    if time.time() > deadline:
        fail(f"first member stalled at {len(seen)}")
    take(first)
second = Consumer(config)
second.subscribe([topic])
while not second.assignment() or len(first.assignment()) == 4:
    if time.time() > deadline:
        fail("second member never got partitions")
    take(first)
    take(second)
first.close()  # leaves the group
while len(seen) < RECORDS:
    if time.time() > deadline:
        fail(f"second member stalled at {len(seen)}")
    take(second)
committed = second.committed([TopicPartition(topic, p) for p in range(4)], timeout=10)
second.close()
dups = {k: n for k, n in seen.items() if n != 1}
if dups:
    fail(f"delivered more than once: {list(dups.items())[:5]}")
total = sum(tp.offset for tp in committed)
if total != RECORDS:
    fail(f"committed offsets add up to {total}, expected {RECORDS}: {committed}")
groups = [g.group_id for g in admin.list_consumer_groups().result(10).valid]
if group not in groups:
    fail(f"list_consumer_groups lacks {group}: {groups}")
print(f"[confluent-group] OK: {RECORDS} records once each, committed {total}")
