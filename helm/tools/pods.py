#!/usr/bin/env python3
"""Renders the chart and turns each broker pod into a process description a test can start.

    python3 helm/tools/pods.py --workdir DIR [--replicas 3] [--weir-bin PATH] [--set K=V]...
                               [-f VALUES] [--first-address 127.0.0.10] > pods.json

For pod N of the StatefulSet the JSON gives its command line (the container's command + args,
i.e. the chart's `sh -c` wrapper that execs `weir serve`), its environment, its preStop command
and its probe URLs, exactly as rendered except for what a pod has that a process on this
machine has not:

  - a network namespace: the pod's DNS names (`<sts>-N.<headless>.<ns>.svc.<domain>`, and
    `$HOSTNAME.<headless>…` in the wrapper) become 127.0.0.x addresses (pod N: first address
    + N), and the pod-local addresses 0.0.0.0 and 127.0.0.1 become that pod's own address;
  - volumes: each mount path becomes DIR/<pod>/<mount path>; ConfigMap volumes are written
    there from the rendered ConfigMap, the others are empty directories;
  - what the kubelet sets: HOSTNAME (the pod name), fieldRef variables (metadata.name,
    metadata.namespace, status.podIP/hostIP = the pod's address);
  - the image's PATH: with --weir-bin, that binary's directory comes first (the wrapper and
    preStop run `weir`), and preStop's argv[0] is that binary.

Run each pod's `argv` with exactly its `env` (not the caller's environment: the broker reads
WEIR_* variables). A rolling restart as Kubernetes does it: run `preStop` (wait for it, at most
terminationGracePeriodSeconds), then SIGTERM, then SIGKILL when the grace period is over.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
HELM_DIR = HERE.parent
ROOT = HELM_DIR.parent
CHART = HELM_DIR / "weir"
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def helm_binary() -> str:
    """The helm binary: $WEIR_HELM, else the one helm/setup.sh installs (installing it)."""
    if os.environ.get("WEIR_HELM"):
        return os.environ["WEIR_HELM"]
    out = subprocess.run(["bash", str(HELM_DIR / "setup.sh")], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def render(values: dict | None = None, set_values: list[str] = (), values_files: list[str] = (),
           release: str = "weir", namespace: str = "weir", helm: str | None = None) -> list[dict]:
    """`helm template` of the chart; the manifests as dicts."""
    cmd = [helm or helm_binary(), "template", release, str(CHART), "--namespace", namespace]
    for f in values_files:
        cmd += ["--values", f]
    for s in set_values:
        cmd += ["--set", s]
    if values:
        cmd += ["--values", "-"]
    out = subprocess.run(cmd, input=json.dumps(values or {}), capture_output=True, text=True)
    if out.returncode != 0:
        raise RenderError(out.stderr.strip())
    return [d for d in yaml.safe_load_all(out.stdout) if d]


class RenderError(Exception):
    pass


def pods(manifests: list[dict], workdir: str | Path, first_address: str = "127.0.0.10",
         weir_bin: str | None = None) -> dict:
    """The process description of every pod of the rendered StatefulSet (see the module doc)."""
    (sts,) = [m for m in manifests if m["kind"] == "StatefulSet"]
    configmaps = {m["metadata"]["name"]: m.get("data", {}) for m in manifests if m["kind"] == "ConfigMap"}
    services = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "Service"}
    name = sts["metadata"]["name"]
    namespace = sts["metadata"]["namespace"]
    replicas = sts["spec"]["replicas"]
    headless = sts["spec"]["serviceName"]
    assert services[headless]["spec"].get("clusterIP") == "None", "serviceName is not a headless Service"
    pod_spec = sts["spec"]["template"]["spec"]
    assert pod_spec.get("enableServiceLinks") is False, "service links would add WEIR_* variables"
    (container,) = pod_spec["containers"]
    # The pod's cluster domain, from the headless Service's DNS names in the rendered text.
    text = json.dumps(container)
    m = re.search(re.escape(f".{headless}.{namespace}.svc.") + r"([a-z0-9.-]*[a-z0-9])", text)
    domain = m.group(1) if m else "cluster.local"
    suffix = f".{headless}.{namespace}.svc.{domain}"

    first = ipaddress.IPv4Address(first_address)
    addresses = [str(first + i) for i in range(replicas)]
    if not all(ipaddress.IPv4Address(a) in ipaddress.IPv4Network("127.0.0.0/8") for a in addresses):
        raise ValueError(f"{first_address} + {replicas - 1} leaves the loopback range")
    hosts = {f"{name}-{i}{suffix}": addresses[i] for i in range(replicas)}
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    for claim in sts["spec"].get("volumeClaimTemplates", []):
        volumes[claim["metadata"]["name"]] = {"name": claim["metadata"]["name"], "persistentVolumeClaim": {}}
    workdir = Path(workdir).resolve()

    result = {"statefulset": name, "namespace": namespace, "hosts": hosts,
              "bootstrap": ",".join(f"{a}:{ports['kafka']}" for a in addresses), "pods": []}
    for i in range(replicas):
        pod = f"{name}-{i}"
        address = addresses[i]
        root = workdir / pod
        mounts = {}
        files = {}
        for vm in container.get("volumeMounts", []):
            local = root / vm["mountPath"].lstrip("/")
            mounts[vm["mountPath"]] = str(local)
            volume = volumes[vm["name"]]
            if "configMap" in volume:
                for key, content in configmaps[volume["configMap"]["name"]].items():
                    files[str(local / key)] = content

        def localize(s: str) -> str:
            # This pod's own name in the wrapper ($HOSTNAME.<headless>…) and every pod's DNS name.
            s = re.sub(r"\$\{?HOSTNAME\}?" + re.escape(suffix), address, s)
            for host, addr in hosts.items():
                s = re.sub(re.escape(host) + r"(?![A-Za-z0-9.-])", addr, s)
            s = re.sub(r"(?<![0-9.])(0\.0\.0\.0|127\.0\.0\.1)(?=:)", address, s)
            # Mount paths at path boundaries, in one pass (a local path may contain a mount path).
            if mounts:
                paths = "|".join(re.escape(p) for p in sorted(mounts, key=len, reverse=True))
                s = re.sub(r"(?<![A-Za-z0-9_./-])(" + paths + r")(?=/|\s|$|[\"'])", lambda m: mounts[m.group(1)], s)
            return s

        env = {"HOSTNAME": pod, "PATH": IMAGE_PATH}
        if weir_bin:
            env["PATH"] = f"{Path(weir_bin).resolve().parent}:{IMAGE_PATH}"
        for e in container.get("env", []):
            if "value" in e:
                env[e["name"]] = localize(str(e["value"]))
            elif "fieldRef" in e.get("valueFrom", {}):
                field = e["valueFrom"]["fieldRef"]["fieldPath"]
                env[e["name"]] = {"metadata.name": pod, "metadata.namespace": namespace,
                                  "status.podIP": address, "status.hostIP": address}[field]
            else:
                raise ValueError(f"env {e['name']}: unsupported source {e.get('valueFrom')}")
        argv = [localize(a) for a in container.get("command", []) + container.get("args", [])]
        pre_stop = [localize(a) for a in container["lifecycle"]["preStop"]["exec"]["command"]]
        if weir_bin and pre_stop and pre_stop[0] == "weir":
            pre_stop[0] = str(Path(weir_bin).resolve())

        def probe(kind):
            get = container[kind]["httpGet"]
            port = ports.get(get["port"], get["port"])
            return {"url": f"http://{address}:{port}{get['path']}",
                    **{k: v for k, v in container[kind].items() if k != "httpGet"}}

        result["pods"].append({
            "name": pod, "ordinal": i, "address": address,
            "ports": ports,
            "kafka": f"{address}:{ports['kafka']}",
            "http": f"{address}:{ports['http']}",
            "argv": argv, "env": env,
            "dirs": sorted(mounts.values()),
            "files": files,
            "preStop": pre_stop,
            "terminationGracePeriodSeconds": pod_spec.get("terminationGracePeriodSeconds", 30),
            "probes": {k: probe(k + "Probe") for k in ("startup", "liveness", "readiness") if k + "Probe" in container},
        })
    return result


def materialize(description: dict) -> None:
    """Creates each pod's volume directories and writes its ConfigMap files."""
    for pod in description["pods"]:
        for d in pod["dirs"]:
            Path(d).mkdir(parents=True, exist_ok=True)
        for path, content in pod["files"].items():
            Path(path).write_text(content)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", required=True, help="per-pod volume directories go under it")
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--release", default="weir")
    ap.add_argument("--namespace", default="weir")
    ap.add_argument("--set", dest="set_values", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("-f", "--values", dest="values_files", action="append", default=[])
    ap.add_argument("--first-address", default="127.0.0.10", help="pod N gets this address + N")
    ap.add_argument("--weir-bin", help="the weir binary to run (its directory goes first on PATH)")
    ap.add_argument("--no-create", action="store_true", help="only print; create no directories or files")
    args = ap.parse_args(argv)
    try:
        manifests = render(set_values=[f"replicas={args.replicas}", *args.set_values],
                           values_files=args.values_files, release=args.release, namespace=args.namespace)
    except RenderError as e:
        print(f"pods.py: helm template failed: {e}", file=sys.stderr)
        return 1
    description = pods(manifests, args.workdir, args.first_address, args.weir_bin)
    if not args.no_create:
        materialize(description)
    json.dump(description, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
