#!/usr/bin/env python3
"""Checks a fault-injection history (JSONL, one event per line; README.md has the format).

    python3 checker.py HISTORY.jsonl [--json] [--show N]

Exits 0 when the history is valid, 1 when it is not (printing the first violating records of
each kind), 2 when the file cannot be read. As a module: `check(events)` returns a `Result`.

What it asserts, after the harness healed the cluster and read every partition back:
  lost                 an acknowledged value absent from the final log
  wrong_offset         an acknowledged value in the final log, but not at the (topic, partition,
                       offset) its acknowledgement named
  duplicate            a value at more than one position (final log or any consumer read):
                       producers are idempotent and every value is sent once
  phantom              a value in the final log (or read) that no producer sent
  divergent_read       two different values seen at the same (topic, partition, offset)
  nonmonotonic_read    a consumer read an offset at or below one it had read before on that
                       partition, without a rebalance in between
  skipped_read         a consumer's next read on a partition jumped over an offset that holds a
                       record in the final log (without an assignment change in between)
  read_above_hw        a consumer read an offset at or above the partition's final high watermark
  nonmonotonic_send    one producer's later send to a partition acknowledged at a lower offset
                       than an earlier one (an idempotent producer's order is kept per partition;
                       a new producer after a fatal error starts afresh)
  commit_backwards     a successful commit of a lower offset than an earlier successful one
  commit_above_hw      a committed offset (acknowledged or read back at the end) above the
                       final high watermark
  final_commit_backwards  the group's committed offset read back at the end is below the
                       highest offset a commit was acknowledged for
  incomplete_final_read   the harness could not read a partition up to its high watermark
  committed_unreadable    a group's committed offsets could not be read back at the end (no
                       coordinator answered before the final read's deadline)
  no_final_state       the history has no final read at all
  broker_crash         a broker exited without the nemesis killing it, or a graceful stop
                       (SIGTERM) at the end exited non-zero or hung
Transactions (the txn workload: every transactional record's `send` names its `txn`; the final
read and the consumers read committed only):
  txn_lost             a record of a transaction whose commit_transaction() returned OK is not in
                       the final log
  aborted_visible      a read (final or by a consumer) of a record of a transaction that was
                       aborted (abort_transaction() returned OK) or abandoned before any commit was
                       asked for, or of a record produce() refused
  txn_partial          a transaction of unknown outcome some of whose records were seen while
                       others are not in the final log (all or nothing)
  txn_order            two records of one transaction in one partition, in the final log in the
                       opposite order to their sends
  dirty_read           a consumer read a transactional record before its producer asked to commit
                       the transaction
  hanging_transaction  at the end (every producer stopped) the last stable offset of a partition
                       stayed below its high watermark
  ctp_missing_output   consume-transform-produce: an input record below the group's final
                       committed offset has no output record in the final log
  ctp_duplicate_output an input record with more than one output record in the final log
  ctp_orphan_output    an output record in the final log whose input is not in the final log or
                       lies at or above the group's final committed offset (output and offsets
                       were not committed together)
  no_txn_committed     a txn workload run (per its `run` event) in which no transaction committed:
                       nothing was tested
Reported, not failed: skipped offsets that hold no record in the final log (`skips`: on a
cluster a new leader's Raft entry is a control batch that takes an offset consumers never see;
with transactions, commit and abort markers and aborted records take offsets too).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field

VIOLATION_KINDS = (
    "lost", "wrong_offset", "duplicate", "phantom", "divergent_read", "nonmonotonic_read",
    "skipped_read",
    "read_above_hw", "nonmonotonic_send", "commit_backwards", "commit_above_hw", "final_commit_backwards",
    "incomplete_final_read", "committed_unreadable", "no_final_state", "broker_crash",
    "txn_lost", "aborted_visible", "txn_partial", "txn_order", "dirty_read", "hanging_transaction",
    "ctp_missing_output", "ctp_duplicate_output", "ctp_orphan_output", "no_txn_committed",
)
# The consume-transform-produce group: its committed offsets are checked against its output
# (transactional offset commits), not against the `commit` events of the workload's group.
CTP_GROUP = "faults-ctp"


@dataclass
class Result:
    counts: dict = field(default_factory=dict)
    violations: dict = field(default_factory=lambda: {k: [] for k in VIOLATION_KINDS})
    skips: list = field(default_factory=list)
    faults: Counter = field(default_factory=Counter)
    unavailability: dict | None = None
    partition_unavailability: dict | None = None

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())

    def violated(self) -> list[str]:
        return [k for k in VIOLATION_KINDS if self.violations[k]]

    def to_dict(self) -> dict:
        return {"ok": self.ok, "counts": self.counts, "faults": dict(self.faults),
                "unavailability": self.unavailability,
                "partition_unavailability": self.partition_unavailability,
                "violations": {k: len(v) for k, v in self.violations.items()},
                "skips": len(self.skips)}


def load(path: str) -> list[dict]:
    """Reads a JSONL history. A torn last line (the harness killed mid-write) is ignored."""
    events = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise
    return events


def _tp(e: dict) -> tuple[str, int]:
    return (e["topic"], e["partition"])


def check(events: list[dict]) -> Result:
    """Checks a history given as a list of events in the order they were logged."""
    r = Result()
    v = r.violations

    sent: dict[str, dict] = {}                  # value -> its send event
    send_index: dict[str, tuple] = {}           # value -> (producer incarnation, send order)
    incarnation: Counter = Counter()            # proc -> producers it has made
    acks: list[dict] = []
    final_hw: dict[tuple, int] = {}
    final_log: dict[tuple, dict[int, str]] = defaultdict(dict)
    final_done: dict[tuple, dict] = {}
    final_committed: dict[tuple, dict] = {}
    # (topic, partition, offset) -> value -> first event that saw it there
    seen: dict[tuple, dict[str, dict]] = defaultdict(dict)
    reads: list[dict] = []
    commits: list[dict] = []
    send_errors = 0
    txn_sends: dict[str, list[dict]] = defaultdict(list)   # txn -> its send events, in order
    txn_of: dict[str, str] = {}                 # transactional value -> its txn
    txn_end: dict[str, dict] = {}               # txn -> its `txn` end event
    commit_asked: set[str] = set()              # txns whose producer has asked to commit
    ctp_committed: dict[tuple, dict] = {}       # input (topic, partition) -> final committed
    unreadable: set[str] = set()                # groups whose committed offsets were not read
    cycles = 0
    workload = None                              # the run's workload, from its `run` event
    workload_start = workload_stop = None
    fault_spans = []                             # (start, end, kind)
    open_faults: dict = {}

    def saw(e: dict, value: str) -> None:
        key = (e["topic"], e["partition"], e["offset"])
        seen[key].setdefault(value, e)

    # One pass in history order: consumer monotonicity and commit order depend on it.
    last_read: dict[tuple, dict] = {}           # (proc, topic, partition) -> last read event
    best_commit: dict[tuple, dict] = {}         # (topic, partition) -> highest acknowledged commit
    for e in events:
        kind = e.get("type")
        if kind == "send":
            sent.setdefault(e["value"], e)
            send_index[e["value"]] = (incarnation[e["proc"]], len(send_index))
            if e.get("txn") is not None:
                txn_sends[e["txn"]].append(e)
                txn_of[e["value"]] = e["txn"]
        elif kind == "txn":
            if e.get("phase") == "commit":
                commit_asked.add(e["txn"])
            elif e.get("phase") == "end":
                txn_end[e["txn"]] = e
        elif kind == "producer" and e.get("phase") == "start":
            incarnation[e["proc"]] += 1
        elif kind == "ack":
            acks.append(e)
        elif kind == "send_error":
            send_errors += 1
        elif kind == "read":
            reads.append(e)
            saw(e, e["value"])
            txn = txn_of.get(e["value"])
            if txn is not None and txn not in commit_asked:
                v["dirty_read"].append({"read": e, "txn": txn})
            key = (e["proc"],) + _tp(e)
            prev = last_read.get(key)
            if prev is not None:
                if e["offset"] <= prev["offset"]:
                    v["nonmonotonic_read"].append({"previous": prev, "read": e})
                elif e["offset"] > prev["offset"] + 1:
                    r.skips.append({"previous": prev, "read": e})
            last_read[key] = e
        elif kind == "consumer":
            # A (re)assignment, revocation or a new consumer: its position may legitimately
            # restart at the committed offset.
            for key in [k for k in last_read if k[0] == e["proc"]]:
                del last_read[key]
        elif kind == "commit":
            commits.append(e)
            if e.get("ok"):
                tp = _tp(e)
                best = best_commit.get(tp)
                if best is not None and e["offset"] < best["offset"]:
                    v["commit_backwards"].append({"previous": best, "commit": e})
                if best is None or e["offset"] >= best["offset"]:
                    best_commit[tp] = e
        elif kind == "final_hw":
            final_hw[_tp(e)] = e["high"]
            if e.get("lso") is not None and e["lso"] < e["high"]:
                v["hanging_transaction"].append(e)
        elif kind == "final_read":
            final_log[_tp(e)][e["offset"]] = e["value"]
            saw(e, e["value"])
        elif kind == "final_committed_error":
            unreadable.add(e.get("group"))
            v["committed_unreadable"].append(e)
        elif kind == "final_read_done":
            final_done[_tp(e)] = e
        elif kind == "final_committed":
            if e.get("group") == CTP_GROUP:
                ctp_committed[_tp(e)] = e
            else:
                final_committed[_tp(e)] = e
        elif kind == "cycle" and e.get("phase") == "end":
            cycles += 1
        elif kind == "run" and e.get("phase") == "start":
            workload = e.get("workload")
        elif kind == "workload":
            if e.get("phase") == "start":
                workload_start = e["mono"]
            elif e.get("phase") == "stop":
                workload_stop = e["mono"]
        elif kind == "broker":
            if e.get("phase") == "crashed" or e.get("code") not in (0, None):
                v["broker_crash"].append(e)
        elif kind == "fault":
            fid = e.get("id")
            if e.get("phase") == "start":
                r.faults[e["kind"]] += 1
                open_faults[fid] = e
            elif e.get("phase") == "end" and fid in open_faults:
                s = open_faults.pop(fid)
                fault_spans.append((s["mono"], e["mono"], s["kind"]))

    if not final_hw:
        v["no_final_state"].append({"reason": "no final_hw events: the final read did not run"})

    for tp, done in sorted(final_done.items()):
        if not done.get("complete"):
            v["incomplete_final_read"].append(done)

    # Where each value ended up in the final log.
    positions: dict[str, list[tuple]] = defaultdict(list)
    for tp, log in final_log.items():
        for off, value in log.items():
            positions[value].append(tp + (off,))

    acked_values = set()
    for a in acks:
        value = a["value"]
        if value in acked_values:
            continue
        acked_values.add(value)
        where = positions.get(value)
        if not where:
            if value not in txn_of:   # a transactional record is kept only if it committed
                v["lost"].append({"ack": a, "final_hw": final_hw.get(_tp(a))})
        elif (a["topic"], a["partition"], a["offset"]) not in where:
            v["wrong_offset"].append({"ack": a, "found_at": sorted(where)})

    # Per producer incarnation and partition, acknowledged offsets follow the send order.
    by_producer: dict[tuple, list] = defaultdict(list)
    for a in acks:
        if a["value"] in send_index:
            inc, order = send_index[a["value"]]
            by_producer[(a["proc"], inc) + _tp(a)].append((order, a))
    for key, items in by_producer.items():
        items.sort(key=lambda x: x[0])
        for (_, prev), (_, a) in zip(items, items[1:]):
            if a["offset"] <= prev["offset"]:
                v["nonmonotonic_send"].append({"earlier_send": prev, "later_send": a})

    # Every distinct position a value was seen at, by anyone.
    value_at: dict[str, dict[tuple, dict]] = defaultdict(dict)
    for key, values in seen.items():
        if len(values) > 1:
            v["divergent_read"].append({"at": list(key), "seen": list(values.values())})
        for value, ev in values.items():
            value_at[value].setdefault(key, ev)
    for value, at in value_at.items():
        if len(at) > 1:
            v["duplicate"].append({"value": value, "at": [list(k) for k in sorted(at)],
                                   "events": list(at.values())})
        if value not in sent:
            v["phantom"].append({"value": value, "event": next(iter(at.values()))})

    skips, r.skips = r.skips, []
    for s in skips:
        tp, lo, hi = _tp(s["read"]), s["previous"]["offset"] + 1, s["read"]["offset"]
        missed = [o for o in range(lo, hi) if o in final_log.get(tp, {})]
        if missed:
            v["skipped_read"].append({**s, "missed_offsets": missed[:10]})
        else:
            r.skips.append(s)

    txn_counts = _check_txns(v, txn_sends, txn_end, positions, set(value_at))
    ctp_counts = _check_ctp(v, sent, final_log, positions, ctp_committed, final_hw,
                            CTP_GROUP in unreadable)
    if workload == "txn" and not txn_counts["txn_committed"]:
        v["no_txn_committed"].append({"transactions": txn_counts["txns"]})

    for e in reads:
        hw = final_hw.get(_tp(e))
        if hw is not None and e["offset"] >= hw:
            v["read_above_hw"].append({"read": e, "final_hw": hw})

    for e in commits:
        hw = final_hw.get(_tp(e))
        if e.get("ok") and hw is not None and e["offset"] > hw:
            v["commit_above_hw"].append({"commit": e, "final_hw": hw})
    for tp, e in sorted(final_committed.items()):
        hw = final_hw.get(tp)
        if hw is not None and e["offset"] > hw:
            v["commit_above_hw"].append({"final_committed": e, "final_hw": hw})
        best = best_commit.get(tp)
        if best is not None and e["offset"] < best["offset"]:
            v["final_commit_backwards"].append({"highest_acknowledged": best, "final_committed": e})
    for tp, best in sorted(best_commit.items()):
        if final_hw and tp not in final_committed and not (unreadable - {CTP_GROUP}):
            v["final_commit_backwards"].append({"highest_acknowledged": best, "final_committed": None})

    r.unavailability = _longest_gap(acks, workload_start, workload_stop, fault_spans)
    r.partition_unavailability = _longest_partition_gap(acks, workload_start, workload_stop,
                                                        fault_spans)
    final_records = sum(len(log) for log in final_log.values())
    r.counts = {
        "sent": len(sent), "acked": len(acked_values), "send_errors": send_errors,
        "indeterminate": len(set(sent) - acked_values - set(txn_of)),
        "lost": len(v["lost"]), "wrong_offset": len(v["wrong_offset"]),
        "duplicated": len(v["duplicate"]), "divergent": len(v["divergent_read"]),
        "phantom": len(v["phantom"]), "nonmonotonic": len(v["nonmonotonic_read"]),
        "nonmonotonic_send": len(v["nonmonotonic_send"]), "skipped": len(v["skipped_read"]),
        "reads": len(reads), "commits_ok": sum(1 for c in commits if c.get("ok")),
        "commits_failed": sum(1 for c in commits if not c.get("ok")),
        "partitions": len(final_hw), "final_records": final_records,
        "cycles": cycles, "faults": sum(r.faults.values()), "skips": len(r.skips),
        "broker_crashes": len(v["broker_crash"]),
        **txn_counts, **ctp_counts,
    }
    return r


def _check_txns(v, txn_sends, txn_end, positions, visible) -> dict:
    """The transactional rules. `positions`: where each value is in the final log; `visible`:
    every value any read_committed reader saw (final read and consumers)."""
    outcomes: Counter = Counter()
    deliberate = unknown_visible = committed_records = 0
    for txn, sends in txn_sends.items():
        end = txn_end.get(txn)
        if end is not None and end.get("values") is not None:
            members = list(end["values"])   # what produce() took, in send order
        else:
            members = [s["value"] for s in sends]
        outcome = end.get("outcome", "unknown") if end is not None else "unknown"
        outcomes[outcome] += 1
        if outcome == "aborted" and end.get("intent") == "abort":
            deliberate += 1
        taken = set(members)
        refused = [s["value"] for s in sends if s["value"] not in taken]
        seen = [x for x in members if x in visible]
        missing = [x for x in members if x not in positions]
        bad = [x for x in refused if x in visible]
        if outcome in ("aborted", "abandoned"):
            bad += seen
        if bad:
            v["aborted_visible"].append({"txn": txn, "outcome": outcome, "visible": bad,
                                         "where": {x: sorted(positions.get(x, [])) for x in bad},
                                         "end": end})
        if outcome == "committed":
            committed_records += len(members)
            if missing:
                v["txn_lost"].append({"txn": txn, "missing": missing, "values": members,
                                      "end": end})
        elif outcome not in ("aborted", "abandoned") and seen:
            unknown_visible += 1
            if missing:
                v["txn_partial"].append({"txn": txn, "seen": seen, "missing": missing,
                                         "end": end})
        # Within one partition, the transaction's records are in the order they were sent.
        by_tp: dict[tuple, list] = defaultdict(list)
        for x in members:
            for pos in sorted(positions.get(x, []))[:1]:
                by_tp[pos[:2]].append((pos[2], x))
        for tp, items in by_tp.items():
            for (o1, x1), (o2, x2) in zip(items, items[1:]):
                if o2 <= o1:
                    v["txn_order"].append({"txn": txn, "topic": tp[0], "partition": tp[1],
                                           "earlier_send": [x1, o1], "later_send": [x2, o2]})
    return {"txns": len(txn_sends), "txn_committed": outcomes["committed"],
            "txn_aborted": outcomes["aborted"], "txn_aborted_deliberately": deliberate,
            "txn_abandoned": outcomes["abandoned"],
            "txn_unknown": len(txn_sends) - outcomes["committed"] - outcomes["aborted"]
            - outcomes["abandoned"],
            "txn_unknown_visible": unknown_visible, "txn_committed_records": committed_records}


def _check_ctp(v, sent, final_log, positions, committed, final_hw, unreadable=False) -> dict:
    """Consume-transform-produce: each output `send` names its input in `source`; the group's
    final committed offsets split every input partition's final log into consumed (each record
    exactly one output) and not consumed (no output). `unreadable`: the offsets could not be
    read back (a violation of its own): only what needs no offsets is checked."""
    outputs: dict[str, list[str]] = defaultdict(list)   # input value -> visible output values
    out_count = 0
    for value, e in sent.items():
        src = e.get("source")
        if src is None or value not in positions:
            continue
        out_count += 1
        outputs[src["value"]].append(value)
        if src["value"] not in positions:
            v["ctp_orphan_output"].append({"output": value, "at": sorted(positions[value]),
                                           "input": src, "reason": "input not in the final log"})
        elif (src["topic"], src["partition"]) not in committed and not unreadable:
            v["ctp_orphan_output"].append({"output": value, "at": sorted(positions[value]),
                                           "input": src,
                                           "reason": "no committed offset read back for the input"})
    consumed = 0
    for tp, c in sorted(committed.items()):
        upto = max(c["offset"], 0)
        hw = final_hw.get(tp)
        if hw is not None and c["offset"] > hw:
            v["commit_above_hw"].append({"final_committed": c, "final_hw": hw})
        for off, value in sorted(final_log.get(tp, {}).items()):
            outs = outputs.get(value, [])
            if off < upto:
                consumed += 1
                if not outs:
                    v["ctp_missing_output"].append({"input": [tp[0], tp[1], off, value],
                                                    "committed": c["offset"]})
                elif len(outs) > 1:
                    v["ctp_duplicate_output"].append({"input": [tp[0], tp[1], off, value],
                                                      "outputs": outs})
            elif outs:
                v["ctp_orphan_output"].append({"output": outs, "input": [tp[0], tp[1], off, value],
                                               "committed": c["offset"],
                                               "reason": "input at or above the committed offset"})
    return {"ctp_inputs_consumed": consumed, "ctp_outputs": out_count} if committed or out_count \
        else {}


def _longest_gap(acks, start, stop, fault_spans) -> dict | None:
    """The longest time with no successful produce acknowledgement while the producers ran
    (between the workload's start and stop), and the faults overlapping it."""
    if start is None or stop is None:
        return None
    times = sorted(a["mono"] for a in acks if start <= a["mono"] <= stop)
    points = [start] + times + [stop]
    best = (0.0, start, start)
    for a, b in zip(points, points[1:]):
        if b - a > best[0]:
            best = (b - a, a, b)
    length, frm, to = best
    overlapping = sorted({k for s, e, k in fault_spans if s < to and e > frm})
    return {"seconds": round(length, 3), "from": round(frm - start, 3),
            "to": round(to - start, 3), "faults": overlapping}


def _longest_partition_gap(acks, start, stop, fault_spans) -> dict | None:
    """The longest time one partition went without an acknowledgement, from its first one
    to the workload's stop (producers spread their sends over every partition)."""
    if start is None or stop is None:
        return None
    by_tp: dict[tuple, list[float]] = defaultdict(list)
    for a in acks:
        if start <= a["mono"] <= stop:
            by_tp[_tp(a)].append(a["mono"])
    best = None
    for tp, times in by_tp.items():
        points = sorted(times) + [stop]
        for a, b in zip(points, points[1:]):
            if best is None or b - a > best[0]:
                best = (b - a, a, b, tp)
    if best is None:
        return None
    length, frm, to, tp = best
    overlapping = sorted({k for s, e, k in fault_spans if s < to and e > frm})
    return {"seconds": round(length, 3), "topic": tp[0], "partition": tp[1],
            "from": round(frm - start, 3), "to": round(to - start, 3), "faults": overlapping}


def report(r: Result, show: int = 5, out=sys.stdout) -> None:
    c = r.counts
    print(f"cycles {c['cycles']}, faults {c['faults']} "
          f"({', '.join(f'{k} {n}' for k, n in sorted(r.faults.items())) or 'none'})", file=out)
    print(f"sent {c['sent']}, acked {c['acked']}, send errors {c['send_errors']}, "
          f"indeterminate {c['indeterminate']}; final log {c['final_records']} records in "
          f"{c['partitions']} partitions", file=out)
    print(f"lost {c['lost']}, wrong offset {c['wrong_offset']}, duplicated {c['duplicated']}, "
          f"divergent {c['divergent']}, phantom {c['phantom']}, nonmonotonic reads "
          f"{c['nonmonotonic']}, sends {c['nonmonotonic_send']}, skipped records {c['skipped']} "
          f"(offsets without one: {c['skips']})", file=out)
    print(f"reads {c['reads']}, commits ok {c['commits_ok']}, failed {c['commits_failed']}",
          file=out)
    if c.get("txns"):
        print(f"transactions {c['txns']}: committed {c['txn_committed']} "
              f"({c['txn_committed_records']} records), aborted {c['txn_aborted']} "
              f"({c['txn_aborted_deliberately']} deliberately), abandoned {c['txn_abandoned']}, "
              f"unknown {c['txn_unknown']} ({c['txn_unknown_visible']} of them visible)", file=out)
    if "ctp_outputs" in c:
        print(f"consume-transform-produce: {c['ctp_inputs_consumed']} input records below the "
              f"committed offsets, {c['ctp_outputs']} output records", file=out)
    u = r.unavailability
    if u:
        print(f"longest unavailability {u['seconds']} s (from +{u['from']} s to +{u['to']} s; "
              f"faults then: {', '.join(u['faults']) or 'none'})", file=out)
    u = r.partition_unavailability
    if u:
        print(f"longest one partition went unacknowledged {u['seconds']} s ({u['topic']}/"
              f"{u['partition']}, from +{u['from']} s to +{u['to']} s; faults then: "
              f"{', '.join(u['faults']) or 'none'})", file=out)
    if r.ok:
        print("OK: no violations", file=out)
        return
    for kind in r.violated():
        items = r.violations[kind]
        print(f"VIOLATION {kind}: {len(items)}; first {min(show, len(items))}:", file=out)
        for item in items[:show]:
            print("  " + json.dumps(item, sort_keys=True), file=out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Check a Weir fault-injection history (JSONL).")
    ap.add_argument("history")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    ap.add_argument("--show", type=int, default=5, help="violating records shown per kind")
    args = ap.parse_args(argv)
    try:
        events = load(args.history)
    except (OSError, json.JSONDecodeError) as err:
        print(f"checker: cannot read {args.history}: {err}", file=sys.stderr)
        return 2
    r = check(events)
    if args.json:
        print(json.dumps(r.to_dict(), sort_keys=True))
    report(r, args.show, out=sys.stderr if args.json else sys.stdout)
    return 0 if r.ok else 1


if __name__ == "__main__":
    sys.exit(main())
