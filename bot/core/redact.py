"""The one redaction function: text that leaves the cluster never carries a credential.

Everything the bot shows or writes outside the agent's Pod goes through `redact` first: the run's
`status.progress`, the tracking comment, the check run, and the bot's own log lines. It removes

- GitHub tokens (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`),
- Anthropic keys (`sk-ant-...`),
- AWS access key ids (`AKIA...`, `ASIA...`) and `aws_secret_access_key = ...` assignments,
- PEM private-key blocks, whole or cut off at either end, with real or JSON-escaped line breaks,
- credentials in `Authorization` headers and `Bearer` tokens,
- the literal values the caller knows to be secret (`Secrets.of([...])`), also JSON-escaped and line
  by line, so a key split across lines of one text is caught.

Pure; the patterns are compiled once. Redacting twice changes nothing more (the marker matches none
of the patterns).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 8
"""Shorter values would mask innocent text; real secrets are longer."""
MIN_SECRET_LINE_LENGTH = 16
"""Lines of a multi-line secret (a key's body) are redacted one by one from this length on."""

_PEM_BEGIN = r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
_PEM_END = r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"

_PEM_BEGIN_PATTERN = re.compile(_PEM_BEGIN)
_PEM_END_PATTERN = re.compile(_PEM_END)
_AUTHORIZATION_SEPARATOR = r"(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?\s*"


def _keep_separator(match: re.Match[str]) -> str:
    """`: Bearer abc` -> `: [redacted]`: the name before it stays readable."""
    separator = re.match(_AUTHORIZATION_SEPARATOR, match.group(0))
    return (separator.group(0) if separator else "") + REDACTED


_Replacement = str | Callable[[re.Match[str]], str]
_PATTERNS: tuple[tuple[re.Pattern[str], _Replacement], ...] = (
    # A whole block; then one cut off at its end (a truncated text), then one cut off at its start.
    # A key's body is base64: the cut-off ones stop at a quote, so a JSON string ends where it did.
    (re.compile(rf"{_PEM_BEGIN}.*?{_PEM_END}", re.DOTALL), REDACTED),
    (re.compile(rf"{_PEM_BEGIN}[^\"]*"), REDACTED),
    (re.compile(rf"(?:\A|(?<=\"))[^\"]*?{_PEM_END}"), REDACTED),
    # No word boundaries: a token glued to other text is still a token (a false alarm costs little).
    (re.compile(r"github_pat_[A-Za-z0-9_]{20,255}"), REDACTED),
    (re.compile(r"gh[pousr]_[A-Za-z0-9]{20,255}"), REDACTED),
    (re.compile(r"sk-ant-[A-Za-z0-9_-]{8,}"), REDACTED),
    (re.compile(r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}"), REDACTED),
    (
        re.compile(rf"(?i)(?<=aws_secret_access_key){_AUTHORIZATION_SEPARATOR}[A-Za-z0-9/+=]{{30,}}"),
        _keep_separator,
    ),
    # Authorization: Bearer x / token x / Basic x / a bare credential; also `"authorization": "..."`
    (
        re.compile(
            rf"(?i)(?<=authorization){_AUTHORIZATION_SEPARATOR}"
            r"(?:(?:bearer|token|basic|digest)\s+)?[^\s\"'\\,;]{6,}"
        ),
        _keep_separator,
    ),
    (re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/-]{16,}=*"), REDACTED),
)


@dataclass(frozen=True)
class Secrets:
    """Literal secret values, compiled once into one pattern (longest first)."""

    pattern: re.Pattern[str] | None = None

    @classmethod
    def of(cls, values: Iterable[str | None]) -> Secrets:
        variants: set[str] = set()
        for value in values:
            if not value:
                continue
            value = value.strip()
            for form in (value, json.dumps(value)[1:-1]):
                if len(form) >= MIN_SECRET_LENGTH:
                    variants.add(form)
            if "\n" in value:
                variants.update(
                    line.strip() for line in value.splitlines() if len(line.strip()) >= MIN_SECRET_LINE_LENGTH
                )
        if not variants:
            return cls()
        ordered = sorted(variants, key=len, reverse=True)
        return cls(re.compile("|".join(re.escape(v) for v in ordered)))


NO_SECRETS = Secrets()


def redact(text: str, secrets: Secrets = NO_SECRETS) -> str:
    """`text` with every credential it holds replaced by `[redacted]`."""
    if secrets.pattern is not None:
        text = secrets.pattern.sub(REDACTED, text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any, secrets: Secrets = NO_SECRETS) -> Any:
    """`redact` applied to every string inside a JSON-like value (dicts, lists), keys included."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact_value(k, secrets): redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(item, secrets) for item in value]
    return value


def redact_stream_line(line: str, in_key: bool, secrets: Secrets = NO_SECRETS) -> tuple[str, bool]:
    """One line of a log, where a private key may be printed over several lines (a script that cats
    a key file): `in_key` says whether the lines before left a key block open. Returns the redacted
    line and whether a key block is open after it. A JSON line (the agent's own) ends an open block:
    the CLI never splits one of its lines."""
    if in_key and not line.lstrip().startswith("{"):
        end = _PEM_END_PATTERN.search(line)
        if end is None:
            return REDACTED, True
        return REDACTED + redact(line[end.end() :], secrets), False
    begins = list(_PEM_BEGIN_PATTERN.finditer(line))
    opens = bool(begins) and _PEM_END_PATTERN.search(line, begins[-1].end()) is None
    return redact(line, secrets), opens and not line.lstrip().startswith("{")
