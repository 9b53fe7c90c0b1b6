"""A confluent-kafka group member that consumes until it is killed; prints its assignment.

Usage: group_member.py HOST:PORT TOPIC GROUP. Used by the crash test (killed with SIGKILL, so it
never leaves the group: the broker must notice by session timeout).
"""
import sys

from confluent_kafka import Consumer

boot, topic, group = sys.argv[1:4]
consumer = Consumer({
    "bootstrap.servers": boot,
    "group.id": group,
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 500,
    "enable.auto.commit": False,
})
consumer.subscribe([topic], on_assign=lambda c, ps: print("assigned", len(ps), flush=True))
while True:
    consumer.poll(0.1)
