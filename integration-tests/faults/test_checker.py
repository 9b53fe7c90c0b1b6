"""Self-test of the history checker on synthetic histories: a clean one passes, and each kind
of anomaly is flagged (and only that kind).

    python3 -m pytest -q integration-tests/faults/test_checker.py
"""
import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checker  # noqa: E402

T, P = "faults-0", 0


class History:
    """A synthetic history: one topic-partition, producers p0/p1, consumers c0/c1."""

    def __init__(self):
        self.events = []
        self.clock = 0.0

    def ev(self, type, **fields):
        self.clock += 0.1
        self.events.append({"type": type, "mono": self.clock, "wall": 1e9 + self.clock, **fields})
        return self

    def send(self, value, proc="p0", topic=T):
        return self.ev("send", proc=proc, topic=topic, value=value)

    def ack(self, value, offset, proc="p0", topic=T, partition=P):
        return self.ev("ack", proc=proc, topic=topic, partition=partition, offset=offset,
                       value=value)

    def read(self, value, offset, proc="c0", topic=T, partition=P):
        return self.ev("read", proc=proc, topic=topic, partition=partition, offset=offset,
                       value=value)

    def commit(self, offset, ok=True, proc="c0", topic=T, partition=P):
        return self.ev("commit", proc=proc, topic=topic, partition=partition, offset=offset, ok=ok)

    def assign(self, proc="c0"):
        return self.ev("consumer", proc=proc, phase="assign", partitions=[[T, P]])

    def final(self, log, committed=None, topic=T, partition=P, complete=True):
        """The final read: `log` is the list of values at offsets 0.. (None: an offset without a
        record, as a Raft control batch)."""
        self.ev("final_hw", topic=topic, partition=partition, low=0, high=len(log))
        for off, value in enumerate(log):
            if value is not None:
                self.ev("final_read", topic=topic, partition=partition, offset=off, value=value)
        self.ev("final_read_done", topic=topic, partition=partition, complete=complete,
                next=len(log))
        if committed is not None:
            self.ev("final_committed", group="g", topic=topic, partition=partition,
                    offset=committed)
        return self


def clean():
    """Two producers, three acked values and one indeterminate send that did land, two
    consumers across a rebalance that re-reads offset 1, commits that only grow."""
    h = History().ev("workload", phase="start")
    h.send("p0-0").send("p1-0", proc="p1").send("p0-1").send("p0-2")
    h.ack("p0-0", 0).ack("p1-0", 1, proc="p1").ack("p0-1", 2)
    h.ev("send_error", proc="p0", topic=T, value="p0-2", error="timed out")
    h.assign().read("p0-0", 0).read("p1-0", 1).commit(1)
    h.ev("fault", id=1, kind="kill", phase="start", nodes=[1])
    h.ev("fault", id=1, kind="kill", phase="end", nodes=[1]).ev("cycle", n=0, phase="end")
    h.assign("c1").read("p1-0", 1, proc="c1").read("p0-1", 2, proc="c1")
    h.read("p0-2", 3, proc="c1").commit(4, proc="c1")
    h.ev("workload", phase="stop")
    h.final(["p0-0", "p1-0", "p0-1", "p0-2"], committed=4)
    return h


def flagged(h):
    return checker.check(h.events).violated()


def test_clean_history_passes():
    r = checker.check(clean().events)
    assert r.ok, r.violations
    assert r.counts["acked"] == 3 and r.counts["indeterminate"] == 1
    assert r.counts["cycles"] == 1 and r.faults["kill"] == 1
    assert r.unavailability["seconds"] > 0


def test_lost_write():
    h = History().send("p0-0").send("p0-1").ack("p0-0", 0).ack("p0-1", 1).final(["p0-0"])
    r = checker.check(h.events)
    assert r.violated() == ["lost"]
    assert r.violations["lost"][0]["ack"]["value"] == "p0-1"


def test_wrong_offset_ack():
    h = History().send("p0-0").send("p1-0", proc="p1").ack("p0-0", 0).ack("p1-0", 0, proc="p1")
    h.final(["p1-0", "p0-0"])
    assert flagged(h) == ["wrong_offset"]


def test_wrong_offset_in_another_partition():
    h = History().send("p0-0").ack("p0-0", 0, partition=1)
    h.final(["p0-0"]).final([], partition=1)
    assert flagged(h) == ["wrong_offset"]


def test_duplicate_in_final_log():
    h = History().send("p0-0").send("p0-1").ack("p0-0", 0).ack("p0-1", 1)
    h.final(["p0-0", "p0-1", "p0-0"])
    r = checker.check(h.events)
    assert r.violated() == ["duplicate"]
    assert r.violations["duplicate"][0]["value"] == "p0-0"


def test_duplicate_seen_only_by_a_consumer():
    # The consumer saw p0-0 at offset 1 too, and the final log has a different value there:
    # both a duplicate and a divergent read.
    h = History().send("p0-0").send("p0-1").ack("p0-0", 0).ack("p0-1", 1)
    h.assign().read("p0-0", 0).read("p0-0", 1).final(["p0-0", "p0-1"])
    assert flagged(h) == ["duplicate", "divergent_read"]


def test_divergent_read():
    h = History().send("p0-0").send("p1-0", proc="p1").ack("p0-0", 0)
    h.assign().read("p0-0", 0).assign("c1").read("p1-0", 0, proc="c1").final(["p0-0"])
    r = checker.check(h.events)
    assert r.violated() == ["divergent_read"]
    assert r.violations["divergent_read"][0]["at"] == [T, P, 0]


def test_nonmonotonic_read_without_rebalance():
    h = History().send("a").send("b").ack("a", 0).ack("b", 1)
    h.assign().read("a", 0).read("b", 1).read("a", 0).final(["a", "b"])
    assert flagged(h) == ["nonmonotonic_read"]


def test_reread_after_rebalance_is_fine():
    h = History().send("a").send("b").ack("a", 0).ack("b", 1)
    h.assign().read("a", 0).read("b", 1).assign().read("a", 0).final(["a", "b"])
    assert flagged(h) == []


def test_skip_over_a_control_batch_is_reported_not_failed():
    h = History().send("a").send("c").ack("a", 0).ack("c", 2)
    h.assign().read("a", 0).read("c", 2).final(["a", None, "c"])
    r = checker.check(h.events)
    assert r.ok and len(r.skips) == 1


def test_skip_over_a_record():
    h = History().send("a").send("b").send("c").ack("a", 0).ack("b", 1).ack("c", 2)
    h.assign().read("a", 0).read("c", 2).final(["a", "b", "c"])
    r = checker.check(h.events)
    assert r.violated() == ["skipped_read"]
    assert r.violations["skipped_read"][0]["missed_offsets"] == [1]


def test_nonmonotonic_send():
    # p0 sent a before b to the same partition, but b was acknowledged at the lower offset.
    h = History().send("a").send("b").ack("b", 0).ack("a", 1).final(["b", "a"])
    r = checker.check(h.events)
    assert r.violated() == ["nonmonotonic_send"]
    assert r.violations["nonmonotonic_send"][0]["later_send"]["value"] == "b"


def test_send_order_restarts_with_a_new_producer_and_is_per_producer():
    h = History().ev("producer", proc="p0", phase="start").send("a")
    h.ev("producer", proc="p0", phase="start").send("b").send("c", proc="p1")
    h.ack("c", 0, proc="p1").ack("b", 1).ack("a", 2).final(["c", "b", "a"])
    assert flagged(h) == []


def test_commit_went_backwards():
    h = History().send("a").send("b").ack("a", 0).ack("b", 1)
    h.assign().read("a", 0).read("b", 1).commit(2).assign("c1").commit(1, proc="c1")
    h.final(["a", "b"], committed=2)
    r = checker.check(h.events)
    assert r.violated() == ["commit_backwards"]
    assert r.violations["commit_backwards"][0]["commit"]["offset"] == 1


def test_failed_commit_does_not_count():
    h = History().send("a").send("b").ack("a", 0).ack("b", 1)
    h.commit(2).commit(1, ok=False).final(["a", "b"], committed=2)
    assert flagged(h) == []


def test_committed_offset_lost_across_coordinator_change():
    h = History().send("a").send("b").ack("a", 0).ack("b", 1)
    h.commit(2).ev("fault", id=1, kind="kill-leader", phase="start", nodes=[2])
    h.final(["a", "b"], committed=0)
    assert flagged(h) == ["final_commit_backwards"]


def test_committed_offset_missing_at_the_end():
    h = History().send("a").ack("a", 0).commit(1).final(["a"], committed=-1001)
    assert flagged(h) == ["final_commit_backwards"]


def test_commit_above_hw():
    h = History().send("a").ack("a", 0).commit(5).final(["a"], committed=5)
    assert flagged(h) == ["commit_above_hw"]


def test_read_above_hw():
    # A consumer read offset 1, which the final log does not have (a truncated, never
    # acknowledged write of a deposed leader): read above the high watermark.
    h = History().send("a").send("b").ack("a", 0).assign().read("a", 0).read("b", 1)
    h.final(["a"])
    assert flagged(h) == ["read_above_hw"]


def test_phantom_value():
    h = History().send("a").ack("a", 0).final(["a", "zz"])
    assert flagged(h) == ["phantom"]


def test_incomplete_final_read():
    h = History().send("a").ack("a", 0).final(["a"], complete=False)
    assert flagged(h) == ["incomplete_final_read"]


def test_broker_crash_and_unclean_stop():
    h = History().send("a").ack("a", 0)
    h.ev("broker", phase="crashed", node=2, code=101, log="panicked at ...")
    h.ev("broker", phase="stopped", node=1, code=0).ev("broker", phase="stopped", node=3, code="hung")
    h.final(["a"])
    r = checker.check(h.events)
    assert r.violated() == ["broker_crash"]
    assert [e["node"] for e in r.violations["broker_crash"]] == [2, 3]


def test_no_final_read():
    h = History().send("a").ack("a", 0)
    assert "no_final_state" in flagged(h)


def test_longest_unavailability_window():
    h = History().ev("workload", phase="start")
    for i in range(3):
        h.send(f"v{i}").ack(f"v{i}", i)
    h.ev("fault", id=7, kind="pause", phase="start", nodes=[1])
    h.clock += 10
    h.ev("fault", id=7, kind="pause", phase="end", nodes=[1])
    h.send("v3").ack("v3", 3).ev("workload", phase="stop").final(["v0", "v1", "v2", "v3"])
    r = checker.check(h.events)
    assert r.ok
    assert r.unavailability["seconds"] == pytest.approx(10.4, abs=0.01)  # ack v2 → ack v3
    assert r.unavailability["faults"] == ["pause"]
    assert r.partition_unavailability["seconds"] == pytest.approx(10.4, abs=0.01)


def test_one_partition_unavailable_while_others_ack():
    h = History().ev("workload", phase="start")
    h.send("a").ack("a", 0, partition=0).send("b").ack("b", 0, partition=1)
    for i in range(20):   # partition 1 keeps acknowledging; partition 0 does not
        h.send(f"v{i}").ack(f"v{i}", i + 1, partition=1)
    h.send("c").ack("c", 1, partition=0).ev("workload", phase="stop")
    h.final(["a", "c"], partition=0).final(["b"] + [f"v{i}" for i in range(20)], partition=1)
    r = checker.check(h.events)
    assert r.ok, r.violations
    assert r.unavailability["seconds"] == pytest.approx(0.2, abs=0.01)
    u = r.partition_unavailability
    assert (u["partition"], u["seconds"]) == (0, pytest.approx(4.4, abs=0.01))


def test_cli_exit_codes_and_first_violations(tmp_path):
    here = os.path.dirname(os.path.abspath(__file__))
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text("".join(json.dumps(e) + "\n" for e in clean().events))
    lost = History().send("p0-0").send("p0-1").ack("p0-0", 0).ack("p0-1", 1).final(["p0-0"])
    # A torn last line (the harness killed mid-write) is ignored.
    bad.write_text("".join(json.dumps(e) + "\n" for e in lost.events) + '{"type": "re')
    run = lambda p: subprocess.run([sys.executable, os.path.join(here, "checker.py"), str(p)],
                                   capture_output=True, text=True, timeout=60)
    ok = run(good)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK: no violations" in ok.stdout
    failed = run(bad)
    assert failed.returncode == 1
    assert "VIOLATION lost: 1" in failed.stdout and '"p0-1"' in failed.stdout
    assert run(tmp_path / "missing.jsonl").returncode == 2
