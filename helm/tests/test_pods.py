"""helm/tools/pods.py: the rendered pods as processes on loopback addresses (for the
rendered-pods cluster test)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HELM_DIR, flag, pods_tool, run_wrapper


@pytest.fixture
def three(render, tmp_path, fake_weir):
    description = pods_tool.pods(render({"replicas": 3}, namespace="weir"), tmp_path / "pods", weir_bin=str(fake_weir))
    pods_tool.materialize(description)
    return description


def test_hosts_map_pod_dns_names_to_loopback(three):
    assert three["hosts"] == {f"weir-{i}.weir-headless.weir.svc.cluster.local": f"127.0.0.{10 + i}" for i in range(3)}
    assert three["bootstrap"] == "127.0.0.10:9092,127.0.0.11:9092,127.0.0.12:9092"
    assert [p["name"] for p in three["pods"]] == ["weir-0", "weir-1", "weir-2"]


def test_rendered_command_runs_with_local_addresses(three, tmp_path):
    voters = "0@127.0.0.10:9093,1@127.0.0.11:9093,2@127.0.0.12:9093"
    for i, pod in enumerate(three["pods"]):
        address = f"127.0.0.{10 + i}"
        assert pod["address"] == address and pod["kafka"] == f"{address}:9092" and pod["http"] == f"{address}:9644"
        text = json.dumps(pod["argv"])
        assert ".svc." not in text and "0.0.0.0" not in text and " /var/lib/weir" not in text
        args, weir_env = run_wrapper(pod["argv"], pod["env"])
        assert args[0] == "serve"
        assert flag(args, "--node-id") == str(i)
        assert flag(args, "--listen") == f"{address}:9092"
        assert flag(args, "--raft-listen") == f"{address}:9093"
        assert flag(args, "--http-listen") == f"{address}:9644"
        assert flag(args, "--advertised-listener") == f"{address}:9092"
        assert flag(args, "--voters") == voters
        root = tmp_path / "pods" / f"weir-{i}"
        assert flag(args, "--data-dir") == str(root / "var/lib/weir/data")
        config = Path(flag(args, "--config"))
        assert config == root / "etc/weir/config/weir.properties"
        assert config.read_text().startswith("# Weir broker settings")
        assert (root / "var/lib/weir").is_dir() and (root / "tmp").is_dir()
        # The environment is the container's, nothing of the caller's.
        assert set(weir_env) == {"WEIR_CLUSTER_ID", "WEIR_DEFAULT_REPLICATION_FACTOR",
                                 "WEIR_OFFSETS_TOPIC_REPLICATION_FACTOR", "WEIR_MIN_INSYNC_REPLICAS"}
        assert pod["env"]["HOSTNAME"] == f"weir-{i}"
        assert weir_env["WEIR_CLUSTER_ID"] == three["pods"][0]["env"]["WEIR_CLUSTER_ID"]


def test_prestop_and_probes_point_at_the_pod(three, fake_weir):
    for i, pod in enumerate(three["pods"]):
        address = f"127.0.0.{10 + i}"
        assert pod["preStop"] == [str(fake_weir), "cluster", "drain", "--http", f"{address}:9644", "--timeout", "60"]
        assert pod["terminationGracePeriodSeconds"] == 90
        assert pod["probes"]["readiness"]["url"] == f"http://{address}:9644/readyz"
        assert pod["probes"]["liveness"]["url"] == f"http://{address}:9644/livez"
        assert pod["probes"]["startup"]["url"] == f"http://{address}:9644/livez"
        assert pod["probes"]["readiness"]["periodSeconds"] == 5


def test_config_values_reach_the_file(render, tmp_path):
    rendered = render({"replicas": 3, "config": {"num.partitions": 3, "min.insync.replicas": 2}}, namespace="weir")
    description = pods_tool.pods(rendered, tmp_path)
    pods_tool.materialize(description)
    for pod in description["pods"]:
        (path,) = pod["files"]
        assert Path(path).read_text().splitlines()[1:] == ["min.insync.replicas=2", "num.partitions=3"]
        assert "WEIR_MIN_INSYNC_REPLICAS" not in pod["env"]


def test_external_nodeport_advertises_local_address_and_node_port(render, tmp_path, fake_weir):
    rendered = render({"replicas": 3, "externalAccess": {"enabled": True}}, namespace="weir")
    description = pods_tool.pods(rendered, tmp_path, weir_bin=str(fake_weir))
    for i, pod in enumerate(description["pods"]):
        args, _ = run_wrapper(pod["argv"], pod["env"])
        assert flag(args, "--advertised-listener") == f"127.0.0.{10 + i}:{31090 + i}"


def test_first_address_and_loopback_only(render, tmp_path):
    rendered = render({"replicas": 3}, namespace="weir")
    assert pods_tool.pods(rendered, tmp_path, first_address="127.0.1.1")["bootstrap"].startswith("127.0.1.1:9092,127.0.1.2:")
    with pytest.raises(ValueError):
        pods_tool.pods(rendered, tmp_path, first_address="10.0.0.1")
    with pytest.raises(ValueError):
        pods_tool.pods(rendered, tmp_path, first_address="127.255.255.254")


def test_command_line(tmp_path, helm):
    out = subprocess.run([sys.executable, str(HELM_DIR / "tools" / "pods.py"), "--workdir", str(tmp_path),
                          "--replicas", "5", "--set", "config.num\\.partitions=3"],
                         capture_output=True, text=True, check=True)
    description = json.loads(out.stdout)
    assert len(description["pods"]) == 5
    assert description["pods"][4]["address"] == "127.0.0.14"
    assert (tmp_path / "weir-4" / "etc/weir/config/weir.properties").read_text().endswith("num.partitions=3\n")
    refused = subprocess.run([sys.executable, str(HELM_DIR / "tools" / "pods.py"), "--workdir", str(tmp_path),
                              "--replicas", "2"], capture_output=True, text=True)
    assert refused.returncode == 1 and "replicas=2" in refused.stderr
