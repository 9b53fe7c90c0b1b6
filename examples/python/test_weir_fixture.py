"""Weir as the Kafka of a pytest suite: each test gets its own ephemeral broker on a free port.

Run with `pytest examples/python` (set WEIR_BIN to the weir binary if it is not on PATH).
"""
import os
import subprocess

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition


@pytest.fixture
def kafka_bootstrap():
    weir = subprocess.Popen(
        [os.environ.get("WEIR_BIN", "weir"), "serve", "--ephemeral", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = weir.stdout.readline()  # "listening on 127.0.0.1:PORT", printed once it accepts
        assert line.startswith("listening on "), line
        yield line.split()[-1]
    finally:
        weir.terminate()  # graceful: the temporary data directory is removed
        weir.wait(timeout=10)


def test_produce_and_consume(kafka_bootstrap):
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "acks": "all"})
    for i in range(10):
        producer.produce("events", key=f"k{i}", value=f"v{i}")
    assert producer.flush(10) == 0

    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "example", "enable.auto.commit": False})
    consumer.assign([TopicPartition("events", 0, 0)])
    values = []
    while len(values) < 10:
        message = consumer.poll(10)
        assert message is not None, "timed out"
        assert message.error() is None, message.error()
        values.append(message.value().decode())
    consumer.close()
    assert values == [f"v{i}" for i in range(10)]
