"""`python -m bot.sandbox.kube [--port P] [--kubeconfig FILE] ...`: the local Kubernetes API server."""

from __future__ import annotations

import argparse

from bot.sandbox.kube.cli import DESCRIPTION, EPILOG, add_arguments, run


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.sandbox.kube",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
