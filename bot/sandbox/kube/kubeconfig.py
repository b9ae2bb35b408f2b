"""The kubeconfig that points kubectl and kubernetes_asyncio at the local server (plain http, no auth)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CONTEXT = "orchestrator-sandbox"


def kubeconfig(server_url: str, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": CONTEXT, "cluster": {"server": server_url}}],
        # kubectl sends no credentials to an http:// server anyway; an empty user keeps both clients happy.
        "users": [{"name": CONTEXT, "user": {}}],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}
        ],
        "current-context": CONTEXT,
    }


def write_kubeconfig(path: Path, server_url: str, namespace: str = "default") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(kubeconfig(server_url, namespace), sort_keys=False))
    return path
