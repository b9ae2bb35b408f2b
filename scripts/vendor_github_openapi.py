#!/usr/bin/env python3
"""Vendor the part of GitHub's OpenAPI description that the local GitHub API serves.

The local GitHub API (`bot/sandbox/github/`) validates every request and response against GitHub's
published description, as packaged by `@octokit/openapi`. The whole description is 13 MB; this script
keeps only the operations listed in `OPERATIONS` and the webhook payload schemas in `WEBHOOKS`, plus
every component they reference (`$ref` closure),
drops the example payloads (the server builds its own objects), and writes
`bot/sandbox/github/openapi/api.github.com-subset.json` with an `x-vendored` header naming the package,
its version and its licence.

    python scripts/vendor_github_openapi.py                 # npm install into a temp dir, then extract
    python scripts/vendor_github_openapi.py --from DIR      # DIR = an unpacked @octokit/openapi package
    python scripts/vendor_github_openapi.py --version 23.0.2

Adding an operation to the local server means adding its operationId here and re-running the script.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from npm_package import install_package  # scripts/ is on sys.path when a script runs

PACKAGE = "@octokit/openapi"
DEFAULT_VERSION = "23"
DESCRIPTION_FILE = "generated/api.github.com.json"
REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT = REPO_ROOT / "bot" / "sandbox" / "github" / "openapi" / "api.github.com-subset.json"

# The operations the bot uses, by GitHub's operationId. Keep sorted; the server serves exactly these.
OPERATIONS = (
    "apps/create-installation-access-token",
    "apps/get-authenticated",
    "apps/get-installation",
    "apps/get-repo-installation",
    "apps/get-webhook-delivery",
    "apps/list-webhook-deliveries",
    "apps/redeliver-webhook-delivery",
    "checks/create",
    "checks/get",
    "checks/list-for-ref",
    "checks/update",
    "git/get-ref",
    "issues/create-comment",
    "issues/get",
    "issues/get-comment",
    "issues/list-comments",
    "issues/update-comment",
    "pulls/create",
    "pulls/get",
    "pulls/list",
    "pulls/list-comments-for-review",
    "rate-limit/get",
    "reactions/create-for-issue-comment",
    "reactions/list-for-issue-comment",
    "repos/get",
    "repos/get-branch",
    "repos/get-collaborator-permission-level",
    "users/get-authenticated",
)

# Webhook payload schemas (`x-webhooks` in the description) for the deliveries `bot.sandbox.payloads`
# builds; the tests check that every built payload is as valid as the real example it came from.
WEBHOOKS = (
    "check-run-requested-action",
    "check-run-rerequested",
    "installation-created",
    "issue-comment-created",
    "issue-comment-edited",
    "issues-labeled",
    "ping",
    "pull-request-labeled",
    "pull-request-review-comment-created",
    "pull-request-review-submitted",
    "push",
)

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def iter_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from iter_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from iter_refs(value)


def without_examples(node: Any) -> Any:
    """A copy without `examples` maps of media types (they reference large example components)."""
    if isinstance(node, dict):
        return {
            key: without_examples(value)
            for key, value in node.items()
            if not (key == "examples" and isinstance(value, dict) and _is_example_map(value))
        }
    if isinstance(node, list):
        return [without_examples(value) for value in node]
    return node


def _is_example_map(value: dict[str, Any]) -> bool:
    # A media type's `examples` maps names to Example objects ({"value": ...} or {"$ref": ...}); a
    # schema's `examples` (JSON Schema keyword) is a list, and a property may be named "examples".
    return all(
        isinstance(item, dict) and ({"value", "$ref", "summary"} & item.keys()) for item in value.values()
    )


def resolve_pointer(document: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are supported, got {ref!r}")
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def extract(
    description: dict[str, Any], operation_ids: tuple[str, ...], webhook_names: tuple[str, ...]
) -> dict[str, Any]:
    """The description reduced to `operation_ids`, `webhook_names` and the components they reference."""
    wanted = set(operation_ids)
    paths: dict[str, dict[str, Any]] = {}
    for path, item in description["paths"].items():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if isinstance(operation, dict) and operation.get("operationId") in wanted:
                kept = paths.setdefault(path, {key: item[key] for key in ("parameters",) if key in item})
                kept[method] = without_examples(operation)
                wanted.discard(operation["operationId"])
    if wanted:
        raise SystemExit(f"operations not found in the description: {', '.join(sorted(wanted))}")
    all_webhooks = description.get("x-webhooks", {})
    missing = [name for name in webhook_names if name not in all_webhooks]
    if missing:
        raise SystemExit(f"webhooks not found in the description: {', '.join(missing)}")
    webhooks = {name: without_examples(all_webhooks[name]) for name in sorted(webhook_names)}

    components: dict[str, dict[str, Any]] = {}
    pending = list(iter_refs(paths)) + list(iter_refs(webhooks))
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, section, kind, name = ref.split("/", 3)
        if section != "components":
            raise SystemExit(f"unexpected reference outside components: {ref}")
        target = without_examples(resolve_pointer(description, ref))
        components.setdefault(kind, {})[name] = target
        pending.extend(iter_refs(target))

    return {
        "openapi": description["openapi"],
        "info": description["info"],
        "servers": description.get("servers", []),
        "externalDocs": description.get("externalDocs", {}),
        "paths": dict(sorted(paths.items())),
        "x-webhooks": webhooks,
        "components": {kind: dict(sorted(items.items())) for kind, items in sorted(components.items())},
    }


def vendor(package_dir: Path, output: Path) -> dict[str, Any]:
    manifest = json.loads((package_dir / "package.json").read_text())
    description = json.loads((package_dir / DESCRIPTION_FILE).read_text())
    subset = extract(description, OPERATIONS, WEBHOOKS)
    licence_file = package_dir / "LICENSE"
    header = {
        "package": manifest["name"],
        "version": manifest["version"],
        "license": manifest.get("license"),
        "license_text": licence_file.read_text().strip() if licence_file.is_file() else None,
        "source_file": DESCRIPTION_FILE,
        "generated_by": "scripts/vendor_github_openapi.py",
        "note": "A subset of GitHub's OpenAPI description: the operations and webhooks below, every "
        "component they reference, and no example payloads. Regenerate with the script; do not edit by hand.",
        "operations": list(OPERATIONS),
        "webhooks": list(WEBHOOKS),
    }
    document = {"x-vendored": header, **subset}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    return header


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--from", dest="source", type=Path, help="an unpacked @octokit/openapi package directory"
    )
    parser.add_argument("--version", default=DEFAULT_VERSION, help="npm version spec (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.source is not None:
        header = vendor(args.source, args.output)
    else:
        with tempfile.TemporaryDirectory(prefix="octokit-openapi-") as temp:
            header = vendor(install_package(PACKAGE, args.version, Path(temp)), args.output)
    size = args.output.stat().st_size
    print(
        f"wrote {args.output} ({size // 1024} KiB) from {header['package']} {header['version']}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
