"""Tests of the harness's own machinery without a Weir cluster: the per-link proxies (cut,
refuse, blackhole, heal), the voters lists, and the nemesis's choice of links, with a stand-in
broker (a small script taking the cluster flags) for starting, killing and pausing.

    python3 -m pytest -q integration-tests/faults/test_harness.py
"""
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
