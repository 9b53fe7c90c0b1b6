"""Shared helpers of the chart's offline tests: render the chart with helm, find manifests."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

HELM_DIR = Path(__file__).resolve().parent.parent
CHART = HELM_DIR / "weir"
sys.path.insert(0, str(HELM_DIR / "tools"))

import pods as pods_tool  # noqa: E402

# The Kubernetes versions the chart supports and is validated against: the oldest and the
# newest whose schemas kubernetes-validate 1.37.0 ships (also Chart.yaml's kubeVersion floor).
KUBE_VERSIONS = ["1.25.0", "1.37.0"]
VALUE_SETS = sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))


@pytest.fixture(scope="session")
def helm():
    path = os.environ.get("WEIR_HELM") or pods_tool.helm_binary()
    os.environ["WEIR_HELM"] = path
    return path


class Rendered(list):
    """The manifests of one render, with look-ups by kind and name."""

    def all(self, kind):
        return [m for m in self if m["kind"] == kind]

    def one(self, kind, name=None):
        found = [m for m in self.all(kind) if name is None or m["metadata"]["name"] == name]
        assert len(found) == 1, f"{len(found)} {kind} named {name}"
        return found[0]

    @property
    def sts(self):
        return self.one("StatefulSet")

    @property
    def pod(self):
        return self.sts["spec"]["template"]["spec"]

    @property
    def container(self):
        (c,) = self.pod["containers"]
        return c

    @property
    def script(self):
        c = self.container
        assert c["command"] == ["/bin/sh", "-c"]
        (script,) = c["args"]
        return script

    def env(self):
        return {e["name"]: e.get("value", e.get("valueFrom")) for e in self.container.get("env", [])}


@pytest.fixture(scope="session")
def render(helm):
    cache = {}

    def render(values=None, release="weir", namespace="data", files=()):
        key = (repr(values), release, namespace, tuple(files))
        if key not in cache:
            cache[key] = Rendered(pods_tool.render(values=values, values_files=[str(CHART / "ci" / f) for f in files],
                                                   release=release, namespace=namespace, helm=helm))
        return cache[key]

    return render


@pytest.fixture(scope="session")
def render_error(helm):
    def render_error(values, release="weir", namespace="data"):
        with pytest.raises(pods_tool.RenderError) as e:
            pods_tool.render(values=values, release=release, namespace=namespace, helm=helm)
        return str(e.value)

    return render_error


@pytest.fixture
def fake_weir(tmp_path):
    """A `weir` that prints its arguments, one a line, and the WEIR_* environment."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    weir = bin_dir / "weir"
    weir.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\nenv | grep "^WEIR_" | sed "s/^/env:/" | sort\n')
    weir.chmod(0o755)
    return weir


def run_wrapper(argv, env):
    """Runs a rendered container command (the sh -c wrapper) with exactly `env`; returns the
    fake weir's arguments and WEIR_* environment."""
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    args = [line for line in lines if not line.startswith("env:")]
    env_out = dict(line[4:].split("=", 1) for line in lines if line.startswith("env:"))
    return args, env_out


def flag(args, name):
    """The value of --name in an argument list (exactly once)."""
    at = [i for i, a in enumerate(args) if a == name]
    assert len(at) == 1, f"{name} given {len(at)} times in {args}"
    return args[at[0] + 1]
