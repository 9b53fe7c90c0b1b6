"""`helm lint --strict` and the Kubernetes JSON schemas, for every value set in weir/ci/."""

import subprocess

import kubernetes_validate
import pytest

from conftest import CHART, KUBE_VERSIONS, VALUE_SETS

# Kinds whose schemas are not Kubernetes' own (CRDs): checked by the template tests instead.
NOT_IN_KUBERNETES = {("monitoring.coreos.com/v1", "ServiceMonitor")}


def test_value_sets_exist():
    assert {"default-values.yaml", "single-values.yaml", "five-values.yaml", "external-nodeport-values.yaml",
            "external-loadbalancer-values.yaml", "tls-values.yaml", "monitoring-values.yaml"} <= set(VALUE_SETS)


@pytest.mark.parametrize("values", [None, *VALUE_SETS])
def test_lint_strict(helm, values):
    cmd = [helm, "lint", "--strict", str(CHART)]
    if values:
        cmd += ["--values", str(CHART / "ci" / values)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[WARNING]" not in out.stdout and "[ERROR]" not in out.stdout, out.stdout


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
@pytest.mark.parametrize("values", VALUE_SETS)
def test_manifests_match_kubernetes_schemas(render, values, kube):
    manifests = render(files=[values])
    kinds = set()
    for m in manifests:
        kinds.add(m["kind"])
        if (m["apiVersion"], m["kind"]) in NOT_IN_KUBERNETES:
            continue
        # strict: unknown fields (a typo, a field newer than `kube`) fail too.
        try:
            kubernetes_validate.validate(m, kube, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            pytest.fail(f"{m['kind']}/{m['metadata']['name']} against {kube}: {path}: {e.message}")
    assert {"StatefulSet", "Service", "ConfigMap"} <= kinds


def test_schemas_reject_a_bad_manifest():
    """The validation above is not vacuous: an unknown field and a wrong type both fail."""
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
           "spec": {"ports": [{"port": "kafka"}], "publishNotReadyAdresses": True}}
    for kube in KUBE_VERSIONS:
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(bad, kube, strict=True)


def test_kube_version_floor(helm):
    """Chart.yaml's kubeVersion matches the oldest schemas checked above."""
    def template(version):
        return subprocess.run([helm, "template", "weir", str(CHART), "--kube-version", version],
                              capture_output=True, text=True)
    assert template(KUBE_VERSIONS[0]).returncode == 0
    assert template(KUBE_VERSIONS[-1]).returncode == 0
    old = template("1.24.0")
    assert old.returncode != 0 and "incompatible with Kubernetes v1.24.0" in old.stderr


def test_package_carries_the_dashboard_not_the_ci_values(helm, tmp_path):
    import tarfile
    subprocess.run([helm, "package", str(CHART), "--destination", str(tmp_path)], check=True, capture_output=True)
    (tgz,) = tmp_path.glob("weir-*.tgz")
    names = set(tarfile.open(tgz).getnames())
    assert {"weir/files/weir-dashboard.json", "weir/values.schema.json", "weir/README.md",
            "weir/templates/NOTES.txt"} <= names
    assert not [n for n in names if n.startswith("weir/ci/")]
