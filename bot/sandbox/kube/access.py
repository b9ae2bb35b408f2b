"""Who may do what: the requester, RBAC over the stored Roles and bindings, and SelfSubjectAccessReview.

The local server authenticates nobody: a request is made by a cluster administrator (group
`system:masters`, allowed everything), unless it carries the impersonation headers kubectl's `--as`
and `--as-group` send (`Impersonate-User`, `Impersonate-Group`). Then the request is made by that
user, and the RBAC authorizer decides it, for every request, as a real apiserver's would: from the
stored ClusterRoles, ClusterRoleBindings, Roles and RoleBindings, plus the bootstrap grants every
authenticated user has (creating self access reviews, reading discovery). The bootstrap objects
themselves are not stored.

`POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews` answers "may I?" for the requester,
without doing it: 201 with the review and its `status` (`allowed`, and the reason RBAC gives).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.sandbox.kube import schemas
from bot.sandbox.kube.cluster import Cluster
from bot.sandbox.kube.errors import ApiError, FieldError, invalid, required
from bot.sandbox.kube.resources import ResourceType

Obj = dict[str, Any]
RBAC_GROUP = "rbac.authorization.k8s.io"
MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
# The bootstrap policy's grants to every authenticated user (ClusterRoles system:basic-user,
# system:discovery and system:public-info-viewer), as (verbs, group, resources) and non-resource URLs.
_BASIC_USER_RULES = (
    {
        "verbs": ["create"],
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    },
)
_DISCOVERY_URLS = (
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/readyz",
    "/version",
    "/version/",
    "/openapi",
    "/openapi/*",
)


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return MASTERS in self.groups

    def __str__(self) -> str:
        return self.name


ADMIN = UserInfo("system:admin", (MASTERS, AUTHENTICATED))


@dataclass(frozen=True)
class Attributes:
    """What a request does, in RBAC's terms."""

    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""
    """Set for a non-resource request (`/version`); then only `verb` and `path` count."""

    @property
    def combined_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


def requester(headers: Mapping[str, str], groups: list[str]) -> UserInfo:
    """The user a request acts as: the administrator, or whom the impersonation headers name.
    `groups` are the (repeatable) `Impersonate-Group` values."""
    name = headers.get("Impersonate-User", "")
    if not name:
        if groups:
            raise ApiError.internal(f"requested {groups} without impersonating a user")
        return ADMIN
    impersonated = list(groups)
    if not groups and name.startswith(SERVICE_ACCOUNT_PREFIX):
        namespace = name.removeprefix(SERVICE_ACCOUNT_PREFIX).split(":", 1)[0]
        impersonated = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    # Every impersonated user but the anonymous one is authenticated, unless a group says otherwise.
    if name != "system:anonymous" and not {AUTHENTICATED, UNAUTHENTICATED} & set(impersonated):
        impersonated.append(AUTHENTICATED)
    return UserInfo(name, tuple(impersonated))


def authorize(cluster: Cluster, user: UserInfo, attributes: Attributes) -> Decision:
    """The RBAC authorizer's answer (with the privileged group and the bootstrap grants first)."""
    if user.is_admin:
        return Decision(True)
    for rule, source in _rules_for(cluster, user, attributes.namespace):
        if _rule_allows(rule, attributes):
            return Decision(True, f"RBAC: allowed by {source}")
    return Decision(False)


def forbidden(user: UserInfo, attributes: Attributes) -> ApiError:
    """The 403 a real apiserver answers, worded as it words it."""
    if attributes.path:
        return ApiError.forbidden(
            f'forbidden: User "{user}" cannot {attributes.verb} path "{attributes.path}"'
        )
    scope = f'in the namespace "{attributes.namespace}"' if attributes.namespace else "at the cluster scope"
    qualified = f"{attributes.resource}.{attributes.group}" if attributes.group else attributes.resource
    named = f' "{attributes.name}"' if attributes.name else ""
    message = (
        f'{qualified}{named} is forbidden: User "{user}" cannot {attributes.verb} resource '
        f'"{attributes.combined_resource}" in API group "{attributes.group}" {scope}'
    )
    details: Obj = {"name": attributes.name} if attributes.name else {}
    if attributes.group:
        details["group"] = attributes.group
    details["kind"] = attributes.resource
    return ApiError.forbidden(message, details)


def review(cluster: Cluster, rtype: ResourceType, body: Any, user: UserInfo) -> Obj:
    """Answer a SelfSubjectAccessReview for `user`: the review with its `status` filled in."""
    if not isinstance(body, dict):
        raise ApiError.bad_request(
            f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: '
            "json: cannot unmarshal into Go value of type struct"
        )
    obj = copy.deepcopy(body)
    for field, expected in (("apiVersion", rtype.api_version), ("kind", rtype.kind)):
        if obj.get(field) not in (None, "", expected):
            what = "API version" if field == "apiVersion" else "kind"
            raise ApiError.bad_request(
                f"the {what} in the data ({obj[field]}) does not match the expected {what} ({expected})"
            )
    obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
    obj.setdefault("status", {"allowed": False})
    schemas.check_builtin(rtype, obj)
    errors = _review_errors(obj)
    if errors:
        raise ApiError.invalid(rtype, "", errors)
    spec = obj["spec"]
    resource = spec.get("resourceAttributes")
    if resource is not None:
        attributes = Attributes(
            verb=resource.get("verb", ""),
            group=resource.get("group", ""),
            resource=resource.get("resource", ""),
            subresource=resource.get("subresource", ""),
            namespace=resource.get("namespace", ""),
            name=resource.get("name", ""),
        )
    else:
        non_resource = spec["nonResourceAttributes"]
        attributes = Attributes(verb=non_resource.get("verb", ""), path=non_resource.get("path", ""))
    decision = authorize(cluster, user, attributes)
    status: Obj = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return {
        "kind": rtype.kind,
        "apiVersion": rtype.api_version,
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": status,
    }


def _review_errors(obj: Obj) -> list[FieldError]:
    errors: list[FieldError] = []
    metadata = obj.get("metadata") or {}
    if any(value not in (None, "", {}, []) for value in metadata.values()):
        errors.append(invalid("metadata", metadata, "must be empty"))
    spec = obj.get("spec") or {}
    has_resource = spec.get("resourceAttributes") is not None
    has_non_resource = spec.get("nonResourceAttributes") is not None
    if has_resource and has_non_resource:
        errors.append(
            invalid(
                "spec.nonResourceAttributes",
                spec["nonResourceAttributes"],
                "cannot be specified in combination with resourceAttributes",
            )
        )
    elif not has_resource and not has_non_resource:
        errors.append(
            required(
                "spec.resourceAttributes",
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
        )
    return errors


# --- RBAC ----------------------------------------------------------------------------------------


def _rules_for(cluster: Cluster, user: UserInfo, namespace: str) -> Iterator[tuple[Obj, str]]:
    """Every rule that applies to `user` in `namespace`, with where it comes from (for the reason)."""
    if AUTHENTICATED in user.groups:
        for rule in _BASIC_USER_RULES:
            yield (
                rule,
                _source(
                    "ClusterRoleBinding",
                    "system:basic-user",
                    "ClusterRole",
                    "system:basic-user",
                    f'Group "{AUTHENTICATED}"',
                ),
            )
        yield (
            {"verbs": ["get"], "nonResourceURLs": list(_DISCOVERY_URLS)},
            _source(
                "ClusterRoleBinding",
                "system:discovery",
                "ClusterRole",
                "system:discovery",
                f'Group "{AUTHENTICATED}"',
            ),
        )
    for binding in _objects(cluster, "clusterrolebindings", ""):
        subject = _matching_subject(binding, user, "")
        if subject is None:
            continue
        ref = binding.get("roleRef") or {}
        for rule in _role_rules(cluster, ref, ""):
            yield (
                rule,
                _source(
                    "ClusterRoleBinding",
                    binding["metadata"]["name"],
                    ref.get("kind", ""),
                    ref.get("name", ""),
                    subject,
                ),
            )
    if not namespace:
        return
    for binding in _objects(cluster, "rolebindings", namespace):
        subject = _matching_subject(binding, user, namespace)
        if subject is None:
            continue
        ref = binding.get("roleRef") or {}
        name = f"{binding['metadata']['name']}/{namespace}"
        for rule in _role_rules(cluster, ref, namespace):
            yield rule, _source("RoleBinding", name, ref.get("kind", ""), ref.get("name", ""), subject)


def _source(binding_kind: str, binding: str, role_kind: str, role: str, subject: str) -> str:
    return f'{binding_kind} "{binding}" of {role_kind} "{role}" to {subject}'


def _objects(cluster: Cluster, plural: str, namespace: str) -> list[Obj]:
    rtype = cluster.registry.by_plural(RBAC_GROUP, "v1", plural)
    assert rtype is not None
    return cluster.select(rtype, namespace if rtype.namespaced else None)


def _role_rules(cluster: Cluster, ref: Obj, namespace: str) -> list[Obj]:
    kind, name = ref.get("kind"), ref.get("name", "")
    if kind == "ClusterRole":
        found = [o for o in _objects(cluster, "clusterroles", "") if o["metadata"]["name"] == name]
    elif kind == "Role" and namespace:
        found = [o for o in _objects(cluster, "roles", namespace) if o["metadata"]["name"] == name]
    else:
        found = []
    return list(found[0].get("rules") or []) if found else []


def _matching_subject(binding: Obj, user: UserInfo, namespace: str) -> str | None:
    """How the first subject of `binding` that names `user` is described, or None."""
    for subject in binding.get("subjects") or []:
        kind, name = subject.get("kind"), subject.get("name", "")
        if kind == "User" and name == user.name:
            return f'User "{name}"'
        if kind == "Group" and name in user.groups:
            return f'Group "{name}"'
        if kind == "ServiceAccount":
            sa_namespace = subject.get("namespace") or namespace
            if user.name == f"{SERVICE_ACCOUNT_PREFIX}{sa_namespace}:{name}":
                return f'ServiceAccount "{name}/{sa_namespace}"'
    return None


def _rule_allows(rule: Obj, attributes: Attributes) -> bool:
    if not _matches(rule.get("verbs"), attributes.verb):
        return False
    if attributes.path:
        return any(
            url == "*"
            or url == attributes.path
            or (url.endswith("*") and attributes.path.startswith(url[:-1]))
            for url in rule.get("nonResourceURLs") or []
        )
    if not _matches(rule.get("apiGroups"), attributes.group):
        return False
    if not _resource_matches(rule.get("resources") or [], attributes):
        return False
    names = rule.get("resourceNames") or []
    return not names or attributes.name in names


def _matches(values: list[str] | None, wanted: str) -> bool:
    return any(value in ("*", wanted) for value in values or [])


def _resource_matches(resources: list[str], attributes: Attributes) -> bool:
    for resource in resources:
        if resource in ("*", attributes.combined_resource):
            return True
        if attributes.subresource and resource == f"*/{attributes.subresource}":
            return True
    return False
