"""deploy/kubernetes/: every manifest validates (strictly) against Kubernetes' own schemas, as
shipped by the kubernetes-validate package, and the pieces fit together."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]  # ships no type hints
import pytest

from tests.deploy.tools import DEPLOY, load_yaml_documents

MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
# The oldest Kubernetes release still common in managed clusters, and the newest schemas shipped.
VERSIONS = ("1.28.0", kubernetes_validate.latest_version())


def _all() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in MANIFESTS for doc in load_yaml_documents(path)]


def _by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in _all() if d["kind"] == kind}


def _ids() -> list[str]:
    return [f"{p.name}:{d['kind']}/{d['metadata']['name']}" for p, d in _all()]


def _cf502_deployments() -> list[dict[str, Any]]:
    return [d for n, d in _by_kind("Deployment").items() if n.startswith("cf502-")]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("path", "doc"), _all(), ids=_ids())
def test_manifest_validates_strictly(path: Path, doc: dict[str, Any], version: str) -> None:
    # Given one manifest document
    # When validated strictly (unknown fields rejected) against the Kubernetes schemas
    # Then it is valid (kubernetes_validate raises otherwise)
    kubernetes_validate.validate(doc, version, strict=True)


def test_validation_catches_broken_manifests() -> None:
    # Given the worker Deployment with a misspelt field and a wrongly typed one
    worker = copy.deepcopy(_by_kind("Deployment")["cf502-worker"])
    worker["spec"]["replicaz"] = 2
    # When validated strictly, Then the unknown field is rejected
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(worker, VERSIONS[-1], strict=True)
    typed = copy.deepcopy(_by_kind("Deployment")["cf502-worker"])
    typed["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    # And a string where a port number belongs is rejected too
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typed, VERSIONS[-1], strict=True)


def test_everything_lives_in_the_cf502_namespace() -> None:
    namespaced = [d for _, d in _all() if d["kind"] != "Namespace"]
    assert {d["metadata"].get("namespace") for d in namespaced} == {"cf502"}
    assert set(_by_kind("Namespace")) == {"cf502"}


@pytest.mark.parametrize("dep", _cf502_deployments(), ids=lambda d: d["metadata"]["name"])
def test_cf502_pods_have_probes_requests_and_run_locked_down(dep: dict[str, Any]) -> None:
    pod = dep["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    port_names = {p["name"] for p in container["ports"]}
    # Then liveness hits /healthz and readiness hits /readyz, on ports the container declares
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in port_names
    # And resource requests are set (measured figures, see the comment in the manifest)
    requests = container["resources"]["requests"]
    assert set(requests) >= {"cpu", "memory"}
    assert "memory" in container["resources"]["limits"]
    # And the pod runs as the image's non-root user with a read-only root file system
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert pod["automountServiceAccountToken"] is False
    # And settings come from the ConfigMap and the Secret defined here
    env_from = container["envFrom"]
    config = {e["configMapRef"]["name"] for e in env_from if "configMapRef" in e}
    secrets = {e["secretRef"]["name"] for e in env_from if "secretRef" in e}
    assert config and config <= set(_by_kind("ConfigMap"))
    assert secrets and secrets <= set(_by_kind("Secret"))
    # And the selector matches the pod's labels
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_bot_runs_http_mode_behind_service_and_ingress() -> None:
    bot = _by_kind("Deployment")["cf502-bot"]
    (container,) = bot["spec"]["template"]["spec"]["containers"]
    # Then the bot runs in HTTP mode on the port the Service targets
    assert container["args"][:2] == ["bot", "--http"]
    port = container["args"][container["args"].index("--port") + 1]
    http = next(p for p in container["ports"] if p["name"] == "http")
    assert str(http["containerPort"]) == port
    service = _by_kind("Service")["cf502-bot"]
    assert (
        service["spec"]["selector"].items() <= bot["spec"]["template"]["metadata"]["labels"].items()
    )
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    # And the Ingress exposes only Slack's endpoint, never /metrics or the health checks
    ingress = _by_kind("Ingress")["cf502-bot"]
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert [(p["path"], p["pathType"]) for p in paths] == [("/slack/events", "Exact")]
    assert paths[0]["backend"]["service"]["name"] == "cf502-bot"


def test_worker_autoscaler_targets_the_worker_deployment() -> None:
    hpa = _by_kind("HorizontalPodAutoscaler")["cf502-worker"]
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["kind"], ref["name"]) == ("Deployment", "cf502-worker")
    assert ref["name"] in _by_kind("Deployment")
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    # CPU utilisation needs CPU requests on the target's containers to mean anything.
    worker = _by_kind("Deployment")["cf502-worker"]
    assert worker["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]


def test_redis_is_bundled_but_replaceable_by_an_external_url() -> None:
    # Given the bundled Redis Service and the Secret's REDIS_URL
    secret = _by_kind("Secret")["cf502-secrets"]["stringData"]
    service = _by_kind("Service")["redis"]
    # Then the default URL points at the bundled Service, and the URL lives in the Secret (it may
    # carry a password) so an external Redis is one value away
    assert re.match(
        rf"redis://{service['metadata']['name']}\.cf502\.svc[.\w]*:6379/\d+$", secret["REDIS_URL"]
    )
    redis = _by_kind("Deployment")["redis"]
    assert "noeviction" in redis["spec"]["template"]["spec"]["containers"][0]["args"]


def test_secret_holds_placeholders_only() -> None:
    # Given every value in the shipped Secret
    values = _by_kind("Secret")["cf502-secrets"]["stringData"]
    # Then none looks like a real Slack token
    for name, value in values.items():
        assert not re.search(r"xox[abeprs]-|xapp-", value), name
    assert values["SLACK_BOT_TOKEN"] == "REPLACE_ME"


def test_worker_grace_fits_in_the_termination_grace_period() -> None:
    # Given the worker's --grace (time running jobs get after SIGTERM)
    worker = _by_kind("Deployment")["cf502-worker"]
    pod = worker["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    grace = float(args[args.index("--grace") + 1])
    # Then Kubernetes waits long enough before SIGKILL for the leftovers to be handed back
    assert grace + 10 <= pod["terminationGracePeriodSeconds"]
