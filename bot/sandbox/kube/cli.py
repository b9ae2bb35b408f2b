"""`orchestrator-bot sandbox kube-api` (and `python -m bot.sandbox.kube`): run the local apiserver."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

from bot.sandbox.agent import NAMES, recorded
from bot.sandbox.kube.api import LocalKubeAPI
from bot.sandbox.kube.errors import ApiError
from bot.sandbox.kube.simulator import JobOutcome

DESCRIPTION = """\
Run a local Kubernetes API server (plain http, state in memory) that speaks the real REST protocol:
CRUD, watch, label selectors, status subresources, ownerReference cascades, server-side Tables, and
strict validation (built-in kinds against the Kubernetes 1.33 schemas, custom resources against their
CRD's openAPIV3Schema). A kubeconfig for kubectl and kubernetes_asyncio is written on start.
"""
EPILOG = """\
examples:
  %(prog)s --port 8001 --kubeconfig sandbox.kubeconfig --apply k8s/crds/coderuns.yaml
  kubectl --kubeconfig sandbox.kubeconfig get coderuns
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=int, default=8001, help="port to listen on; 0 picks a free one (default: %(default)s)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="where to write the kubeconfig (default: a temporary file, printed on start)",
    )
    parser.add_argument(
        "--simulate-jobs",
        action="store_true",
        help="run each Job: create its Pod, mark it Running, then complete it successfully",
    )
    parser.add_argument(
        "--job-seconds",
        type=float,
        default=0.2,
        metavar="SECONDS",
        help="how long a simulated Job runs (default: %(default)s)",
    )
    parser.add_argument(
        "--transcript",
        choices=NAMES,
        help="what each simulated Job's container prints (`pods/log`): a recorded claude CLI transcript",
    )
    parser.add_argument(
        "--transcript-speed",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="replay the transcript this many times faster than it was recorded (default: %(default)s)",
    )
    parser.add_argument(
        "--apply",
        nargs="+",
        action="extend",
        default=[],
        metavar="FILE",
        help="YAML/JSON manifests to load on start (CRDs, ConfigMaps...), validated like requests",
    )
    parser.add_argument(
        "--watch-history",
        type=int,
        default=1000,
        metavar="N",
        help="changes kept for watches to resume from; older resourceVersions get 410 Gone "
        "(default: %(default)s)",
    )


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "kube-api",
        help="run a local Kubernetes API server",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0


async def _serve(args: argparse.Namespace) -> int:
    transcript = recorded(args.transcript, args.transcript_speed) if args.transcript else ()
    outcome = JobOutcome(run_seconds=args.job_seconds, transcript=transcript)
    kube = LocalKubeAPI(
        port=args.port,
        host=args.host,
        simulate_jobs=args.simulate_jobs,
        job_outcome=lambda job: outcome,
        kubeconfig_path=args.kubeconfig,
        watch_history=args.watch_history,
    )
    async with kube:
        for path in args.apply:
            try:
                for obj in kube.apply_file(path):
                    print(f"applied {obj['kind']}/{obj['metadata']['name']} from {path}", flush=True)
            except (ApiError, OSError, ValueError) as exc:
                print(f"kube-api: cannot apply {path}: {exc}", file=sys.stderr)
                return 1
        print(
            f"local Kubernetes API listening on {kube.url} (kubeconfig: {kube.kubeconfig_path})", flush=True
        )
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stopping.set)
        await stopping.wait()
    return 0
