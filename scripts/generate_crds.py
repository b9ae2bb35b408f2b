"""Write the CRDs from the resource models (the single source of truth): bot/assets/crds/*.yaml (shipped
in the package; `doctor` compares a cluster's CRDs with them) and the same files in k8s/crds/ for
`kubectl apply`. The chart's copies are written by scripts/generate_deploy.py.

python scripts/generate_crds.py          # rewrite the files
python scripts/generate_crds.py --check  # exit 1 if they are out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from bot.core.crds import custom_resource_definition
from bot.core.resources import PLURALS

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_CRD_DIR = ROOT / "bot" / "assets" / "crds"
CRD_DIRS = (PACKAGE_CRD_DIR, ROOT / "k8s" / "crds")
HEADER = "# Generated from bot/core/resources.py by scripts/generate_crds.py. Do not edit by hand.\n"


def rendered() -> dict[Path, str]:
    return {
        directory / f"{plural}.yaml": HEADER
        + yaml.safe_dump(custom_resource_definition(kind), sort_keys=False)
        for directory in CRD_DIRS
        for kind, plural in PLURALS.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only compare, do not write")
    args = parser.parse_args()
    stale = [path for path, text in rendered().items() if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path} is out of date: run python scripts/generate_crds.py", file=sys.stderr)
        return 1 if stale else 0
    for path, text in rendered().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
