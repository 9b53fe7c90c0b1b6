#!/usr/bin/env python3
"""Compatibility-matrix driver for the kcat 1.7.1 CLI (one subprocess per step).
Usage: kcat_driver.py BOOTSTRAP PREFIX. The scenarios are in ../SCENARIOS.md.

Environment:
  WEIR_KCAT_LIBRDKAFKA_DIR     directory put on LD_LIBRARY_PATH for every kcat run (it holds a
                               librdkafka.so.1, e.g. target/clients-kcat/librdkafka-2.16 made
                               by ../setup.sh); empty or unset = the system librdkafka.
  WEIR_KCAT_EXPECT_LIBRDKAFKA  if set (e.g. 2.16.0), every scenario fails unless kcat -V
                               reports that librdkafka version.

kcat can't create topics, so every topic here comes from auto-creation (1 partition) on the
first produce. kcat's producer can't set record timestamps and takes headers per invocation
(-H), so records with different headers are sent by separate kcat runs.

With -X transactional.id, one kcat producer run is one transaction: committed when its input
ends, aborted when kcat gets SIGINT first (kcat -h). It has no way to send consumer offsets to
a transaction."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import matrix
from matrix import Rec, compare, fail, keyed_records

BOOT, PREFIX = matrix.args()
KCAT = os.environ.get("KCAT", "kcat")
LIBDIR = os.environ.get("WEIR_KCAT_LIBRDKAFKA_DIR", "")
EXPECT = os.environ.get("WEIR_KCAT_EXPECT_LIBRDKAFKA", "")
TIMEOUT = int(matrix.STEP_TIMEOUT)
ADMIN_TOPIC = f"{PREFIX}-admin"
GROUP_TOPIC = f"{PREFIX}-group"
GROUP = f"{PREFIX}-group"
MSG_DELIM, KEY_DELIM = b"\x01", b"\x02"  # -D / -K of the producer's stdin
NO_ADMIN = "kcat has no admin commands"
NO_TXN_OFFSETS = "kcat cannot send consumer offsets to a transaction"
state = {}  # what group_commit leaves for committed_offsets

# Exactly the chosen librdkafka: an inherited LD_LIBRARY_PATH (cargo adds its build dirs,
# which hold another librdkafka) must not pick it.
ENV = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
if LIBDIR:
    ENV["LD_LIBRARY_PATH"] = LIBDIR


def kcat(args, stdin=b"", what="kcat", timeout=TIMEOUT, check=True):
    """Runs `kcat -b BOOT args` under timeout(1); returns (stdout bytes, stderr text)."""
    argv = ["timeout", "-k", "2", str(timeout), KCAT, "-b", BOOT, *args]
    try:
        p = subprocess.run(argv, input=stdin, capture_output=True, env=ENV, timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        fail(f"{what}: kcat still running after {timeout}s")
    err = p.stderr.decode(errors="replace")
    if p.returncode == 124:
        fail(f"{what}: kcat timed out after {timeout}s: {last_lines(err)}")
    if check and p.returncode != 0:
        fail(f"{what}: kcat exit {p.returncode}: {last_lines(err)}")
    return p.stdout, err


def last_lines(text, n=3):
    lines = [l for l in text.splitlines() if l.strip() and "CONFWARN" not in l]
    return " | ".join(lines[-n:]) or "(no stderr)"


def librdkafka_version():
    out = subprocess.run(["timeout", str(TIMEOUT), KCAT, "-V"], capture_output=True, env=ENV)
    text = (out.stdout + out.stderr).decode(errors="replace")
    m = re.search(r"librdkafka (\S+)", text)
    return m.group(1) if m else f"unknown (kcat -V exit {out.returncode}: {text.strip()[:200]})"


VERSION = librdkafka_version()
print(f"[kcat] kcat runs librdkafka {VERSION}"
      f"{' from ' + LIBDIR if LIBDIR else ' (system library)'}", file=sys.stderr, flush=True)


def wrong_library():
    """Every scenario, when kcat runs another librdkafka than WEIR_KCAT_EXPECT_LIBRDKAFKA."""
    fail(f"kcat runs librdkafka {VERSION}, want {EXPECT} (WEIR_KCAT_EXPECT_LIBRDKAFKA)")


# --- produce -----------------------------------------------------------------------------

def z_mode(r):
    """-Z (empty -> NULL) is needed for a null value, and forbidden for an empty key/value."""
    if r.value is None:
        return True
    if r.value == b"" or r.key == b"":
        return False
    return None


def encode(r):
    for part in (r.key or b"", r.value or b""):
        if MSG_DELIM in part or KEY_DELIM in part:
            fail(f"record {r.key!r} contains a kcat delimiter byte")
    if r.key is None:
        if not r.value:
            fail("kcat can't send a record with no key and a null/empty value")
        return r.value + MSG_DELIM  # no key delimiter: kcat sends a null key
    return r.key + KEY_DELIM + (r.value or b"") + MSG_DELIM


def header_args(headers):
    out = []
    for k, v in headers:
        if "=" in k:
            fail(f"header key {k!r} contains '=' (kcat -H splits there)")
        # -H name=value; -H name (no '=') sends a null header value.
        out += ["-H", k if v is None else f"{k}={v.decode()}"]
    return out


def produce(topic, recs, extra=(), partition=0):
    """Sends recs in order, as few kcat runs as headers/-Z allow; returns the delivered offsets
    that kcat reports (delivery-report order; negative with acks=0)."""
    runs = []  # [headers, z, [recs]]
    for r in recs:
        z = z_mode(r)
        last = runs[-1] if runs else None
        if last and last[0] == r.headers and (z is None or last[1] in (None, z)):
            last[1] = z if z is not None else last[1]
            last[2].append(r)
        else:
            runs.append([r.headers, z, [r]])
    offsets = []
    for headers, z, batch in runs:
        args = ["-P", "-t", topic, "-p", str(partition), "-D", "\\x01", "-K", "\\x02",
                "-vv", "-m", str(TIMEOUT // 2), "-X", f"message.timeout.ms={TIMEOUT * 1000 // 2}",
                *header_args(headers), *(["-Z"] if z else []), *extra]
        _, err = kcat(args, b"".join(encode(r) for r in batch), what=f"produce to {topic}")
        delivered = [int(o) for o in re.findall(r"Message delivered to partition \d+ \(offset (-?\d+)\)", err)]
        if len(delivered) != len(batch):
            fail(f"produce to {topic}: {len(delivered)} of {len(batch)} delivery reports: {last_lines(err)}")
        offsets += delivered
    return offsets


# --- consume -----------------------------------------------------------------------------

def unjson(s):
    """kcat -J writes key/payload bytes verbatim (only JSON-escaping them); undo that."""
    return None if s is None else s.encode("utf-8", "surrogateescape")


def parse(out):
    recs = []
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        if not line.strip():
            continue
        m = json.loads(line)
        if m.get("tstype") != "create":
            fail(f"record {m.get('partition')}/{m.get('offset')}: tstype {m.get('tstype')}, want create")
        h = m.get("headers") or []
        headers = [(h[i], unjson(h[i + 1])) for i in range(0, len(h), 2)]
        recs.append(Rec(unjson(m.get("key")), unjson(m.get("payload")), headers, m.get("ts"),
                        m.get("partition"), m.get("offset")))
    return recs


def read(topic, partition=0, offset="0", extra=()):
    """Simple consumer (no group) on one partition from `offset` to the end (-e)."""
    out, _ = kcat(["-C", "-J", "-e", "-q", "-t", topic, "-p", str(partition), "-o", str(offset),
                   "-X", "auto.offset.reset=error", *extra], what=f"consume {topic}")
    return parse(out)


def read_isolated(topic, committed):
    """Partition 0 of topic from the beginning to the end, read_committed or read_uncommitted."""
    level = "read_committed" if committed else "read_uncommitted"
    return read(topic, extra=["-X", f"isolation.level={level}"])


def group_read(group, topic):
    """A balanced-consumer member (-G) that reads to the end of its assignment and leaves;
    kcat has no explicit commit, so librdkafka auto-commits the offsets when it closes."""
    out, err = kcat(["-G", group, "-J", "-e",
                     "-X", "enable.auto.commit=true", "-X", "auto.commit.interval.ms=600000",
                     "-X", "auto.offset.reset=earliest", topic], what=f"group {group}")
    assigned = re.findall(r"assigned: (.*)", err)
    return parse(out), assigned


# --- admin (metadata only) ---------------------------------------------------------------

def metadata(topic=None):
    out, _ = kcat(["-L", "-J", *(["-t", topic] if topic else [])], what="metadata")
    return json.loads(out)


def describe_topics():
    produce(ADMIN_TOPIC, keyed_records("admin", 1))
    md = metadata(ADMIN_TOPIC)
    brokers = {b["id"] for b in md["brokers"]}
    topics = [t for t in md["topics"] if t["topic"] == ADMIN_TOPIC]
    if len(topics) != 1:
        fail(f"metadata has {len(topics)} entries for {ADMIN_TOPIC}: {md['topics']}")
    t = topics[0]
    if t.get("error"):
        fail(f"metadata of {ADMIN_TOPIC}: {t['error']}")
    parts = sorted(t["partitions"], key=lambda p: p["partition"])
    if [p["partition"] for p in parts] != [0]:
        fail(f"partitions {[p['partition'] for p in parts]}, want [0] (auto-created, num.partitions=1)")
    for p in parts:
        if p.get("error") or p["leader"] not in brokers:
            fail(f"partition {p['partition']}: error {p.get('error')}, leader {p['leader']} not in {sorted(brokers)}")
    return (f"kcat -L -J of auto-created {ADMIN_TOPIC} (kcat can't create topics): partition 0, "
            f"leader in brokers {sorted(brokers)}")


def describe_cluster():
    md = metadata()
    brokers = [b["name"] for b in md["brokers"]]
    if brokers != [BOOT]:
        fail(f"brokers {brokers}, want exactly [{BOOT}]")
    return f"kcat -L -J: one broker {BOOT}, controller {md.get('controllerid')} (cluster id not exposed)"


# --- consume scenarios -------------------------------------------------------------------

def assign_seek():
    topic = f"{PREFIX}-seek"
    recs = keyed_records("seek", 20)
    produce(topic, recs)
    compare(recs[7:], read(topic, 0, "7"), first_offset=7)
    return "-C -p 0 -o 7 (no group) -> records 7..19"


def query(topic, ts):
    out, _ = kcat(["-Q", "-J", "-t", f"{topic}:0:{ts}"], what=f"query {topic} at {ts}")
    ans = json.loads(out)
    return ans[topic]["0"]["offset"]


def offsets_for_times():
    # kcat can't set CreateTime: each record gets its own kcat run a few ms apart, so the
    # producer-set CreateTimes increase; the queries use those instead of T0 + i*1000.
    topic = f"{PREFIX}-times"
    recs = keyed_records("times", 10)
    for r in recs:
        produce(topic, [r])
        time.sleep(0.005)
    got = read(topic)
    compare(recs, got)
    ts = [r.timestamp for r in sorted(got, key=lambda r: r.offset)]
    if any(b <= a + 1 for a, b in zip(ts, ts[1:])):
        fail(f"CreateTimes not increasing by >1 ms between kcat runs: {ts}")
    between = ts[4] + (ts[5] - ts[4] + 1) // 2  # the T0+4500 of the contract
    found = query(topic, between)
    if found != 5:
        fail(f"-Q at ts {between} (between records 4 and 5) = offset {found}, want 5")
    after = query(topic, ts[9] + 100000)
    if after != -1:
        fail(f"-Q at ts {ts[9] + 100000} (after the last record) = offset {after}, want -1")
    compare(recs[5:], read(topic, 0, f"s@{between}"), first_offset=5)
    return ("-Q between records 4 and 5 -> 5, after the last -> -1, -o s@ts -> records 5..9 "
            "(producer-set CreateTimes: kcat can't set timestamps)")


def group_commit():
    recs = keyed_records("group", 40)
    produce(GROUP_TOPIC, recs)
    got, assigned = group_read(GROUP, GROUP_TOPIC)
    matrix.compare_exactly_once(recs, got)
    compare(recs, got)
    if not assigned or GROUP_TOPIC not in assigned[0]:
        fail(f"member of {GROUP} was not assigned {GROUP_TOPIC}: {assigned}")
    return ("1 partition (auto-created), 40 records exactly once via -G, left the group; "
            "committed by librdkafka on close (kcat has no explicit commit)")


def committed_offsets():
    more = keyed_records("group-more", 5)
    produce(GROUP_TOPIC, more)
    got, _ = group_read(GROUP, GROUP_TOPIC)
    compare(more, got, first_offset=40)
    return "kcat can't read committed offsets: 5 more records, a new -G member got exactly those (40..44)"


# --- transactions ------------------------------------------------------------------------

def produce_aborted(topic, recs, extra):
    """One transactional kcat run (extra has -X transactional.id) that sends recs and then gets
    SIGINT before its input ends, so it aborts its transaction. Returns the delivered offsets.

    kcat reads stdin with fread() of 128 bytes, which blocks until all 128 have come, and takes
    one record per read: a record reaches librdkafka only once enough input follows it. So the
    records are followed by 4 KiB of message delimiters (empty messages, which kcat skips), and
    the input stays open until the records are in the log (seen by a read_uncommitted read);
    then SIGINT, then EOF."""
    before = len(read_isolated(topic, False))
    # No timeout(1) around this run: it would pass SIGINT on and SIGKILL kcat 2 s later.
    argv = [KCAT, "-b", BOOT, "-P", "-t", topic, "-p", "0",
            "-D", "\\x01", "-K", "\\x02", "-vv", "-m", str(TIMEOUT // 2),
            "-X", f"message.timeout.ms={TIMEOUT * 1000 // 2}", *extra]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=ENV)
    try:
        proc.stdin.write(b"".join(encode(r) for r in recs) + MSG_DELIM * 4096)
        proc.stdin.flush()
        matrix.wait_until(f"the {len(recs)} records of the open transaction in {topic} (read_uncommitted)",
                          lambda: len(read_isolated(topic, False)) >= before + len(recs) or proc.poll() is not None)
        if proc.poll() is not None:
            fail(f"transactional kcat exited {proc.returncode} before SIGINT: "
                 f"{last_lines(proc.stderr.read().decode(errors='replace'))}")
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)  # the handler runs before kcat sees the end of its input
        try:  # communicate() closes stdin
            _, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            fail(f"kcat still running {TIMEOUT}s after SIGINT")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = err.decode(errors="replace")
    if proc.returncode != 0 or "Aborting transaction due to termination signal" not in err:
        fail(f"kcat after SIGINT: exit {proc.returncode}, no abort: {last_lines(err)}")
    delivered = [int(o) for o in re.findall(r"Message delivered to partition \d+ \(offset (-?\d+)\)", err)]
    if len(delivered) != len(recs):
        fail(f"aborted kcat run: {len(delivered)} of {len(recs)} delivery reports: {last_lines(err)}")
    return delivered


def produce_txns(topic, batches):
    """Each (recs, commit) of batches in its own transactional kcat run; the delivered offsets."""
    extra = ["-X", f"transactional.id={topic}"]
    offsets = []
    for recs, commit in batches:
        offsets += produce(topic, recs, extra) if commit else produce_aborted(topic, recs, extra)
    return offsets


SCENARIOS = {
    "create_topics": NO_ADMIN, "describe_topics": describe_topics, "describe_configs": NO_ADMIN,
    "create_partitions": NO_ADMIN, "describe_cluster": describe_cluster, "delete_topics": NO_ADMIN,
    **matrix.produce_scenarios(
        PREFIX, produce, lambda topic, n: read(topic),
        tricky=(matrix.tricky_records(timestamps=False),
                "null key, null (-Z)/empty value, repeated + null-valued headers (-H); "
                "no explicit CreateTime (kcat can't set timestamps)"),
        codec=lambda c: ["-z", c], acks=lambda a: ["-X", f"acks={a}"],
        idempotent=["-X", "enable.idempotence=true", "-X", "acks=all"], checked=["idempotent"]),
    **matrix.by_name(assign_seek, offsets_for_times, group_commit, committed_offsets),
    "transactions": matrix.transactions_scenario(
        lambda batches: produce_txns(f"{PREFIX}-txn", batches),
        lambda committed, n: read_isolated(f"{PREFIX}-txn", committed)),
    "send_offsets_to_transaction": NO_TXN_OFFSETS,
}
if EXPECT and VERSION != EXPECT:  # the wrong library: every line fails, even the UNSUPPORTED ones
    SCENARIOS = dict.fromkeys(SCENARIOS, wrong_library)
matrix.run("kcat", SCENARIOS, needs={"describe_topics": None})
