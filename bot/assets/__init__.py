"""Files the commands read at run time, shipped inside the package and found with importlib.resources,
so an installed wheel works from any directory, with nothing of the repository present.

- `templates/{docs,code,shared}/**.j2`  the Job templates (`shared/` holds what both kinds include)
- `crds/<plural>.yaml`           the DocsRun and CodeRun CRDs (generated from bot/core/resources.py)
- `task-controller-config.yaml`  the default job settings ConfigMap

`k8s/` and `helm/orchestrator-bot/files/` hold generated copies (scripts/generate_crds.py,
scripts/generate_deploy.py); these files are the sources.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

TASK_CONFIG_FILE = "task-controller-config.yaml"


def root() -> Traversable:
    return resources.files(__name__)


def templates() -> Traversable:
    """The `docs/` + `code/` (+ `shared/`) template tree."""
    return root() / "templates"


def task_config() -> Traversable:
    """The default `task-controller-config` ConfigMap (a manifest; its `data.config.yaml` is the settings)."""
    return root() / TASK_CONFIG_FILE


def crd(plural: str) -> Traversable:
    """The CRD manifest of `docsruns` or `coderuns`."""
    return root() / "crds" / f"{plural}.yaml"
