"""A local GitHub API that answers the endpoints the bot uses, strictly, as GitHub's OpenAPI description
says, over real HTTP; plus signed webhook deliveries to the bot. See `LocalGitHubAPI`."""

from bot.sandbox.github.api import LocalGitHubAPI
from bot.sandbox.github.context import Call
from bot.sandbox.github.faults import Fault, FaultPlan
from bot.sandbox.github.identity import RepoRef
from bot.sandbox.github.server import SERVED_OPERATIONS
from bot.sandbox.github.state import DeliveryRecord

__all__ = ["SERVED_OPERATIONS", "Call", "DeliveryRecord", "Fault", "FaultPlan", "LocalGitHubAPI", "RepoRef"]
