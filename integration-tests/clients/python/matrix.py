"""What every Python driver shares: the scenario list, the RESULT lines, the
records each scenario sends and the record-by-record comparison.
The contract is in ../SCENARIOS.md."""

import functools
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Optional

SCENARIOS = [
    "create_topics", "describe_topics", "describe_configs", "create_partitions",
    "describe_cluster", "delete_topics",
    "keys_headers_nulls", "codec_none", "codec_gzip", "codec_snappy", "codec_lz4",
    "codec_zstd", "acks_0", "acks_1", "acks_all", "idempotent",
    "assign_seek", "offsets_for_times", "group_commit", "committed_offsets",
    "transactions", "send_offsets_to_transaction",
]
NEEDS = {
    "describe_topics": "create_topics",
    "describe_configs": "create_topics",
    "create_partitions": "create_topics",
    "delete_topics": "create_topics",
    "committed_offsets": "group_commit",
}
STEP_TIMEOUT = 20.0
DRIVER_TIMEOUT = 120.0
# CreateTime of the records that carry explicit timestamps: an hour ago, whole seconds.
T0 = (int(time.time()) - 3600) * 1000


class Failure(Exception):
    pass


class Unsupported(Exception):
    """The client library has no way to do this (its message is shown in the README)."""


def fail(msg):
    raise Failure(msg)


@dataclass
class Rec:
    """A record as sent, or as received (then partition/offset are set)."""
    key: Optional[bytes]
    value: Optional[bytes]
    headers: list = field(default_factory=list)  # [(str, bytes | None)]
    timestamp: Optional[int] = None  # CreateTime in ms, None = not set / not exposed
    partition: Optional[int] = None
    offset: Optional[int] = None


def keyed_records(tag, n, *, base_ts=None):
    """n plain keyed records; with base_ts, record i has CreateTime base_ts + i*1000."""
    return [Rec(f"{tag}-key-{i}".encode(), f"{tag}-value-{i}".encode(),
                timestamp=None if base_ts is None else base_ts + i * 1000)
            for i in range(n)]


def tricky_records(*, null_header_values=True, timestamps=True):
    """The 30 records of keys_headers_nulls."""
    out = []
    for i in range(30):
        key = f"key-{i}".encode()
        value = f"value-{i}-".encode() + bytes([i * 7 % 256]) * i
        headers = []
        if i % 3 != 0:
            headers = [("seq", str(i).encode()), ("dup", b"first"), ("dup", b"second")]
            if i % 4 == 1 and null_header_values:
                headers.append(("null-value", None))
        if i == 3:
            key = None
        if i == 4:
            value = None
        if i == 5:
            value = b""
        out.append(Rec(key, value, headers, T0 + i if timestamps else None))
    return out


def field_problems(where, want, have):
    """How record `have` differs from `want` in key, value and headers."""
    problems = []
    if have.key != want.key:
        problems.append(f"{where}: key {have.key!r} != {want.key!r}")
    if have.value != want.value:
        problems.append(f"{where}: value {short(have.value)} != {short(want.value)}")
    if norm_headers(have.headers) != norm_headers(want.headers):
        problems.append(f"{where}: headers {have.headers!r} != {want.headers!r}")
    return problems


def compare(sent, got, *, partition=0, first_offset=0):
    """All of `sent` (in send order) must be `got` on one partition at consecutive offsets
    from first_offset, field by field, with nothing extra."""
    got = sorted(got, key=lambda r: (r.partition, r.offset))
    problems = []
    if len(got) != len(sent):
        problems.append(f"got {len(got)} records, sent {len(sent)}")
    for i, (want, have) in enumerate(zip(sent, got)):
        where = f"record {i}"
        if have.partition != partition or have.offset != first_offset + i:
            problems.append(f"{where}: at {have.partition}/{have.offset}, want {partition}/{first_offset + i}")
        problems.extend(field_problems(where, want, have))
        if want.timestamp is not None and have.timestamp is not None and have.timestamp != want.timestamp:
            problems.append(f"{where}: timestamp {have.timestamp} != {want.timestamp}")
    if problems:
        fail("; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""))


def compare_exactly_once(sent, got):
    """For reads across partitions (groups): every sent record arrives once, by key."""
    want = {r.key: r for r in sent}
    seen = set()
    for r in got:
        if r.key in seen:
            fail(f"record {r.key!r} received twice")
        seen.add(r.key)
        w = want.get(r.key)
        if w is None:
            fail(f"unexpected record {r.key!r} at {r.partition}/{r.offset}")
        if r.value != w.value:
            fail(f"record {r.key!r}: value {short(r.value)} != {short(w.value)}")
    missing = [k for k in want if k not in seen]
    if missing:
        fail(f"{len(missing)} of {len(sent)} records never received, e.g. {missing[:3]}")


def compare_in_order(sent, got, acked=None, *, partition=0):
    """Reads of transactional records: control records take offsets too, so `got` (in the
    order received) must be `sent` in order, on `partition`, at strictly increasing offsets;
    with `acked` (offsets in send order), exactly at those."""
    problems = []
    if len(got) != len(sent):
        problems.append(f"got {len(got)} records {values(got)}, want {len(sent)} {values(sent)}")
    for i, (want, have) in enumerate(zip(sent, got)):
        where = f"record {i} ({want.value!r})"
        if have.partition != partition:
            problems.append(f"{where}: on partition {have.partition}, want {partition}")
        if acked is not None and have.offset != acked[i]:
            problems.append(f"{where}: at offset {have.offset}, acked at {acked[i]}")
        if i and have.offset <= got[i - 1].offset:
            problems.append(f"{where}: offset {have.offset} after {got[i - 1].offset}")
        problems.extend(field_problems(where, want, have))
    if problems:
        fail("; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""))


def values(recs, n=12):
    """The values of recs, short: [b'a0', b'a1', ...]."""
    vs = [r.value for r in recs]
    return f"{vs[:n]}{'...' if len(vs) > n else ''}"


def norm_headers(headers):
    return [(k if isinstance(k, str) else k.decode(), None if v is None else bytes(v))
            for k, v in (headers or [])]


def short(v):
    return "None" if v is None else f"{len(v)} bytes {bytes(v[:20])!r}"


def wait_until(what, check, timeout=STEP_TIMEOUT, interval=0.2):
    """Polls check() until it returns a truthy value; fails with `what` and the last answer."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as e:  # the client may raise while the broker catches up
            result = f"{type(e).__name__}: {e}"
        last = result
        if time.monotonic() > deadline:
            fail(f"{what} not true after {timeout:.0f}s (last: {last!r})")
        time.sleep(interval)


def collect(poll, n, what="records", timeout=STEP_TIMEOUT, linger=0.5):
    """Calls poll() (returns a list of Rec, may be empty) until n records have arrived, then
    keeps polling for `linger` seconds so that extra or duplicate records show up too."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        if time.monotonic() > deadline:
            fail(f"received {len(got)} of {n} {what} within {timeout:.0f}s")
        got.extend(poll())
    end = time.monotonic() + linger
    while time.monotonic() < end:
        got.extend(poll())
    return got


def check_acked(offsets, first=0):
    """Acknowledged offsets (in send order, one partition) must be first, first+1, ..."""
    want = list(range(first, first + len(offsets)))
    if list(offsets) != want:
        bad = next(i for i, (a, b) in enumerate(zip(offsets, want)) if a != b)
        fail(f"acked offsets not {first}..{want[-1]} in send order: record {bad} got "
             f"{offsets[bad]}, e.g. {list(offsets[max(0, bad - 2):bad + 3])}")


def check_acked_on_0(acks):
    """(partition, offset) acks: all on partition 0, at offsets 0, 1, ... in send order."""
    if any(p != 0 for p, _ in acks):
        fail(f"acked partitions {sorted({p for p, _ in acks})}, sent to 0")
    check_acked([o for _, o in acks])


def check_group_read(sent, acks, got):
    """What a group member got: every sent record once, each at the (partition, offset) it was
    acked at (`acks`, in send order). Returns each partition's end offset."""
    compare_exactly_once(sent, got)
    where = dict(zip((r.key for r in sent), acks))
    moved = [(r.key, where[r.key], (r.partition, r.offset)) for r in got
             if where[r.key] != (r.partition, r.offset)]
    if moved:
        fail(f"records not where acked: {moved[:3]}")
    end = {}
    for p, o in acks:
        end[p] = max(end.get(p, 0), o + 1)
    return end


CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
ACKS = ("0", "1", "all")


def produce_scenarios(prefix, produce, read, *, tricky, codec, acks, idempotent,
                      create=None, checked=None, check_acks=check_acked):
    """The produce scenarios for run(): each sends its records to partition 0 of
    PREFIX-<name> with the client's producer settings, reads them back and compares.

    produce(topic, recs, settings) sends recs in order and returns their acks (send order);
    read(topic, n) reads partition 0 from offset 0 (n records, plus any extras);
    create(topic), if given, makes the topic first (else the first produce auto-creates it).
    tricky = (the keys_headers_nulls records, what they cover); codec(c) and acks(a) give the
    settings for that codec or acks value, idempotent those with idempotence on.
    checked: the ids whose acks go through check_acks(acks) (default: all but acks_0)."""
    tricky_recs, covers = tricky
    table = {  # id -> topic suffix, records, settings, summary suffix
        "keys_headers_nulls": ("records", tricky_recs, {}, f" ({covers})"),
        **{f"codec_{c}": (f"codec-{c}", keyed_records(f"codec-{c}", 50), codec(c), "") for c in CODECS},
        **{f"acks_{a}": (f"acks-{a}", keyed_records(f"acks-{a}", 50), acks(a), "") for a in ACKS},
        "idempotent": ("idempotent", keyed_records("idem", 200), idempotent, ""),
    }
    checked = set(table) - {"acks_0"} if checked is None else set(checked)

    def roundtrip(sid, name, recs, settings, suffix):
        topic = f"{prefix}-{name}"
        if create:
            create(topic)
        acked = produce(topic, recs, settings)
        if sid in checked:
            check_acks(acked)
        compare(recs, read(topic, len(recs)))
        offsets = f"acked at 0..{len(recs) - 1}, " if sid in checked else ""
        return f"{len(recs)} records, producer {settings or 'defaults'}: {offsets}read back equal{suffix}"
    return {sid: functools.partial(roundtrip, sid, *row) for sid, row in table.items()}


# --- transactions ------------------------------------------------------------------

def txn_records(tag, n=10):
    """Records tag0..tag<n-1> of the transactions scenario (key = value)."""
    return [Rec(f"{tag}{i}".encode(), f"{tag}{i}".encode()) for i in range(n)]


def upper(recs):
    """What send_offsets_to_transaction writes for recs: the same keys, values upper-cased."""
    return [Rec(r.key, r.value.upper(), r.headers) for r in recs]


def transactions_scenario(produce_txns, read):
    """The transactions scenario for run(), given the client's side of it:

    produce_txns(batches): one transactional producer (transactional.id PREFIX-txn) sends each
    (recs, commit) of `batches` to partition 0 of PREFIX-txn in its own transaction, waits for
    the acks, then commits or aborts it. Returns the acked offsets of all records in send order,
    or None where the client doesn't expose them.
    read(committed, n): reads partition 0 of PREFIX-txn from the beginning with
    isolation.level read_committed (committed=True) or read_uncommitted: n records plus extras."""
    def transactions():
        batches = [(txn_records("a"), True), (txn_records("b"), False), (txn_records("c"), True)]
        acked = produce_txns(batches)
        sent = [r for recs, _ in batches for r in recs]
        if acked is not None and len(acked) != len(sent):
            fail(f"{len(acked)} acks for {len(sent)} records")
        committed = [r for recs, commit in batches if commit for r in recs]
        committed_acks = None if acked is None else acked[:10] + acked[20:]
        got = read(True, len(committed))
        compare_in_order(committed, got, committed_acks)
        compare_in_order(sent, read(False, len(sent)), acked)
        where = f"acked offsets {acked[0]}..{acked[-1]}" if acked else "at strictly increasing offsets"
        return (f"a0..a9 committed, b0..b9 aborted, c0..c9 committed ({where}); read_committed got "
                f"exactly a*, c* (offsets {got[0].offset}..{got[9].offset}, {got[10].offset}..{got[-1].offset}), "
                f"read_uncommitted all 30 in order")
    return transactions


def within(what, fn, timeout=STEP_TIMEOUT):
    """fn() on a helper thread, for client calls that take no timeout: its result, or a
    failure after `timeout` (the call may still be running; the driver goes on)."""
    done, box = threading.Event(), {}

    def call():
        try:
            box["result"] = fn()
        except BaseException as e:  # re-raised on the scenario's thread
            box["error"] = e
        done.set()
    threading.Thread(target=call, daemon=True).start()
    if not done.wait(timeout):
        fail(f"{what}: no answer within {timeout:.0f}s")
    if "error" in box:
        raise box["error"]
    return box.get("result")


def by_name(*scenarios):
    """{function name: function}, for run(): scenario functions named like their ids."""
    return {f.__name__: f for f in scenarios}


def run(stack, scenarios, needs=None):
    """Runs every scenario in SCENARIOS order and prints its RESULT line.

    `scenarios` maps an id to a function (returns a one-line summary of what it checked,
    raises Failure/Unsupported/anything) or to a string: the reason the client can't.
    `needs` overrides NEEDS for this driver: {id: other id, or None to drop the dependency}
    (e.g. a client that can't create topics describes an auto-created one)."""
    needs = {**NEEDS, **(needs or {})}
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"{stack}: unknown scenario ids {sorted(unknown)}")
    start_watchdog(stack)
    passed = set()
    for sid in SCENARIOS:
        impl = scenarios.get(sid, "not implemented by this driver")
        if isinstance(impl, str):
            report(sid, "UNSUPPORTED", impl)
            continue
        need = needs.get(sid)
        if need and need not in passed:
            report(sid, "FAIL", f"needs {need}")
            continue
        if run_check(sid, impl):
            passed.add(sid)
    finish()


def run_check(sid, impl):
    """Runs one check (returns a one-line summary, raises Failure/Unsupported/anything) and
    prints its RESULT line; True when it passed."""
    started = time.monotonic()
    try:
        summary = impl() or "ok"
        report(sid, "PASS", f"{summary} ({time.monotonic() - started:.1f}s)")
        return True
    except Unsupported as e:
        report(sid, "UNSUPPORTED", str(e))
    except Failure as e:
        report(sid, "FAIL", str(e))
    except Exception as e:
        traceback.print_exc()
        report(sid, "FAIL", f"{type(e).__name__}: {e}")
    return False


def run_checks(stack, checks, seconds=DRIVER_TIMEOUT):
    """A program of checks outside the matrix: each function in `checks`, in order, reported
    under its name, then exit."""
    start_watchdog(stack, seconds)
    for check in checks:
        run_check(check.__name__, check)
    finish()


def finish():
    sys.stdout.flush()
    # Some clients leave non-daemon threads behind; the results are out, so leave now.
    os._exit(0)


def report(sid, status, detail):
    detail = " ".join(str(detail).split())[:400]
    print(f"RESULT {sid} {status} {detail}", flush=True)


def start_watchdog(stack, seconds=DRIVER_TIMEOUT):
    def expire():
        print(f"[{stack}] driver timed out after {seconds:.0f}s", file=sys.stderr, flush=True)
        os._exit(3)
    t = threading.Timer(seconds, expire)
    t.daemon = True
    t.start()


def args():
    """(bootstrap, prefix) from the command line."""
    if len(sys.argv) != 3:
        raise SystemExit(f"usage: {os.path.basename(sys.argv[0])} BOOTSTRAP PREFIX")
    return sys.argv[1], sys.argv[2]
