"""The `orchestrator-bot` command line: one console script, several roles."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from aiohttp import web

from bot import __version__
from bot.config import Settings, load_settings
from bot.controller import ControllerOptions, default_identity
from bot.doctor import register as register_doctor
from bot.errors import ConfigError
from bot.logs import configure_logging
from bot.render_cli import register as register_render
from bot.roles import ControllerCannotStart, create_serve_app, run_controller_role
from bot.templates import default_templates_dir

Command = Callable[[argparse.Namespace], int]
ROLES = frozenset({"serve", "controller", "check-config"})
"""The long-running roles: their parser leaves out the tools (local APIs, demo), whose modules would
otherwise be imported into every `serve` and `controller` process for nothing."""


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
    _freeze_start_up_objects()
    try:
        web.run_app(create_serve_app(settings), host=args.host, port=args.port, print=None, access_log=None)
    except ConfigError as exc:
        print(f"orchestrator-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


def _freeze_start_up_objects() -> None:
    """Hide what start-up made (~100k objects of kubernetes_asyncio, pydantic, aiohttp...) from the
    cyclic garbage collector: they live as long as the process, and every full collection used to
    walk them all (~50 ms, in `serve` a stall of every delivery in flight; benchmarks/README.md)."""
    gc.collect()
    gc.freeze()


def _at_least_two_seconds(value: str) -> int:
    seconds = int(value)
    if seconds < 2:
        raise argparse.ArgumentTypeError("the Lease needs at least 2 seconds (renewals happen within it)")
    return seconds


def cmd_controller(args: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    configure_logging(settings.orchestrator.log_level, secrets=_secrets_of(settings))
    options = ControllerOptions(
        namespace=settings.orchestrator.namespace,
        templates_dir=settings.orchestrator.templates_dir or default_templates_dir(),
        workers=args.workers,
        lease_duration=args.lease_duration,
        renew_deadline=args.lease_duration * 2 / 3,
        retry_period=max(1.0, args.lease_duration / 5),
        identity=args.identity or default_identity(),
        health_port=args.health_port or None,
    )
    _freeze_start_up_objects()
    try:
        asyncio.run(_until_terminated(run_controller_role(settings, options)))
    except (ConfigError, ControllerCannotStart) as exc:
        print(f"orchestrator-bot controller: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


async def _until_terminated(work: Coroutine[Any, Any, None]) -> None:
    """Run `work`; SIGTERM (what Kubernetes sends) cancels it, so it can clean up (release the Lease)."""
    task = asyncio.ensure_future(work)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    print(
        f"configuration OK: GitHub App {settings.github.app_id} at {settings.github.api_base}, "
        f"runs in namespace {settings.orchestrator.namespace}, webhook at {settings.orchestrator.webhook_path}"
    )
    return 0


def build_parser(*, tools: bool = True) -> argparse.ArgumentParser:
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

    controller = commands.add_parser(
        "controller",
        help="run the controller (runs -> ConfigMaps and Jobs -> status -> GitHub feedback)",
        description="Reconcile DocsRuns and CodeRuns into ConfigMaps and Jobs, Job state into run status, "
        "and run status into GitHub feedback. Several replicas may run; the holder of the Lease "
        "'orchestrator-controller' acts. Reads task-controller-config/config.yaml and refuses to start "
        "without it.",
    )
    controller.add_argument(
        "--lease-duration",
        type=_at_least_two_seconds,
        default=15,
        metavar="SECONDS",
        help="how long the Lease holds without renewal; a standby takes over after it (default: %(default)s)",
    )
    controller.add_argument(
        "--identity", help="this replica's name in the Lease (default: host, pid and a random part)"
    )
    controller.add_argument(
        "--workers", type=int, default=4, help="runs reconciled at once (default: %(default)s)"
    )
    controller.add_argument(
        "--health-port",
        type=int,
        default=8081,
        help="port of /healthz and /metrics (default: %(default)s; 0 turns them off)",
    )
    controller.set_defaults(handler=cmd_controller)

    if tools:
        _register_tools(commands)
    register_render(commands)
    register_doctor(commands)

    check = commands.add_parser(
        "check-config",
        help="validate the configuration from the environment and exit",
        description="Load and validate the settings exactly as `serve` would, then exit.",
    )
    check.set_defaults(handler=cmd_check_config)
    return parser


SANDBOX_EXTRA = "sandbox"
SANDBOX_MODULES = frozenset({"jsonschema", "referencing", "kubernetes_validate"})
"""What only the local APIs import: installed with `pip install 'orchestrator-bot[sandbox]'`."""
SANDBOX_COMMANDS = {
    "sandbox": "local Kubernetes and GitHub APIs for trying the bot without a cluster or an account",
    "demo": "the whole flow on this machine, with local Kubernetes and GitHub APIs",
    "send-comment": "post a comment to the local GitHub API, which delivers it to the bot",
}


def _register_tools(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # Imported here, not at the top: they bring the local Kubernetes and GitHub APIs (~5k objects,
    # ~3 MiB and 0.3 s of start-up) that no role uses, and need the `sandbox` extra.
    from bot.app_manifest import register as register_app_manifest

    try:
        from bot.demo import register as register_demo
        from bot.sandbox.github.cli import register as register_github_api
        from bot.sandbox.kube.cli import register as register_kube_api
        from bot.sandbox.send_comment import register as register_send_comment
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in SANDBOX_MODULES:
            raise
        for name, summary in SANDBOX_COMMANDS.items():
            _register_without_extra(commands, name, summary)
    else:
        sandbox = commands.add_parser(
            "sandbox",
            help=SANDBOX_COMMANDS["sandbox"],
            description="Strict local stand-ins for the Kubernetes API and the GitHub API, over real HTTP.",
        )
        sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", metavar="SERVER", required=True)
        register_kube_api(sandbox_commands)
        register_github_api(sandbox_commands)
        register_demo(commands)
        register_send_comment(commands)
    register_app_manifest(commands)


def _register_without_extra(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str
) -> None:
    """A production install (no extras) still lists the command, and says in one line what it needs."""
    # No option prefix: every argument, `--help` included, is taken as it comes and answered the same way.
    parser = commands.add_parser(
        name, help=f"{summary} (needs the {SANDBOX_EXTRA} extra)", add_help=False, prefix_chars="\x00"
    )
    parser.add_argument("ignored", nargs=argparse.REMAINDER)
    parser.set_defaults(handler=lambda _args: _needs_extra(name))


def _needs_extra(name: str) -> int:
    print(
        f"orchestrator-bot {name}: needs the local Kubernetes and GitHub APIs, which this install leaves "
        f"out: pip install 'orchestrator-bot[{SANDBOX_EXTRA}]'",
        file=sys.stderr,
    )
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(tools=not (argv and argv[0] in ROLES)).parse_args(argv)
    handler: Command = args.handler
    return handler(args)
