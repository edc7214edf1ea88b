"""deploy/: the compose file and the Kubernetes manifests parse and agree with the code.

No container is built or run here (that needs registries); instead each file is parsed and
checked against what the code defines: the health paths the routes serve, the port the
settings default to, the commands ``mailflow`` has, the settings that exist, the non-root user.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.cli import build_parser
from bot.settings import Settings, env_var

yaml = pytest.importorskip("yaml")  # PyYAML: test-only

pytestmark = pytest.mark.timeout(20)
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SETTINGS = {env_var(name) for name in Settings.model_fields}
COMMANDS = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def k8s() -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in documents(path):
            assert {"apiVersion", "kind", "metadata"} <= doc.keys(), path
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def test_kustomization_lists_every_manifest() -> None:
    kustomization = documents(DEPLOY / "k8s" / "kustomization.yaml")[0]
    listed = set(kustomization["resources"])
    present = {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


@pytest.mark.parametrize(("name", "command"), [("mailflow-bot", "serve"), ("mailflow-worker", "worker")])
def test_deployments(name: str, command: str) -> None:
    manifests = k8s()
    deployment = manifests[("Deployment", name)]
    spec = deployment["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    main = container(deployment)
    assert main["args"][0] == command and command in COMMANDS
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert main["ports"][0]["containerPort"] == Settings.model_fields["port"].default == 3000
    assert [e["configMapRef"]["name"] for e in main["envFrom"] if "configMapRef" in e] == ["mailflow"]
    assert [e["secretRef"]["name"] for e in main["envFrom"] if "secretRef" in e] == ["mailflow-slack"]
    pod_security = spec["template"]["spec"]["securityContext"]
    assert pod_security["runAsNonRoot"] is True and pod_security["runAsUser"] != 0
    assert main["securityContext"]["allowPrivilegeEscalation"] is False
    if command == "serve":
        assert spec["replicas"] == 3
    else:
        assert main["args"][1:] == ["--metrics-port", "3000"]


def test_services_select_their_pods() -> None:
    manifests = k8s()
    for (kind, name), service in manifests.items():
        if kind != "Service":
            continue
        deployment = manifests[("Deployment", name)]
        assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        target = service["spec"]["ports"][0]["targetPort"]
        assert target in {p["name"] for p in container(deployment)["ports"]}


def test_config_and_secret_hold_only_real_settings() -> None:
    manifests = k8s()
    config = manifests[("ConfigMap", "mailflow")]["data"]
    secret = manifests[("Secret", "mailflow-slack")]["stringData"]
    assert set(config) <= SETTINGS and set(secret) <= SETTINGS
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"} <= set(secret)
    assert not {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"} & set(config)
    assert config["REDIS_URL"].startswith("redis://mailflow-redis:")
    assert all(isinstance(v, str) for v in config.values())  # a ConfigMap holds strings only


def test_compose() -> None:
    compose = documents(DEPLOY / "compose.yaml")[0]
    services = compose["services"]
    assert set(services) == {"bot", "worker", "redis"}
    assert services["bot"]["command"] == ["serve"] and services["bot"]["ports"] == ["3000:3000"]
    assert services["worker"]["command"][0] == "worker"
    for name in ("bot", "worker"):
        service = services[name]  # the anchor's keys are merged in
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert set(service["environment"]) <= SETTINGS
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "healthcheck" in services["redis"]
    example = (DEPLOY / "mailflow.env.example").read_text()
    names = set(re.findall(r"^#?\s*([A-Z_]+)=", example, re.MULTILINE))
    assert names <= SETTINGS and {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"} <= names


def test_dockerfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.MULTILINE)
    assert re.search(r"^USER 10001", text, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", text, re.MULTILINE)
    assert 'ENTRYPOINT ["mailflow"]' in text and 'CMD ["serve"]' in text
    assert re.search(r"pip install [\"']?\.", text)
    for variable in re.findall(r"\b(MAILFLOW_[A-Z_]+)=", text):
        assert variable in SETTINGS, variable
    copied = set(re.findall(r"^COPY (\w+) ", text, re.MULTILINE))
    assert copied == {"bot", "handlers", "knowledge"}  # the wheel's packages (pyproject)
