"""The vendored OpenAPI subset: where it came from, that it covers exactly what the server serves, and
that the server's limits are the description's (change the file, the server changes)."""

from __future__ import annotations

import argparse
import asyncio
import copy
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import aiohttp
from gidgethub.aiohttp import GitHubAPI

from bot.sandbox.github import SERVED_OPERATIONS
from bot.sandbox.github.cli import register
from bot.sandbox.github.description import Description

ROOT = Path(__file__).resolve().parent.parent.parent
ACTIONS_SCHEMA = (
    "paths",
    "/repos/{owner}/{repo}/check-runs",
    "post",
    "requestBody",
    "content",
    "application/json",
    "schema",
    "properties",
    "actions",
)


def load_script(name: str) -> ModuleType:
    """Import a script as `python scripts/NAME.py` runs it: with scripts/ on the import path."""
    scripts = str(ROOT / "scripts")
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, scripts)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(scripts)
    return module


def test_vendored_subset_names_its_source_and_licence() -> None:
    header = Description.load().vendored
    assert header["package"] == "@octokit/openapi"
    assert header["version"].split(".")[0] == "23"
    assert header["license"] == "MIT"
    assert "Permission is hereby granted" in header["license_text"]


def test_vendored_subset_has_exactly_the_served_operations() -> None:
    described = set(Description.load().operations)
    assert described >= SERVED_OPERATIONS
    assert described == SERVED_OPERATIONS


def test_vendor_script_asks_for_the_served_operations() -> None:
    script = load_script("vendor_github_openapi")
    assert set(script.OPERATIONS) == SERVED_OPERATIONS
    assert list(script.OPERATIONS) == Description.load().vendored["operations"]


def test_check_run_limits_come_from_the_description() -> None:
    document = json.loads(json.dumps(Description.load().document))
    node = document
    for key in ACTIONS_SCHEMA:
        node = node[key]
    assert (node["maxItems"], node["items"]["properties"]["label"]["maxLength"]) == (3, 20)

    edited = copy.deepcopy(document)
    target = edited
    for key in ACTIONS_SCHEMA:
        target = target[key]
    target["maxItems"] = 1
    description = Description(edited)
    operation = description.operations["checks/create"]
    two_actions = [{"label": "a", "description": "b", "identifier": f"c{n}"} for n in range(2)]
    body = {"name": "n", "head_sha": "s", "actions": two_actions}
    assert Description.load().body_problems(operation, body) == []
    assert description.body_problems(operation, body) == [
        "For 'actions', 2 items is more than the maximum of 1."
    ]


def test_nullable_fields_accept_null() -> None:
    description = Description.load()
    operation = description.operations["apps/list-webhook-deliveries"]
    item = {
        "id": 1,
        "guid": "g",
        "delivered_at": "2025-01-01T00:00:00Z",
        "redelivery": False,
        "duration": 0.1,
        "status": "OK",
        "status_code": 200,
        "event": "ping",
        "action": None,
        "installation_id": None,
        "repository_id": None,
    }
    assert description.response_problems(operation, 200, [item]) == []
    assert description.response_problems(operation, 200, [{**item, "status_code": None}]) != []


def test_cli_registers_github_api_with_its_options() -> None:
    parser = argparse.ArgumentParser(prog="orchestrator-bot sandbox")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["github-api", "--port", "0", "--app-id", "7", "--demo"])
    assert (args.command, args.port, args.app_id, args.demo, args.host) == (
        "github-api",
        0,
        7,
        True,
        "127.0.0.1",
    )
    assert callable(args.handler)


async def test_python_dash_m_serves_the_demo_scene() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.sandbox.github",
        "--port",
        "0",
        "--demo",
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        url = first.split(" on ")[1].split()[0]
        lines = [(await asyncio.wait_for(process.stdout.readline(), 5)).decode() for _ in range(2)]
        assert "GITHUB_PRIVATE_KEY_PATH=" in lines[0] and "demo-org/trader" in lines[1]
        async with aiohttp.ClientSession() as session:
            repo = await GitHubAPI(session, "test", base_url=url).getitem("/repos/demo-org/trader")
        assert repo["default_branch"] == "main"
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0
