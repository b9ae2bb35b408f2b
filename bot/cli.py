"""The `orchestrator-bot` command line: one console script, several roles."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from aiohttp import web

from bot import __version__
from bot.config import Settings, load_settings
from bot.errors import ConfigError
from bot.logs import configure_logging
from bot.serve import create_serve_app

Command = Callable[[argparse.Namespace], int]


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"orchestrator-bot: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _secrets_of(settings: Settings) -> list[str]:
    return [settings.github.webhook_secret.get_secret_value(), settings.private_key_pem()]


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    configure_logging(settings.orchestrator.log_level, secrets=_secrets_of(settings))
    try:
        web.run_app(create_serve_app(settings), host=args.host, port=args.port, print=None, access_log=None)
    except ConfigError as exc:
        print(f"orchestrator-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    print(
        f"configuration OK: GitHub App {settings.github.app_id} at {settings.github.api_base}, "
        f"runs in namespace {settings.orchestrator.namespace}, webhook at {settings.orchestrator.webhook_path}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orchestrator-bot",
        description="Start AI coding agents on Kubernetes from GitHub comments and labels.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the webhook service",
        description="Receive GitHub webhooks, verify them and turn commands into runs. "
        "Configured from the environment (see README: Configuration).",
    )
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default: %(default)s)")
    serve.set_defaults(handler=cmd_serve)

    check = commands.add_parser(
        "check-config",
        help="validate the configuration from the environment and exit",
        description="Load and validate the settings exactly as `serve` would, then exit.",
    )
    check.set_defaults(handler=cmd_check_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Command = args.handler
    return handler(args)
