"""aiokafka against Weir: create a topic, produce keyed records with headers (gzip and plain),
read them back in assign mode and compare record by record, then consume again through a
consumer group with commits and check the committed offsets.
Usage: aiokafka_roundtrip.py HOST:PORT TOPIC
"""
import asyncio
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

RECORDS = 300
boot, topic = sys.argv[1:3]


def fail(msg):
    print(f"[aiokafka] FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


async def main():
    admin = AIOKafkaAdminClient(bootstrap_servers=boot)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    await admin.close()

    sent = {}
    for codec in (None, "gzip"):
        producer = AIOKafkaProducer(bootstrap_servers=boot, acks="all", compression_type=codec, enable_idempotence=True)
        await producer.start()
        for i in range(RECORDS // 2):
            key = f"{codec}-{i}".encode()
            value = f"value {i}".encode() * (1 + i % 5)
            meta = await producer.send_and_wait(topic, value, key=key, headers=[("i", str(i).encode())])
            sent[key] = (value, meta.partition, meta.offset)
        await producer.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=boot, enable_auto_commit=False)
    await consumer.start()
    partitions = [TopicPartition(topic, p) for p in range(2)]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    got = {}
    async def read_all():
        while len(got) < RECORDS:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    got[r.key] = (r.value, r.partition, r.offset, r.headers)
    await asyncio.wait_for(read_all(), 30)
    await consumer.stop()
    for key, (value, partition, offset) in sent.items():
        if key not in got:
            fail(f"missing {key!r}")
        g = got[key]
        if (g[0], g[1], g[2]) != (value, partition, offset):
            fail(f"{key!r}: got {g[:3]}, sent {(value, partition, offset)}")
        if list(g[3]) != [("i", key.split(b"-")[1])]:
            fail(f"{key!r}: headers {g[3]}")

    group = AIOKafkaConsumer(topic, bootstrap_servers=boot, group_id=topic + "-group",
                             enable_auto_commit=False, auto_offset_reset="earliest")
    await group.start()
    seen = 0
    async def consume_group():
        nonlocal seen
        while seen < RECORDS:
            batch = await group.getmany(timeout_ms=500)
            seen += sum(len(v) for v in batch.values())
            if batch:
                await group.commit()
    await asyncio.wait_for(consume_group(), 60)
    committed = [await group.committed(tp) for tp in partitions]
    await group.stop()
    if seen != RECORDS or sum(committed) != RECORDS:
        fail(f"group read {seen}, committed {committed}")
    print(f"[aiokafka] OK: {RECORDS} records round-tripped; group committed {committed}")


asyncio.run(main())
