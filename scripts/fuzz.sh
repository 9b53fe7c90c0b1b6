#!/usr/bin/env bash
# Coverage-guided fuzzing of Weir's wire decoding with cargo-afl (AFL++). See fuzz/README.md.
#
#   scripts/fuzz.sh [--seconds N] [--timeout-ms MS] [--out DIR] [--strict] [--seeds] [target...]
#
# Installs what it needs (cargo-afl, AFL++ built by it; quiet when present), builds the
# instrumented targets (into fuzz/target, or $WEIR_FUZZ_TARGET_DIR), then fuzzes each target
# for N seconds (default 60), one after the other, from its committed corpus fuzz/corpus/<target>.
# Exits non-zero if any target crashed (or an input it flagged as a hang still hangs when re-run)
# and prints where the inputs were saved. Everything runs under `nice -n 19`.
#
#   --strict   a panic that Weir's catch_unwind guard swallowed also counts as a crash
#   --seeds    regenerate seed files into fuzz/corpus first (adds only new ones)
#   --seconds 0  install and build only
#   targets    request record_batch raft_frame (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TARGETS=(request record_batch raft_frame)
AFL_VERSION=0.18.2             # cargo-afl; must match the `afl` crate in fuzz/Cargo.lock

seconds=60
timeout_ms=5000
out=""
strict=0
seeds=0
chosen=()
while (($#)); do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --timeout-ms) timeout_ms=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --strict) strict=1; shift ;;
        --seeds) seeds=1; shift ;;
        -h|--help) sed -n '2,/^set /p' "$0" | sed '$d'; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) chosen+=("$1"); shift ;;
    esac
done
((${#chosen[@]})) || chosen=("${TARGETS[@]}")
for t in "${chosen[@]}"; do
    [[ " ${TARGETS[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target $t (have: ${TARGETS[*]})" >&2; exit 2; }
done

target_dir=${WEIR_FUZZ_TARGET_DIR:-$ROOT/fuzz/target}
out=${out:-$target_dir/runs}
say() { printf 'fuzz: %s\n' "$*"; }

# --- install (idempotent) -------------------------------------------------------------------
if ! command -v make >/dev/null || ! command -v cc >/dev/null; then
    say "installing make and a C compiler (AFL++ is built from source)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential >/dev/null
fi
if ! cargo afl --version 2>/dev/null | grep -q "$AFL_VERSION"; then
    say "installing cargo-afl $AFL_VERSION"
    nice -n 19 cargo install --quiet --locked cargo-afl --version "$AFL_VERSION"
fi
# `config --build` fails with "already built" when AFL++ is there for this rustc: that is fine.
if ! built=$(nice -n 19 cargo afl config --build 2>&1) && ! grep -q "already built" <<<"$built"; then
    echo "$built" >&2
    say "building AFL++ failed"
    exit 1
fi

# --- build ----------------------------------------------------------------------------------
cd "$ROOT/fuzz"
if ((seeds)); then
    nice -n 19 cargo run --quiet --release --bin seeds --target-dir "$target_dir" -- corpus
fi
say "building ${chosen[*]} (instrumented, $target_dir)"
bins=()
for t in "${chosen[@]}"; do bins+=(--bin "$t"); done
nice -n 19 cargo afl build --quiet --release --features afl "${bins[@]}" --target-dir "$target_dir"

# --- fuzz -----------------------------------------------------------------------------------
if ((seconds <= 0)); then
    say "built; --seconds $seconds: not fuzzing"
    exit 0
fi
# AFL_EXIT_ON_SEED_ISSUES: a committed corpus input that crashes fails the run (AFL++ would skip it).
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 AFL_NO_UI=1 AFL_FAST_CAL=1 AFL_EXIT_ON_SEED_ISSUES=1
export WEIR_FUZZ_STRICT=$strict
stat() { sed -n "s/^$1 *: //p" "$2"; }
failed=0
for t in "${chosen[@]}"; do
    dir=$out/$t
    rm -rf "$dir"
    mkdir -p "$dir"
    bin=$target_dir/release/$t
    say "$t: fuzzing for ${seconds}s from fuzz/corpus/$t ($(ls "corpus/$t" | wc -l) seeds) -> $dir"
    rc=0
    WEIR_FUZZ_CAUGHT_DIR=$dir/caught nice -n 19 cargo afl fuzz -V "$seconds" -t "$timeout_ms" \
        -i "corpus/$t" -o "$dir" "$bin" >"$dir/afl.log" 2>&1 || rc=$?
    stats=$dir/default/fuzzer_stats
    if ((rc != 0)) || [[ ! -f $stats ]]; then
        tail -n 30 "$dir/afl.log" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' >&2
        say "$t: afl-fuzz failed (exit $rc); log: $dir/afl.log"
        failed=1
        continue
    fi
    say "$t: $(stat execs_done "$stats") execs ($(stat execs_per_sec "$stats")/s), edges $(stat edges_found "$stats")/$(stat total_edges "$stats") ($(stat bitmap_cvg "$stats")), corpus $(stat corpus_count "$stats"), crashes $(stat saved_crashes "$stats"), hangs $(stat saved_hangs "$stats")"
    for crash in "$dir"/default/crashes/id:*; do
        [[ -e $crash ]] || break
        failed=1
        say "$t: CRASH saved at $crash"
        "$bin" <"$crash" 2>&1 | grep -E "^(panic at|resident memory|a decoder panic)" | head -n 2 | sed 's/^/      /' || true
    done
    for hang in "$dir"/default/hangs/id:*; do
        [[ -e $hang ]] || break
        # AFL++ times out on wall-clock time, and a niced fuzzer on a busy machine is slow: re-run.
        if timeout 20 "$bin" <"$hang" >/dev/null 2>&1; then
            say "$t: (input flagged as a hang runs fine when re-run: $hang)"
        else
            failed=1
            say "$t: HANG (still over 20 s, or failing, when re-run) saved at $hang"
        fi
    done
    for caught in "$dir"/caught/*; do
        [[ -e $caught ]] || break
        say "$t: warning: a decoder panic was caught by Weir's guard at $(basename "$caught"); input: $caught"
    done
done
if ((failed)); then
    say "FAILED: reproduce with <target binary> < <input>; see fuzz/README.md"
    exit 1
fi
say "ok: ${chosen[*]} ran ${seconds}s each with no crash"
