"""Edge: read the agent templates for the pure renderer (`bot.core.render`).

Two layouts are understood, so the same code serves the package and the Helm chart:
- a tree: `<dir>/docs/**.j2` and `<dir>/code/**.j2` (the package's `bot/assets/templates`, found with
  importlib.resources, or any directory given as `ORCHESTRATOR_TEMPLATES_DIR` / `--templates`);
- a mounted ConfigMap: flat files named by `template_key` (`code_hooks_stop-commit.sh.j2`), next to
  the kubelet's `..data` bookkeeping entries, which are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.resources.abc import Traversable

from bot import assets
from bot.core.render import TEMPLATE_SUFFIX, RenderError, template_key, template_path


def default_templates_dir() -> Traversable:
    """The templates shipped in the package (`bot/assets/templates`)."""
    return assets.templates()


def load_template_sources(directory: Traversable) -> dict[str, str]:
    """`{relative path: text}` of every `.j2` template under `directory`, keyed as the renderer
    expects (`code/container.sh.j2`). Raises `RenderError` if there are none or a path is unusable."""
    if not directory.is_dir():
        raise RenderError(f"templates directory {directory} does not exist")
    sources: dict[str, str] = {}
    for parts, file in sorted(_template_files(directory, ()), key=lambda found: found[0]):
        if len(parts) == 1:
            path = template_path(parts[0])
        else:
            path = "/".join(parts)
            template_key(path)  # validates the shape: <docs|code>/[hooks/]<name>.j2
        if path in sources:
            raise RenderError(f"template {path} is present twice in {directory}")
        sources[path] = file.read_text(encoding="utf-8")
    if not sources:
        raise RenderError(f"no docs/ or code/ templates (*{TEMPLATE_SUFFIX}) in {directory}")
    return sources


def _template_files(
    directory: Traversable, parents: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], Traversable]]:
    for entry in directory.iterdir():
        if entry.name.startswith(".."):
            continue  # the ConfigMap mount's ..data / ..<timestamp> copies
        parts = (*parents, entry.name)
        if entry.is_dir():
            yield from _template_files(entry, parts)
        elif entry.is_file() and entry.name.endswith(TEMPLATE_SUFFIX):
            yield parts, entry
