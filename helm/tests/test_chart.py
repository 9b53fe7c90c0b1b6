"""Template tests: render the chart and check what a running cluster depends on."""

import base64
import hashlib
import json
import shutil
import subprocess

import pytest
import yaml

from conftest import CHART, flag, run_wrapper

FQDN = "weir-headless.data.svc.cluster.local"


def voters_of(rendered):
    args = rendered.script.split()
    return args[args.index("--voters") + 1]


# --- voters and node ids -------------------------------------------------------------------

@pytest.mark.parametrize("replicas", [1, 3, 5])
def test_voters_list_one_per_pod_ordinal(render, replicas):
    r = render({"replicas": replicas})
    assert r.sts["spec"]["replicas"] == replicas
    expected = ",".join(f"{i}@weir-{i}.{FQDN}:9093" for i in range(replicas))
    assert voters_of(r) == expected


@pytest.mark.parametrize("replicas", [1, 3, 5])
def test_node_id_is_the_pod_ordinal(render, fake_weir, replicas):
    """The wrapper runs under /bin/sh as the container would, with HOSTNAME as the kubelet
    sets it; `weir serve` gets the ordinal as --node-id and its own DNS name to advertise."""
    r = render({"replicas": replicas})
    for i in range(replicas):
        env = {"HOSTNAME": f"weir-{i}", "PATH": f"{fake_weir.parent}:/usr/bin:/bin"}
        args, _ = run_wrapper(r.container["command"] + r.container["args"], env)
        assert args[0] == "serve"
        assert flag(args, "--node-id") == str(i)
        assert flag(args, "--advertised-listener") == f"weir-{i}.{FQDN}:9092"
        assert flag(args, "--listen") == "0.0.0.0:9092"
        assert flag(args, "--raft-listen") == "0.0.0.0:9093"
        assert flag(args, "--http-listen") == "0.0.0.0:9644"
        assert flag(args, "--data-dir") == "/var/lib/weir/data"
        assert flag(args, "--config") == "/etc/weir/config/weir.properties"
        assert flag(args, "--voters") == voters_of(r)


def test_wrapper_refuses_a_hostname_without_ordinal(render, fake_weir):
    r = render()
    out = subprocess.run(r.container["command"] + r.container["args"], capture_output=True, text=True,
                         env={"HOSTNAME": "weir", "PATH": f"{fake_weir.parent}:/usr/bin:/bin"})
    assert out.returncode == 1
    assert "cannot take a node id" in out.stderr


def test_pods_start_in_parallel(render):
    """A voter waits for a majority: OrderedReady would wait for pod 0 to be ready first."""
    assert render().sts["spec"]["podManagementPolicy"] == "Parallel"


# --- cluster id ----------------------------------------------------------------------------

def expected_cluster_id(release, namespace):
    digest = hashlib.sha256(f"{release}/{namespace}".encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.mark.parametrize("release,namespace", [("weir", "data"), ("kafka", "prod"), ("a", "b")])
def test_cluster_id_derived_from_release_and_namespace(render, release, namespace):
    first = render(release=release, namespace=namespace).env()["WEIR_CLUSTER_ID"]
    assert first == expected_cluster_id(release, namespace)
    assert len(first) == 22
    assert len(base64.urlsafe_b64decode(first + "==")) == 16
    # Stable: another render (other values, other replicas) gives the same id.
    again = render({"replicas": 5, "config": {"num.partitions": 7}}, release=release, namespace=namespace)
    assert again.env()["WEIR_CLUSTER_ID"] == first


def test_cluster_ids_differ_between_releases(render):
    assert render(release="weir").env()["WEIR_CLUSTER_ID"] != render(release="weir2").env()["WEIR_CLUSTER_ID"]


def test_cluster_id_from_values(render, render_error):
    assert render({"clusterId": "MkU3OEVBNTcwNTJENDM2Qg"}).env()["WEIR_CLUSTER_ID"] == "MkU3OEVBNTcwNTJENDM2Qg"
    assert "clusterId" in render_error({"clusterId": "not-a-uuid"})


# --- config and the checksum ---------------------------------------------------------------

def checksum(r):
    return r.sts["spec"]["template"]["metadata"]["annotations"]["checksum/config"]


def properties(r):
    return r.one("ConfigMap", "weir")["data"]["weir.properties"]


def test_checksum_follows_config_not_replicas(render):
    base = render()
    assert checksum(base) == hashlib.sha256(properties(base).encode()).hexdigest()
    assert checksum(render({"replicas": 5})) == checksum(base)
    assert checksum(render({"replicas": 1})) == checksum(base)
    assert properties(render({"replicas": 5})) == properties(base)
    assert checksum(render({"image": {"tag": "0.2.0"}})) == checksum(base)
    changed = render({"config": {"log.retention.ms": 3600000}})
    assert checksum(changed) != checksum(base)
    assert checksum(render({"config": {"log.retention.ms": 7200000}})) != checksum(changed)


def test_voters_stay_out_of_the_configmap(render):
    r = render({"replicas": 5})
    text = json.dumps(r.one("ConfigMap", "weir"))
    assert "9093" not in text and "headless" not in text and "voters" not in text


def test_properties_rendering(render):
    r = render({"config": {"log.retention.ms": 604800000, "num.partitions": 3, "auto.create.topics.enable": False,
                           "min.cleanable.dirty.ratio": 0.25, "compression.type": "zstd",
                           "big.number": "9007199254740993", "some.list": ["a", "b"]}})
    lines = properties(r).splitlines()
    assert lines[0].startswith("#")
    assert lines[1:] == ["auto.create.topics.enable=false", "big.number=9007199254740993", "compression.type=zstd",
                         "log.retention.ms=604800000", "min.cleanable.dirty.ratio=0.25", "num.partitions=3",
                         "some.list=a,b"]
    assert r.container["args"][0].count("--config /etc/weir/config/weir.properties") == 1


@pytest.mark.parametrize("key", ["node.id", "broker.id", "log.dir", "log.dirs", "listeners", "advertised.listeners",
                                 "raft.listeners", "weir.http.listen", "cluster.id", "controller.quorum.voters"])
def test_chart_managed_settings_refused_in_config(render_error, key):
    """Each is set by a flag or WEIR_* variable of the pod, which would silently win over config."""
    assert f"config.{key}: the chart sets this itself" in render_error({"config": {key: "x"}})


def test_settings_the_chart_leaves_alone_pass_through(render):
    """process.roles is a Kafka setting Weir accepts (and the chart does not set): not refused."""
    assert "process.roles=broker,controller" in properties(render({"config": {"process.roles": "broker,controller"}}))


@pytest.mark.parametrize("replicas,rf,min_isr", [(1, "1", "1"), (3, "3", "2"), (5, "3", "2")])
def test_replication_defaults_follow_replicas(render, replicas, rf, min_isr):
    env = render({"replicas": replicas}).env()
    assert env["WEIR_DEFAULT_REPLICATION_FACTOR"] == rf
    assert env["WEIR_OFFSETS_TOPIC_REPLICATION_FACTOR"] == rf
    assert env["WEIR_MIN_INSYNC_REPLICAS"] == min_isr


def test_replication_settings_from_config_win(render):
    r = render({"replicas": 5, "config": {"default.replication.factor": 5, "offsets.topic.replication.factor": 5}})
    env = r.env()
    assert "WEIR_DEFAULT_REPLICATION_FACTOR" not in env and "WEIR_OFFSETS_TOPIC_REPLICATION_FACTOR" not in env
    assert env["WEIR_MIN_INSYNC_REPLICAS"] == "3"  # a majority of 5
    assert "default.replication.factor=5" in properties(r)


# --- refusals ------------------------------------------------------------------------------

@pytest.mark.parametrize("values,message", [
    ({"replicas": 2}, "replicas=2: a Raft majority of 2 voters is 2"),
    ({"replicas": 3, "pdb": {"maxUnavailable": 2}}, "a majority of 2 voters must stay up, so at most 1"),
    ({"replicas": 4, "pdb": {"maxUnavailable": 2}}, "a majority of 3 voters must stay up, so at most 1"),
    ({"replicas": 5, "pdb": {"maxUnavailable": 3}}, "a majority of 3 voters must stay up, so at most 2"),
    ({"replicas": 6, "pdb": {"maxUnavailable": 3}}, "a majority of 4 voters must stay up, so at most 2"),
    ({"drain": {"timeoutSeconds": 60}, "terminationGracePeriodSeconds": 60}, "must exceed drain.timeoutSeconds=60"),
    ({"drain": {"timeoutSeconds": 120}}, "terminationGracePeriodSeconds=90 must exceed drain.timeoutSeconds=120"),
    ({"replicas": 1, "config": {"default.replication.factor": 3}}, "default.replication.factor=3 exceeds replicas=1"),
    ({"config": {"offsets.topic.replication.factor": 4}}, "offsets.topic.replication.factor=4 exceeds replicas=3"),
    ({"config": {"min.insync.replicas": 4}}, "min.insync.replicas=4 exceeds the replication factor 3"),
    ({"config": {"x.y": "a\nb=c"}}, "cannot span lines"),
    ({"externalAccess": {"enabled": True, "type": "LoadBalancer"}}, "each broker must advertise its own address"),
    ({"externalAccess": {"enabled": True, "type": "LoadBalancer", "loadBalancer": {"addresses": ["1.2.3.4"]}}},
     "1 given for 3 brokers"),
    ({"externalAccess": {"enabled": True, "nodePort": {"nodePorts": [30001, 30002]}}}, "lists 2 ports for 3 brokers"),
    ({"replicas": 5, "externalAccess": {"enabled": True, "nodePort": {"basePort": 32765}}}, "beyond 32767"),
    ({"tls": {"enabled": True}}, "set tls.secretName"),
])
def test_refuses_values_that_break_the_cluster(render_error, values, message):
    assert message in render_error(values)


@pytest.mark.parametrize("values", [{"replicas": 0}, {"pdb": {"maxUnavailable": 0}}, {"replicas": "3"},
                                    {"unknownKey": 1}, {"externalAccess": {"type": "Ingress"}},
                                    {"externalAccess": {"loadBalancer": {"addresses": ["1.2.3.4; rm -rf /"]}}}])
def test_schema_refuses(render_error, values):
    assert "values don't meet the specifications of the schema" in render_error(values)


@pytest.mark.parametrize("replicas,max_unavailable", [(3, 1), (4, 1), (5, 2), (7, 3)])
def test_pdb_allows_up_to_a_minority(render, replicas, max_unavailable):
    pdb = render({"replicas": replicas, "pdb": {"maxUnavailable": max_unavailable}}).one("PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["maxUnavailable"] == max_unavailable
    assert pdb["spec"]["selector"]["matchLabels"] == render().sts["spec"]["selector"]["matchLabels"]


def test_pdb_default_and_single_broker(render):
    assert render().one("PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    assert render({"replicas": 1}).all("PodDisruptionBudget") == []


# --- pod spec ------------------------------------------------------------------------------

def test_probes(render):
    c = render().container
    assert c["startupProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"kafka": 9092, "raft": 9093, "http": 9644}
    # Startup allows minutes of log recovery before liveness takes over.
    assert c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] >= 300


def test_prestop_drains_within_the_grace_period(render):
    r = render({"drain": {"timeoutSeconds": 100}, "terminationGracePeriodSeconds": 130})
    assert r.container["lifecycle"]["preStop"]["exec"]["command"] == \
        ["weir", "cluster", "drain", "--http", "127.0.0.1:9644", "--timeout", "100"]
    assert r.pod["terminationGracePeriodSeconds"] == 130
    d = render()
    timeout = int(d.container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert d.pod["terminationGracePeriodSeconds"] >= timeout + 10


def test_security_context(render):
    r = render()
    pod, c = r.pod["securityContext"], r.container["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0 and pod["fsGroup"] == pod["runAsGroup"]
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["readOnlyRootFilesystem"] is True
    assert c["allowPrivilegeEscalation"] is False
    assert c["capabilities"] == {"drop": ["ALL"]}
    assert c["runAsNonRoot"] is True
    assert c["seccompProfile"] == {"type": "RuntimeDefault"}
    assert r.pod["automountServiceAccountToken"] is False
    assert r.one("ServiceAccount")["automountServiceAccountToken"] is False
    # Writable places, with a read-only root: the data volume and /tmp only.
    mounts = {m["mountPath"]: m for m in r.container["volumeMounts"]}
    assert set(mounts) == {"/var/lib/weir", "/etc/weir/config", "/tmp"}
    assert mounts["/etc/weir/config"]["readOnly"] is True


def test_no_service_links(render):
    """A Service named weir would otherwise put WEIR_PORT=tcp://… into the environment, which
    the broker would read as a setting."""
    assert render().pod["enableServiceLinks"] is False


def test_resources_affinity_spread(render):
    r = render()
    assert r.container["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}
    assert "cpu" not in r.container["resources"]["limits"]
    selector = r.sts["spec"]["selector"]["matchLabels"]
    (term,) = r.pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"] == {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": selector}}
    (spread,) = r.pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone" and spread["maxSkew"] == 1
    assert spread["labelSelector"]["matchLabels"] == selector
    hard = render({"podAntiAffinity": "hard"}).pod["affinity"]["podAntiAffinity"]
    assert list(hard) == ["requiredDuringSchedulingIgnoredDuringExecution"]
    assert "affinity" not in render({"podAntiAffinity": "none"}).pod


def test_persistence(render):
    r = render({"persistence": {"size": "50Gi", "storageClass": "fast"}})
    (claim,) = r.sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert claim["spec"]["storageClassName"] == "fast"
    assert "storageClassName" not in render().sts["spec"]["volumeClaimTemplates"][0]["spec"]
    assert render({"persistence": {"storageClass": "-"}}).sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == ""
    ephemeral = render({"replicas": 1, "persistence": {"enabled": False}})
    assert "volumeClaimTemplates" not in ephemeral.sts["spec"]
    assert {"name": "data", "emptyDir": {}} in ephemeral.pod["volumes"]


# --- services ------------------------------------------------------------------------------

def test_services(render):
    r = render()
    headless = r.one("Service", "weir-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert {p["name"]: p["port"] for p in headless["spec"]["ports"]} == {"kafka": 9092, "raft": 9093, "http": 9644}
    assert r.sts["spec"]["serviceName"] == "weir-headless"
    client = r.one("Service", "weir")
    assert client["spec"]["type"] == "ClusterIP"
    assert client["spec"].get("publishNotReadyAddresses") is not True
    assert [(p["port"], p["targetPort"]) for p in client["spec"]["ports"]] == [(9092, "kafka")]
    assert client["spec"]["selector"] == r.sts["spec"]["selector"]["matchLabels"]


def test_names_fit_kubernetes_limits(render):
    r = render({"replicas": 5, "externalAccess": {"enabled": True}}, release="a-very-long-release-name-for-weir-brokers-in-prod")
    name = r.sts["metadata"]["name"]
    assert len(name) <= 40
    assert len(f"{name}-4-external") <= 63 and len(f"data-{name}-4") <= 63 and len(f"{name}-headless") <= 63
    assert len(f"{name}-4.{name}-headless") <= 253
    for m in r:
        assert len(m["metadata"]["name"]) <= 63


# --- external access -----------------------------------------------------------------------

def external_services(r):
    return sorted((s for s in r.all("Service") if s["metadata"]["name"].endswith("-external")),
                  key=lambda s: s["metadata"]["name"])


def test_no_external_services_by_default(render):
    assert external_services(render()) == []


def test_external_nodeport_each_pod_advertises_its_own_port(render, fake_weir):
    r = render({"replicas": 3, "externalAccess": {"enabled": True, "type": "NodePort"}})
    services = {s["metadata"]["name"]: s for s in external_services(r)}
    assert sorted(services) == ["weir-0-external", "weir-1-external", "weir-2-external"]
    for i in range(3):
        s = services[f"weir-{i}-external"]
        assert s["spec"]["type"] == "NodePort"
        assert s["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == f"weir-{i}"
        assert [(p["nodePort"], p["targetPort"]) for p in s["spec"]["ports"]] == [(31090 + i, "kafka")]
    # The advertised host is the node's IP, from the downward API.
    assert r.env()["EXTERNAL_HOST"] == {"fieldRef": {"fieldPath": "status.hostIP"}}
    for i in range(3):
        env = {"HOSTNAME": f"weir-{i}", "EXTERNAL_HOST": "192.0.2.7", "PATH": f"{fake_weir.parent}:/usr/bin:/bin"}
        args, _ = run_wrapper(r.container["command"] + r.container["args"], env)
        assert flag(args, "--advertised-listener") == f"192.0.2.7:{31090 + i}"
        assert flag(args, "--node-id") == str(i)


def test_external_nodeport_explicit_host_and_ports(render, fake_weir):
    r = render({"externalAccess": {"enabled": True, "nodePort": {"host": "kafka.example.com",
                                                                 "nodePorts": [30500, 30400, 30300]}}})
    assert r.env()["EXTERNAL_HOST"] == "kafka.example.com"
    ports = {s["spec"]["selector"]["statefulset.kubernetes.io/pod-name"]: s["spec"]["ports"][0]["nodePort"]
             for s in external_services(r)}
    assert ports == {"weir-0": 30500, "weir-1": 30400, "weir-2": 30300}
    for i, port in enumerate([30500, 30400, 30300]):
        env = {"HOSTNAME": f"weir-{i}", "EXTERNAL_HOST": "kafka.example.com", "PATH": f"{fake_weir.parent}:/usr/bin:/bin"}
        args, _ = run_wrapper(r.container["command"] + r.container["args"], env)
        assert flag(args, "--advertised-listener") == f"kafka.example.com:{port}"


def test_external_loadbalancer_addresses(render, fake_weir):
    r = render(files=["external-loadbalancer-values.yaml"])
    addresses = ["203.0.113.10", "203.0.113.11", "203.0.113.12"]
    for i, s in enumerate(external_services(r)):
        assert s["spec"]["type"] == "LoadBalancer"
        assert s["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == f"weir-{i}"
        assert s["spec"]["ports"] == [{"name": "kafka", "port": 9094, "targetPort": "kafka", "protocol": "TCP"}]
        assert s["spec"]["loadBalancerSourceRanges"] == ["198.51.100.0/24"]
        assert s["metadata"]["annotations"] == {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}
    assert "EXTERNAL_HOST" not in r.env()
    for i in range(3):
        env = {"HOSTNAME": f"weir-{i}", "PATH": f"{fake_weir.parent}:/usr/bin:/bin"}
        args, _ = run_wrapper(r.container["command"] + r.container["args"], env)
        assert flag(args, "--advertised-listener") == f"{addresses[i]}:9094"
    # A pod beyond the rendered list (a scale-up not rendered yet) refuses to start.
    out = subprocess.run(r.container["command"] + r.container["args"], capture_output=True, text=True,
                         env={"HOSTNAME": "weir-3", "PATH": f"{fake_weir.parent}:/usr/bin:/bin"})
    assert out.returncode == 1 and "no external address for broker 3" in out.stderr


def test_external_loadbalancer_domain(render, fake_weir):
    r = render({"externalAccess": {"enabled": True, "type": "LoadBalancer", "loadBalancer": {"domain": "kafka.example.com"}}})
    for i, s in enumerate(external_services(r)):
        assert s["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/hostname"] == f"weir-{i}.kafka.example.com"
        env = {"HOSTNAME": f"weir-{i}", "PATH": f"{fake_weir.parent}:/usr/bin:/bin"}
        args, _ = run_wrapper(r.container["command"] + r.container["args"], env)
        assert flag(args, "--advertised-listener") == f"weir-{i}.kafka.example.com:9092"


# --- optional parts ------------------------------------------------------------------------

def test_tls_secret_mounted_read_only(render):
    r = render(files=["tls-values.yaml"])
    (mount,) = [m for m in r.container["volumeMounts"] if m["name"] == "tls"]
    assert mount == {"name": "tls", "mountPath": "/etc/weir/tls", "readOnly": True}
    (volume,) = [v for v in r.pod["volumes"] if v["name"] == "tls"]
    assert volume["secret"]["secretName"] == "weir-tls"
    assert not [m for m in render().container["volumeMounts"] if m["name"] == "tls"]


def test_service_monitor(render):
    r = render(files=["monitoring-values.yaml"])
    sm = r.one("ServiceMonitor")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["metadata"]["labels"]["release"] == "prometheus"
    assert sm["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}]
    assert sm["spec"]["namespaceSelector"] == {"matchNames": ["data"]}
    # It selects the services by labels; only the headless one has the http port.
    selected = [s for s in r.all("Service")
                if sm["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()]
    with_http = [s["metadata"]["name"] for s in selected if any(p["name"] == "http" for p in s["spec"]["ports"])]
    assert with_http == ["weir-headless"]
    assert render().all("ServiceMonitor") == []


def test_grafana_dashboard_is_the_file(render):
    r = render(files=["monitoring-values.yaml"])
    cm = r.one("ConfigMap", "weir-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Weir"}
    rendered = json.loads(cm["data"]["weir-dashboard.json"])
    assert rendered == json.loads((CHART / "files" / "weir-dashboard.json").read_text())
    assert rendered["title"] == "Weir"
    assert render().all("ConfigMap") == [render().one("ConfigMap", "weir")]


def test_labels(render):
    r = render()
    for m in r:
        labels = m["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "weir" and labels["app.kubernetes.io/instance"] == "weir"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
    assert r.pod["serviceAccountName"] == "weir"
    assert r.container["image"] == "weir:0.1.0"
    assert render({"image": {"repository": "registry.example/weir", "tag": "1.2.3"}}).container["image"] == \
        "registry.example/weir:1.2.3"


# --- NOTES.txt -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def notes(helm, tmp_path_factory):
    """NOTES.txt rendered through a copy of the chart (helm template skips NOTES.txt; it is
    `include "weir.notes"`, which a preview template can render as data)."""
    chart = tmp_path_factory.mktemp("notes") / "weir"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "notes-preview.yaml").write_text('notes: {{ include "weir.notes" . | toJson }}\n')

    def notes(*sets):
        cmd = [helm, "template", "weir", str(chart), "-n", "data", "--show-only", "templates/notes-preview.yaml"]
        for s in sets:
            cmd += ["--set", s]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        return yaml.safe_load(out.stdout)["notes"]

    return notes


def test_notes(notes):
    assert (CHART / "templates" / "NOTES.txt").read_text().strip() == '{{ include "weir.notes" . }}'
    default = notes()
    assert "weir.data.svc.cluster.local:9092" in default
    assert "rollout status statefulset/weir" in default
    assert "3 brokers" in default
    external = notes("externalAccess.enabled=true", "externalAccess.nodePort.host=kafka.example.com")
    for i in range(3):
        assert f"broker {i}: kafka.example.com:{31090 + i}" in external
    assert "no fault tolerance" in notes("replicas=1")
    assert "does not\nserve TLS yet" in notes("tls.enabled=true", "tls.secretName=x")
