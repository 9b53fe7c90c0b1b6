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


# --- transactions ----------------------------------------------------------------------------

class Txn(History):
    """Transactional sends: `txn(...)` logs begin, sends, acknowledgements (offsets given) and,
    with `outcome`, the commit request and the end as the harness does."""

    def txn(self, name, values, offsets=None, outcome="committed", intent="commit", proc="t0",
            topic=T, partition=P, ask_commit=None, sources=None):
        self.ev("txn", proc=proc, txn=name, phase="begin", intent=intent)
        for i, value in enumerate(values):
            extra = {"source": sources[i]} if sources else {}
            self.ev("send", proc=proc, topic=topic, value=value, txn=name, **extra)
        for value, off in zip(values, offsets or []):
            self.ack(value, off, proc=proc, topic=topic, partition=partition)
        if ask_commit if ask_commit is not None else intent == "commit":
            self.ev("txn", proc=proc, txn=name, phase="commit")
        if outcome is not None:
            self.ev("txn", proc=proc, txn=name, phase="end", outcome=outcome, intent=intent,
                    values=values, error=None)
        return self


def test_transactions_clean():
    # t0.0 committed (offsets 0, 1; its marker at 2), t0.1 deliberately aborted (3, 4; marker
    # 5), t0.2 of unknown outcome that did commit (6; marker 7), t0.3 of unknown outcome that did
    # not (8; its abort marker 9): the final log holds 0, 1 and 6.
    h = Txn().ev("producer", proc="t0", phase="start")
    h.txn("t0.0", ["t0-0", "t0-1"], [0, 1])
    h.txn("t0.1", ["t0-2", "t0-3"], [3, 4], outcome="aborted", intent="abort")
    h.txn("t0.2", ["t0-4"], [6], outcome="unknown")
    h.txn("t0.3", ["t0-5"], [8], outcome="unknown")
    h.assign().read("t0-0", 0).read("t0-1", 1).read("t0-4", 6)
    h.final(["t0-0", "t0-1", None, None, None, None, "t0-4", None, None, None])
    r = checker.check(h.events)
    assert r.ok, r.violations
    c = r.counts
    assert (c["txns"], c["txn_committed"], c["txn_aborted"], c["txn_aborted_deliberately"],
            c["txn_unknown"], c["txn_unknown_visible"]) == (4, 1, 1, 1, 2, 1)
    assert c["indeterminate"] == 0 and c["lost"] == 0


def test_committed_transaction_record_missing():
    h = Txn().txn("t0.0", ["a", "b"], [0, 1]).final(["a", None, None])
    r = checker.check(h.events)
    assert r.violated() == ["txn_lost"]
    assert r.violations["txn_lost"][0]["missing"] == ["b"]


def test_aborted_transaction_record_visible():
    h = Txn().txn("t0.0", ["a"], [0], outcome="aborted", intent="abort").final(["a", None])
    r = checker.check(h.events)
    assert r.violated() == ["aborted_visible"]
    assert r.violations["aborted_visible"][0]["visible"] == ["a"]


def test_abort_after_a_failed_commit_must_hide_the_records_too():
    h = Txn().txn("t0.0", ["a"], [0], outcome="aborted", intent="commit").final(["a", None])
    assert flagged(h) == ["aborted_visible"]


def test_aborted_record_seen_only_by_a_consumer():
    h = Txn().txn("t0.0", ["a"], [0], outcome="aborted", intent="abort", ask_commit=False)
    h.assign().read("a", 0).final([None, None])
    assert "aborted_visible" in flagged(h)


def test_abandoned_transaction_never_asked_to_commit_is_invisible():
    h = Txn().txn("t0.0", ["a", "b"], [0, 1], outcome="abandoned", ask_commit=False)
    h.txn("t0.1", ["c"], [2], outcome="abandoned", ask_commit=False)
    h.final([None, "b", None, None])
    r = checker.check(h.events)
    assert r.violated() == ["aborted_visible"]
    assert r.counts["txn_abandoned"] == 2


def test_record_produce_refused_must_not_appear():
    # produce() raised for b: it is not among the values the transaction took.
    h = Txn().ev("txn", proc="t0", txn="t0.0", phase="begin", intent="commit")
    h.ev("send", proc="t0", topic=T, value="a", txn="t0.0").ack("a", 0, proc="t0")
    h.ev("send", proc="t0", topic=T, value="b", txn="t0.0")
    h.ev("send_error", proc="t0", topic=T, value="b", txn="t0.0", error="produce() refused")
    h.ev("txn", proc="t0", txn="t0.0", phase="commit")
    h.ev("txn", proc="t0", txn="t0.0", phase="end", outcome="committed", values=["a"])
    assert flagged(h.final(["a", None])) == []
    h.events = [e for e in h.events if e["type"] not in ("final_hw", "final_read",
                                                          "final_read_done")]
    assert flagged(h.final(["a", "b", None])) == ["aborted_visible"]


def test_unknown_outcome_is_all_or_nothing():
    base = lambda: Txn().txn("t0.0", ["a", "b", "c"], [0, 1, 2], outcome="unknown")
    assert flagged(base().final(["a", "b", "c", None])) == []
    assert flagged(base().final([None, None, None, None])) == []
    r = checker.check(base().final(["a", None, "c", None]).events)
    assert r.violated() == ["txn_partial"]
    assert r.violations["txn_partial"][0]["missing"] == ["b"]


def test_unknown_outcome_seen_by_a_consumer_but_not_in_the_final_log():
    h = Txn().txn("t0.0", ["a", "b"], [0, 1], outcome="unknown")
    h.assign().read("a", 0).final([None, None, None])
    assert flagged(h) == ["txn_partial"]


def test_transaction_without_an_end_is_unknown():
    h = Txn().txn("t0.0", ["a", "b"], [0, 1], outcome=None).final(["a", None, None])
    r = checker.check(h.events)
    assert r.violated() == ["txn_partial"] and r.counts["txn_unknown"] == 1


def test_duplicate_transactional_record():
    h = Txn().txn("t0.0", ["a", "b"], [0, 1]).final(["a", "b", None, "a"])
    assert flagged(h) == ["duplicate"]


def test_committed_records_out_of_send_order():
    h = Txn().txn("t0.0", ["a", "b"]).final(["b", "a", None])
    r = checker.check(h.events)
    assert r.violated() == ["txn_order"]
    assert r.violations["txn_order"][0]["later_send"] == ["b", 0]


def test_transaction_across_partitions_keeps_order_per_partition_only():
    h = Txn().ev("txn", proc="t0", txn="t0.0", phase="begin", intent="commit")
    for value, partition in (("a", 1), ("b", 0), ("c", 1)):
        h.ev("send", proc="t0", topic=T, value=value, txn="t0.0")
    h.ack("b", 0, proc="t0").ack("a", 0, proc="t0", partition=1).ack("c", 1, proc="t0",
                                                                     partition=1)
    h.ev("txn", proc="t0", txn="t0.0", phase="commit")
    h.ev("txn", proc="t0", txn="t0.0", phase="end", outcome="committed", values=["a", "b", "c"])
    h.final(["b", None]).final(["a", "c", None], partition=1)
    assert flagged(h) == []


def test_transactional_record_at_another_offset_than_acknowledged():
    h = Txn().txn("t0.0", ["a", "b"], [0, 1]).final([None, "a", "b"])
    assert "wrong_offset" in flagged(h)


def test_dirty_read_before_the_commit_was_asked():
    h = Txn().ev("txn", proc="t0", txn="t0.0", phase="begin", intent="commit")
    h.ev("send", proc="t0", topic=T, value="a", txn="t0.0").ack("a", 0, proc="t0")
    h.assign().read("a", 0)                     # before the producer asked to commit
    h.ev("txn", proc="t0", txn="t0.0", phase="commit")
    h.ev("txn", proc="t0", txn="t0.0", phase="end", outcome="committed", values=["a"])
    h.final(["a", None])
    r = checker.check(h.events)
    assert r.violated() == ["dirty_read"]
    assert r.violations["dirty_read"][0]["txn"] == "t0.0"


def test_hanging_transaction():
    h = Txn().txn("t0.0", ["a"], [0])
    h.ev("final_hw", topic=T, partition=P, low=0, high=3, lso=2)
    h.ev("final_read", topic=T, partition=P, offset=0, value="a")
    h.ev("final_read_done", topic=T, partition=P, next=1, complete=True)
    assert flagged(h) == ["hanging_transaction"]


# consume-transform-produce: input faults-0/0 holds i0, i1, i2 (committed by t0); the group's
# final committed offset 2 means i0 and i1 were consumed; outputs go to ctp-out/0.
OUT = "ctp-out"


def ctp(outputs, committed=2, final_out=None):
    """`outputs`: (txn, [(input value, input offset), ...], outcome) in order; `final_out`: the
    output topic's final log (default: every output of a committed transaction)."""
    h = Txn().txn("t0.0", ["i0", "i1", "i2"], [0, 1, 2])
    h.ev("consumer", proc="x0", phase="assign", partitions=[[T, P]])
    visible = []
    for name, inputs, outcome in outputs:
        values = [f"{iv}@{name}" for iv, _ in inputs]
        sources = [{"topic": T, "partition": P, "offset": off, "value": iv} for iv, off in inputs]
        h.txn(name, values, outcome=outcome, proc="x0", topic=OUT, sources=sources)
        if outcome == "committed":
            visible += values + [None]
    h.final(["i0", "i1", "i2", None])
    h.ev("final_committed", group=checker.CTP_GROUP, topic=T, partition=P, offset=committed)
    h.final(visible if final_out is None else final_out, topic=OUT)
    return h


def test_ctp_exactly_once():
    h = ctp([("x0.0", [("i0", 0), ("i1", 1)], "aborted"),
             ("x0.1", [("i0", 0)], "committed"), ("x0.2", [("i1", 1)], "committed")])
    r = checker.check(h.events)
    assert r.ok, r.violations
    assert (r.counts["ctp_inputs_consumed"], r.counts["ctp_outputs"]) == (2, 2)


def test_ctp_input_consumed_without_output():
    h = ctp([("x0.0", [("i0", 0)], "committed")])
    r = checker.check(h.events)
    assert r.violated() == ["ctp_missing_output"]
    assert r.violations["ctp_missing_output"][0]["input"] == [T, P, 1, "i1"]


def test_ctp_input_transformed_twice():
    # A zombie's transaction committed i1's output again after the new owner did.
    h = ctp([("x0.0", [("i0", 0), ("i1", 1)], "committed"), ("x1.0", [("i1", 1)], "committed")])
    assert flagged(h) == ["ctp_duplicate_output"]


def test_ctp_output_without_its_offset_commit():
    h = ctp([("x0.0", [("i0", 0), ("i1", 1), ("i2", 2)], "committed")])
    r = checker.check(h.events)
    assert r.violated() == ["ctp_orphan_output"]
    assert r.violations["ctp_orphan_output"][0]["input"] == [T, P, 2, "i2"]


def test_ctp_output_of_an_input_not_in_the_log():
    h = ctp([("x0.0", [("i0", 0), ("i1", 1)], "committed")])
    h.ev("send", proc="x0", topic=OUT, value="zz@x0.9", txn="x0.9",
         source={"topic": T, "partition": P, "offset": 7, "value": "zz"})
    h.ev("txn", proc="x0", txn="x0.9", phase="commit")
    h.ev("txn", proc="x0", txn="x0.9", phase="end", outcome="unknown", values=["zz@x0.9"])
    h.ev("final_read", topic=OUT, partition=P, offset=9, value="zz@x0.9")
    assert flagged(h) == ["ctp_orphan_output"]


def test_ctp_committed_offset_above_the_high_watermark():
    h = ctp([("x0.0", [("i0", 0), ("i1", 1), ("i2", 2)], "committed")], committed=9)
    assert flagged(h) == ["commit_above_hw"]


def test_txn_run_without_a_committed_transaction():
    h = Txn().ev("run", phase="start", workload="txn")
    h.txn("t0.0", ["a"], [0], outcome="unknown").final([None, None])
    assert flagged(h) == ["no_txn_committed"]
    h = Txn().ev("run", phase="start", workload="txn").txn("t0.0", ["a"], [0]).final(["a", None])
    assert flagged(h) == []


def test_committed_offsets_unreadable_at_the_end():
    h = ctp([("x0.0", [("i0", 0), ("i1", 1)], "committed")])
    h.events = [e for e in h.events if e["type"] != "final_committed"]
    h.ev("final_committed_error", group="faults-group", error="timed out")
    h.ev("final_committed_error", group=checker.CTP_GROUP, error="timed out")
    h.commit(2)   # an acknowledged commit of the workload's group: not also final_commit_backwards
    r = checker.check(h.events)
    assert r.violated() == ["committed_unreadable"]
    assert len(r.violations["committed_unreadable"]) == 2
