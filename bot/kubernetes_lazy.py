"""kubernetes_asyncio, loaded a module at a time as it is used.

The package's `__init__` files import everything it has: every API group (`CoreV1Api` alone is a
40,000-line module) and about 800 models, plus `dynamic`, `stream`, `watch` and `utils`. That is
~40 MiB of a `serve` process that uses one ApiClient, four APIs and a handful of models (measured,
benchmarks/README.md). `import_lazily()` registers those four packages (`kubernetes_asyncio`, its
`client`, `client.api` and `client.models`) as modules whose names resolve on first use, from the very
`from ... import ...` lines of their `__init__` files: `client.CoreV1Api` imports
`client/api/core_v1_api.py` then, and the ApiClient's `getattr(client.models, "V1ConfigMap")` imports
that one model. Code keeps importing kubernetes_asyncio exactly as before.

It must run before anything imports kubernetes_asyncio (`bot/__init__.py` calls it); once the package
is imported it changes nothing, and if the package's layout is not the one expected it leaves the
package to load as usual.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import types
from pathlib import Path
from typing import Any

PACKAGE = "kubernetes_asyncio"
LAZY_PACKAGES = (PACKAGE, f"{PACKAGE}.client", f"{PACKAGE}.client.api", f"{PACKAGE}.client.models")
_FROM_IMPORT = re.compile(r"^from (kubernetes_asyncio\.[\w.]+) import (\w+)$", re.MULTILINE)
_VERSION = re.compile(r'^__version__ = "([^"]+)"$', re.MULTILINE)


def import_lazily() -> bool:
    """Register the lazy packages; False (and nothing done) when kubernetes_asyncio is already
    imported, not installed, or not laid out as expected."""
    if PACKAGE in sys.modules:
        return False
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        return False
    root = Path(spec.origin).parent
    modules = []
    for name in LAZY_PACKAGES:
        init = root.joinpath(*name.split(".")[1:], "__init__.py")
        try:
            source = init.read_text()
        except OSError:
            return False
        names = {attribute: module for module, attribute in _FROM_IMPORT.findall(source)}
        if not names and name != PACKAGE:
            return False
        modules.append(_lazy_package(name, init, names, _VERSION.search(source)))
    for module in modules:
        sys.modules[module.__name__] = module
    return True


def _lazy_package(
    name: str, init: Path, names: dict[str, str], version: re.Match[str] | None
) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = str(init)
    module.__path__ = [str(init.parent)]
    module.__package__ = name
    module.__all__ = sorted(names)  # type: ignore[attr-defined]
    if version is not None:
        module.__version__ = version.group(1)  # type: ignore[attr-defined]

    def __getattr__(attribute: str) -> Any:
        source = names.get(attribute)
        if source is not None:
            value = getattr(importlib.import_module(source), attribute)
        elif attribute.startswith("__"):
            raise AttributeError(attribute)
        else:
            try:
                value = importlib.import_module(f"{name}.{attribute}")  # a subpackage: config, watch...
            except ModuleNotFoundError as exc:
                if exc.name != f"{name}.{attribute}":
                    raise
                raise AttributeError(f"module {name!r} has no attribute {attribute!r}") from None
        setattr(module, attribute, value)
        return value

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module
