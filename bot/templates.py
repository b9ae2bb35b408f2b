"""Edge: read the agent templates from disk for the pure renderer (`bot.core.render`).

Two layouts are understood, so the same code serves a checkout and the Helm chart:
- the repository tree: `<dir>/docs/**.j2` and `<dir>/code/**.j2`;
- a mounted ConfigMap: flat files named by `template_key` (`code_hooks_stop-commit.sh.j2`), next to
  the kubelet's `..data` bookkeeping entries, which are skipped.
"""

from __future__ import annotations

from pathlib import Path

from bot.core.render import TEMPLATE_SUFFIX, RenderError, template_key, template_path


def default_templates_dir() -> Path:
    """The repository's `templates/`, next to the `bot` package."""
    return Path(__file__).resolve().parent.parent / "templates"


def load_template_sources(directory: Path) -> dict[str, str]:
    """`{relative path: text}` of every `.j2` template under `directory`, keyed as the renderer
    expects (`code/container.sh.j2`). Raises `RenderError` if there are none or a path is unusable."""
    if not directory.is_dir():
        raise RenderError(f"templates directory {directory} does not exist")
    sources: dict[str, str] = {}
    for file in sorted(directory.rglob(f"*{TEMPLATE_SUFFIX}")):
        relative = file.relative_to(directory)
        if any(part.startswith("..") for part in relative.parts) or not file.is_file():
            continue  # the ConfigMap mount's ..data / ..<timestamp> copies
        if len(relative.parts) == 1:
            path = template_path(relative.name)
        else:
            path = relative.as_posix()
            template_key(path)  # validates the shape: <docs|code>/[hooks/]<name>.j2
        if path in sources:
            raise RenderError(f"template {path} is present twice in {directory}")
        sources[path] = file.read_text(encoding="utf-8")
    if not sources:
        raise RenderError(f"no docs/ or code/ templates (*{TEMPLATE_SUFFIX}) in {directory}")
    return sources
