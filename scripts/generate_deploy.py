"""Write the deployment files that are derived from a source elsewhere in the repository.

- helm/orchestrator-bot/files/crds/      copies of bot/assets/crds/ (Helm can only read files inside the chart)
- helm/orchestrator-bot/files/templates/ copies of bot/assets/templates/ (the templates ConfigMap)
- k8s/task-controller-config.yaml        a copy of bot/assets/task-controller-config.yaml (edit that one)
- helm/orchestrator-bot/values.schema.json  the definitions for taskConfig, from bot/core/taskconfig.py
- k8s/deploy/orchestrator-bot.yaml       the chart rendered with its default values, as plain manifests
- app-manifest.yml                       `orchestrator-bot app-manifest --url https://bot.example.com`

python scripts/generate_deploy.py          # rewrite the files
python scripts/generate_deploy.py --check  # exit 1 if any is out of date (tests/deploy runs this check)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import helm_python
import yaml

from bot.app_manifest import as_yaml, manifest
from bot.core.taskconfig import CONFIGMAP_NAME, TaskConfig

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "bot" / "assets"
CHART = ROOT / "helm" / "orchestrator-bot"
CHART_CRDS = CHART / "files" / "crds"
CHART_TEMPLATES = CHART / "files" / "templates"
SCHEMA = CHART / "values.schema.json"
PLAIN = ROOT / "k8s" / "deploy" / "orchestrator-bot.yaml"
PLAIN_TASK_CONFIG = ROOT / "k8s" / "task-controller-config.yaml"
APP_MANIFEST = ROOT / "app-manifest.yml"
RELEASE = "orchestrator-bot"
NAMESPACE = "orchestrator"
EXAMPLE_URL = "https://bot.example.com"
# Labels that say "Helm manages this"; wrong on objects applied with kubectl.
HELM_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by")
# Helm's install order (pkg/release/util/kind_sorter.go), for the kinds the chart has: a plain file
# applied top to bottom then creates what others refer to first.
INSTALL_ORDER = (
    "Namespace",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "Role",
    "RoleBinding",
    "Service",
    "Deployment",
    "StatefulSet",
    "Ingress",
)


def copies() -> dict[Path, str]:
    """Copies of the package's files, byte for byte: the chart's copies of bot/assets/crds/*.yaml and
    bot/assets/templates/**/*.j2, and k8s/task-controller-config.yaml."""
    files = {
        CHART_CRDS / source.name: source.read_text() for source in sorted((ASSETS / "crds").glob("*.yaml"))
    }
    templates = ASSETS / "templates"
    for source in sorted(templates.rglob("*.j2")):
        files[CHART_TEMPLATES / source.relative_to(templates)] = source.read_text()
    files[PLAIN_TASK_CONFIG] = (ASSETS / PLAIN_TASK_CONFIG.name).read_text()
    return files


def schema_text() -> str:
    """values.schema.json with `definitions` for TaskConfig and its parts regenerated; the rest is kept."""
    schema: dict[str, Any] = json.loads(SCHEMA.read_text())
    generated = TaskConfig.model_json_schema(by_alias=True, ref_template="#/definitions/{model}")
    parts: dict[str, Any] = generated.pop("$defs")
    parts["TaskConfig"] = generated
    definitions = {name: value for name, value in schema["definitions"].items() if not _generated(value)}
    for name, part in sorted(parts.items()):
        definitions[name] = {**_without_titles(part), "x-generated-from": "bot/core/taskconfig.py"}
    schema["definitions"] = definitions
    return json.dumps(schema, indent=2) + "\n"


def _generated(definition: dict[str, Any]) -> bool:
    return "x-generated-from" in definition


def _without_titles(value: Any) -> Any:
    # pydantic's titles ("Activedeadlineseconds") only add noise to Helm's error messages.
    if isinstance(value, dict):
        return {k: _without_titles(v) for k, v in value.items() if not (k == "title" and isinstance(v, str))}
    if isinstance(value, list):
        return [_without_titles(v) for v in value]
    return value


def render_chart(chart_dir: Path = CHART, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every object the chart renders, in template order."""
    with helm_python.Chart.load(str(chart_dir)) as chart:
        rendered = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    objects: list[dict[str, Any]] = []
    for path in sorted(rendered):
        if path.endswith(".txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(rendered[path]) if doc)
    return objects


STORE_SECRET = f"{RELEASE}-store"
"""The run store's password and URL: the chart generates it; with plain manifests the operator creates
it (README: Deploy), so no password is written into a file of the repository."""


def is_plain_manifest(obj: dict[str, Any]) -> bool:
    """k8s/crds/ and k8s/task-controller-config.yaml already hold the CRDs and the job settings; the
    store's Secret is the operator's."""
    if obj["kind"] == "CustomResourceDefinition":
        return False
    if obj["kind"] == "Secret" and obj["metadata"]["name"] == STORE_SECRET:
        return False
    return not (obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == CONFIGMAP_NAME)


def without_helm_labels(obj: dict[str, Any]) -> dict[str, Any]:
    for metadata in (obj["metadata"], ((obj.get("spec") or {}).get("template") or {}).get("metadata")):
        labels = (metadata or {}).get("labels") or {}
        for label in HELM_LABELS:
            labels.pop(label, None)
    return obj


def plain_objects(chart_dir: Path = CHART) -> list[dict[str, Any]]:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    objects = [namespace] + [without_helm_labels(o) for o in render_chart(chart_dir) if is_plain_manifest(o)]
    return sorted(objects, key=lambda o: INSTALL_ORDER.index(o["kind"]))


class _BlockStrings(yaml.SafeDumper):
    """Multi-line strings (the templates) as literal blocks, so the file reads like the sources."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStrings.add_representer(str, _represent_str)


def plain_text(chart_dir: Path = CHART) -> str:
    header = (
        "# Generated from helm/orchestrator-bot with its default values by scripts/generate_deploy.py.\n"
        "# Do not edit by hand. Apply after k8s/crds/ and with k8s/task-controller-config.yaml:\n"
        "#   kubectl apply -f k8s/crds/ -f k8s/deploy/ && kubectl apply -f k8s/task-controller-config.yaml\n"
        f"# The run store's PostgreSQL reads the Secret {STORE_SECRET} (keys password and url), which you\n"
        "# create first (README: Deploy).\n"
    )
    documents = [
        yaml.dump(o, Dumper=_BlockStrings, sort_keys=False, width=110) for o in plain_objects(chart_dir)
    ]
    return header + "---\n" + "---\n".join(documents)


def app_manifest_text() -> str:
    return (
        f"# Generated by `orchestrator-bot app-manifest --url {EXAMPLE_URL} --format yaml`\n"
        "# (scripts/generate_deploy.py). Register your own with your URL: see the README, section Deploy.\n"
        + as_yaml(manifest(EXAMPLE_URL))
    )


def expected(chart_dir: Path = CHART) -> dict[Path, str]:
    """Every generated file and its content. The plain manifests are rendered from `chart_dir`, which
    must already hold the up-to-date copies and schema."""
    return {
        SCHEMA: schema_text(),
        PLAIN: plain_text(chart_dir),
        APP_MANIFEST: app_manifest_text(),
    }


def stray_copies() -> list[Path]:
    """Files in the chart's copy folders without a source (a deleted template)."""
    wanted = set(copies())
    return [
        p
        for d in (CHART_CRDS, CHART_TEMPLATES)
        if d.is_dir()
        for p in d.rglob("*")
        if p.is_file() and p not in wanted
    ]


def stale() -> list[Path]:
    """Generated files that differ from what this script would write (checked against a scratch copy
    of the chart with fresh copies, so one stale input does not hide another)."""
    out = [path for path, text in copies().items() if not path.exists() or path.read_text() != text]
    out.extend(stray_copies())
    with tempfile.TemporaryDirectory() as scratch:
        chart = Path(scratch) / CHART.name
        _write_chart(chart)
        wanted = expected(chart)
    out.extend(path for path, text in wanted.items() if not path.exists() or path.read_text() != text)
    return out


def _write_chart(destination: Path) -> None:
    """A copy of the chart with the copies and the schema as this script would write them."""
    for source in CHART.rglob("*"):
        if source.is_file() and CHART_CRDS not in source.parents and CHART_TEMPLATES not in source.parents:
            target = destination / source.relative_to(CHART)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    for path, text in copies().items():
        if CHART not in path.parents:
            continue
        target = destination / path.relative_to(CHART)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (destination / SCHEMA.name).write_text(schema_text())


def write() -> None:
    for path in stray_copies():
        path.unlink()
        print(f"removed {path.relative_to(ROOT)}")
    for path, text in copies().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    SCHEMA.write_text(schema_text())  # before rendering: the chart checks values against it
    for path, text in expected().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print("wrote the copies of bot/assets/, values.schema.json, k8s/deploy/ and app-manifest.yml")


def _fix(path: Path) -> str:
    if path == PLAIN_TASK_CONFIG:
        # An edit made to the copy would be lost by regenerating it: say where edits belong.
        source = (ASSETS / PLAIN_TASK_CONFIG.name).relative_to(ROOT)
        return f"it is a copy of {source}: make edits there, then run python scripts/generate_deploy.py"
    return "run python scripts/generate_deploy.py"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only compare, do not write")
    args = parser.parse_args()
    if args.check:
        paths = stale()
        for path in paths:
            print(f"{path.relative_to(ROOT)} is out of date: {_fix(path)}", file=sys.stderr)
        return 1 if paths else 0
    write()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
