"""The HTTP face of the local apiserver: REST paths, discovery, content negotiation, Status errors."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from bot.sandbox.kube import access, openapi
from bot.sandbox.kube.admission import WriteOptions, Written
from bot.sandbox.kube.cluster import Cluster
from bot.sandbox.kube.errors import ApiError
from bot.sandbox.kube.faults import Faults, RecordedRequest
from bot.sandbox.kube.logs import ContainerLogs, parse_options, serve_log, validate_options
from bot.sandbox.kube.resources import ACCESS_REVIEW_TYPE, ResourceType
from bot.sandbox.kube.selectors import parse_field_selector, parse_label_selector
from bot.sandbox.kube.tables import table_version, to_table
from bot.sandbox.kube.watching import WatchRequest, serve_watch

logger = logging.getLogger(__name__)
Obj = dict[str, Any]

VERSION_INFO = {
    "major": "1",
    "minor": "33",
    "emulationMajor": "1",
    "emulationMinor": "33",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "32",
    "gitVersion": "v1.33.0",
    "gitCommit": "60a317eadfcb839692a5e7dc1b7bbf2c2b3f5ac2",
    "gitTreeState": "clean",
    "buildDate": "2025-04-23T13:07:08Z",
    "goVersion": "go1.24.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}
_BODY_TYPES = ["application/json", "application/yaml"]
_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
_TRUE = ("1", "t", "T", "true", "TRUE", "True")  # Go's strconv.ParseBool spellings of true
# The apiserver's request body limit is 3 MiB; allow a little envelope around it.
MAX_BODY_BYTES = 3 * 1024 * 1024 + 64 * 1024


@dataclass(frozen=True)
class Target:
    """A resource path: /api/v1/namespaces/NS/RESOURCE/NAME/SUBRESOURCE and its /apis/GROUP/VERSION forms."""

    rtype: ResourceType
    namespace: str | None  # None: across namespaces (or cluster-scoped)
    name: str
    subresource: str


def _flag(query: Any, key: str) -> bool:
    return str(query.get(key, "")) in _TRUE


def _json(body: Obj, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    response = web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(), status=status, content_type="application/json"
    )
    for warning in warnings or []:
        escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
        response.headers.add("Warning", f'299 - "{escaped}"')
    return response


async def _read_limited(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728") from None


class KubeHTTP:
    def __init__(
        self,
        cluster: Cluster,
        faults: Faults,
        requests: list[RecordedRequest],
        logs: ContainerLogs | None = None,
    ) -> None:
        self.cluster = cluster
        self.faults = faults
        self.requests = requests
        self.logs = logs or ContainerLogs()

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        target: Target | None = None
        verb: str | None = None
        try:
            target = self._target(request.path)
            verb = self._verb(request, target) if target else None
            user = access.requester(request.headers, request.headers.getall("Impersonate-Group", []))
            self._authorize(request, user, target, verb)
            response = await self._dispatch(request, target, user)
        except ApiError as error:
            response = _json(error.to_status(), error.code)
            if error.code == 429:
                response.headers["Retry-After"] = "1"
        except web.HTTPException:
            raise
        except Exception as exc:  # a bug here must still answer like an apiserver, and show in the log
            logger.exception("local kube API failed on %s %s", request.method, request.path_qs)
            response = _json(ApiError.internal(str(exc)).to_status(), 500)
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                status=response.status,
                verb=verb,
                group=target.rtype.group if target else None,
                version=target.rtype.version if target else None,
                resource=target.rtype.plural if target else None,
                subresource=target.subresource if target else "",
                namespace=(target.namespace or "") if target else "",
                name=target.name if target else "",
                user_agent=request.headers.get("User-Agent", ""),
            )
        )
        return response

    def _authorize(
        self, request: web.Request, user: access.UserInfo, target: Target | None, verb: str | None
    ) -> None:
        """RBAC for an impersonated request (the administrator may do anything)."""
        if user.is_admin:
            return
        if target is None or verb is None:
            # Non-resource requests are authorized by their lower-cased HTTP method, as the apiserver does.
            attributes = access.Attributes(verb=request.method.lower(), path=request.path)
        else:
            attributes = access.Attributes(
                verb=verb,
                group=target.rtype.group,
                resource=target.rtype.plural,
                subresource=target.subresource,
                namespace=target.namespace or "",
                name=target.name,
            )
        if not access.authorize(self.cluster, user, attributes).allowed:
            raise access.forbidden(user, attributes)

    @staticmethod
    def _verb(request: web.Request, target: Target) -> str:
        if request.method == "GET":
            if _flag(request.query, "watch"):
                return "watch"
            return "get" if target.name else "list"
        return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(
            request.method, "delete" if target.name else "deletecollection"
        )

    def _target(self, path: str) -> Target | None:
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 3 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        namespace: str | None = None
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise ApiError.path_not_found()
        rtype = self.cluster.registry.by_plural(group, version, rest[0])
        if rtype is None or (namespace is not None and not rtype.namespaced):
            raise ApiError.path_not_found()
        name = rest[1] if len(rest) > 1 else ""
        subresource = rest[2] if len(rest) > 2 else ""
        if rtype.namespaced and namespace is None and name:
            raise ApiError.path_not_found()
        if subresource and not (
            (subresource == "status" and rtype.status_subresource)
            or (subresource == "log" and rtype.kind == "Pod" and rtype.group == "")
        ):
            raise ApiError.path_not_found()
        return Target(rtype, namespace, name, subresource)

    async def _dispatch(
        self, request: web.Request, target: Target | None, user: access.UserInfo
    ) -> web.StreamResponse:
        failure = self.faults.failure_for(request.method, request.path_qs)
        if failure is not None:
            if failure.delay:
                # The request has arrived whole and is acted on after the wait, even if the client has
                # gone by then (as with a slow apiserver): read the body before waiting.
                await request.read()
                await asyncio.sleep(failure.delay)
            if failure.status:
                raise ApiError(failure.status, failure.reason, failure.message)
        if target is None:
            return self._non_resource(request)
        self._check_accept(request)
        if target.rtype is ACCESS_REVIEW_TYPE:
            if request.method != "POST" or target.name:
                raise ApiError.method_not_allowed()
            body = await self._body(request, _BODY_TYPES)
            return _json(access.review(self.cluster, target.rtype, body, user), 201)
        if target.subresource == "log":
            return await self._log(request, target)
        if request.method == "GET":
            return await self._read(request, target)
        if request.method == "DELETE":
            return await self._delete(request, target)
        options = WriteOptions(
            dry_run=request.query.get("dryRun") == "All",
            field_validation=self._field_validation(request),
            field_manager=request.query.get("fieldManager"),
        )
        namespace = target.namespace or ""
        if request.method == "POST" and not target.name and not target.subresource:
            body = await self._body(request, _BODY_TYPES)
            return self._written(self.cluster.create(target.rtype, namespace, body, options))
        if request.method == "PUT" and target.name:
            body = await self._body(request, _BODY_TYPES)
            return self._written(
                self.cluster.replace(
                    target.rtype, namespace, target.name, body, options, subresource=target.subresource
                )
            )
        if request.method == "PATCH" and target.name:
            body = await self._body(request, list(_PATCH_TYPES), patch=True)
            return self._written(
                self.cluster.patch(
                    target.rtype,
                    namespace,
                    target.name,
                    request.content_type,
                    body,
                    options,
                    subresource=target.subresource,
                )
            )
        raise ApiError.method_not_allowed()

    @staticmethod
    def _field_validation(request: web.Request) -> str:
        value = request.query.get("fieldValidation", "Warn") or "Warn"
        if value not in ("Ignore", "Warn", "Strict"):
            raise ApiError.bad_request(
                f'fieldValidation: Unsupported value: "{value}": supported values: "Ignore", "Warn", "Strict"'
            )
        return value

    def _written(self, written: Written) -> web.Response:
        return _json(written.body, written.code, written.warnings)

    @staticmethod
    def _check_accept(request: web.Request) -> None:
        accept = request.headers.get("Accept", "")
        if accept and not any(kind in accept for kind in ("json", "*/*", "application/*", "yaml")):
            raise ApiError.not_acceptable(["application/json", "application/yaml"])

    @staticmethod
    async def _body(request: web.Request, accepted: list[str], *, patch: bool = False) -> Any:
        content_type = request.content_type
        if "protobuf" in content_type or content_type not in accepted:
            raise ApiError.unsupported_media_type(content_type, accepted if patch else _BODY_TYPES)
        raw = await _read_limited(request)
        try:
            if content_type.endswith("yaml"):
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise ApiError.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None

    async def _read(self, request: web.Request, target: Target) -> web.StreamResponse:
        rtype, query = target.rtype, request.query
        if target.subresource and _flag(query, "watch"):
            raise ApiError.method_not_allowed()
        labels = parse_label_selector(query.get("labelSelector", ""))
        field_text = query.get("fieldSelector", "")
        if target.name and _flag(query, "watch"):
            field_text = ",".join(filter(None, [field_text, f"metadata.name={target.name}"]))
        fields = parse_field_selector(field_text, rtype)
        table = table_version(request.headers.get("Accept", ""))
        include_object = query.get("includeObject", "Metadata")
        if _flag(query, "watch"):
            timeout = query.get("timeoutSeconds")
            watch = WatchRequest(
                rtype=rtype,
                namespace=target.namespace if rtype.namespaced else None,
                labels=labels,
                fields=fields,
                resource_version=query.get("resourceVersion"),
                timeout_seconds=float(timeout) if timeout else None,
                table_version=table,
                include_object=include_object,
                max_events=self.faults.watch_cut_for(request.path_qs),
                force_expired=self.faults.watch_expired_for(request.path_qs),
                send_initial_events=_flag(query, "sendInitialEvents"),
                allow_bookmarks=_flag(query, "allowWatchBookmarks"),
            )
            return await serve_watch(request, self.cluster.store, watch)
        if target.name:
            obj = self.cluster.get(rtype, target.namespace or "", target.name)
            if table:
                return _json(
                    to_table(rtype, [obj], table, include_object, obj["metadata"].get("resourceVersion"))
                )
            return _json(obj)
        namespace = target.namespace if rtype.namespaced else None
        if table:
            objects = self.cluster.select(rtype, namespace, labels, fields)
            return _json(
                to_table(rtype, objects, table, include_object, str(self.cluster.store.resource_version))
            )
        return _json(self.cluster.list(rtype, namespace, labels, fields))

    async def _log(self, request: web.Request, target: Target) -> web.StreamResponse:
        """`pods/log`: options decoded (400) and validated (422) before the Pod is looked up (404)."""
        if request.method != "GET":
            raise ApiError.method_not_allowed()
        options = parse_options(request.query)
        validate_options(options, target.name)
        pod = self.cluster.get(target.rtype, target.namespace or "", target.name)
        return await serve_log(request, pod, self.logs, options)

    async def _delete(self, request: web.Request, target: Target) -> web.Response:
        body: Obj = {}
        if request.can_read_body:
            raw = await _read_limited(request)
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    raise ApiError.bad_request(f"couldn't decode DeleteOptions: {exc}") from None
        if target.subresource:
            raise ApiError.method_not_allowed()
        policy = request.query.get("propagationPolicy") or None
        dry_run = request.query.get("dryRun") == "All" or body.get("dryRun") == ["All"]
        if target.name:
            return self._written(
                self.cluster.delete(target.rtype, target.namespace or "", target.name, body, policy, dry_run)
            )
        labels = parse_label_selector(request.query.get("labelSelector", ""))
        fields = parse_field_selector(request.query.get("fieldSelector", ""), target.rtype)
        listed = self.cluster.list(
            target.rtype, target.namespace if target.rtype.namespaced else None, labels, fields
        )
        warnings: list[str] = []
        for item in listed["items"]:
            written = self.cluster.delete(
                target.rtype,
                item["metadata"].get("namespace", ""),
                item["metadata"]["name"],
                body,
                policy,
                dry_run,
            )
            warnings.extend(w for w in written.warnings if w not in warnings)
        return _json(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}, 200, warnings
        )

    def _non_resource(self, request: web.Request) -> web.Response:
        if request.method != "GET":
            raise ApiError.method_not_allowed()
        registry = self.cluster.registry
        path = request.path.rstrip("/") or "/"
        parts = [p for p in path.split("/") if p]
        if path == "/version":
            return _json(VERSION_INFO)
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/api":
            host = request.host
            return _json(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
                }
            )
        if path == "/apis":
            return _json(registry.api_group_list())
        document: Obj | None = None
        if len(parts) == 2 and parts[0] == "api":
            document = registry.api_resource_list("", parts[1])
        elif len(parts) == 2 and parts[0] == "apis":
            api_group = registry.api_group(parts[1])
            document = {"kind": "APIGroup", "apiVersion": "v1", **api_group} if api_group else None
        elif len(parts) == 3 and parts[0] == "apis":
            document = registry.api_resource_list(parts[1], parts[2])
        elif path == "/openapi/v3":
            document = openapi.index_document(registry)
        elif parts[:2] == ["openapi", "v3"] and len(parts) in (4, 5):
            group, version = (
                (parts[3], parts[4]) if parts[2] == "apis" and len(parts) == 5 else ("", parts[3])
            )
            document = openapi.group_version_document(registry, group, version)
        if document is None:
            raise ApiError.path_not_found()
        return _json(document)
