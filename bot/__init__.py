"""orchestrator-bot: start AI coding agents on Kubernetes from GitHub comments and labels."""

from bot.kubernetes_lazy import import_lazily

__version__ = "0.1.0"

# Before any module of the package imports kubernetes_asyncio: each process then loads only the parts
# of its generated client that it uses (~40 MiB less in `serve`; bot/kubernetes_lazy.py).
import_lazily()
