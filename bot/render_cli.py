"""`orchestrator-bot render RUN.yaml`: show what a run would get (its ConfigMap files, Job and
workspace claim) without a cluster, rendered by the same code the controller uses."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from bot import assets
from bot.core.jobs import configmap_manifest, job_manifest, pvc_manifest
from bot.core.render import RenderError, build_context, parse_run, render_files
from bot.core.taskconfig import CONFIGMAP_KEY, TaskConfig, TaskConfigError, parse_task_config
from bot.templates import default_templates_dir, load_template_sources

PLACEHOLDER_UID = "00000000-0000-0000-0000-000000000000"
DESCRIPTION = """\
Render the files and Kubernetes objects a DocsRun or CodeRun would get, for inspection: the
ConfigMap `<run>-files` (container.sh, CLAUDE.md, settings.json, prompt.md, ...), the Job `<run>`
and, for a CodeRun, the PersistentVolumeClaim `workspace-<service>`. Nothing is sent to a cluster.

Without --out, the objects are printed as one YAML stream (ConfigMap, claim, Job), ready for
`kubectl apply --dry-run=server -f -`. With --out, each rendered file is written to DIR/files/ and each
object to DIR/<kind>.yaml.
"""
EPILOG = """\
examples:
  orchestrator-bot render k8s/examples/coderun.yaml
  orchestrator-bot render k8s/examples/docsrun.yaml --out /tmp/docsrun
  kubectl get coderun code-5-trader-8d1c0f4a2b -o yaml | orchestrator-bot render - --config config.yaml
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `render` command to the `orchestrator-bot` command line."""
    parser = subparsers.add_parser(
        "render",
        help="show the ConfigMap files and Job a run would get",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", metavar="RUN.yaml", help="a DocsRun or CodeRun manifest ('-' reads stdin)")
    parser.add_argument(
        "--config",
        metavar="CONFIG.yaml",
        type=Path,
        help="the task-controller-config: its config.yaml, or the ConfigMap holding it "
        "(default: the one shipped with orchestrator-bot, as in k8s/task-controller-config.yaml)",
    )
    parser.add_argument(
        "--templates",
        metavar="DIR",
        type=Path,
        help="templates directory: a docs/ + code/ tree or a mounted templates ConfigMap "
        "(default: the templates shipped with orchestrator-bot)",
    )
    parser.add_argument(
        "--out", metavar="DIR", type=Path, help="write files and manifests into DIR instead of printing"
    )
    parser.set_defaults(handler=cmd_render)


def _load_yaml(path: str) -> Any:
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise RenderError(f"{path} must hold exactly one YAML object, found {len(documents)}")
    return documents[0]


def _load_config(path: Path | None) -> TaskConfig:
    if path is None:
        source: Traversable = assets.task_config()
        print(f"note: no --config given, using the default {assets.TASK_CONFIG_FILE}", file=sys.stderr)
    else:
        source = path
    text = source.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if isinstance(data, dict) and data.get("kind") == "ConfigMap":
        embedded = (data.get("data") or {}).get(CONFIGMAP_KEY)
        if not isinstance(embedded, str):
            raise TaskConfigError(f"the ConfigMap in {source} has no data.{CONFIGMAP_KEY}")
        text = embedded
    return parse_task_config(text)


def _render(args: argparse.Namespace) -> list[dict[str, Any]]:
    run = _load_yaml(args.run)
    metadata = run.setdefault("metadata", {})
    if not metadata.get("uid"):
        # Owner references need the uid the apiserver assigns; a file from a repository has none.
        print(f"note: the run has no metadata.uid, using {PLACEHOLDER_UID}", file=sys.stderr)
        metadata["uid"] = PLACEHOLDER_UID
    config = _load_config(args.config)
    sources = load_template_sources(args.templates or default_templates_dir())
    context = build_context(run, config)
    files = render_files(parse_run(run).task_type, sources, context)
    objects = [configmap_manifest(run, files)]
    if run["kind"] == "CodeRun":
        objects.append(pvc_manifest(run, config))
    objects.append(job_manifest(run, config))
    if args.out is not None:
        _write(args.out, files, objects)
    return objects


def _write(out: Path, files: dict[str, str], objects: list[dict[str, Any]]) -> None:
    (out / "files").mkdir(parents=True, exist_ok=True)
    for key, text in files.items():
        (out / "files" / key).write_text(text, encoding="utf-8")
    for obj in objects:
        (out / f"{obj['kind'].lower()}.yaml").write_text(_dump(obj), encoding="utf-8")


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the rendered files) as readable `|` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _dump(obj: dict[str, Any]) -> str:
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


def cmd_render(args: argparse.Namespace) -> int:
    try:
        objects = _render(args)
    except (RenderError, TaskConfigError) as exc:
        print(f"orchestrator-bot render: {exc}", file=sys.stderr)
        return 1
    except yaml.YAMLError as exc:
        print(f"orchestrator-bot render: not valid YAML: {exc}".replace("\n", " "), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"orchestrator-bot render: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 1
    if args.out is None:
        sys.stdout.write("---\n".join(_dump(obj) for obj in objects))
    else:
        names = ", ".join(f"{obj['kind']} {obj['metadata']['name']}" for obj in objects)
        print(f"wrote {names} to {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="orchestrator-bot")
    register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    args = parser.parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
