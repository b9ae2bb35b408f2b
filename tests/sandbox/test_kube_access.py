"""SelfSubjectAccessReview and RBAC in the local Kubernetes API: the administrator may do anything, an
impersonated user (kubectl's `--as`) what the stored Roles and bindings grant, as a real apiserver
decides and words it.

kubectl's own `auth can-i` cannot be used here: kubectl >= 1.32 sends the review as protobuf, which this
JSON-only server answers with 415, as it does the imperative `kubectl create` commands
(see the notes on kubectl and protobuf). kubernetes_asyncio sends JSON."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from bot.sandbox.kube import LocalKubeAPI

SA = "system:serviceaccount:orchestrator:bot"
NS = "orchestrator"
ROLE_RULES = [
    {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["settings"], "verbs": ["get"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "delete"]},
    {"apiGroups": ["orchestrator.platform"], "resources": ["*/status"], "verbs": ["patch"]},
]


def rbac_objects() -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "bot", "namespace": NS},
            "rules": ROLE_RULES,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "bot", "namespace": NS},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "bot"},
            "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": NS}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "crd-reader"},
            "rules": [
                {
                    "apiGroups": ["apiextensions.k8s.io"],
                    "resources": ["customresourcedefinitions"],
                    "verbs": ["get", "list"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "auditors-read-crds"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "crd-reader"},
            "subjects": [{"kind": "Group", "name": "auditors"}],
        },
    ]


@pytest.fixture
async def rbac_kube(kube: LocalKubeAPI) -> LocalKubeAPI:
    for obj in rbac_objects():
        kube.apply_manifest(obj)
    return kube


async def may(
    api: client.ApiClient, headers: dict[str, str] | None = None, **attributes: str
) -> dict[str, Any]:
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attributes},
    }
    review = await client.AuthorizationV1Api(api).create_self_subject_access_review(
        body, _headers=headers or {}
    )
    status: dict[str, Any] = api.sanitize_for_serialization(review)["status"]
    return status


AS_SA = {"Impersonate-User": SA}
REASON = 'RBAC: allowed by RoleBinding "bot/orchestrator" of Role "bot" to ServiceAccount "bot/orchestrator"'


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        pytest.param(
            {"verb": "get", "resource": "configmaps", "name": "settings", "namespace": NS},
            {"allowed": True, "reason": REASON},
            id="get a named configmap",
        ),
        pytest.param(
            {"verb": "get", "resource": "configmaps", "name": "other", "namespace": NS},
            {"allowed": False},
            id="get another configmap (resourceNames)",
        ),
        pytest.param(
            {"verb": "list", "resource": "configmaps", "namespace": NS},
            {"allowed": False},
            id="list configmaps (a named grant never allows list)",
        ),
        pytest.param(
            {"verb": "delete", "group": "batch", "resource": "jobs", "namespace": NS},
            {"allowed": True, "reason": REASON},
            id="delete jobs",
        ),
        pytest.param(
            {"verb": "watch", "group": "batch", "resource": "jobs", "namespace": NS},
            {"allowed": False},
            id="watch jobs (verb not granted)",
        ),
        pytest.param(
            {"verb": "create", "group": "batch", "resource": "jobs", "namespace": "elsewhere"},
            {"allowed": False},
            id="create jobs in another namespace",
        ),
        pytest.param(
            {
                "verb": "patch",
                "group": "orchestrator.platform",
                "resource": "coderuns",
                "subresource": "status",
                "namespace": NS,
            },
            {"allowed": True, "reason": REASON},
            id="patch a status through */status",
        ),
        pytest.param(
            {"verb": "patch", "group": "orchestrator.platform", "resource": "coderuns", "namespace": NS},
            {"allowed": False},
            id="patch the run itself (only */status)",
        ),
        pytest.param(
            {"verb": "create", "group": "authorization.k8s.io", "resource": "selfsubjectaccessreviews"},
            {
                "allowed": True,
                "reason": 'RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole '
                '"system:basic-user" to Group "system:authenticated"',
            },
            id="every authenticated user may ask",
        ),
    ],
)
async def test_an_impersonated_service_account_may_do_what_its_role_grants(
    rbac_kube: LocalKubeAPI, api: client.ApiClient, attributes: dict[str, str], expected: dict[str, Any]
) -> None:
    assert await may(api, AS_SA, **attributes) == expected


async def test_a_group_is_granted_through_a_cluster_role_binding(
    rbac_kube: LocalKubeAPI, api: client.ApiClient
) -> None:
    attributes = {"verb": "get", "group": "apiextensions.k8s.io", "resource": "customresourcedefinitions"}
    as_auditor = {"Impersonate-User": "jane", "Impersonate-Group": "auditors"}
    assert await may(api, as_auditor, **attributes) == {
        "allowed": True,
        "reason": 'RBAC: allowed by ClusterRoleBinding "auditors-read-crds" of ClusterRole "crd-reader" '
        'to Group "auditors"',
    }
    assert await may(api, {"Impersonate-User": "jane"}, **attributes) == {"allowed": False}


async def test_the_administrator_may_do_anything(kube: LocalKubeAPI, api: client.ApiClient) -> None:
    assert await may(api, verb="delete", resource="namespaces", name="kube-system") == {"allowed": True}


async def test_the_review_answers_created_and_echoes_the_spec(kube: LocalKubeAPI) -> None:
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "metadata": {"creationTimestamp": None},
        "spec": {"resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "default"}},
        "status": {"allowed": False},
    }
    status, answer = await post_review(kube, body)
    assert status == 201
    assert answer == {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": body["spec"],
        "status": {"allowed": True},
    }


@pytest.mark.parametrize(
    ("spec", "metadata", "code", "message"),
    [
        pytest.param(
            {},
            {},
            422,
            'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Required '
            "value: exactly one of nonResourceAttributes or resourceAttributes must be specified",
            id="neither",
        ),
        pytest.param(
            {"resourceAttributes": {"verb": "get"}, "nonResourceAttributes": {"verb": "get", "path": "/x"}},
            {},
            422,
            'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.nonResourceAttributes: Invalid '
            'value: {"path":"/x","verb":"get"}: cannot be specified in combination with resourceAttributes',
            id="both",
        ),
        pytest.param(
            {"resourceAttributes": {"verb": "get"}},
            {"name": "mine"},
            422,
            'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: metadata: Invalid value: '
            '{"name":"mine"}: must be empty',
            id="a name",
        ),
        pytest.param(
            {"resourceAttributes": {"verb": "get", "resourcez": "pods"}},
            {},
            400,
            'strict decoding error: unknown field "spec.resourceAttributes.resourcez"',
            id="unknown field",
        ),
    ],
)
async def test_a_malformed_review_is_refused(
    kube: LocalKubeAPI, spec: dict[str, Any], metadata: dict[str, Any], code: int, message: str
) -> None:
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "metadata": metadata,
        "spec": spec,
    }
    status, answer = await post_review(kube, body)
    assert (status, answer["message"]) == (code, message)


async def test_a_review_is_only_created(kube: LocalKubeAPI, api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as raised:
        await api.call_api(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            "GET",
            response_types_map={200: "object"},
            _return_http_data_only=True,
        )
    assert raised.value.status == 405
    resources = await client.AuthorizationV1Api(api).get_api_resources()
    [entry] = [r for r in resources.resources if r.name == "selfsubjectaccessreviews"]
    assert (entry.verbs, entry.namespaced, entry.kind) == (["create"], False, "SelfSubjectAccessReview")


async def test_an_impersonated_request_is_refused_what_rbac_does_not_grant(
    rbac_kube: LocalKubeAPI, api: client.ApiClient
) -> None:
    core = client.CoreV1Api(api)
    with pytest.raises(ApiException) as raised:
        await core.read_namespaced_config_map("other", NS, _headers=AS_SA)
    assert raised.value.status == 403
    assert json.loads(raised.value.body) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "other" is forbidden: User "system:serviceaccount:orchestrator:bot" cannot '
        'get resource "configmaps" in API group "" in the namespace "orchestrator"',
        "reason": "Forbidden",
        "details": {"name": "other", "kind": "configmaps"},
        "code": 403,
    }
    with pytest.raises(ApiException) as raised:
        await core.read_namespace(NS, _headers=AS_SA)
    assert json.loads(raised.value.body)["message"] == (
        'namespaces "orchestrator" is forbidden: User "system:serviceaccount:orchestrator:bot" cannot get '
        'resource "namespaces" in API group "" at the cluster scope'
    )
    # What the Role grants goes through (here: a 404, since the ConfigMap does not exist).
    with pytest.raises(ApiException) as raised:
        await core.read_namespaced_config_map("settings", NS, _headers=AS_SA)
    assert raised.value.status == 404


async def post_review(kube: LocalKubeAPI, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{kube.url}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json=body
        ) as response,
    ):
        answer: dict[str, Any] = await response.json()
        return response.status, answer
