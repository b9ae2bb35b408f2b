"""kubernetes_asyncio loaded a module at a time: the same names work, only what is used is loaded.
Each check runs in a fresh interpreter (the test session has long imported the whole package)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from bot.kubernetes_lazy import import_lazily


def run(code: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_importing_the_bot_loads_no_api_group_until_it_is_used() -> None:
    out = run(
        """
        import sys
        import bot
        from kubernetes_asyncio import client, config
        from kubernetes_asyncio.client.exceptions import ApiException
        loaded = lambda: sorted(m for m in sys.modules if m.startswith("kubernetes_asyncio.client.api."))
        print(loaded())
        client.CustomObjectsApi
        print(loaded())
        print(len([m for m in sys.modules if m.startswith("kubernetes_asyncio.client.models.")]))
        """
    )
    before, after, models = out.splitlines()
    assert before == "[]"
    assert after == "['kubernetes_asyncio.client.api.custom_objects_api']"
    assert int(models) < 10


def test_names_resolve_as_in_the_eager_package() -> None:
    out = run(
        """
        import bot, json
        import kubernetes_asyncio
        from kubernetes_asyncio import client
        from kubernetes_asyncio.client import V1ConfigMap, Configuration
        from kubernetes_asyncio.client.api_client import ApiClient

        class Answer:
            data = json.dumps({"metadata": {"name": "x"}, "data": {"k": "v"}})

        api = ApiClient.__new__(ApiClient)  # deserialising needs no session
        configmap = api.deserialize(Answer(), "V1ConfigMap")
        print(type(configmap) is V1ConfigMap, configmap.metadata.name, configmap.data)
        print(kubernetes_asyncio.__version__ == client.__version__, "CoreV1Api" in client.__all__)
        print(kubernetes_asyncio.watch.Watch.__name__, Configuration.__name__)
        try:
            client.NoSuchThing
        except AttributeError as exc:
            print("AttributeError", exc)
        """
    )
    lines = out.splitlines()
    assert lines[0] == "True x {'k': 'v'}"
    assert lines[1] == "True True"
    assert lines[2] == "Watch Configuration"
    assert lines[3].startswith("AttributeError") and "NoSuchThing" in lines[3]


def test_once_the_package_is_imported_nothing_changes() -> None:
    import kubernetes_asyncio.client  # noqa: F401  (the eager package, as the test session has it)

    assert import_lazily() is False
