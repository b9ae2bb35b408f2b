"""Structured JSON logs: one object per line, with the GitHub delivery id on every line logged while a
delivery is handled, and every line passed through the one redaction function (`bot.core.redact`:
credential patterns and the process's own secret values) as a last line of defence."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.core.redact import REDACTED, Secrets, redact

delivery_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("delivery_id", default=None)

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as a field.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
__all__ = ["REDACTED", "JsonFormatter", "configure_logging", "delivery_id"]


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; credentials and `secrets` are replaced wherever they appear
    (also JSON-escaped, as they are in the dumped text)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = Secrets.of(secrets)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        current_delivery = delivery_id.get()
        if current_delivery is not None:
            entry["delivery"] = current_delivery
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str), self._secrets)


def configure_logging(
    level: str = "INFO", *, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> None:
    """Send every log record to `stream` (default stderr) as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log repeats what our own request log says, without the delivery id.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
