"""The three patch formats: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and a strategic merge
patch driven by the built-in schemas' `x-kubernetes-patch-strategy` / `-patch-merge-key`."""

from __future__ import annotations

import copy
from typing import Any

from bot.sandbox.kube.errors import ApiError
from bot.sandbox.kube.schemas import resolve

Schema = dict[str, Any]
_MISSING = object()


# RFC 6902 JSON patch


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _patch_error(f'JSON pointer {path!r} must start with "/"')
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _patch_error(message: str) -> ApiError:
    # What the apiserver answers when a well-formed patch cannot be applied to the object.
    return ApiError(422, "Invalid", message)


def _parent(doc: Any, parts: list[str], op: str, path: str) -> Any:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _patch_error(f"{op} operation does not apply: doc is missing path: {path!r}")
    return node


def _get(doc: Any, path: str, op: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent = _parent(doc, parts, op, path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise _patch_error(f"{op} operation does not apply: doc is missing key: {path!r}")


def _remove(doc: Any, path: str, op: str) -> Any:
    parts = _pointer(path)
    parent = _parent(doc, parts, op, path)
    last = parts[-1] if parts else ""
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise _patch_error(f"{op} operation does not apply: doc is missing key: {path!r}")


def _add(doc: Any, path: str, value: Any, op: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _parent(doc, parts, op, path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list) and (last == "-" or (last.isdigit() and int(last) <= len(parent))):
        parent.insert(len(parent) if last == "-" else int(last), value)
    else:
        raise _patch_error(f"{op} operation does not apply: doc is missing path: {path!r}")
    return doc


def apply_json_patch(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, list):
        kind = "object" if isinstance(patch, dict) else type(patch).__name__
        raise ApiError.bad_request(f"json: cannot unmarshal {kind} into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for operation in patch:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise ApiError.bad_request(f"invalid JSON patch operation: {operation!r}")
        op, path = operation["op"], operation["path"]
        if op in ("add", "replace", "test") and "value" not in operation:
            raise _patch_error(f"{op} operation does not apply: missing value")
        if op == "add":
            doc = _add(doc, path, copy.deepcopy(operation["value"]), op)
        elif op == "remove":
            _remove(doc, path, op)
        elif op == "replace":
            _get(doc, path, op)  # the target must exist
            parts = _pointer(path)
            if not parts:
                doc = copy.deepcopy(operation["value"])
            else:
                parent = _parent(doc, parts, op, path)
                parent[int(parts[-1]) if isinstance(parent, list) else parts[-1]] = copy.deepcopy(
                    operation["value"]
                )
        elif op in ("move", "copy"):
            if "from" not in operation:
                raise _patch_error(f"{op} operation does not apply: missing from")
            value = (
                _remove(doc, operation["from"], op)
                if op == "move"
                else copy.deepcopy(_get(doc, operation["from"], op))
            )
            doc = _add(doc, path, value, op)
        elif op == "test":
            if _get(doc, path, op) != operation["value"]:
                raise _patch_error(f"testing value {path} failed: test failed")
        else:
            raise ApiError.bad_request(f"Unexpected kind: {op}")
    return doc


# RFC 7386 JSON merge patch


def apply_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


# Strategic merge patch


def _sub_schema(schema: Schema | None, key: str) -> Schema | None:
    if schema is None:
        return None
    schema = resolve(schema)
    properties = schema.get("properties") or {}
    if key in properties:
        return resolve(properties[key])
    additional = schema.get("additionalProperties")
    return resolve(additional) if isinstance(additional, dict) else None


def apply_strategic_merge_patch(original: Any, patch: Any, schema: Schema | None) -> Any:
    """Merge `patch` into `original`; lists whose schema says `merge` are merged by their merge key."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result: dict[str, Any] = copy.deepcopy(original) if isinstance(original, dict) else {}
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [item for item in result.get(name) or [] if item not in value]
            continue
        field_schema = _sub_schema(schema, key)
        if value is None or (isinstance(value, dict) and value.get("$patch") == "delete"):
            result.pop(key, None)
        elif isinstance(value, dict) and "replace" in str(
            (field_schema or {}).get("x-kubernetes-patch-strategy", "")
        ):
            result[key] = {k: copy.deepcopy(v) for k, v in value.items() if not k.startswith("$")}
        elif isinstance(value, dict):
            result[key] = apply_strategic_merge_patch(result.get(key), value, field_schema)
        elif (
            isinstance(value, list)
            and field_schema is not None
            and "merge" in str(field_schema.get("x-kubernetes-patch-strategy", ""))
        ):
            items = field_schema.get("items")
            result[key] = _merge_list(
                result.get(key) or [],
                value,
                resolve(items) if isinstance(items, dict) else None,
                field_schema.get("x-kubernetes-patch-merge-key"),
            )
        else:
            result[key] = copy.deepcopy(value)
    if isinstance(patch.get("$retainKeys"), list):
        result = {k: v for k, v in result.items() if k in patch["$retainKeys"]}
    for name, order in orders.items():
        if isinstance(result.get(name), list):
            result[name] = _reorder(result[name], order, _sub_schema(schema, name))
    return result


def _merge_list(
    original: list[Any], patch: list[Any], item_schema: Schema | None, merge_key: str | None
) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and i.get("$patch") == "replace")]
    result = copy.deepcopy(original)
    for item in patch:
        if merge_key is None or not isinstance(item, dict):
            if item not in result:
                result.append(copy.deepcopy(item))
            continue
        position = next(
            (
                i
                for i, existing in enumerate(result)
                if isinstance(existing, dict) and existing.get(merge_key) == item.get(merge_key)
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if position is not None:
                result.pop(position)
        elif position is None:
            result.append({k: copy.deepcopy(v) for k, v in item.items() if not k.startswith("$")})
        else:
            result[position] = apply_strategic_merge_patch(result[position], item, item_schema)
    return result


def _reorder(items: list[Any], order: list[Any], list_schema: Schema | None) -> list[Any]:
    merge_key = (list_schema or {}).get("x-kubernetes-patch-merge-key")

    def identity(item: Any) -> Any:
        return item.get(merge_key) if merge_key and isinstance(item, dict) else item

    wanted = [identity(entry) for entry in order]
    ranked = sorted(
        enumerate(items),
        key=lambda pair: (
            wanted.index(identity(pair[1])) if identity(pair[1]) in wanted else len(wanted),
            pair[0],
        ),
    )
    return [item for _, item in ranked]
