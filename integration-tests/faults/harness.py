#!/usr/bin/env python3
"""Fault-injection harness for Weir: starts N brokers, runs an idempotent producer / consumer
group workload (or, with `--workload txn`, transactional producers, read_committed consumers and
a consume-transform-produce stage) while a seeded nemesis kills, pauses and partitions brokers,
then heals, reads every partition back, writes the whole history as JSONL and runs checker.py
over it.

    python3 harness.py --brokers 3 --cycles 10 --seed 7        # bounded run (a few minutes)
    python3 harness.py --brokers 3 --cycles 150 --seed 42      # long run
    python3 harness.py --brokers 3 --cycles 10 --seed 1 --workload txn   # exactly-once

Exit status: 0 when the checker finds nothing, 1 when it finds a violation, 2 when the harness
itself failed (a broker that would not start, a final read that could not run). README.md in
this directory explains the workload, the faults and the history format.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer,
                             TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checker  # noqa: E402

HOST = "127.0.0.1"
TOPIC_PREFIX = "faults-"
GROUP = "faults-group"
REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
# librdkafka's own log (connection refused while a broker is down, …) goes to clients.log in the
# work dir rather than the terminal.
CLIENT_LOG = logging.getLogger("weir-faults-clients")
CLIENT_LOG.propagate = False
# librdkafka debug contexts for the transactional clients (`--client-debug`), into clients.log.
CLIENT_DEBUG: dict = {}
ALL_FAULTS = ("kill", "kill-leader", "pause", "isolate", "split", "asym")
SINGLE_BROKER_FAULTS = ("kill", "pause")
# The txn workload adds the kill of a transaction coordinator (on a cluster).
TXN_FAULTS = ALL_FAULTS + ("kill-coordinator",)
CTP_GROUP = checker.CTP_GROUP     # the consume-transform-produce stage's group
CTP_OUTPUT = "ctp-out"            # its output topic (outside the workload's `faults-` topics)
TXN_STATE_TOPIC = "__transaction_state"
TXN_OP_TIMEOUT = 10     # seconds one transactional call may block
TXN_GIVE_UP = 45        # seconds of retriable errors before a commit's outcome is called unknown


class HarnessError(Exception):
    """The harness could not do its part (as opposed to a finding about Weir)."""


def say(msg: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def wait_until(what: str, timeout: float, probe, interval: float = 0.2):
    """Calls probe() until it returns something truthy; HarnessError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# --- history ---------------------------------------------------------------------------------

class History:
    """The JSONL history: one event a line, each with monotonic and wall-clock timestamps."""

    def __init__(self, path: str):
        self.path = path
        self._f = open(path, "w", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    def log(self, type: str, **fields) -> dict:
        with self._lock:   # timestamps taken under the lock: the file is in time order
            if self._f.closed:   # a late callback after the run ended
                return {}
            e = {"type": type, "mono": round(time.monotonic(), 6), "wall": round(time.time(), 6),
                 **fields}
            self._f.write(json.dumps(e) + "\n")
        return e

    def close(self) -> None:
        with self._lock:
            self._f.close()


# --- network: a TCP proxy per directed Raft link ---------------------------------------------

class Link:
    """The proxy that broker `src` uses to reach broker `dst`'s Raft port. Cutting it closes the
    connections it carries and refuses (`refuse`) or swallows (`blackhole`: accepted, read and
    dropped, never answered) new ones until it is healed."""

    def __init__(self, src: int, dst: int, target_port: int, cut_mode: str):
        self.src, self.dst, self.target_port, self.cut_mode = src, dst, target_port, cut_mode
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._cut = False
        self._closed = False
        self._socks: set[socket.socket] = set()   # every socket this link holds open
        threading.Thread(target=self._accept_loop, name=f"link-{src}-{dst}", daemon=True).start()

    @property
    def is_cut(self) -> bool:
        return self._cut

    def set_cut(self, cut: bool) -> None:
        with self._lock:
            if self._cut == cut:
                return
            self._cut = cut
            socks, self._socks = self._socks, set()
        for s in socks:   # a cut ends what was in flight; a heal ends blackholed connections
            _shutdown(s)

    def close(self) -> None:
        self._closed = True
        self.set_cut(True)
        _shutdown(self._listener)
        self._listener.close()

    def _track(self, *socks) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._socks.update(socks)
            return True

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut:
                if self.cut_mode == "refuse":
                    client.close()
                elif self._track(client):
                    threading.Thread(target=self._drain, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection((HOST, self.target_port), timeout=2)
                upstream.settimeout(None)
            except OSError:
                client.close()   # the peer is down: the caller sees its connection closed
                continue
            with self._lock:
                if self._cut or self._closed:
                    client.close()
                    upstream.close()
                    continue
                self._socks.update((client, upstream))
            done = threading.Event()
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b, done), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket, done: threading.Event) -> None:
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        _shutdown(a)
        _shutdown(b)
        if done.is_set():   # the second pump to finish closes both
            with self._lock:
                self._socks.discard(a)
                self._socks.discard(b)
            a.close()
            b.close()
        else:
            done.set()

    def _drain(self, s: socket.socket) -> None:
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass
        with self._lock:
            self._socks.discard(s)
        s.close()


def _shutdown(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (all held open together so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


# --- brokers ---------------------------------------------------------------------------------

class Broker:
    """One `weir serve` process; restartable on the same ports and data directory."""

    def __init__(self, node_id, weir, data_dir, log_path, port, raft_port, http_port, voters):
        self.node_id, self.weir, self.data_dir, self.log_path = node_id, weir, data_dir, log_path
        self.port, self.raft_port, self.http_port, self.voters = port, raft_port, http_port, voters
        self.proc: subprocess.Popen | None = None
        self.paused = False
        self.killed = False   # by the nemesis: an exit that is no finding
        self.starts = 0

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def up(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self) -> list[str]:
        cmd = [self.weir, "serve", "--node-id", str(self.node_id), "--data-dir", self.data_dir,
               "--listen", self.address, "--http-listen", f"{HOST}:{self.http_port}"]
        if self.voters:   # a cluster; a single broker runs without the cluster flags
            cmd += ["--raft-listen", f"{HOST}:{self.raft_port}", "--voters", self.voters]
        return cmd

    def spawn(self) -> None:
        """Starts the process and returns at once; `wait_listening` waits for it."""
        assert not self.up
        self.starts += 1
        self.killed = False
        # The broker reads every WEIR_<NAME> variable as a config: not the harness's own.
        env = {k: v for k, v in os.environ.items() if k not in ("WEIR_BIN",)}
        env.setdefault("WEIR_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
        # Fewer internal partitions (Kafka's default is 50 each): a cluster starts them faster.
        env.setdefault("WEIR_OFFSETS_TOPIC_NUM_PARTITIONS", "3")
        env.setdefault("WEIR_TRANSACTION_STATE_LOG_NUM_PARTITIONS", "3")
        # Abandoned transactions (a producer that could not be made again) time out sooner.
        env.setdefault("WEIR_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS", "1000")
        with open(self.log_path, "ab") as log:
            log.write(f"==== start {self.starts}: {' '.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=log,
                                         stdin=subprocess.DEVNULL, env=env)
        self.paused = False
        self._listening = threading.Event()
        threading.Thread(target=self._read_stdout, args=(self.proc, self._listening),
                         daemon=True).start()

    def _read_stdout(self, proc, listening) -> None:
        with open(self.log_path, "ab", buffering=0) as log:
            for line in proc.stdout:
                log.write(b"stdout: " + line)
                if line.startswith(b"listening on "):
                    listening.set()

    def wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._listening.wait(0.1):
            if self.proc.poll() is not None:
                raise HarnessError(f"broker {self.node_id} exited with {self.proc.returncode} "
                                   f"before listening; log {self.log_path}:\n{tail(self.log_path)}")
            if time.monotonic() > deadline:
                raise HarnessError(f"broker {self.node_id} not listening after {timeout} s; "
                                   f"log {self.log_path}:\n{tail(self.log_path)}")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.http_port}/readyz", timeout=1) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def kill9(self) -> None:
        self.killed = True
        if self.up:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.paused = False

    def crashed(self) -> int | None:
        """The exit status if the process ended without the harness ending it, else None."""
        if self.proc is None or self.killed:
            return None
        return self.proc.poll()

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.up and self.paused:
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self, timeout: float = 20) -> int | None:
        """Graceful stop (SIGTERM), then SIGKILL after `timeout` s. Returns the exit status
        (None: was not running; "hung": did not stop in time)."""
        if not self.up:
            return None
        self.resume()
        self.killed = True
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
            return "hung"


def tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, "rb") as f:
            return b"".join(f.readlines()[-lines:]).decode(errors="replace")
    except OSError:
        return ""


class Cluster:
    """N brokers; for N > 1 each directed Raft link i→j goes through a Link the harness owns."""

    def __init__(self, n: int, weir: str, workdir: str, cut_mode: str):
        self.n = n
        ports = free_ports(3 * n)
        self.links: dict[tuple[int, int], Link] = {}
        ids = range(1, n + 1)
        raft = {i: ports[3 * (i - 1) + 1] for i in ids}
        if n > 1:
            for i in ids:
                for j in ids:
                    if i != j:
                        self.links[(i, j)] = Link(i, j, raft[j], cut_mode)
        self.brokers: dict[int, Broker] = {}
        for i in ids:
            voters = ""
            if n > 1:   # broker i reaches peer j only through the proxy of link i→j
                voters = ",".join(f"{j}@{HOST}:{raft[j] if j == i else self.links[(i, j)].port}"
                                  for j in ids)
            data_dir = os.path.join(workdir, f"broker-{i}")
            os.makedirs(data_dir, exist_ok=True)
            self.brokers[i] = Broker(i, weir, data_dir, os.path.join(workdir, f"broker-{i}.log"),
                                     ports[3 * (i - 1)], raft[i], ports[3 * (i - 1) + 2], voters)

    @property
    def bootstrap(self) -> str:
        return ",".join(b.address for b in self.brokers.values())

    def start(self, ids=None, timeout: float = 60) -> None:
        """Starts the given brokers (default all) and waits until they listen and, within the
        time left, answer /readyz (a broker may need its peers to be ready)."""
        ids = list(ids or self.brokers)
        for attempt in range(3):
            for i in ids:
                if not self.brokers[i].up:
                    self.brokers[i].spawn()
            try:
                for i in ids:
                    self.brokers[i].wait_listening(timeout)
                break
            except HarnessError:
                # e.g. the port was taken by another process's outgoing connection meanwhile
                if attempt == 2:
                    raise
                time.sleep(1)
        deadline = time.monotonic() + timeout
        for i in ids:
            while not self.brokers[i].ready() and time.monotonic() < deadline:
                time.sleep(0.1)

    def set_cut(self, links, cut: bool) -> None:
        for link in links:
            self.links[link].set_cut(cut)

    def check_crashes(self, history: History) -> None:
        """Logs every broker that exited on its own (a crash: a finding) and restarts it."""
        for i, b in self.brokers.items():
            code = b.crashed()
            if code is not None:
                history.log("broker", phase="crashed", node=i, code=code,
                            log=tail(b.log_path, 20))
                say(f"broker {i} exited on its own with status {code}; log {b.log_path}")
                b.killed = True   # logged once; heal_all restarts it

    def stop_all(self, history: History) -> None:
        """Graceful stop of every broker, each exit status logged (anything but 0 is a
        finding)."""
        for i, b in self.brokers.items():
            code = b.stop()
            if code is not None:
                history.log("broker", phase="stopped", node=i, code=code,
                            log=tail(b.log_path, 20) if code != 0 else None)

    def revive(self, history: History) -> None:
        """Logs any broker that exited on its own and restarts whatever is down."""
        self.check_crashes(history)
        self.heal_all()

    def heal_all(self) -> None:
        for link in self.links.values():
            link.set_cut(False)
        for b in self.brokers.values():
            b.resume()
        down = [i for i, b in self.brokers.items() if not b.up]
        if down:
            self.start(down)

    def shutdown(self) -> None:
        for b in self.brokers.values():
            try:
                b.stop()
            except Exception as err:  # keep stopping the others
                say(f"stopping broker {b.node_id}: {err}")
        for link in self.links.values():
            link.close()


# --- workload --------------------------------------------------------------------------------

class Topics:
    """The topics producers write to (only those whose creation succeeded)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._names: list[str] = []

    def add(self, name: str) -> None:
        with self._lock:
            if name not in self._names:
                self._names.append(name)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._names)


def create_topic(admin: AdminClient, history: History, name: str, partitions: int, rf: int,
                 timeout: float = 10) -> bool:
    err = None
    try:
        fut = admin.create_topics([NewTopic(name, partitions, rf)], request_timeout=timeout)[name]
        fut.result(timeout=timeout + 5)
    except KafkaException as e:
        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            err = str(e)
    except Exception as e:  # concurrent.futures.TimeoutError and the like
        err = f"{type(e).__name__}: {e}"
    history.log("admin", op="create_topic", topic=name, partitions=partitions, rf=rf,
                ok=err is None, error=err)
    return err is None


class TopicCreator:
    """Creates the next workload topic in the background (so a create that waits on a downed
    broker does not stretch the fault), retrying a few times; one creation at a time."""

    def __init__(self, admin, history, topics, partitions, rf):
        self.admin, self.history, self.topics = admin, history, topics
        self.partitions, self.rf = partitions, rf
        self.next = 1
        self.thread: threading.Thread | None = None

    def create(self, delay: float) -> None:
        if self.thread is not None and self.thread.is_alive():
            return
        name = f"{TOPIC_PREFIX}{self.next}"
        self.thread = threading.Thread(target=self._run, args=(name, delay), daemon=True)
        self.thread.start()

    def _run(self, name: str, delay: float) -> None:
        time.sleep(delay)
        for _ in range(3):
            if create_topic(self.admin, self.history, name, self.partitions, self.rf):
                self.topics.add(name)
                self.next += 1
                return
            time.sleep(1)

    def join(self, timeout: float) -> None:
        if self.thread is not None:
            self.thread.join(timeout)


class ProducerWorker(threading.Thread):
    """Idempotent acks=all producer writing unique values p<idx>-<seq>; logs every send,
    acknowledgement and error. A fatal error (the idempotent producer's) makes a new one."""

    def __init__(self, idx, bootstrap, history, topics, stop, rate, max_outstanding, seed):
        super().__init__(name=f"producer-{idx}", daemon=True)
        self.idx, self.bootstrap, self.history, self.topics = idx, bootstrap, history, topics
        self.stop_event, self.rate, self.max_outstanding = stop, rate, max_outstanding
        self.rng = random.Random(seed)
        self.proc = f"p{idx}"
        self.outstanding = 0
        self.fatal = False
        self.unresolved = 0

    def _make(self) -> Producer:
        self.fatal = False
        self.history.log("producer", proc=self.proc, phase="start")
        return Producer({
            "bootstrap.servers": self.bootstrap, "enable.idempotence": True, "acks": "all",
            "linger.ms": 5, "message.timeout.ms": 30000, "request.timeout.ms": 5000,
            "retry.backoff.ms": 100, "retry.backoff.max.ms": 1000,
            "reconnect.backoff.max.ms": 1000, "topic.metadata.refresh.interval.ms": 2000,
            "error_cb": self._on_error, "logger": CLIENT_LOG,
        })

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self.fatal = True
            self.history.log("producer", proc=self.proc, phase="fatal", error=str(err))

    def _on_delivery(self, err, msg, value) -> None:
        self.outstanding -= 1
        if err is None:
            self.history.log("ack", proc=self.proc, topic=msg.topic(), partition=msg.partition(),
                             offset=msg.offset(), value=value)
        else:
            self.history.log("send_error", proc=self.proc, topic=msg.topic(), value=value,
                             error=str(err), fatal=err.fatal())

    def run(self) -> None:
        p = self._make()
        seq = 0
        interval = 1.0 / self.rate
        next_send = time.monotonic()
        while not self.stop_event.is_set():
            now = time.monotonic()
            if now < next_send:
                p.poll(next_send - now)   # serves delivery reports while it waits
                continue
            next_send = max(next_send + interval, now - 1.0)   # catch up at most 1 s
            if self.fatal:
                p.flush(10)   # the fatal error fails what is queued; collect those reports
                p = self._make()
            topics = self.topics.names()
            if topics and self.outstanding < self.max_outstanding:
                topic = self.rng.choice(topics)
                value = f"{self.proc}-{seq}"
                seq += 1
                self.history.log("send", proc=self.proc, topic=topic, value=value)
                try:
                    self.outstanding += 1
                    p.produce(topic, value=value.encode(),
                              on_delivery=lambda err, msg, v=value: self._on_delivery(err, msg, v))
                except (BufferError, KafkaException) as err:
                    self.outstanding -= 1
                    self.history.log("send_error", proc=self.proc, topic=topic, value=value,
                                     error=f"produce() refused: {err}", fatal=False)
            p.poll(0)
        self.unresolved = p.flush(60)
        self.history.log("producer", proc=self.proc, phase="stop", unresolved=self.unresolved)


class ConsumerWorker(threading.Thread):
    """A member of the group: subscribes to every workload topic, logs every record read and
    commits what it read after each batch (synchronously), logging each commit's outcome."""

    def __init__(self, idx, bootstrap, history, stop):
        super().__init__(name=f"consumer-{idx}", daemon=True)
        self.bootstrap, self.history, self.stop_event = bootstrap, history, stop
        self.proc = f"c{idx}"
        self.error = None

    def _membership(self, phase):
        return membership_logger(self.history, self.proc, phase)

    def run(self) -> None:
        try:
            self._run()
        except Exception as err:  # reported by the harness; the history stays checkable
            self.error = f"{type(err).__name__}: {err}"
            self.history.log("consumer", proc=self.proc, phase="crashed", error=self.error)

    def _run(self) -> None:
        c = Consumer({
            "bootstrap.servers": self.bootstrap, "group.id": GROUP,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",   # librdkafka's default, said out loud
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
            "max.poll.interval.ms": 60000, "topic.metadata.refresh.interval.ms": 2000,
            "reconnect.backoff.max.ms": 1000, "logger": CLIENT_LOG,
            "error_cb": lambda err: self.history.log("consumer_error", proc=self.proc,
                                                     error=str(err)),
        })
        self.history.log("consumer", proc=self.proc, phase="start", partitions=[])
        c.subscribe([f"^{TOPIC_PREFIX}.*"], on_assign=self._membership("assign"),
                    on_revoke=self._membership("revoke"), on_lost=self._membership("lost"))
        try:
            while not self.stop_event.is_set():
                msgs = c.consume(num_messages=200, timeout=0.5)
                upto = {}
                for m in msgs:
                    if m.error():
                        self.history.log("consumer_error", proc=self.proc, error=str(m.error()))
                        continue
                    self.history.log("read", proc=self.proc, topic=m.topic(),
                                     partition=m.partition(), offset=m.offset(),
                                     value=m.value().decode())
                    upto[(m.topic(), m.partition())] = m.offset() + 1
                if upto:
                    self._commit(c, [TopicPartition(t, p, o) for (t, p), o in upto.items()])
        finally:
            c.close()
            self.history.log("consumer", proc=self.proc, phase="stop", partitions=[])

    def _commit(self, c: Consumer, tps: list[TopicPartition]) -> None:
        try:
            result = c.commit(offsets=tps, asynchronous=False)
        except KafkaException as err:
            for tp in tps:
                self.history.log("commit", proc=self.proc, topic=tp.topic,
                                 partition=tp.partition, offset=tp.offset, ok=False,
                                 error=str(err))
            return
        for tp in result:
            self.history.log("commit", proc=self.proc, topic=tp.topic, partition=tp.partition,
                             offset=tp.offset, ok=tp.error is None,
                             error=None if tp.error is None else str(tp.error))


def membership_logger(history: History, proc: str, phase: str):
    """A rebalance callback logging the consumer's new assignment, revocation or loss."""
    def cb(consumer, partitions):
        history.log("consumer", proc=proc, phase=phase,
                    partitions=[[tp.topic, tp.partition] for tp in partitions])
    return cb


# --- transactions ----------------------------------------------------------------------------

def java_hash(s: str) -> int:
    """Java's String.hashCode, from which Weir places a transactional id or a group (the sign bit
    cleared, modulo the partitions)."""
    data, h = s.encode("utf-16-be"), 0
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


class TxnProducer:
    """A transactional producer with a fixed transactional.id, following confluent-kafka's
    documented error handling: a retriable error retries the call, one that requires an abort
    aborts the transaction, anything else is fatal — the producer is dropped and the next
    `ready()` makes a new one with the same transactional.id, whose init_transactions() fences
    the old one (the coordinator aborts, or completes, what it left open).

    Each transaction is logged: `txn` begin (with its intent, commit or abort), every `send` (with
    `txn`), `txn` commit (just before the first commit_transaction() call: no read_committed
    reader may see the records before it), every error (`txn_error`), and `txn` end with the
    outcome — committed (commit_transaction() returned OK), aborted (abort_transaction() did),
    abandoned (a fatal error before any commit was asked: it cannot have committed) or unknown
    (a fatal error, or retriable ones for TXN_GIVE_UP s, once a commit was asked)."""

    def __init__(self, proc: str, transactional_id: str, bootstrap: str, history: History,
                 stop: threading.Event):
        self.proc, self.tid, self.bootstrap, self.history = proc, transactional_id, bootstrap, history
        self.stop_event = stop
        self.p: Producer | None = None

    def _config(self) -> dict:
        return {
            "bootstrap.servers": self.bootstrap, "transactional.id": self.tid,
            "enable.idempotence": True, "acks": "all", "linger.ms": 5,
            "transaction.timeout.ms": 15000, "message.timeout.ms": 15000,
            "request.timeout.ms": 5000, "retry.backoff.ms": 100, "retry.backoff.max.ms": 1000,
            "reconnect.backoff.max.ms": 1000, "topic.metadata.refresh.interval.ms": 2000,
            # When every broker is down (one broker, killed), librdkafka 2.16 re-bootstraps and
            # drops the transaction coordinator; a send_offsets_to_transaction() then blocked for
            # good, past its own timeout. Without re-bootstrap the bootstrap list is reused.
            "metadata.recovery.strategy": "none",
            "error_cb": self._on_error, "logger": CLIENT_LOG, **CLIENT_DEBUG,
        }

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self.history.log("producer", proc=self.proc, phase="fatal", error=str(err))

    def delivery(self, value: str, txn: str):
        """The delivery callback of one transactional record: logs its ack or error."""
        def cb(err, msg):
            if err is None:
                self.history.log("ack", proc=self.proc, topic=msg.topic(),
                                 partition=msg.partition(), offset=msg.offset(), value=value,
                                 txn=txn)
            else:
                self.history.log("send_error", proc=self.proc, topic=msg.topic(), value=value,
                                 txn=txn, error=str(err), fatal=err.fatal())
        return cb

    def _error(self, op: str, txn: str | None, exc: Exception) -> KafkaError | None:
        err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
        self.history.log("txn_error", proc=self.proc, txn=txn, op=op, error=str(exc),
                         retriable=bool(err and err.retriable()),
                         abortable=bool(err and err.txn_requires_abort()),
                         fatal=bool(err and err.fatal()))
        return err

    def ready(self) -> bool:
        """A producer with init_transactions() done, made anew if need be. False when none
        could be made within 30 s of the workload's stop."""
        give_up = None
        while self.p is None:
            self.history.log("producer", proc=self.proc, phase="start", transactional_id=self.tid)
            p = Producer(self._config())
            while True:
                try:
                    p.init_transactions(TXN_OP_TIMEOUT)
                    self.p = p
                    break
                except KafkaException as exc:
                    err = self._error("init", None, exc)
                    if self.stop_event.is_set():
                        give_up = give_up or time.monotonic() + 30
                        if time.monotonic() > give_up:
                            _drop(p)
                            return False
                    if err is not None and err.retriable() and not err.fatal():
                        time.sleep(0.2)
                        continue   # init_transactions() may be called again
                    break
            if self.p is None:
                _drop(p)
                time.sleep(0.5)
        return True

    def fail(self) -> None:
        """Drops the producer after a fatal error: the next ready() makes a new one."""
        p, self.p = self.p, None
        if p is not None:
            _drop(p)

    def close(self) -> None:
        if self.p is not None:
            self.p.flush(10)
        self.history.log("producer", proc=self.proc, phase="stop")

    def _retrying(self, op: str, txn: str, call, deadline: float) -> str:
        """Calls call() until it returns: "ok", "abort" (the transaction must be aborted) or
        "fatal" (a fatal error, any other error, or retriable ones past the deadline)."""
        while True:
            try:
                call()
                return "ok"
            except KafkaException as exc:
                err = self._error(op, txn, exc)
                if err is None or err.fatal():
                    return "fatal"
                if err.txn_requires_abort():
                    return "abort"
                if err.retriable() and time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                return "fatal"

    def transaction(self, txn: str, intent: str, produce, offsets=None, group_metadata=None) -> str:
        """One transaction: begin_transaction(), produce(p) (which logs its sends and returns
        the values produce() took), send_offsets_to_transaction(offsets) when given, then a
        commit or an abort as `intent` says (a failed commit may end in an abort). Needs
        ready(); returns the outcome."""
        p = self.p
        self.history.log("txn", proc=self.proc, txn=txn, phase="begin", intent=intent)
        values: list[str] = []
        commit_asked = False
        outcome = None
        try:
            p.begin_transaction()
        except KafkaException as exc:
            self._error("begin", txn, exc)
            outcome = "abandoned"
        if outcome is None:
            values = produce(p)
            step = "ok"
            deadline = time.monotonic() + TXN_GIVE_UP
            if offsets:   # also before a deliberate abort: aborted offsets must not count
                step = self._retrying("send_offsets", txn, lambda: p.send_offsets_to_transaction(
                    offsets, group_metadata, TXN_OP_TIMEOUT), deadline)
            if step == "ok" and intent == "commit":
                self.history.log("txn", proc=self.proc, txn=txn, phase="commit")
                commit_asked = True
                step = self._retrying("commit", txn, lambda: p.commit_transaction(TXN_OP_TIMEOUT),
                                      deadline)
                if step == "ok":
                    outcome = "committed"
            if outcome is None and step != "fatal":
                step = self._retrying("abort", txn, lambda: p.abort_transaction(TXN_OP_TIMEOUT),
                                      time.monotonic() + TXN_GIVE_UP)
                if step == "ok":
                    outcome = "aborted"
            if outcome is None:
                outcome = "unknown" if commit_asked else "abandoned"
            try:
                p.poll(0)   # the remaining delivery reports
            except KafkaException as exc:   # a fatal error is raised again here
                self._error("poll", txn, exc)
        self.history.log("txn", proc=self.proc, txn=txn, phase="end", outcome=outcome,
                         intent=intent, commit_asked=commit_asked, values=values)
        if outcome in ("unknown", "abandoned"):
            self.fail()
        return outcome


def _drop(p: Producer) -> None:
    """Lets a producer go: what it still holds fails (its delivery reports are logged)."""
    try:
        p.purge()
        p.flush(2)
    except Exception:
        pass


class TxnProducerWorker(threading.Thread):
    """Transactions of a few records each (unique values t<idx>-<seq>, keyed by value so they
    spread over partitions) to random workload topics; each is committed, or deliberately
    aborted (a seeded choice, `abort_rate`)."""

    def __init__(self, idx, bootstrap, history, topics, stop, rate, sizes, abort_rate, seed):
        super().__init__(name=f"txn-producer-{idx}", daemon=True)
        self.history, self.topics, self.stop_event = history, topics, stop
        self.rate, self.sizes, self.abort_rate = rate, sizes, abort_rate
        self.rng = random.Random(seed)
        self.proc = f"t{idx}"
        self.client = TxnProducer(self.proc, f"faults-txn-{idx}", bootstrap, history, stop)
        self.error = None

    def run(self) -> None:
        try:
            self._run()
        except Exception as err:  # reported by the harness; the history stays checkable
            self.error = f"{type(err).__name__}: {err}"
            self.history.log("producer", proc=self.proc, phase="crashed", error=self.error)

    def _produce(self, p: Producer, txn: str, records) -> list[str]:
        taken = []
        for topic, value in records:
            self.history.log("send", proc=self.proc, topic=topic, value=value, txn=txn)
            try:
                p.produce(topic, key=value.encode(), value=value.encode(),
                          on_delivery=self.client.delivery(value, txn))
                taken.append(value)
            except (BufferError, KafkaException) as err:
                self.history.log("send_error", proc=self.proc, topic=topic, value=value, txn=txn,
                                 error=f"produce() refused: {err}", fatal=False)
            p.poll(0)
        return taken

    def _run(self) -> None:
        seq = n = 0
        next_txn = time.monotonic()
        while not self.stop_event.is_set():
            now = time.monotonic()
            if now < next_txn:
                time.sleep(min(next_txn - now, 0.1))
                continue
            topics = self.topics.names()
            if not topics:
                time.sleep(0.1)
                continue
            if not self.client.ready():
                break
            size = self.rng.randint(*self.sizes)
            intent = "abort" if self.rng.random() < self.abort_rate else "commit"
            records = [(self.rng.choice(topics), f"{self.proc}-{seq + i}") for i in range(size)]
            seq += size
            txn = f"{self.proc}.{n}"
            n += 1
            self.client.transaction(txn, intent, lambda p: self._produce(p, txn, records))
            next_txn = max(next_txn + size / self.rate, time.monotonic() - 1.0)
        self.client.close()


class CtpWorker(threading.Thread):
    """Consume-transform-produce: a read_committed member of group faults-ctp reads the workload
    topics; each batch becomes one transaction that writes one output record per input record
    to ctp-out (value <input value>@<txn>, its `send` naming the input in `source`) and commits
    the batch's offsets with send_offsets_to_transaction(). Some are deliberately aborted
    (`abort_rate`). After an abort the consumer seeks back to the batch; after an unknown
    outcome it is made anew, reading the group's committed offsets again."""

    def __init__(self, idx, bootstrap, history, stop, abort_rate, seed):
        super().__init__(name=f"ctp-{idx}", daemon=True)
        self.bootstrap, self.history, self.stop_event = bootstrap, history, stop
        self.abort_rate = abort_rate
        self.rng = random.Random(seed)
        self.proc = f"x{idx}"
        self.client = TxnProducer(self.proc, f"faults-ctp-{idx}", bootstrap, history, stop)
        self.error = None

    def run(self) -> None:
        try:
            self._run()
        except Exception as err:
            self.error = f"{type(err).__name__}: {err}"
            self.history.log("consumer", proc=self.proc, phase="crashed", error=self.error)

    def _consumer(self) -> Consumer:
        c = Consumer({
            "bootstrap.servers": self.bootstrap, "group.id": CTP_GROUP,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
            "max.poll.interval.ms": 60000, "topic.metadata.refresh.interval.ms": 2000,
            "reconnect.backoff.max.ms": 1000, "logger": CLIENT_LOG, **CLIENT_DEBUG,
            "error_cb": lambda err: self.history.log("consumer_error", proc=self.proc,
                                                     error=str(err)),
        })
        self.history.log("consumer", proc=self.proc, phase="start", partitions=[])
        c.subscribe([f"^{TOPIC_PREFIX}.*"],
                    on_assign=membership_logger(self.history, self.proc, "assign"),
                    on_revoke=membership_logger(self.history, self.proc, "revoke"),
                    on_lost=membership_logger(self.history, self.proc, "lost"))
        return c

    def _close(self, c: Consumer) -> None:
        try:
            c.close()
        finally:
            self.history.log("consumer", proc=self.proc, phase="stop", partitions=[])

    def _produce(self, p: Producer, txn: str, batch) -> list[str]:
        taken = []
        for m in batch:
            src = m.value().decode()
            value = f"{src}@{txn}"
            self.history.log("send", proc=self.proc, topic=CTP_OUTPUT, value=value, txn=txn,
                             source={"topic": m.topic(), "partition": m.partition(),
                                     "offset": m.offset(), "value": src})
            try:
                p.produce(CTP_OUTPUT, key=src.encode(), value=value.encode(),
                          on_delivery=self.client.delivery(value, txn))
                taken.append(value)
            except (BufferError, KafkaException) as err:
                self.history.log("send_error", proc=self.proc, topic=CTP_OUTPUT, value=value,
                                 txn=txn, error=f"produce() refused: {err}", fatal=False)
            p.poll(0)
        return taken

    def _run(self) -> None:
        c = self._consumer()
        n = 0
        try:
            while not self.stop_event.is_set():
                if not self.client.ready():
                    break
                batch = []
                for m in c.consume(num_messages=100, timeout=0.5):
                    if m.error():
                        if m.error().code() != KafkaError._PARTITION_EOF:
                            self.history.log("consumer_error", proc=self.proc, error=str(m.error()))
                        continue
                    self.history.log("read", proc=self.proc, topic=m.topic(),
                                     partition=m.partition(), offset=m.offset(),
                                     value=m.value().decode())
                    batch.append(m)
                if not batch:
                    continue
                first, nxt = {}, {}
                for m in batch:
                    first.setdefault((m.topic(), m.partition()), m.offset())
                    nxt[(m.topic(), m.partition())] = m.offset() + 1
                txn = f"{self.proc}.{n}"
                n += 1
                intent = "abort" if self.rng.random() < self.abort_rate else "commit"
                outcome = self.client.transaction(
                    txn, intent, lambda p: self._produce(p, txn, batch),
                    offsets=[TopicPartition(t, p, o) for (t, p), o in nxt.items()],
                    group_metadata=c.consumer_group_metadata())
                if outcome == "aborted":
                    try:   # back to where the batch began (what the group has committed)
                        for (t, p), o in first.items():
                            c.seek(TopicPartition(t, p, o))
                        self.history.log("consumer", proc=self.proc, phase="rewind",
                                         partitions=[[t, p, o] for (t, p), o in first.items()])
                        continue
                    except KafkaException as err:   # e.g. no longer assigned
                        self.history.log("consumer_error", proc=self.proc,
                                         error=f"seek after abort: {err}")
                if outcome != "committed":
                    # The committed offsets are unknown here: a new member reads them again
                    # (after ready() has fenced the previous producer, which settles them).
                    self._close(c)
                    c = None
                    if not self.client.ready():
                        break
                    c = self._consumer()
        finally:
            if c is not None:
                self._close(c)
            self.client.close()


# --- nemesis ---------------------------------------------------------------------------------

class Nemesis:
    """Seeded faults. inject() starts one and returns it; heal() ends it."""

    def __init__(self, cluster: Cluster, history: History, rng: random.Random, admin, topics,
                 transactional_ids=()):
        self.cluster, self.history, self.rng, self.admin, self.topics = (
            cluster, history, rng, admin, topics)
        self.transactional_ids = list(transactional_ids)
        self.next_id = 0

    def leader(self) -> tuple[int, str]:
        """The leader of a random partition of a workload topic (from the admin client's
        metadata); a random broker when the metadata names none."""
        ids = sorted(self.cluster.brokers)
        topic = self.rng.choice(self.topics.names())
        fallback = self.rng.choice(ids)
        try:
            md = self.admin.list_topics(topic=topic, timeout=5)
            parts = md.topics[topic].partitions
            p = self.rng.choice(sorted(parts))
            leader = parts[p].leader
            if leader in self.cluster.brokers:
                return leader, f"{topic}/{p}"
        except Exception:
            pass
        return fallback, "none found: a random broker"

    def coordinator(self) -> tuple[int, str]:
        """The transaction coordinator of a random transactional id of the workload: the leader
        of its __transaction_state partition (Java's hash of the id, as Kafka places it); a
        random broker when the metadata names none."""
        ids = sorted(self.cluster.brokers)
        tid = self.rng.choice(self.transactional_ids) if self.transactional_ids else None
        fallback = self.rng.choice(ids)
        try:
            md = self.admin.list_topics(topic=TXN_STATE_TOPIC, timeout=5)
            t = md.topics[TXN_STATE_TOPIC]
            if tid is not None and t.error is None and t.partitions:
                p = (java_hash(tid) & 0x7FFFFFFF) % len(t.partitions)
                leader = t.partitions[p].leader
                if leader in self.cluster.brokers:
                    return leader, f"{tid}: {TXN_STATE_TOPIC}/{p}"
        except Exception:
            pass
        return fallback, "none found: a random broker"

    def inject(self, kind: str) -> dict:
        ids = sorted(self.cluster.brokers)
        f = {"id": self.next_id, "kind": kind, "nodes": [], "links": []}
        self.next_id += 1
        if kind in ("kill", "kill-leader", "kill-coordinator"):
            if kind == "kill":
                node = self.rng.choice(ids)
            elif kind == "kill-leader":
                node, f["leader_of"] = self.leader()
            else:
                node, f["coordinator_of"] = self.coordinator()
            self.cluster.brokers[node].kill9()
            f["nodes"] = [node]
        elif kind == "pause":
            node = self.rng.choice(ids)
            self.cluster.brokers[node].pause()
            f["nodes"] = [node]
        elif kind == "isolate":
            node = self.rng.choice(ids)
            f["nodes"] = [node]
            f["links"] = [[node, j] for j in ids if j != node] + \
                         [[j, node] for j in ids if j != node]
        elif kind == "split":
            shuffled = ids[:]
            self.rng.shuffle(shuffled)
            minority = sorted(shuffled[:(len(ids) - 1) // 2])
            majority = sorted(shuffled[(len(ids) - 1) // 2:])
            f["nodes"], f["majority"] = minority, majority
            f["links"] = [[a, b] for a in minority for b in majority] + \
                         [[b, a] for a in minority for b in majority]
        elif kind == "asym":
            node = self.rng.choice(ids)
            others = [j for j in ids if j != node]
            how = self.rng.choice(["out", "in", "link"])
            f["nodes"], f["direction"] = [node], how
            if how == "out":        # node hears its peers but cannot reach them
                f["links"] = [[node, j] for j in others]
            elif how == "in":       # its peers cannot reach node; node still reaches them
                f["links"] = [[j, node] for j in others]
            else:                   # one directed link
                f["links"] = [[node, self.rng.choice(others)]]
        else:
            raise ValueError(f"unknown fault {kind}")
        if f["links"]:
            self.cluster.set_cut([tuple(link) for link in f["links"]], True)
        self.history.log("fault", phase="start", **f)
        return f

    def heal(self, f: dict) -> None:
        if f["links"]:
            self.cluster.set_cut([tuple(link) for link in f["links"]], False)
        if f["kind"] == "pause":
            for node in f["nodes"]:
                self.cluster.brokers[node].resume()
        if f["kind"] in ("kill", "kill-leader", "kill-coordinator"):
            self.cluster.start(f["nodes"])
        self.history.log("fault", phase="end", **f)


# --- final read ------------------------------------------------------------------------------

def final_read(cluster: Cluster, history: History, admin: AdminClient, timeout: float,
               txn: bool = False, ctp: bool = False) -> None:
    """With the producers and consumers stopped and every fault healed: the high watermark of
    every workload partition, every record in it from the start (read_committed), and the
    group's committed offsets. With `txn`, also each partition's last stable offset — waited
    for (up to 60 s) to reach the high watermark, as nothing is left open — the read goes up to
    it; with `ctp`, also the consume-transform-produce output topic and that group's committed
    offsets."""
    deadline = time.monotonic() + timeout

    def metadata():
        cluster.revive(history)
        try:
            md = admin.list_topics(timeout=5)
        except KafkaException:
            return None
        tps = []
        for name, t in md.topics.items():
            if not (name.startswith(TOPIC_PREFIX) or (ctp and name == CTP_OUTPUT)):
                continue
            if t.error is not None or any(p.leader < 0 for p in t.partitions.values()):
                return None   # not every partition has a leader yet
            tps += [TopicPartition(name, p) for p in sorted(t.partitions)]
        return tps or None

    tps = wait_until("a leader for every workload partition", timeout, metadata, 0.5)
    reader = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": "faults-final-reader",
                       "enable.auto.commit": False, "enable.partition.eof": True,
                       "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                       "logger": CLIENT_LOG})
    # ListOffsets answers with the asking consumer's isolation level: the high watermark for
    # read_uncommitted, the last stable offset for read_committed.
    uncommitted = Consumer({"bootstrap.servers": cluster.bootstrap,
                            "group.id": "faults-final-reader", "logger": CLIENT_LOG,
                            "isolation.level": "read_uncommitted"}) if txn else None
    try:
        high = {}
        stable_by = min(deadline, time.monotonic() + 60)
        for tp in tps:
            def watermarks(tp=tp):
                cluster.revive(history)
                try:
                    low, lso = reader.get_watermark_offsets(tp, timeout=5)
                    if uncommitted is None:
                        return low, lso, None
                    hi = uncommitted.get_watermark_offsets(tp, timeout=5)[1]
                except KafkaException:
                    return None
                if lso < hi and time.monotonic() < stable_by:
                    return None   # a transaction still open (or its markers still coming)
                return low, hi, lso
            low, hi, lso = wait_until(f"watermarks of {tp.topic}/{tp.partition}",
                                      max(5.0, deadline - time.monotonic()), watermarks, 0.5)
            if lso is None:
                high[(tp.topic, tp.partition)] = hi
                history.log("final_hw", topic=tp.topic, partition=tp.partition, low=low, high=hi)
            else:   # read_committed reads up to the last stable offset
                high[(tp.topic, tp.partition)] = lso
                history.log("final_hw", topic=tp.topic, partition=tp.partition, low=low, high=hi,
                            lso=lso)
        nxt = {key: 0 for key in high}
        left = {key for key, hi in high.items() if hi > 0}
        reader.assign([TopicPartition(t, p, OFFSET_BEGINNING) for (t, p) in high])
        while left and time.monotonic() < deadline:
            for m in reader.consume(num_messages=500, timeout=1):
                key = (m.topic(), m.partition())
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        history.log("consumer_error", proc="final", error=str(m.error()))
                    elif m.offset() >= high[key]:
                        # At the end, also when the last entries are Raft's own (control
                        # batches take offsets but are not handed to consumers).
                        left.discard(key)
                    continue
                history.log("final_read", topic=m.topic(), partition=m.partition(),
                            offset=m.offset(), value=m.value().decode())
                nxt[key] = m.offset() + 1
                if nxt[key] >= high[key]:
                    left.discard(key)
        for (t, p), hi in sorted(high.items()):
            history.log("final_read_done", topic=t, partition=p, next=nxt[(t, p)],
                        complete=(t, p) not in left)
    finally:
        reader.close()
        if uncommitted is not None:
            uncommitted.close()
    inputs = [tp for tp in tps if tp.topic.startswith(TOPIC_PREFIX)]
    for name in [GROUP] + ([CTP_GROUP] if ctp else []):
        final_committed(cluster, history, name, inputs, deadline)


def final_committed(cluster: Cluster, history: History, name: str, tps, deadline: float) -> None:
    """The committed offsets of group `name` (read_committed: transactional offsets count once
    their transaction has committed)."""
    group = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": name,
                      "enable.auto.commit": False, "isolation.level": "read_committed",
                      "logger": CLIENT_LOG})
    errors_until = min(deadline - 5, time.monotonic() + 30)
    try:
        def committed():
            cluster.revive(history)
            try:
                got = group.committed(tps, timeout=5)
            except KafkaException:
                return None
            # An error for a partition (e.g. an offset commit still pending in a transaction):
            # asked again for up to 30 s, then logged with the error.
            if any(tp.error is not None for tp in got) and time.monotonic() < errors_until:
                return None
            return got
        try:
            got = wait_until(f"group {name}'s committed offsets",
                             max(5.0, deadline - time.monotonic()), committed, 0.5)
        except HarnessError as err:   # no coordinator answered: a finding, not the harness's
            history.log("final_committed_error", group=name, error=str(err))
            say(f"could not read group {name}'s committed offsets: {err}")
            return
        for tp in got:
            history.log("final_committed", group=name, topic=tp.topic, partition=tp.partition,
                        offset=tp.offset, error=None if tp.error is None else str(tp.error))
    finally:
        group.close()


# --- the run ---------------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--brokers", type=int, choices=(1, 3, 5), default=3)
    ap.add_argument("--workload", choices=("idempotent", "txn"), default="idempotent",
                    help="idempotent producers (default), or transactional ones with a "
                         "consume-transform-produce stage, checked for exactly-once")
    ap.add_argument("--cycles", type=int, default=10, help="fault cycles (default 10)")
    ap.add_argument("--seed", type=int, default=None, help="nemesis seed (default: random, printed)")
    ap.add_argument("--weir", default=os.environ.get("WEIR_BIN",
                                                     os.path.join(REPO, "target/debug/weir")),
                    help="the weir binary (default $WEIR_BIN, else target/debug/weir)")
    ap.add_argument("--faults", default=None,
                    help=f"comma-separated fault kinds (default: all that apply: {','.join(ALL_FAULTS)}, "
                         f"and with --workload txn kill-coordinator; with one broker "
                         f"{','.join(SINGLE_BROKER_FAULTS)})")
    ap.add_argument("--producers", type=int, default=3,
                    help="producers (with --workload txn: transactional ones)")
    ap.add_argument("--ctp", type=int, default=2,
                    help="consume-transform-produce members (--workload txn only; 0: none)")
    ap.add_argument("--txn-records", type=int, nargs=2, default=(1, 4), metavar=("MIN", "MAX"),
                    help="records per transaction (uniform between MIN and MAX)")
    ap.add_argument("--abort-rate", type=float, default=0.2,
                    help="share of transactions deliberately aborted")
    ap.add_argument("--consumers", type=int, default=2)
    ap.add_argument("--partitions", type=int, default=3, help="partitions per topic")
    ap.add_argument("--rate", type=float, default=50, help="sends per second per producer")
    ap.add_argument("--max-outstanding", type=int, default=500,
                    help="unacknowledged sends per producer before it waits")
    ap.add_argument("--topic-every", type=int, default=4,
                    help="create another topic every N cycles (0: never)")
    ap.add_argument("--hold", type=float, nargs=2, default=(2.0, 4.0), metavar=("MIN", "MAX"),
                    help="seconds a fault is held (uniform between MIN and MAX)")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds after each heal")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds of workload before faults")
    ap.add_argument("--cut-mode", choices=("blackhole", "refuse"), default="blackhole",
                    help="what a cut link does with new connections")
    ap.add_argument("--final-timeout", type=float, default=120)
    ap.add_argument("--client-debug", default=None, metavar="CONTEXTS",
                    help="librdkafka debug contexts (e.g. eos,protocol) for the transactional "
                         "producers and consume-transform-produce consumers, into clients.log")
    ap.add_argument("--work-dir", default=None,
                    help="where data dirs, broker logs and the history go (default: a temp dir, "
                         "removed after a passing run unless --keep)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir after a passing run")
    args = ap.parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    allowed = (SINGLE_BROKER_FAULTS if args.brokers == 1
               else TXN_FAULTS if args.workload == "txn" else ALL_FAULTS)
    args.faults = args.faults.split(",") if args.faults else list(allowed)
    bad = [f for f in args.faults if f not in allowed]
    if bad:
        ap.error(f"faults {bad} do not apply to {args.brokers} broker(s); choose from {allowed}")
    return args


def run(args) -> int:
    if not os.access(args.weir, os.X_OK):
        say(f"no weir binary at {args.weir} (build it, or pass --weir / WEIR_BIN)")
        return 2
    workdir = args.work_dir or tempfile.mkdtemp(prefix="weir-faults-")
    os.makedirs(os.path.join(workdir, "bin"), exist_ok=True)
    # A private copy: a rebuild during the run must not change the binary between restarts.
    weir = os.path.join(workdir, "bin", os.path.basename(args.weir))
    shutil.copy2(args.weir, weir)
    history = History(os.path.join(workdir, "history.jsonl"))
    handler = logging.FileHandler(os.path.join(workdir, "clients.log"))
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    CLIENT_LOG.handlers[:] = [handler]
    CLIENT_LOG.setLevel(logging.DEBUG if args.client_debug else logging.INFO)
    rng = random.Random(args.seed)
    txn = args.workload == "txn"
    ctp = txn and args.ctp > 0
    CLIENT_DEBUG.clear()
    if args.client_debug:
        CLIENT_DEBUG["debug"] = args.client_debug
    say(f"seed {args.seed}, {args.brokers} broker(s), {args.workload} workload, {args.cycles} "
        f"cycles, faults {','.join(args.faults)}; work dir {workdir}")
    history.log("run", phase="start", seed=args.seed, brokers=args.brokers, cycles=args.cycles,
                faults=args.faults, workload=args.workload, weir=os.path.abspath(args.weir),
                argv=sys.argv[1:])
    cluster = Cluster(args.brokers, weir, workdir, args.cut_mode)
    stop = threading.Event()
    workers: list[threading.Thread] = []
    status = 2
    t0 = time.monotonic()
    try:
        cluster.start()
        say(f"brokers up: {cluster.bootstrap}")
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap, "logger": CLIENT_LOG})
        topics = Topics()
        rf = args.brokers
        first = f"{TOPIC_PREFIX}0"

        def controller():
            try:
                return admin.list_topics(timeout=2).controller_id >= 0
            except KafkaException:
                return False
        # CreateTopics goes to the controller: a cluster names one once it has a leader.
        wait_until("a controller in the metadata", 60, controller, 0.2)
        wait_until(f"topic {first} created", 60,
                   lambda: create_topic(admin, history, first, args.partitions, rf), 1)
        topics.add(first)
        if ctp:
            wait_until(f"topic {CTP_OUTPUT} created", 60,
                       lambda: create_topic(admin, history, CTP_OUTPUT, args.partitions, rf), 1)
        history.log("workload", phase="start")
        for i in range(args.consumers):
            workers.append(ConsumerWorker(i, cluster.bootstrap, history, stop))
        for i in range(args.producers):
            if txn:
                workers.append(TxnProducerWorker(i, cluster.bootstrap, history, topics, stop,
                                                 args.rate, args.txn_records, args.abort_rate,
                                                 args.seed * 1000 + i))
            else:
                workers.append(ProducerWorker(i, cluster.bootstrap, history, topics, stop,
                                              args.rate, args.max_outstanding,
                                              args.seed * 1000 + i))
        for i in range(args.ctp if ctp else 0):
            workers.append(CtpWorker(i, cluster.bootstrap, history, stop, args.abort_rate,
                                     args.seed * 1000 + 500 + i))
        for w in workers:
            w.start()
        time.sleep(args.warmup)
        nemesis = Nemesis(cluster, history, rng, admin, topics,
                          [w.client.tid for w in workers if hasattr(w, "client")])
        creator = TopicCreator(admin, history, topics, args.partitions, rf)
        for cycle in range(args.cycles):
            history.log("cycle", n=cycle, phase="start")
            cluster.revive(history)   # restarts what crashed
            kind = rng.choice(args.faults)
            hold = rng.uniform(*args.hold)
            hold_end = time.monotonic() + hold
            f = nemesis.inject(kind)
            detail = f" links {f['links']}" if f["links"] else ""
            say(f"cycle {cycle + 1}/{args.cycles}: {kind} node(s) {f['nodes']}{detail}, "
                f"hold {hold:.1f} s")
            if args.topic_every and cycle % args.topic_every == args.topic_every - 1:
                creator.create(rng.uniform(0, hold))   # while the fault is on, most likely
            time.sleep(max(0.0, hold_end - time.monotonic()))
            nemesis.heal(f)
            time.sleep(args.settle)
            cluster.check_crashes(history)
            history.log("cycle", n=cycle, phase="end")
            admin.poll(0)   # serves the admin client's log lines
        cluster.revive(history)
        creator.join(60)
        say("faults over; stopping the workload")
        stop.set()
        for w in workers:
            w.join(timeout=120)
            if w.is_alive():
                stacks = os.path.join(workdir, "stacks.txt")
                with open(stacks, "w") as f:   # where it hangs: every thread's Python stack
                    faulthandler.dump_traceback(f, all_threads=True)
                raise HarnessError(f"{w.name} did not stop within 120 s (stacks in {stacks})")
        history.log("workload", phase="stop")
        for w in workers:
            if getattr(w, "error", None):
                say(f"{w.proc} crashed: {w.error}")
        cluster.revive(history)
        say("final read")
        final_read(cluster, history, admin, args.final_timeout, txn=txn, ctp=ctp)
        cluster.check_crashes(history)
        cluster.stop_all(history)
        history.log("run", phase="end", seconds=round(time.monotonic() - t0, 1))
        history.close()
        result = checker.check(checker.load(history.path))
        checker.report(result)
        status = 0 if result.ok else 1
    except HarnessError as err:
        say(f"harness error: {err}")
        status = 2
    finally:
        stop.set()
        cluster.shutdown()
        try:
            history.close()
        except Exception:
            pass
        say(f"{'PASS' if status == 0 else 'FAIL'} in {time.monotonic() - t0:.0f} s "
            f"(seed {args.seed}); history {history.path}")
        if status == 0 and not args.keep and not args.work_dir:
            shutil.rmtree(workdir, ignore_errors=True)
        elif status != 0:
            say(f"kept {workdir}: history.jsonl, broker-N.log; re-check with "
                f"python3 {os.path.join(os.path.dirname(os.path.abspath(__file__)), 'checker.py')} "
                f"{history.path}")
    return status


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = parse_args(argv)
    # SIGTERM (a CI timeout, a kill) takes the same path as Ctrl-C: brokers are stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run(args)
    except KeyboardInterrupt:
        say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
