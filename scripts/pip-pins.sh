# Sourced by the set-up scripts: `ensure_pins PYTHON REQUIREMENTS WHO` installs the exact pins of
# a requirements file with pip unless every one is already installed at its version.

pins_satisfied() {
    "$1" - "$2" <<'PY' 2>/dev/null
import sys, importlib.metadata as md
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    if md.version(name.strip()) != want.strip():
        sys.exit(1)
PY
}

ensure_pins() {
    local python="$1" requirements="$2" who="$3"
    if ! pins_satisfied "$python" "$requirements"; then
        "$python" -m pip install -q --root-user-action=ignore -r "$requirements" >&2
        pins_satisfied "$python" "$requirements" || { echo "$who: pip packages still not at the pinned versions" >&2; exit 1; }
    fi
}
