"""Webhook event handlers, registered in one visible place (`build_router`)."""

from __future__ import annotations

import logging

from bot.core.events import Event, InstallationEvent, PingEvent
from bot.intake import Intake
from bot.webhook import EventRouter, Outcome

log = logging.getLogger(__name__)


async def on_ping(event: Event[PingEvent]) -> Outcome:
    hook_id = event.data.hook_id
    log.info("ping from GitHub", extra={"hook_id": hook_id, "zen": event.data.zen})
    return Outcome(f"pong (hook {hook_id})")


async def on_installation(event: Event[InstallationEvent]) -> Outcome:
    installation = event.data.installation
    account = installation.account.login if installation.account is not None else None
    log.info(
        "installation %s",
        event.data.action,
        extra={"installation_id": installation.id, "account": account, "event": event.event},
    )
    return Outcome(f"{event.event} {event.data.action} logged")


def build_router(intake: Intake | None) -> EventRouter:
    """Every handler the webhook service runs, registered here and nowhere else."""
    router = EventRouter()
    router.add(on_ping, "ping")
    router.add(on_installation, "installation")
    router.add(on_installation, "installation_repositories")
    if intake is not None:
        router.add(intake.on_issue_comment, "issue_comment", action="created")
        router.add(intake.on_labeled, "issues", action="labeled")
        router.add(intake.on_labeled, "pull_request", action="labeled")
        router.add(intake.on_pull_request_review, "pull_request_review", action="submitted")
        router.add(intake.on_pull_request_review_comment, "pull_request_review_comment", action="created")
        router.add(intake.on_check_run, "check_run", action="requested_action")
        router.add(intake.on_check_run, "check_run", action="rerequested")
    return router
