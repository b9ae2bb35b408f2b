"""A local Kubernetes API server for the demo and the tests, driven through kubernetes_asyncio and kubectl.

from bot.sandbox.kube import LocalKubeAPI, JobOutcome
"""

from bot.sandbox.kube.api import LocalKubeAPI
from bot.sandbox.kube.errors import ApiError
from bot.sandbox.kube.faults import Faults, RecordedRequest
from bot.sandbox.kube.simulator import JobOutcome

__all__ = ["ApiError", "Faults", "JobOutcome", "LocalKubeAPI", "RecordedRequest"]
