"""The Dockerfile cannot be built here (no Docker): check that it agrees with the chart."""

import json
import re

from conftest import HELM_DIR

DOCKERFILE = (HELM_DIR.parent / "Dockerfile").read_text()


def instruction(name):
    found = re.findall(rf"^{name}\s+(.*)$", DOCKERFILE, re.M)
    return found


def test_multi_stage_slim_runtime():
    stages = instruction("FROM")
    assert len(stages) == 2
    assert stages[0].startswith("rust:") and stages[0].endswith(" AS build")
    assert stages[1].startswith("debian:") and "-slim" in stages[1]
    assert "COPY --from=build /out/weir /usr/local/bin/weir" in DOCKERFILE


def test_runs_as_the_chart_user_with_data_where_the_chart_mounts_it(render):
    r = render()
    uid = r.pod["securityContext"]["runAsUser"]
    assert instruction("USER") == [f"{uid}:{r.pod['securityContext']['runAsGroup']}"]
    assert f"--uid {uid}" in DOCKERFILE and f"--gid {uid}" in DOCKERFILE
    assert instruction("WORKDIR")[-1] == "/var/lib/weir"
    assert {m["mountPath"] for m in r.container["volumeMounts"]} >= {"/var/lib/weir"}
    assert "/bin/sh" == r.container["command"][0]  # debian-slim has it; distroless would not


def test_entrypoint_is_weir_serve_and_ports_match(render):
    assert json.loads(instruction("ENTRYPOINT")[0]) == ["weir", "serve"]
    cmd = json.loads(instruction("CMD")[0])
    assert cmd[cmd.index("--data-dir") + 1] == "/var/lib/weir/data"
    ports = {p["containerPort"] for p in render().container["ports"]}
    assert set(map(int, instruction("EXPOSE")[0].split())) == ports
    assert "exec weir serve" in render().script

