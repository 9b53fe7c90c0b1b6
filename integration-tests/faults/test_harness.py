"""Tests of the harness's own machinery without a Weir cluster: the per-link proxies (cut,
refuse, blackhole, heal), the voters lists, and the nemesis's choice of links, with a stand-in
broker (a small script taking the cluster flags) for starting, killing and pausing.

    python3 -m pytest -q integration-tests/faults/test_harness.py
"""
import json
import os
import random
import socket
import sys
import textwrap
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TIMEOUT = 5


def echo_server():
    """A loopback echo server; returns its port."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)

    def serve(c):
        with c:
            while data := c.recv(65536):
                c.sendall(data)

    def accept():
        while True:
            c, _ = srv.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return srv.getsockname()[1]


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def closed(s):
    """True when the peer closed s (EOF or reset) within TIMEOUT."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


@pytest.mark.parametrize("mode", ["refuse", "blackhole"])
def test_link_forwards_cuts_and_heals(mode):
    link = harness.Link(1, 2, echo_server(), mode)
    try:
        s = connect(link.port)
        s.sendall(b"ping")
        assert s.recv(4) == b"ping"
        link.set_cut(True)
        assert closed(s), "a cut closes connections in flight"
        t = connect(link.port)   # accepted by the proxy, but never reaches the peer
        t.sendall(b"lost")
        if mode == "refuse":
            assert closed(t)
        else:
            t.settimeout(0.5)
            with pytest.raises(socket.timeout):
                t.recv(1)
            t.settimeout(TIMEOUT)
        link.set_cut(False)
        if mode == "blackhole":
            assert closed(t), "healing ends blackholed connections"
        u = connect(link.port)
        u.sendall(b"back")
        assert u.recv(4) == b"back"
    finally:
        link.close()


def test_link_to_a_peer_that_is_down_closes():
    port = harness.free_ports(1)[0]   # nothing listens there
    link = harness.Link(1, 2, port, "refuse")
    try:
        assert closed(connect(link.port))
    finally:
        link.close()


FAKE_WEIR = textwrap.dedent("""\
    #!/usr/bin/env python3
    # Stand-in for `weir serve`: binds --listen, --http-listen (/readyz) and --raft-listen
    # (an echo server), prints the ready lines, and writes its argv to DATA_DIR/argv.
    import http.server, socket, sys, threading
    args = dict(zip(sys.argv[2::2], sys.argv[3::2]))
    open(args["--data-dir"] + "/argv", "w").write(" ".join(sys.argv))
    def hostport(a):
        h, p = a.rsplit(":", 1)
        return h, int(p)
    kafka = socket.create_server(hostport(args["--listen"]))
    if "--raft-listen" in args:
        raft = socket.create_server(hostport(args["--raft-listen"]))
        def serve(c):
            while d := c.recv(65536):
                c.sendall(d)
        def accept():
            while True:
                threading.Thread(target=serve, args=(raft.accept()[0],), daemon=True).start()
        threading.Thread(target=accept, daemon=True).start()
    class Ready(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.end_headers(); self.wfile.write(b"ready")
        def log_message(self, *a):
            pass
    httpd = http.server.HTTPServer(hostport(args["--http-listen"]), Ready)
    print("listening on " + args["--listen"], flush=True)
    print("http listening on " + args["--http-listen"], flush=True)
    httpd.serve_forever()
""")


@pytest.fixture
def fake_weir(tmp_path):
    path = tmp_path / "fake-weir"
    path.write_text(FAKE_WEIR)
    path.chmod(0o755)
    return str(path)


def voters_of(cluster, i):
    cmd = cluster.brokers[i].command()
    return dict(v.split("@") for v in cmd[cmd.index("--voters") + 1].split(","))


def test_single_broker_has_no_cluster_flags(tmp_path, fake_weir):
    cluster = harness.Cluster(1, fake_weir, str(tmp_path), "refuse")
    cmd = cluster.brokers[1].command()
    assert "--voters" not in cmd and "--raft-listen" not in cmd and not cluster.links


def test_each_broker_reaches_each_peer_through_its_own_link(tmp_path, fake_weir):
    cluster = harness.Cluster(3, fake_weir, str(tmp_path), "refuse")
    try:
        assert sorted(cluster.links) == [(i, j) for i in (1, 2, 3) for j in (1, 2, 3) if i != j]
        for i, b in cluster.brokers.items():
            voters = voters_of(cluster, i)
            assert voters[str(i)] == f"127.0.0.1:{b.raft_port}"
            for j in (1, 2, 3):
                if j != i:
                    assert voters[str(j)] == f"127.0.0.1:{cluster.links[(i, j)].port}"
        cluster.start(timeout=TIMEOUT)
        # 1 → 2 through the proxy reaches broker 2's Raft port; cutting 1→2 leaves 2→1.
        one_two = connect(int(voters_of(cluster, 1)["2"].split(":")[1]))
        one_two.sendall(b"x")
        assert one_two.recv(1) == b"x"
        cluster.set_cut([(1, 2)], True)
        assert closed(one_two)
        two_one = connect(int(voters_of(cluster, 2)["1"].split(":")[1]))
        two_one.sendall(b"y")
        assert two_one.recv(1) == b"y"
        cluster.heal_all()
    finally:
        cluster.shutdown()


def test_nemesis_kill_pause_and_restart(tmp_path, fake_weir):
    cluster = harness.Cluster(3, fake_weir, str(tmp_path), "refuse")
    history = harness.History(str(tmp_path / "history.jsonl"))
    try:
        cluster.start(timeout=TIMEOUT)
        nemesis = harness.Nemesis(cluster, history, random.Random(3), None, harness.Topics())
        f = nemesis.inject("kill")
        (node,) = f["nodes"]
        assert not cluster.brokers[node].up
        nemesis.heal(f)
        assert cluster.brokers[node].up and cluster.brokers[node].starts == 2
        assert cluster.brokers[node].ready()
        f = nemesis.inject("pause")
        (node,) = f["nodes"]
        assert not cluster.brokers[node].ready()   # stopped: no answer within a second
        nemesis.heal(f)
        harness.wait_until("readyz after SIGCONT", TIMEOUT, cluster.brokers[node].ready)
    finally:
        history.close()
        cluster.shutdown()
    assert [b.up for b in cluster.brokers.values()] == [False] * 3


@pytest.mark.parametrize("n", [3, 5])
def test_nemesis_partitions_cut_the_right_links(tmp_path, n):
    cluster = harness.Cluster(n, "/bin/false", str(tmp_path), "refuse")   # never started
    history = harness.History(str(tmp_path / "history.jsonl"))
    nemesis = harness.Nemesis(cluster, history, random.Random(n), None, harness.Topics())
    ids = set(range(1, n + 1))

    def cut():
        return {k for k, link in cluster.links.items() if link.is_cut}

    try:
        f = nemesis.inject("isolate")
        (node,) = f["nodes"]
        assert cut() == {(node, j) for j in ids - {node}} | {(j, node) for j in ids - {node}}
        nemesis.heal(f)
        assert cut() == set()

        f = nemesis.inject("split")
        minority, majority = set(f["nodes"]), set(f["majority"])
        assert len(minority) == (n - 1) // 2 and minority | majority == ids
        assert cut() == {(a, b) for a in minority for b in majority} | \
                        {(b, a) for a in minority for b in majority}
        nemesis.heal(f)
        assert cut() == set()

        for _ in range(10):
            f = nemesis.inject("asym")
            links = cut()
            assert all((j, i) not in links for i, j in links), "one direction only"
            (node,) = f["nodes"]
            if f["direction"] == "out":
                assert links == {(node, j) for j in ids - {node}}
            elif f["direction"] == "in":
                assert links == {(j, node) for j in ids - {node}}
            else:
                assert len(links) == 1 and next(iter(links))[0] == node
            nemesis.heal(f)
            assert cut() == set()
    finally:
        history.close()
        cluster.shutdown()


def test_nemesis_is_reproducible(tmp_path):
    def faults(seed):
        cluster = harness.Cluster(5, "/bin/false", str(tmp_path), "refuse")
        history = harness.History(str(tmp_path / f"h{seed}.jsonl"))
        rng = random.Random(seed)
        nemesis = harness.Nemesis(cluster, history, rng, None, harness.Topics())
        out = []
        try:
            for _ in range(8):
                f = nemesis.inject(rng.choice(["isolate", "split", "asym"]))
                nemesis.heal(f)
                out.append((f["kind"], f["nodes"], f["links"]))
        finally:
            history.close()
            cluster.shutdown()
        return out

    assert faults(11) == faults(11)
    assert faults(11) != faults(12)


def test_history_lines_carry_both_clocks(tmp_path):
    h = harness.History(str(tmp_path / "h.jsonl"))
    e = h.log("send", proc="p0", topic="t", value="v")
    h.close()
    assert h.log("late") == {}   # after close: dropped, not an error
    assert e["mono"] <= time.monotonic() and abs(e["wall"] - time.time()) < 60


# --- transactions: confluent-kafka's documented error handling, with a stand-in producer -----

from confluent_kafka import KafkaError, KafkaException  # noqa: E402


def kerr(kind):
    code = {"retriable": KafkaError._TIMED_OUT, "abortable": KafkaError._STATE,
            "fatal": KafkaError._FENCED}[kind]
    return KafkaException(KafkaError(code, kind, fatal=kind == "fatal",
                                     retriable=kind == "retriable",
                                     txn_requires_abort=kind == "abortable"))


class StubProducer:
    """Each transactional call takes its next scripted result: None (returns) or an error kind."""

    def __init__(self, **script):
        self.script = {op: list(results) for op, results in script.items()}
        self.calls = []
        self.purged = False

    def _call(self, op):
        self.calls.append(op)
        results = self.script.get(op, [])
        kind = results.pop(0) if results else None
        if kind is not None:
            raise kerr(kind)

    def init_transactions(self, timeout=None):
        self._call("init")

    def begin_transaction(self):
        self._call("begin")

    def send_offsets_to_transaction(self, offsets, group_metadata, timeout=None):
        self._call("send_offsets")

    def commit_transaction(self, timeout=None):
        self._call("commit")

    def abort_transaction(self, timeout=None):
        self._call("abort")

    def poll(self, timeout=None):
        return 0

    def purge(self):
        self.purged = True

    def flush(self, timeout=None):
        return 0


def txn_run(tmp_path, stub, intent="commit", offsets=None):
    history = harness.History(str(tmp_path / "h.jsonl"))
    client = harness.TxnProducer("t0", "faults-txn-0", "127.0.0.1:1", history, threading.Event())
    client.p = stub
    outcome = client.transaction("t0.0", intent, lambda p: ["t0-0", "t0-1"], offsets=offsets)
    history.close()
    events = [json.loads(line) for line in open(history.path)]
    return outcome, client, events


def phases(events):
    return [e["phase"] for e in events if e["type"] == "txn"]


def test_txn_commit_ok(tmp_path):
    outcome, client, events = txn_run(tmp_path, StubProducer())
    assert outcome == "committed" and client.p is not None
    assert phases(events) == ["begin", "commit", "end"]
    end = events[-1]
    assert (end["outcome"], end["values"], end["commit_asked"]) == ("committed", ["t0-0", "t0-1"],
                                                                    True)


def test_txn_retriable_commit_is_retried(tmp_path):
    stub = StubProducer(commit=["retriable", "retriable", None])
    outcome, _, events = txn_run(tmp_path, stub)
    assert outcome == "committed" and stub.calls == ["begin", "commit", "commit", "commit"]
    assert [e["op"] for e in events if e["type"] == "txn_error"] == ["commit", "commit"]


def test_txn_commit_requiring_abort_is_aborted(tmp_path):
    stub = StubProducer(commit=["abortable"])
    outcome, client, events = txn_run(tmp_path, stub)
    assert outcome == "aborted" and stub.calls == ["begin", "commit", "abort"]
    assert events[-1]["commit_asked"] and client.p is stub


def test_txn_fatal_commit_is_unknown_and_drops_the_producer(tmp_path):
    stub = StubProducer(commit=["fatal"])
    outcome, client, events = txn_run(tmp_path, stub)
    assert outcome == "unknown" and client.p is None and stub.purged
    assert stub.calls == ["begin", "commit"]


def test_txn_commit_abortable_then_abort_fatal_is_unknown(tmp_path):
    outcome, client, _ = txn_run(tmp_path, StubProducer(commit=["abortable"], abort=["fatal"]))
    assert outcome == "unknown" and client.p is None


def test_txn_deliberate_abort(tmp_path):
    stub = StubProducer(abort=["retriable", None])
    outcome, _, events = txn_run(tmp_path, stub, intent="abort")
    assert outcome == "aborted" and stub.calls == ["begin", "abort", "abort"]
    assert phases(events) == ["begin", "end"]   # no commit asked: nothing may be visible


def test_txn_fatal_before_any_commit_is_abandoned(tmp_path):
    outcome, client, events = txn_run(tmp_path, StubProducer(abort=["fatal"]), intent="abort")
    assert outcome == "abandoned" and client.p is None
    outcome, client, events = txn_run(tmp_path, StubProducer(begin=["fatal"]))
    assert outcome == "abandoned" and events[-1]["values"] == []


def test_txn_offsets_sent_before_commit_or_abort(tmp_path):
    offsets = [harness.TopicPartition("faults-0", 0, 5)]
    stub = StubProducer()
    assert txn_run(tmp_path, stub, offsets=offsets)[0] == "committed"
    assert stub.calls == ["begin", "send_offsets", "commit"]
    stub = StubProducer()
    assert txn_run(tmp_path, stub, intent="abort", offsets=offsets)[0] == "aborted"
    assert stub.calls == ["begin", "send_offsets", "abort"]
    stub = StubProducer(send_offsets=["abortable"])   # e.g. a stale generation (a zombie)
    outcome, _, events = txn_run(tmp_path, stub, offsets=offsets)
    assert outcome == "aborted" and stub.calls == ["begin", "send_offsets", "abort"]
    assert not events[-1]["commit_asked"]


def test_ready_retries_init_and_remakes_after_a_fatal_error(tmp_path, monkeypatch):
    made = []
    scripts = [StubProducer(init=["retriable", "fatal"]), StubProducer()]

    def producer(config):
        made.append(config)
        return scripts[len(made) - 1]

    monkeypatch.setattr(harness, "Producer", producer)
    monkeypatch.setattr(harness.time, "sleep", lambda s: None)
    history = harness.History(str(tmp_path / "h.jsonl"))
    client = harness.TxnProducer("t0", "faults-txn-0", "127.0.0.1:1", history, threading.Event())
    assert client.ready() and client.p is scripts[1]
    history.close()
    assert [c["transactional.id"] for c in made] == ["faults-txn-0"] * 2
    assert scripts[0].calls == ["init", "init"] and scripts[0].purged


def test_java_hash_places_ids_as_kafka_does():
    assert harness.java_hash("abc") == 96354
    assert harness.java_hash("") == 0
    assert harness.java_hash("test-group") == 627841412   # as in Weir's own partition_for test
    assert (harness.java_hash("test-group") & 0x7FFFFFFF) % 50 == 12
    assert harness.java_hash("é€") == 0xE9 * 31 + 0x20AC   # UTF-16 code units, not bytes
