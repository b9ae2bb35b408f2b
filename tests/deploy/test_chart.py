"""helm/orchestrator-bot rendered by the real Helm engine: lint, schema, Kubernetes 1.33 validation, and
agreement with what the code expects (CRDs, job settings, templates, environment, command line)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

from bot import __version__, assets
from bot.cli import build_parser
from bot.config import Settings, load_settings
from bot.core.crds import custom_resource_definition
from bot.core.resources import PLURALS
from bot.core.taskconfig import CONFIGMAP_KEY, CONFIGMAP_NAME, parse_task_config
from bot.templates import default_templates_dir, load_template_sources

from .conftest import (
    CHART,
    NAMESPACE,
    ROOT,
    Obj,
    container,
    find,
    generate_deploy,
    render,
    render_files,
    rendered,
    throwaway_private_key,
    values_all,
)

KUBERNETES_VERSION = "1.33.0"
STANDARD_LABELS = (
    "helm.sh/chart",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/part-of",
)
# Kinds that are not part of Kubernetes itself: checked against their CRD in test_install.py instead.
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}


def kinds(objects: list[Obj]) -> list[tuple[str, str]]:
    return sorted((o["kind"], o["metadata"]["name"]) for o in objects)


# --- rendering, lint, schema ---------------------------------------------------------------------


def test_default_values_render_the_two_roles_with_their_crds_rbac_and_config() -> None:
    assert kinds(rendered("default")) == [
        ("ConfigMap", "orchestrator-bot-templates"),
        ("ConfigMap", "task-controller-config"),
        ("CustomResourceDefinition", "coderuns.orchestrator.platform"),
        ("CustomResourceDefinition", "docsruns.orchestrator.platform"),
        ("Deployment", "orchestrator-bot-controller"),
        ("Deployment", "orchestrator-bot-webhook"),
        ("Role", "orchestrator-bot-controller"),
        ("Role", "orchestrator-bot-webhook"),
        ("RoleBinding", "orchestrator-bot-controller"),
        ("RoleBinding", "orchestrator-bot-webhook"),
        ("Secret", "orchestrator-bot-store"),
        ("Service", "orchestrator-bot-store"),
        ("Service", "orchestrator-bot-webhook"),
        ("ServiceAccount", "orchestrator-bot-controller"),
        ("ServiceAccount", "orchestrator-bot-webhook"),
        ("StatefulSet", "orchestrator-bot-store"),
    ]


def test_every_option_on_adds_the_secret_ingress_and_service_monitor() -> None:
    extra = set(kinds(rendered("all"))) - {
        (k, n.replace("orchestrator-bot", "orchestrator")) for k, n in kinds(rendered("default"))
    }
    assert extra == {
        ("Ingress", "orchestrator-webhook"),
        ("NetworkPolicy", "orchestrator-agents"),
        ("Secret", "orchestrator-github"),
        ("ServiceMonitor", "orchestrator-webhook"),
    }


def test_values_all_switches_on_every_option() -> None:
    """Every key of values.yaml appears in values-all.yaml, so no option goes unrendered."""

    def leaves(value: Any, prefix: str = "") -> set[str]:
        if isinstance(value, dict) and value:
            return {leaf for key, item in value.items() for leaf in leaves(item, f"{prefix}.{key}")}
        return {prefix}

    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    all_values = values_all()
    # A default that is an empty map or list is a leaf; values-all fills it in (more keys below it).
    missing = {leaf for leaf in leaves(defaults) if not _set(all_values, leaf.strip(".").split("."))}
    assert missing == set()


def _set(values: Any, path: list[str]) -> bool:
    for key in path:
        if not isinstance(values, dict) or key not in values:
            return False
        values = values[key]
    # An empty existingSecret is the option "the chart creates the Secret".
    return values not in ("", [], {}, None) or path in (
        ["github", "existingSecret"],
        ["store", "existingSecret"],
    )


@pytest.mark.parametrize("which", ["default", "all"])
def test_helm_lint_finds_nothing_to_warn_about(which: str) -> None:
    report = helm_python.lint(
        str(CHART), values_all() if which == "all" else None, strict=True, kube_version="v1.33.0"
    )
    assert report["errors"] == []
    # Severity 1 is information ("icon is recommended"); 2 and above are warnings and errors.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_the_values_schema_accepts_the_defaults_and_every_option() -> None:
    with helm_python.Chart.load(str(CHART)) as chart:
        chart.validate_schema({})
        chart.validate_schema(values_all())


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"webhook": {"replicas": 3}}, "replicas"),
        ({"logLevel": "VERBOSE"}, "logLevel"),
        ({"taskConfig": {"agent": {"image": {"repository": "Not An Image", "tag": "1"}}}}, "repository"),
        ({"taskConfig": {"job": {"activeDeadlineSeconds": 0}}}, "activeDeadlineSeconds"),
        ({"taskConfig": {"models": {"allowed": []}}}, "allowed"),
        ({"taskConfig": {"telemetry": {"endpoint": "x"}}}, "endpoint"),
        ({"controller": {"leaseDurationSeconds": 1}}, "leaseDurationSeconds"),
    ],
    ids=[
        "unknown key",
        "bad log level",
        "bad agent image",
        "zero deadline",
        "no models",
        "typo in taskConfig",
        "short lease",
    ],
)
def test_the_values_schema_refuses_mistakes_before_anything_is_installed(
    values: dict[str, Any], complaint: str
) -> None:
    with (
        helm_python.Chart.load(str(CHART)) as chart,
        pytest.raises(helm_python.HelmValuesError, match=complaint),
    ):
        chart.validate_schema(values)


def test_the_chart_creates_the_github_secret_only_from_complete_values() -> None:
    with pytest.raises(helm_python.HelmError, match=r"github\.appId is required"):
        render({"github": {"existingSecret": ""}})


def test_the_chart_version_is_the_bots() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__
    assert (
        find(rendered("default"), "Deployment", suffix="-webhook")["spec"]["template"]["spec"]["containers"][
            0
        ]["image"]
        == f"orchestrator-bot:{__version__}"
    )


# --- every object is valid Kubernetes 1.33 and labelled ----------------------------------------


def test_every_rendered_object_passes_kubernetes_validate_strict(objects: list[Obj]) -> None:
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_every_object_carries_the_standard_labels(objects: list[Obj]) -> None:
    for obj in objects:
        labels = obj["metadata"].get("labels") or {}
        assert [label for label in STANDARD_LABELS if label not in labels] == [], obj["metadata"]["name"]
        if obj["kind"] not in ("CustomResourceDefinition", "Secret"):
            assert labels["app.kubernetes.io/component"] in ("webhook", "controller", "store", "agents"), obj[
                "metadata"
            ]["name"]


# --- CRDs --------------------------------------------------------------------------------------


def test_the_chart_crds_equal_k8s_crds_and_the_resource_models(objects: list[Obj]) -> None:
    for kind, plural in PLURALS.items():
        crd = find(objects, "CustomResourceDefinition", f"{plural}.orchestrator.platform")
        # Helm may only upgrade CRDs it renders from templates/; "keep" spares them (and every run) on uninstall.
        assert crd["metadata"].pop("annotations") == {"helm.sh/resource-policy": "keep"}
        crd["metadata"].pop("labels")
        from_file = yaml.safe_load((ROOT / "k8s" / "crds" / f"{plural}.yaml").read_text())
        packaged = yaml.safe_load(assets.crd(plural).read_text())
        assert crd == from_file == packaged == custom_resource_definition(kind)


def test_crds_can_be_left_to_a_cluster_admin() -> None:
    assert [o for o in render({"crds": {"install": False}}) if o["kind"] == "CustomResourceDefinition"] == []


# --- task-controller-config --------------------------------------------------------------------


def test_task_controller_config_defaults_equal_k8s_task_controller_config() -> None:
    chart = find(rendered("default"), "ConfigMap", CONFIGMAP_NAME)
    plain = yaml.safe_load((ROOT / "k8s" / "task-controller-config.yaml").read_text())
    assert set(chart["data"]) == set(plain["data"]) == {CONFIGMAP_KEY}
    assert yaml.safe_load(chart["data"][CONFIGMAP_KEY]) == yaml.safe_load(plain["data"][CONFIGMAP_KEY])
    assert chart["metadata"]["namespace"] == plain["metadata"]["namespace"] == NAMESPACE


def test_task_controller_config_from_every_option_is_what_the_controller_reads() -> None:
    chart = find(rendered("all"), "ConfigMap", CONFIGMAP_NAME)
    config = parse_task_config(chart["data"][CONFIGMAP_KEY])
    assert config.model_dump(by_alias=True, mode="json", exclude_none=True) == values_all()["taskConfig"]
    # It lives with the runs, where both roles look for it.
    assert chart["metadata"]["namespace"] == "agent-runs"


# --- the templates ConfigMap ---------------------------------------------------------------------


def test_the_templates_configmap_holds_every_template_under_its_flat_key(tmp_path: Path) -> None:
    configmap = find(rendered("default"), "ConfigMap", "orchestrator-bot-templates")
    mounted = mount_configmap(configmap, tmp_path)
    assert load_template_sources(mounted) == load_template_sources(default_templates_dir())
    assert "code_hooks_stop-commit.sh.j2" in configmap["data"]


def mount_configmap(configmap: Obj, directory: Path) -> Path:
    """The files as the kubelet lays out a ConfigMap volume: a timestamped folder, `..data` pointing
    to it, and one link per key."""
    stamped = directory / "..2025_01_01_00_00_00.000000000"
    stamped.mkdir(parents=True)
    for key, text in configmap["data"].items():
        (stamped / key).write_text(text)
    (directory / "..data").symlink_to(stamped.name)
    for key in configmap["data"]:
        (directory / key).symlink_to(Path("..data") / key)
    return directory


def test_a_changed_template_rolls_the_controller(chart_copy: Path) -> None:
    def checksum(chart_dir: Path) -> str:
        deployment = find(render(chart_dir=chart_dir), "Deployment", suffix="-controller")
        value: str = deployment["spec"]["template"]["metadata"]["annotations"]["checksum/templates"]
        return value

    before = checksum(chart_copy)
    configmap_text = render_files(chart_dir=chart_copy)[
        "orchestrator-bot/templates/controller/templates-configmap.yaml"
    ]
    assert before == hashlib.sha256(configmap_text.encode()).hexdigest()
    prompt = chart_copy / "files" / "templates" / "docs" / "prompt.md.j2"
    prompt.write_text(prompt.read_text() + "\nOne more instruction.\n")
    assert checksum(chart_copy) != before


def test_the_generated_deployment_files_are_up_to_date() -> None:
    stale = generate_deploy().stale()
    assert stale == [], (
        "run python scripts/generate_deploy.py (edits to k8s/task-controller-config.yaml belong in "
        f"bot/assets/task-controller-config.yaml): {[str(p.relative_to(ROOT)) for p in stale]}"
    )


def test_k8s_task_controller_config_is_the_packaged_default_byte_for_byte() -> None:
    assert (ROOT / "k8s" / "task-controller-config.yaml").read_text() == assets.task_config().read_text()


# --- the two Deployments -------------------------------------------------------------------------


def test_both_roles_run_as_non_root_with_a_read_only_root_filesystem(objects: list[Obj]) -> None:
    for role in ("-webhook", "-controller"):
        deployment = find(objects, "Deployment", suffix=role)
        pod_security = deployment["spec"]["template"]["spec"]["securityContext"]
        assert pod_security["runAsNonRoot"] is True
        assert pod_security["runAsUser"] != 0
        security = container(deployment)["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        resources = container(deployment)["resources"]
        assert resources["requests"]["memory"] and resources["limits"]["memory"]


def test_the_webhook_serves_on_its_port_with_health_and_readiness_probes(objects: list[Obj]) -> None:
    deployment = find(objects, "Deployment", suffix="-webhook")
    serve = container(deployment)
    args = build_parser().parse_args(serve["args"])
    assert args.command == "serve"
    [port] = serve["ports"]
    assert (port["name"], port["containerPort"]) == ("http", args.port)
    assert serve["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert serve["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    service = find(objects, "Service", suffix="-webhook")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


def test_the_controller_is_leader_elected_and_reads_the_mounted_templates(objects: list[Obj]) -> None:
    deployment = find(objects, "Deployment", suffix="-controller")
    assert deployment["spec"]["replicas"] == 2
    controller = container(deployment)
    args = build_parser().parse_args(controller["args"])
    assert args.command == "controller"
    assert args.lease_duration >= 2
    env = {e["name"]: e.get("value") for e in controller["env"]}
    [mount] = [m for m in controller["volumeMounts"] if m["name"] == "templates"]
    assert env["ORCHESTRATOR_TEMPLATES_DIR"] == mount["mountPath"]
    [volume] = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "templates"]
    configmap = find(objects, "ConfigMap", volume["configMap"]["name"])
    assert configmap["metadata"]["namespace"] == deployment["metadata"]["namespace"]


@pytest.mark.parametrize("role", ["-webhook", "-controller"])
def test_each_roles_environment_loads_as_the_bots_settings(
    objects: list[Obj], role: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment = find(objects, "Deployment", suffix=role)
    settings = settings_of(
        deployment, github_secret_data(objects), tmp_path, monkeypatch, secrets_by_name(objects)
    )
    run_namespace = find(objects, "ConfigMap", CONFIGMAP_NAME)["metadata"]["namespace"]
    assert settings.orchestrator.namespace == run_namespace
    assert settings.private_key_pem().strip() == throwaway_private_key().strip()
    assert settings.kubeconfig is None  # in-cluster access through the ServiceAccount
    store = find(objects, "Service", suffix="-store")["metadata"]
    assert settings.store.url is not None
    assert f"@{store['name']}.{store['namespace']}.svc:5432/" in settings.store.url.get_secret_value()
    if role == "-webhook":
        ingress = [o for o in objects if o["kind"] == "Ingress"]
        page = ["/runs", "/auth", "/static"] if settings.run_page else []
        for rule in ingress[0]["spec"]["rules"] if ingress else []:
            assert [p["path"] for p in rule["http"]["paths"]] == [settings.orchestrator.webhook_path, *page]


def github_secret_data(objects: list[Obj]) -> dict[str, str]:
    """The chart's Secret when it makes one; else the one the README's Deploy section has the operator create."""
    secrets = [o for o in objects if o["kind"] == "Secret" and not o["metadata"]["name"].endswith("-store")]
    if secrets:
        data: dict[str, str] = secrets[0]["stringData"]
        return data
    return {"app-id": "12345", "private-key": throwaway_private_key(), "webhook-secret": "s3cret"}


WEB_SECRET = {"client-id": "Iv23liabc", "client-secret": "c" * 40, "session-secret": "s" * 32}
"""The run page's Secret as the README's Deploy section has the operator create it."""


def secrets_by_name(objects: list[Obj]) -> dict[str, dict[str, str]]:
    """The Secrets the chart makes (the store's), and the run page's that the operator makes (its key
    names as values-all renames them)."""
    found = {o["metadata"]["name"]: dict(o["stringData"]) for o in objects if o["kind"] == "Secret"}
    renamed = {
        "id": WEB_SECRET["client-id"],
        "secret": WEB_SECRET["client-secret"],
        "session": WEB_SECRET["session-secret"],
    }
    found.setdefault("orchestrator-bot-web", WEB_SECRET)
    found.setdefault("orchestrator-web", renamed)
    return found


def settings_of(
    deployment: Obj,
    secret: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    secrets: dict[str, dict[str, str]] | None = None,
) -> Settings:
    """Resolve the container's env (values, secretKeyRefs) and its key file mount, then load the
    settings exactly as `serve` / `controller` do at start."""
    pod = deployment["spec"]["template"]["spec"]
    serve = container(deployment)
    [key_mount] = [m for m in serve["volumeMounts"] if m["name"] == "github-app"]
    [key_volume] = [v for v in pod["volumes"] if v["name"] == "github-app"]
    for item in key_volume["secret"]["items"]:
        (tmp_path / item["path"]).write_text(secret[item["key"]])
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "ORCHESTRATOR_")) or name == "KUBECONFIG":
            monkeypatch.delenv(name)
    for entry in serve["env"]:
        if "valueFrom" in entry:
            reference = entry["valueFrom"]["secretKeyRef"]
            value = (secrets or {}).get(reference["name"], secret)[reference["key"]]
        else:
            value = entry["value"]
            if value.startswith(key_mount["mountPath"] + "/"):
                value = str(tmp_path / value.removeprefix(key_mount["mountPath"] + "/"))
        monkeypatch.setenv(entry["name"], value)
    return load_settings()


def test_extra_environment_reaches_both_roles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    objects = rendered("all")
    for role in ("-webhook", "-controller"):
        deployment = find(objects, "Deployment", suffix=role)
        settings = settings_of(
            deployment, github_secret_data(objects), tmp_path, monkeypatch, secrets_by_name(objects)
        )
        assert settings.orchestrator.permission_cache_seconds == 30
        assert settings.orchestrator.log_level == "DEBUG"
        assert settings.github.api_base == "https://github.example.com/api/v3"


def test_the_private_key_is_a_read_only_file_not_an_environment_variable(objects: list[Obj]) -> None:
    for role in ("-webhook", "-controller"):
        serve = container(find(objects, "Deployment", suffix=role))
        assert "GITHUB_PRIVATE_KEY" not in {e["name"] for e in serve["env"]}
        [mount] = [m for m in serve["volumeMounts"] if m["name"] == "github-app"]
        assert mount["readOnly"] is True


def test_the_ingress_publishes_the_webhook_path_and_the_run_pages() -> None:
    ingress = find(rendered("all"), "Ingress")
    [rule] = ingress["spec"]["rules"]
    assert [(p["path"], p["pathType"]) for p in rule["http"]["paths"]] == [
        ("/github/events", "Exact"),
        ("/runs", "Prefix"),
        ("/auth", "Prefix"),
        ("/static", "Prefix"),
    ]
    assert ingress["spec"]["tls"] == [{"hosts": [rule["host"]], "secretName": "bot-example-com-tls"}]


def test_the_service_monitor_scrapes_the_webhook_service() -> None:
    objects = rendered("all")
    monitor = find(objects, "ServiceMonitor")
    service = find(objects, "Service", suffix="-webhook")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "15s", "scrapeTimeout": "5s"}
    ]


def test_each_role_binding_grants_its_role_to_that_roles_service_account(objects: list[Obj]) -> None:
    for role in ("-webhook", "-controller"):
        deployment = find(objects, "Deployment", suffix=role)
        account = find(objects, "ServiceAccount", suffix=role)
        binding = find(objects, "RoleBinding", suffix=role)
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": NAMESPACE}
        ]
        assert binding["roleRef"]["name"] == find(objects, "Role", suffix=role)["metadata"]["name"]


def test_by_default_the_chart_runs_a_postgresql_for_the_store_with_a_generated_password() -> None:
    objects = rendered("default")
    secret = find(objects, "Secret", "orchestrator-bot-store")["stringData"]
    assert len(secret["password"]) == 32 and secret["password"].isalnum()
    assert (
        secret["url"]
        == f"postgresql://orchestrator:{secret['password']}@orchestrator-bot-store.{NAMESPACE}.svc:5432/orchestrator"
    )
    server = find(objects, "StatefulSet", "orchestrator-bot-store")
    [claim] = server["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    [postgres] = server["spec"]["template"]["spec"]["containers"]
    assert postgres["securityContext"]["readOnlyRootFilesystem"] is True
    assert {
        "name": "POSTGRES_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "orchestrator-bot-store", "key": "password"}},
    } in postgres["env"]


def test_a_store_of_your_own_replaces_the_charts_postgresql() -> None:
    objects = render({"store": {"existingSecret": "my-store", "urlKey": "dsn"}})
    assert not [o for o in objects if o["metadata"]["name"].endswith("-store")]
    serve = container(find(objects, "Deployment", suffix="-webhook"))
    [url] = [e for e in serve["env"] if e["name"] == "ORCHESTRATOR_STORE_URL"]
    assert url["valueFrom"]["secretKeyRef"] == {"name": "my-store", "key": "dsn"}
    without = render({"store": {"enabled": False}})
    assert "ORCHESTRATOR_STORE_URL" not in {
        e["name"] for e in container(find(without, "Deployment", suffix="-webhook"))["env"]
    }


# --- the agents' network -------------------------------------------------------------------------


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) == {"matchLabels"}, "only matchLabels is evaluated here"
    return all(labels.get(key) == value for key, value in selector["matchLabels"].items())


def test_the_agents_network_policy_selects_every_agent_pod_and_no_pod_of_the_bot() -> None:
    from bot.core.jobs import job_manifest
    from tests.core.test_render import code_run, docs_run

    objects = rendered("all")
    policy = find(objects, "NetworkPolicy", "orchestrator-agents")
    assert policy["metadata"]["namespace"] == "agent-runs"  # the run namespace, where the Jobs are
    task_config = parse_task_config(find(objects, "ConfigMap", CONFIGMAP_NAME)["data"][CONFIGMAP_KEY])
    for run in (docs_run(), code_run()):
        pod_labels = job_manifest(run, task_config)["spec"]["template"]["metadata"]["labels"]
        assert _selects(policy["spec"]["podSelector"], pod_labels), run["kind"]
    for workload in [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]:
        pod_labels = workload["spec"]["template"]["metadata"]["labels"]
        assert not _selects(policy["spec"]["podSelector"], pod_labels), workload["metadata"]["name"]


def test_the_agents_may_reach_dns_and_public_addresses_on_the_chosen_ports_only() -> None:
    policy = find(rendered("all"), "NetworkPolicy", "orchestrator-agents")["spec"]
    assert policy["policyTypes"] == ["Egress"]
    dns, public, extra = policy["egress"]
    assert "to" not in dns and {(p["protocol"], p["port"]) for p in dns["ports"]} == {
        ("UDP", 53),
        ("TCP", 53),
    }
    assert public["to"] == [
        {
            "ipBlock": {
                "cidr": "0.0.0.0/0",
                "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"],
            }
        },
        {"ipBlock": {"cidr": "::/0", "except": ["fc00::/7"]}},
    ]
    assert [(p["protocol"], p["port"]) for p in public["ports"]] == [("TCP", 443), ("TCP", 22), ("TCP", 8443)]
    assert extra == values_all()["agentNetworkPolicy"]["extraEgress"][0]
    # The defaults leave the private ranges out, the cloud metadata address among them.
    default = render({"agentNetworkPolicy": {"enabled": True}})
    default_public = find(default, "NetworkPolicy", suffix="-agents")["spec"]["egress"][1]
    assert "169.254.0.0/16" in default_public["to"][0]["ipBlock"]["except"]
    assert [p["port"] for p in default_public["ports"]] == [443, 22]
