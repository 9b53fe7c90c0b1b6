#!/usr/bin/env bash
# The chart's offline checks: installs helm and the schema validator (helm/setup.sh), then runs
# the tests in helm/tests — helm lint --strict, every value set in weir/ci/ rendered and
# validated against the Kubernetes 1.25 and 1.37 JSON schemas, the template tests, and the
# rendered-pods extraction (tools/pods.py). No cluster, no network beyond the first install.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
WEIR_HELM="$(bash "$HERE/setup.sh")"
export WEIR_HELM
# helm keeps its cache and config under the tools directory, not in $HOME.
TOOLS="$(dirname "$(dirname "$WEIR_HELM")")"
export HELM_CACHE_HOME="$TOOLS/home/cache" HELM_CONFIG_HOME="$TOOLS/home/config" HELM_DATA_HOME="$TOOLS/home/data"
exec "$PYTHON" -m pytest -q -p no:cacheprovider "$HERE/tests" "$@"
