#!/usr/bin/env bash
# The chart's offline checks: installs helm and the schema validator (helm/setup.sh), then runs
# the tests in helm/tests — helm lint --strict, every value set in weir/ci/ rendered and
# validated against the Kubernetes 1.25 and 1.37 JSON schemas, the template tests, and the
# rendered-pods extraction (tools/pods.py). No cluster, no network beyond the first install.
#
#   bash helm/test.sh [PYTEST ARGS]              the offline checks (a few seconds; no weir binary)
#   bash helm/test.sh --run-pods [PYTEST ARGS]   only the rendered pods run for real
#                                                (tests/test_rendered_pods.py: three weir processes
#                                                from the rendered StatefulSet, a rolling restart;
#                                                about 15 s). Needs the binary: $WEIR_BIN, else
#                                                ${CARGO_TARGET_DIR:-target}/debug/weir.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
WEIR_HELM="$(bash "$HERE/setup.sh")"
export WEIR_HELM
# helm keeps its cache and config under the tools directory, not in $HOME.
TOOLS="$(dirname "$(dirname "$WEIR_HELM")")"
export HELM_CACHE_HOME="$TOOLS/home/cache" HELM_CONFIG_HOME="$TOOLS/home/config" HELM_DATA_HOME="$TOOLS/home/data"
if [ "${1:-}" = "--run-pods" ]; then
    shift
    exec "$PYTHON" -m pytest -q -p no:cacheprovider "$HERE/tests/test_rendered_pods.py" "$@"
fi
exec "$PYTHON" -m pytest -q -p no:cacheprovider --ignore "$HERE/tests/test_rendered_pods.py" "$HERE/tests" "$@"
