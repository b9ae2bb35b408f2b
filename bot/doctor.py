"""`orchestrator-bot doctor`: check a deployment against the configured cluster (KUBECONFIG, else the
in-cluster service account) and print a checklist; exit 1 naming each failure and how to fix it.

Edge: it reads the namespace, the CRDs, the ConfigMap and the API-key secret (its keys, never its
values), and asks one SelfSubjectAccessReview per verb each role needs, impersonating the role's
service account (as `kubectl auth can-i --as` does). The judging is pure (bot/core/doctor.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from pydantic import ValidationError

from bot import __version__, assets
from bot.config import OrchestratorSettings
from bot.core.doctor import (
    ROLE_ACCESS,
    Access,
    Check,
    Role,
    crd_differences,
    render_sample_runs,
    report,
    task_config_problems,
)
from bot.core.render import RenderError
from bot.core.resources import GROUP, PLURALS
from bot.core.taskconfig import CONFIGMAP_KEY, CONFIGMAP_NAME, TaskConfig
from bot.errors import ConfigError, KubernetesUnavailable
from bot.kube import REQUEST_TIMEOUT_SECONDS, api_client, kubernetes_failures
from bot.templates import default_templates_dir, load_template_sources

Obj = dict[str, Any]
DESCRIPTION = """\
Check a deployment against the configured cluster (KUBECONFIG, else the in-cluster service account):
the namespace exists, the CRDs are the ones this build ships, the ConfigMap task-controller-config
parses and names allowed models, the API-key secret it names exists, the templates render for a sample
run, and each role's service account may do every verb its Role must grant (one
SelfSubjectAccessReview each, impersonating the service account: run it as someone who may impersonate
service accounts, e.g. a cluster admin). Exits 1 naming each failure and how to fix it.
"""
APPLY_CRDS = (
    f"apply the CRDs of orchestrator-bot {__version__}: kubectl apply -f k8s/crds/ from its repository "
    "(or helm upgrade with crds.install=true)"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check a deployment in the configured cluster and say how to fix what is missing",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--namespace", help="the run namespace (default: ORCHESTRATOR_NAMESPACE, else orchestrator)"
    )
    parser.add_argument(
        "--webhook-service-account",
        default="orchestrator-bot-webhook",
        metavar="NAME",
        help="the service account of `serve` (default: %(default)s, the chart's for release orchestrator-bot)",
    )
    parser.add_argument(
        "--controller-service-account",
        default="orchestrator-bot-controller",
        metavar="NAME",
        help="the service account of `controller` (default: %(default)s)",
    )
    parser.add_argument(
        "--service-account-namespace",
        metavar="NAMESPACE",
        help="where the service accounts live (default: the run namespace)",
    )
    parser.set_defaults(handler=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    try:
        settings = OrchestratorSettings()
    except ValidationError as exc:
        print(f"orchestrator-bot doctor: configuration error: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    namespace = args.namespace or settings.namespace
    accounts: dict[Role, str] = {
        "webhook": args.webhook_service_account,
        "controller": args.controller_service_account,
    }
    doctor = Doctor(namespace, accounts, args.service_account_namespace or namespace, settings.templates_dir)
    kubeconfig = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0].strip()
    try:
        text, code = asyncio.run(doctor.run(Path(kubeconfig) if kubeconfig else None))
    except ConfigError as exc:
        print(f"orchestrator-bot doctor: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return code


class Doctor:
    def __init__(
        self,
        namespace: str,
        service_accounts: dict[Role, str],
        service_account_namespace: str,
        templates_dir: Path | None = None,
    ) -> None:
        self.namespace = namespace
        self.service_accounts = service_accounts
        self.service_account_namespace = service_account_namespace
        self.templates_dir = templates_dir
        self.checks: list[Check] = []

    async def run(self, kubeconfig: Path | None) -> tuple[str, int]:
        """The checklist and the exit code."""
        async with api_client(kubeconfig, "orchestrator-bot-doctor") as api:
            heading = f"orchestrator-bot {__version__} doctor: namespace {self.namespace} at {api.configuration.host}"
            try:
                await self._check_all(api)
            except KubernetesUnavailable as exc:
                self._fail(str(exc), "check KUBECONFIG (or the in-cluster service account) and the network")
            except ApiException as exc:
                self._fail(
                    f"Kubernetes answered {exc.status} {exc.reason}: {_message(exc)}",
                    "run doctor with a kubeconfig that may read the namespace, the CRDs, the ConfigMap "
                    "and the API-key secret (a cluster admin's)",
                )
        return report(self.checks, heading)

    async def _check_all(self, api: client.ApiClient) -> None:
        self.api = api
        await self._namespace()
        for kind, plural in PLURALS.items():
            await self._crd(kind, plural)
        config = await self._task_config()
        if config is None:
            needs = "needs a valid ConfigMap " + CONFIGMAP_NAME
            self.checks.append(Check("skip", f"the API-key secret: {needs}"))
            self.checks.append(Check("skip", f"the templates render for a sample run: {needs}"))
        else:
            await self._api_key_secret(config)
            self._templates(config)
        for role, account in self.service_accounts.items():
            await self._access(role, account)

    # --- the checks -----------------------------------------------------------------------------

    async def _namespace(self) -> None:
        if await self._get(f"/api/v1/namespaces/{self.namespace}") is None:
            self._fail(
                f"namespace {self.namespace} does not exist", f"kubectl create namespace {self.namespace}"
            )
        else:
            self._ok(f"namespace {self.namespace} exists")

    async def _crd(self, kind: str, plural: str) -> None:
        name = f"{plural}.{GROUP}"
        installed = await self._get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        if installed is None:
            self._fail(f"CRD {name} ({kind}) is not installed", APPLY_CRDS)
            return
        expected = yaml.safe_load(assets.crd(plural).read_text())
        differences = crd_differences(expected, installed)
        if differences:
            shown = ", ".join(differences[:3]) + (
                f" and {len(differences) - 3} more" if len(differences) > 3 else ""
            )
            self._fail(
                f"CRD {name} differs from the one orchestrator-bot {__version__} ships: {shown}", APPLY_CRDS
            )
        else:
            self._ok(f"CRD {name} is the one orchestrator-bot {__version__} ships")

    async def _task_config(self) -> TaskConfig | None:
        where = f"ConfigMap {CONFIGMAP_NAME} in {self.namespace}"
        configmap = await self._get(f"/api/v1/namespaces/{self.namespace}/configmaps/{CONFIGMAP_NAME}")
        create = (
            f"create it: kubectl apply -f k8s/task-controller-config.yaml (namespace {self.namespace}), "
            "or install the chart, which makes it from its taskConfig values"
        )
        if configmap is None:
            self._fail(f"{where} does not exist", create)
            return None
        text = (configmap.get("data") or {}).get(CONFIGMAP_KEY)
        if text is None:
            self._fail(f"{where} has no key {CONFIGMAP_KEY}", create)
            return None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            self._fail(f"{where}: {CONFIGMAP_KEY} is not YAML: {exc}".replace("\n", " "), "fix its YAML")
            return None
        general, models, config = task_config_problems(data)
        if general:
            self._fail(f"{where}: {'; '.join(general)}", f"fix these settings in {CONFIGMAP_KEY}")
        else:
            self._ok(f"{where} parses")
        if models:
            self._fail(
                f"{where}: {'; '.join(models)}",
                "list full model names (such as claude-opus-4-20250514) under models.allowed, "
                "with models.defaultDocs and models.defaultCode among them",
            )
        elif isinstance(data, dict):
            self._ok(f"its models are allowed: {', '.join(data['models']['allowed'])}")
        return config

    async def _api_key_secret(self, config: TaskConfig) -> None:
        name, key = config.secrets.api_key_secret_name, config.secrets.api_key_secret_key
        secret = await self._get(f"/api/v1/namespaces/{self.namespace}/secrets/{name}")
        create = f"kubectl -n {self.namespace} create secret generic {name} --from-literal={key}=sk-ant-..."
        if secret is None:
            self._fail(
                f"secret {name} (the Anthropic API key, named in {CONFIGMAP_NAME}) does not exist", create
            )
        elif key not in (secret.get("data") or {}):
            self._fail(f"secret {name} has no key {key}", f"replace it: {create}")
        else:
            self._ok(f"secret {name} holds the API key under {key}")

    def _templates(self, config: TaskConfig) -> None:
        source = self.templates_dir or default_templates_dir()
        try:
            rendered = render_sample_runs(config, load_template_sources(source), self.namespace)
        except (RenderError, ValueError) as exc:
            self._fail(
                f"the templates ({source}) do not render for a sample run: {exc}",
                "fix the template, or unset ORCHESTRATOR_TEMPLATES_DIR to use the ones shipped",
            )
        else:
            self._ok(f"the templates render for a sample run: {', '.join(rendered)}")

    async def _access(self, role: Role, account: str) -> None:
        user = f"system:serviceaccount:{self.service_account_namespace}:{account}"
        needed = ROLE_ACCESS[role]
        try:
            answers = await asyncio.gather(*(self._may(user, access) for access in needed))
        except ApiException as exc:
            if exc.status != 403:
                raise
            self._fail(
                f"cannot ask what {user} may do: this identity may not impersonate service accounts",
                "run doctor as a cluster admin (or grant `impersonate` on serviceaccounts)",
            )
            return
        denied = [access for access, allowed in zip(needed, answers, strict=True) if not allowed]
        for access in denied:
            self._fail(
                f"{role} service account {account} may not {access.describe(self.namespace)}",
                f"grant it in the Role bound to {account} (the chart's {role} Role has it: helm upgrade, "
                "or kubectl apply -f k8s/deploy/)",
            )
        if not denied:
            self._ok(f"{role} service account {account} may do all {len(needed)} things its role needs")

    # --- I/O --------------------------------------------------------------------------------------

    async def _get(self, path: str) -> Obj | None:
        """A plain GET as a dict, or None when the object does not exist."""
        with kubernetes_failures(f"reading {path}"):
            try:
                found: Obj = await self.api.call_api(
                    path,
                    "GET",
                    header_params={"Accept": "application/json"},
                    response_types_map={200: "object"},
                    auth_settings=["BearerToken"],
                    _return_http_data_only=True,
                    _request_timeout=REQUEST_TIMEOUT_SECONDS,
                )
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise
        return found

    async def _may(self, user: str, access: Access) -> bool:
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "namespace": self.namespace,
                    "verb": access.verb,
                    "group": access.group,
                    "resource": access.resource.split("/")[0],
                    "subresource": access.resource.partition("/")[2],
                    "name": access.name,
                }
            },
        }
        with kubernetes_failures(f"asking whether {user} may {access.verb} {access.resource}"):
            review: Obj = await self.api.call_api(
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                "POST",
                header_params={
                    "Accept": "application/json",
                    "Content-Type": "application/json",
                    "Impersonate-User": user,
                },
                body=body,
                response_types_map={201: "object"},
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        return bool((review.get("status") or {}).get("allowed"))

    def _ok(self, what: str) -> None:
        self.checks.append(Check("ok", what))

    def _fail(self, what: str, fix: str) -> None:
        self.checks.append(Check("fail", what, fix))


def _message(exc: ApiException) -> str:
    try:
        status = json.loads(exc.body or "{}")
    except ValueError:
        return str(exc.body or "")[:200]
    return str(status.get("message", "")) if isinstance(status, dict) else ""
