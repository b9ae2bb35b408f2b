"""How a command is declared, and how one command line is checked against its declaration.

Usage text, `/help`, "did you mean" and every error message are generated from these declarations,
never written by hand, so they cannot drift from what the parser accepts.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.core.commands.plan import Effect, Need, PlanContext, Reply
from bot.core.comments import CommandLine
from bot.core.markdown import code_span
from bot.core.policy import Permission
from bot.core.repositories import RepositoryRule


@dataclass(frozen=True)
class CommandContext:
    """What the parser needs to know about the installation (from task-controller-config) and the
    repository the command was given on (`bot.core.commands.command_context` builds it)."""

    allowed_models: tuple[str, ...]
    repositories: RepositoryRule
    """Where `--platform-repo` (and the configured default) may point."""
    default_platform_repository_url: str | None = None


@dataclass(frozen=True)
class Option:
    flag: str
    field: str
    metavar: str = ""
    requirement: str = ""
    """What a valid value looks like, for error messages ("a positive integer")."""
    switch: bool = False
    required: bool = False

    def usage(self) -> str:
        shown = self.flag if self.switch else f"{self.flag} {self.metavar}"
        return shown if self.required else f"[{shown}]"


@dataclass(frozen=True)
class Positional:
    field: str
    metavar: str
    requirement: str
    required: bool = True
    pattern: str | None = None
    """For commands with free text: the first word is this positional only if it matches."""

    def usage(self) -> str:
        return f"<{self.metavar}>" if self.required else f"[{self.metavar}]"


@dataclass(frozen=True)
class CommandSpec:
    name: str
    summary: str
    args_model: type[BaseModel]
    positionals: tuple[Positional, ...] = ()
    options: tuple[Option, ...] = ()
    free_text: Option | None = None
    """If set, everything after the positionals is taken as this field's text, unsplit."""
    examples: tuple[str, ...] = ()
    required_permission: Permission = "write"
    check: Callable[[Any, CommandContext], str | None] = field(default=lambda args, ctx: None)
    """Context-dependent rule (e.g. the model allow-list); returns an error message or None."""
    plan: Callable[[Any, PlanContext], Effect] = field(default=lambda args, ctx: Reply("nothing to do", ""))
    """What the command does (bot.core.commands.plan), from its arguments and what it `needs`."""
    needs: frozenset[Need] = frozenset()
    form: str = ""
    """For a variant: the first argument that selects it, shown in its usage (`--continue`)."""
    variant: CommandSpec | None = None
    """Another form of the same command, chosen when the line's first argument is the variant's
    `form` (`/code --continue [what to do]` beside `/code <task-id> --service S ...`)."""

    @property
    def usage(self) -> str:
        parts = [f"/{self.name}", *([self.form] if self.form else [])]
        parts += [*(p.usage() for p in self.positionals), *(o.usage() for o in self.options)]
        if self.free_text is not None:
            parts.append(f"[{self.free_text.metavar}]")
        return " ".join(parts)

    @property
    def forms(self) -> tuple[CommandSpec, ...]:
        """This form and its variant, if any."""
        return (self, *((self.variant,) if self.variant is not None else ()))

    @property
    def usages(self) -> tuple[str, ...]:
        """Every form's usage: this one and its variant's."""
        return tuple(form.usage for form in self.forms)


class UsageError(Exception):
    """Raised only inside this module while checking one line; always turned into a `Rejected`."""


@dataclass(frozen=True)
class Accepted:
    line: CommandLine
    index: int
    """Position among the comment's command lines; part of the run's deterministic name."""
    spec: CommandSpec
    args: Any


@dataclass(frozen=True)
class Rejected:
    line: CommandLine
    index: int
    problem: str
    usage: str | None
    """None when the command name itself was not understood."""

    def reply(self, user: str) -> str:
        text = f"@{user} I could not run this command:\n\n> {code_span(self.line.text)}\n\n{self.problem}"
        if self.usage:
            text += f"\n\nUsage: `{self.usage}`"
        return text


def check_line(
    spec: CommandSpec,
    line: CommandLine,
    index: int,
    context: CommandContext,
    only: frozenset[str] | None = None,
) -> Accepted | Rejected:
    """Check one command line against its declaration; never raises on user input.

    `only`: the fields taken from the line; the line is still read whole (an unknown option is still
    an error), but the values of the other fields are dropped unchecked and their defaults apply."""
    rest = line.text.split(None, 1)[1] if len(line.text.split(None, 1)) > 1 else ""
    if spec.variant is not None and rest.split(None, 1)[:1] == [spec.variant.form]:
        spec = spec.variant
        rest = rest.split(None, 1)[1] if len(rest.split(None, 1)) > 1 else ""
    try:
        values = _read_arguments(spec, rest)
        if only is not None:
            values = {name: value for name, value in values.items() if name in only}
        args = _validate(spec, values)
        problem = spec.check(args, context)
    except UsageError as exc:
        return Rejected(line, index, str(exc), spec.usage)
    if problem is not None:
        return Rejected(line, index, problem, spec.usage)
    return Accepted(line, index, spec, args)


def _read_arguments(spec: CommandSpec, rest: str) -> dict[str, Any]:
    if spec.free_text is not None:
        return _read_free_text(spec, spec.free_text, rest)
    try:
        tokens = shlex.split(rest)
    except ValueError as exc:
        raise UsageError(f"The line could not be split into arguments: {str(exc).lower()}.") from None
    values: dict[str, Any] = {}
    positionals = list(spec.positionals)
    by_flag = {option.flag: option for option in spec.options}
    position = 0
    while position < len(tokens):
        token = tokens[position]
        position += 1
        if token.startswith("--"):
            flag, has_inline, inline = token.partition("=")
            option = by_flag.get(flag)
            if option is None:
                variant = spec.variant
                if variant is not None and flag == variant.form:
                    raise UsageError(
                        f"{code_span(flag)} comes first, right after `/{spec.name}`: `{variant.usage}`."
                    )
                flags = [*by_flag, *([variant.form] if variant is not None else [])]
                raise UsageError(f"Unknown option {code_span(flag)}.{_did_you_mean(flag, flags)}")
            if option.field in values:
                raise UsageError(f"Option `{flag}` was given more than once.")
            if option.switch:
                if has_inline:
                    raise UsageError(f"Option `{flag}` takes no value.")
                values[option.field] = True
                continue
            if has_inline:
                value = inline
            elif position < len(tokens) and not tokens[position].startswith("--"):
                value = tokens[position]
                position += 1
            else:
                raise UsageError(f"Option `{flag}` needs a value: {option.metavar} ({option.requirement}).")
            if value == "":
                raise UsageError(f"Option `{flag}` needs a value: {option.metavar} ({option.requirement}).")
            values[option.field] = value
        elif positionals:
            values[positionals.pop(0).field] = token
        else:
            raise UsageError(f"Unexpected argument {code_span(token)}.")
    for positional in positionals:
        if positional.required:
            raise UsageError(f"Missing {positional.metavar} ({positional.requirement}).")
    for option in spec.options:
        if option.required and option.field not in values:
            raise UsageError(
                f"Missing required option `{option.flag} {option.metavar}` ({option.requirement})."
            )
    return values


def _read_free_text(spec: CommandSpec, free_text: Option, rest: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    remaining = rest.strip()
    for positional in spec.positionals:
        head, _, tail = remaining.partition(" ")
        if head and positional.pattern is not None and re.fullmatch(positional.pattern, head):
            values[positional.field] = head
            remaining = tail.strip()
    if remaining:
        values[free_text.field] = remaining
    return values


def _validate(spec: CommandSpec, values: dict[str, Any]) -> BaseModel:
    try:
        return spec.args_model.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field_name = str(error["loc"][0]) if error["loc"] else ""
        raise UsageError(_describe_invalid(spec, field_name, values.get(field_name))) from None


def _describe_invalid(spec: CommandSpec, field_name: str, value: Any) -> str:
    for positional in spec.positionals:
        if positional.field == field_name:
            return f"{code_span(str(value))} is not a valid {positional.metavar}: it must be {positional.requirement}."
    for option in (*spec.options, *((spec.free_text,) if spec.free_text else ())):
        if option.field == field_name:
            shown = code_span(f"{option.flag} {value}")
            return f"{shown} is not valid: {option.metavar} must be {option.requirement}."
    return f"Invalid value {code_span(str(value))}."


def _did_you_mean(flag: str, flags: list[str]) -> str:
    # Compared without the dashes, which every flag shares and which would make all of them "close".
    names = {candidate.lstrip("-"): candidate for candidate in flags}
    close = difflib.get_close_matches(flag.lstrip("-"), list(names), n=1, cutoff=0.6)
    return f" Did you mean `{names[close[0]]}`?" if close else ""
