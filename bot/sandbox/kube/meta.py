"""ObjectMeta rules the apiserver enforces on every kind: names, generateName, labels, annotations, owners."""

from __future__ import annotations

import datetime
import json
import re
import secrets
from typing import Any

from bot.sandbox.kube.errors import FieldError, forbidden, invalid, required
from bot.sandbox.kube.resources import ResourceType

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = rf"{DNS1123_LABEL}(\.{DNS1123_LABEL})*"
DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME_PART = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE = rf"({QUALIFIED_NAME_PART})?"

LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    f"and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    f"'{DNS1123_LABEL}')"
)
SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    f"'{DNS1123_SUBDOMAIN}')"
)
DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    f"validation is '{DNS1035_LABEL}')"
)
_NAME_PART_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    f"'{QUALIFIED_NAME_PART}')"
)
_LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    f"for validation is '{LABEL_VALUE}')"
)
_ANNOTATIONS_MAX_BYTES = 256 * 1024
# The alphabet and length the apiserver uses for generateName suffixes (no vowels, no look-alikes).
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def random_suffix(length: int = 5) -> str:
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(length))


def is_dns1123_label(value: str) -> bool:
    return len(value) <= 63 and re.fullmatch(DNS1123_LABEL, value) is not None


def is_dns1123_subdomain(value: str) -> bool:
    return len(value) <= 253 and re.fullmatch(DNS1123_SUBDOMAIN, value) is not None


def name_errors(name: str, rule: str, field_path: str = "metadata.name") -> list[FieldError]:
    """Errors for `name` under one of the apiserver's naming rules: "subdomain", "label" or "dns1035"."""
    if rule == "label":
        errors = [] if re.fullmatch(DNS1123_LABEL, name) else [invalid(field_path, name, LABEL_MESSAGE)]
        limit = 63
    elif rule == "dns1035":
        errors = [] if re.fullmatch(DNS1035_LABEL, name) else [invalid(field_path, name, DNS1035_MESSAGE)]
        limit = 63
    else:
        errors = (
            [] if re.fullmatch(DNS1123_SUBDOMAIN, name) else [invalid(field_path, name, SUBDOMAIN_MESSAGE)]
        )
        limit = 253
    if len(name) > limit:
        errors.insert(0, invalid(field_path, name, f"must be no more than {limit} characters"))
    return errors


def qualified_name_errors(key: str, field_path: str) -> list[FieldError]:
    """Label and annotation keys: an optional DNS subdomain prefix, '/', and a name part."""
    prefix, _, name = key.rpartition("/")
    errors: list[FieldError] = []
    if "/" in key and not prefix:
        errors.append(invalid(field_path, key, "prefix part must be non-empty"))
    elif prefix and not is_dns1123_subdomain(prefix):
        errors.append(invalid(field_path, key, "prefix part " + SUBDOMAIN_MESSAGE))
    if not name:
        errors.append(invalid(field_path, key, "name part must be non-empty"))
    elif len(name) > 63:
        errors.append(invalid(field_path, key, "name part must be no more than 63 characters"))
    elif not re.fullmatch(QUALIFIED_NAME_PART, name):
        errors.append(invalid(field_path, key, _NAME_PART_MESSAGE))
    return errors


def label_errors(labels: Any, field_path: str = "metadata.labels") -> list[FieldError]:
    errors: list[FieldError] = []
    if not isinstance(labels, dict):
        return errors
    for key, value in labels.items():
        errors.extend(qualified_name_errors(key, field_path))
        if not isinstance(value, str):
            continue
        if len(value) > 63:
            errors.append(invalid(field_path, value, "must be no more than 63 characters"))
        elif not re.fullmatch(LABEL_VALUE, value):
            errors.append(invalid(field_path, value, _LABEL_VALUE_MESSAGE))
    return errors


def name_rule_for(rtype: ResourceType) -> str:
    if rtype.kind == "Namespace":
        return "label"
    if rtype.kind == "Service":
        return "dns1035"
    return "subdomain"


def metadata_errors(rtype: ResourceType, metadata: dict[str, Any]) -> list[FieldError]:
    """What ValidateObjectMeta reports (the name is checked once generateName has been resolved)."""
    errors: list[FieldError] = []
    name = metadata.get("name")
    if not name:
        errors.append(required("metadata.name", "name or generateName is required"))
    else:
        errors.extend(name_errors(name, name_rule_for(rtype)))
        if rtype.kind == "Job" and len(name) > 63:
            # The Job's name becomes the value of its Pods' job-name label.
            errors.append(invalid("metadata.name", name, "must be no more than 63 characters"))
    if rtype.namespaced and not metadata.get("namespace"):
        errors.append(required("metadata.namespace"))
    if not rtype.namespaced and metadata.get("namespace"):
        errors.append(forbidden("metadata.namespace", "not allowed on this type"))
    errors.extend(label_errors(metadata.get("labels")))
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict):
        for key in annotations:
            errors.extend(qualified_name_errors(key, "metadata.annotations"))
        size = len(json.dumps(annotations))
        if size > _ANNOTATIONS_MAX_BYTES:
            errors.append(
                FieldError(
                    "metadata.annotations",
                    "Too long",
                    detail=(f"must have at most {_ANNOTATIONS_MAX_BYTES} bytes"),
                )
            )
    for index, owner in enumerate(metadata.get("ownerReferences") or []):
        path = f"metadata.ownerReferences[{index}]"
        for required_field in ("apiVersion", "kind", "name", "uid"):
            if not owner.get(required_field):
                errors.append(required(f"{path}.{required_field}"))
    controllers = [o for o in metadata.get("ownerReferences") or [] if o.get("controller")]
    if len(controllers) > 1:
        errors.append(
            invalid(
                "metadata.ownerReferences",
                metadata["ownerReferences"],
                "Only one reference can have Controller set to true",
            )
        )
    return errors


def timestamp() -> str:
    """Now, as metav1.Time serializes: RFC 3339 in UTC with second precision."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Fields of ObjectMeta a client may send; anything else in metadata is dropped on decode.
OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
