"""The `kube-api` subcommand as bot/cli.py mounts it under `orchestrator-bot sandbox`."""

from __future__ import annotations

import argparse

import pytest

from bot.sandbox.kube import cli


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="orchestrator-bot sandbox")
    cli.register(root.add_subparsers(dest="command", required=True))
    return root


def test_kube_api_options() -> None:
    args = parser().parse_args(
        [
            "kube-api",
            "--port",
            "0",
            "--kubeconfig",
            "k.yaml",
            "--simulate-jobs",
            "--apply",
            "a.yaml",
            "b.yaml",
        ]
    )
    assert (args.port, args.kubeconfig, args.simulate_jobs, args.apply) == (
        0,
        "k.yaml",
        True,
        ["a.yaml", "b.yaml"],
    )
    assert args.handler is cli.run


def test_kube_api_help_names_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["kube-api", "--help"])
    shown = capsys.readouterr().out
    for option in ("--port", "--host", "--kubeconfig", "--simulate-jobs", "--apply", "--job-seconds"):
        assert option in shown
