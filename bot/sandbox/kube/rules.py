"""Kind-specific validation the apiserver does beyond the OpenAPI schema (the checks our manifests
are most likely to trip: config keys, Pod templates, Job settings, immutable fields)."""

from __future__ import annotations

import base64
import binascii
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.sandbox.kube.errors import ApiError, FieldError, forbidden, invalid, required, unsupported
from bot.sandbox.kube.meta import LABEL_MESSAGE, is_dns1123_label
from bot.sandbox.kube.resources import ResourceType

Obj = dict[str, Any]

CONFIG_KEY = r"[-._a-zA-Z0-9]+"
_CONFIG_KEY_MESSAGE = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
    f"'KEY_NAME',  or 'key-name', regex used for validation is '{CONFIG_KEY}')"
)
_ENV_NAME = r"[-._a-zA-Z][-._a-zA-Z0-9]*"
_ENV_NAME_MESSAGE = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and "
    f"must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for "
    f"validation is '{_ENV_NAME}')"
)
_CONFIG_MAX_BYTES = 1024 * 1024
_QUANTITY = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}


def parse_quantity(value: Any) -> Decimal | None:
    """The value of a resource quantity ("100m", "4Gi", 2), or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY.fullmatch(value)
    if not match:
        return None
    try:
        number = Decimal(match[1])
    except InvalidOperation:
        return None
    suffix = match[2] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    return number * (Decimal(10) ** int(suffix[1:])) if suffix else number


def kind_rule_errors(rtype: ResourceType, obj: Obj, old: Obj | None) -> list[FieldError]:
    """Every problem the kind's own validation finds (built-in kinds only)."""
    errors: list[FieldError] = []
    kind = rtype.kind
    if kind in ("ConfigMap", "Secret"):
        errors += _config_data_errors(obj)
        errors += _immutable_data_errors(obj, old)
    if kind == "Secret":
        errors += _secret_type_errors(obj, old)
    if kind == "Pod":
        errors += pod_spec_errors(obj.get("spec") or {}, "spec", ("Always", "OnFailure", "Never"))
    if kind == "Job":
        errors += _job_errors(obj, old)
    if kind == "CronJob":
        template = ((obj.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}
        errors += pod_spec_errors(
            _template_spec(template), "spec.jobTemplate.spec.template.spec", ("OnFailure", "Never")
        )
    if kind == "Deployment":
        errors += pod_spec_errors(_template_spec(obj.get("spec") or {}), "spec.template.spec", ("Always",))
    return errors


def _template_spec(spec: Obj) -> Obj:
    return ((spec.get("template") or {}).get("spec")) or {}


def _config_data_errors(obj: Obj) -> list[FieldError]:
    errors: list[FieldError] = []
    total = 0
    fields = ("data", "binaryData") if obj.get("kind") == "ConfigMap" else ("data",)
    for data_field in fields:
        for key, value in (obj.get(data_field) or {}).items():
            path = f"{data_field}[{key}]"
            if len(key) > 253:
                errors.append(invalid(path, key, "must be no more than 253 characters"))
            if not re.fullmatch(CONFIG_KEY, key):
                errors.append(invalid(path, key, _CONFIG_KEY_MESSAGE))
            elif key in (".", "..") or key.startswith(".."):
                errors.append(invalid(path, key, "must not be '.' or '..', or start with '..'"))
            total += len(value or "")
    overlap = set(obj.get("data") or {}) & set(obj.get("binaryData") or {})
    errors += [invalid(f"data[{k}]", k, "duplicate of key present in binaryData") for k in sorted(overlap)]
    if total > _CONFIG_MAX_BYTES:
        errors.append(FieldError("[]", "Too long", detail=f"must have at most {_CONFIG_MAX_BYTES} bytes"))
    return errors


def _immutable_data_errors(obj: Obj, old: Obj | None) -> list[FieldError]:
    if old is None or not old.get("immutable"):
        return []
    errors = [
        forbidden(f, "field is immutable when `immutable` is set")
        for f in ("data", "binaryData")
        if obj.get(f) != old.get(f)
    ]
    if not obj.get("immutable"):
        errors.append(forbidden("immutable", "field is immutable when `immutable` is set"))
    return errors


def decode_secret_data(obj: Obj) -> None:
    """Secret values travel base64-encoded; anything else fails decoding (400) as on a cluster."""
    for key, value in (obj.get("data") or {}).items():
        try:
            base64.b64decode(value or "", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ApiError.bad_request(
                f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data in data[{key}]: {exc}'
            ) from None


def _secret_type_errors(obj: Obj, old: Obj | None) -> list[FieldError]:
    secret_type = obj.get("type") or "Opaque"
    data = obj.get("data") or {}
    errors: list[FieldError] = []
    needs = {
        "kubernetes.io/ssh-auth": ["ssh-privatekey"],
        "kubernetes.io/tls": ["tls.crt", "tls.key"],
        "kubernetes.io/dockerconfigjson": [".dockerconfigjson"],
    }.get(secret_type, [])
    errors += [required(f"data[{key}]") for key in needs if key not in data]
    if old is not None and (old.get("type") or "Opaque") != secret_type:
        errors.append(invalid("type", secret_type, "field is immutable"))
    return errors


def _job_errors(obj: Obj, old: Obj | None) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errors = pod_spec_errors(_template_spec(spec), "spec.template.spec", ("OnFailure", "Never"))
    for name, minimum in (
        ("backoffLimit", 0),
        ("parallelism", 0),
        ("completions", 0),
        ("ttlSecondsAfterFinished", 0),
        ("activeDeadlineSeconds", 1),
    ):
        value = spec.get(name)
        if isinstance(value, int) and value < minimum:
            detail = "must be greater than or equal to 0" if minimum == 0 else "must be greater than 0"
            errors.append(invalid(f"spec.{name}", value, detail))
    if old is not None:
        old_spec = old.get("spec") or {}
        for name in ("template", "selector", "completionMode"):
            if spec.get(name) != old_spec.get(name):
                errors.append(invalid(f"spec.{name}", spec.get(name), "field is immutable"))
    return errors


def pod_spec_errors(spec: Obj, path: str, restart_policies: tuple[str, ...]) -> list[FieldError]:
    errors: list[FieldError] = []
    policy = spec.get("restartPolicy")
    if policy not in restart_policies:
        errors.append(
            unsupported(f"{path}.restartPolicy", policy, list(restart_policies))
            if policy
            else required(
                f"{path}.restartPolicy", "valid values: " + ", ".join(f'"{p}"' for p in restart_policies)
            )
        )
    volume_names: set[str] = set()
    for index, volume in enumerate(spec.get("volumes") or []):
        name = volume.get("name", "")
        volume_path = f"{path}.volumes[{index}]"
        if not is_dns1123_label(name):
            errors.append(invalid(f"{volume_path}.name", name, LABEL_MESSAGE))
        elif name in volume_names:
            errors.append(FieldError(f"{volume_path}.name", "Duplicate value", name))
        volume_names.add(name)
        for source in ("secret", "configMap", "projected"):
            errors += _mode_errors(volume.get(source) or {}, f"{volume_path}.{source}")
    containers = spec.get("containers")
    if containers == []:
        errors.append(required(f"{path}.containers"))
    names: set[str] = set()
    for group in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(group) or []):
            errors += _container_errors(container, f"{path}.{group}[{index}]", names, volume_names)
    return errors


def _mode_errors(source: Obj, path: str) -> list[FieldError]:
    detail = "must be a number between 0 and 0777 (octal), both inclusive"
    errors: list[FieldError] = []
    mode = source.get("defaultMode")
    if isinstance(mode, int) and not 0 <= mode <= 0o777:
        errors.append(invalid(f"{path}.defaultMode", mode, detail))
    for index, item in enumerate(source.get("items") or []):
        item_mode = item.get("mode")
        if isinstance(item_mode, int) and not 0 <= item_mode <= 0o777:
            errors.append(invalid(f"{path}.items[{index}].mode", item_mode, detail))
        item_path = item.get("path", "")
        if item_path.startswith("/") or ".." in item_path.split("/"):
            errors.append(
                invalid(f"{path}.items[{index}].path", item_path, "must be a relative path without '..'")
            )
    return errors


def _container_errors(container: Obj, path: str, names: set[str], volume_names: set[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    name = container.get("name", "")
    if not is_dns1123_label(name):
        errors.append(invalid(f"{path}.name", name, LABEL_MESSAGE))
    elif name in names:
        errors.append(FieldError(f"{path}.name", "Duplicate value", name))
    names.add(name)
    if not container.get("image"):
        errors.append(required(f"{path}.image"))
    mount_paths: set[str] = set()
    for index, mount in enumerate(container.get("volumeMounts") or []):
        mount_path = f"{path}.volumeMounts[{index}]"
        if mount.get("name") not in volume_names:
            errors.append(FieldError(f"{mount_path}.name", "Not found", mount.get("name")))
        target = mount.get("mountPath", "")
        if not target:
            errors.append(required(f"{mount_path}.mountPath"))
        elif target in mount_paths:
            errors.append(invalid(f"{mount_path}.mountPath", target, "must be unique"))
        mount_paths.add(target)
    for index, env in enumerate(container.get("env") or []):
        env_name = env.get("name", "")
        if not re.fullmatch(_ENV_NAME, env_name):
            errors.append(invalid(f"{path}.env[{index}].name", env_name, _ENV_NAME_MESSAGE))
    for index, port in enumerate(container.get("ports") or []):
        number = port.get("containerPort")
        if isinstance(number, int) and not 1 <= number <= 65535:
            errors.append(
                invalid(
                    f"{path}.ports[{index}].containerPort", number, "must be between 1 and 65535, inclusive"
                )
            )
    errors += _resource_errors(container.get("resources") or {}, f"{path}.resources")
    return errors


def _resource_errors(resources: Obj, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    parsed: dict[str, dict[str, Decimal]] = {"requests": {}, "limits": {}}
    for section in ("requests", "limits"):
        for resource, value in (resources.get(section) or {}).items():
            quantity = parse_quantity(value)
            if quantity is None:
                errors.append(
                    invalid(
                        f"{path}.{section}[{resource}]",
                        value,
                        "must match the regex ^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$",
                    )
                )
            elif quantity < 0:
                errors.append(
                    invalid(f"{path}.{section}[{resource}]", value, "must be greater than or equal to 0")
                )
            else:
                parsed[section][resource] = quantity
    for resource, request in parsed["requests"].items():
        limit = parsed["limits"].get(resource)
        if limit is not None and request > limit:
            value = (resources.get("requests") or {})[resource]
            errors.append(
                invalid(
                    f"{path}.requests",
                    value,
                    f"must be less than or equal to {resource} limit of "
                    f"{(resources.get('limits') or {})[resource]}",
                )
            )
    return errors
