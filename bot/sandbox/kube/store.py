"""Objects in memory, one global resourceVersion counter, and a bounded history of changes for watches.

Stored dicts are never mutated after `put`: writers build a new dict, readers copy before changing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.sandbox.kube.errors import ApiError

StorageKey = tuple[str, str]  # (group, plural)
ObjectRef = tuple[StorageKey, str, str]  # (storage key, namespace, name)
Obj = dict[str, Any]


@dataclass(frozen=True)
class StoredEvent:
    """One change, as watches replay it: ADDED, MODIFIED or DELETED with the object after the change."""

    resource_version: int
    type: str
    key: StorageKey
    namespace: str
    obj: Obj
    previous: Obj | None


class Store:
    def __init__(self, history_limit: int = 1000) -> None:
        self._objects: dict[StorageKey, dict[tuple[str, str], Obj]] = {}
        self._by_uid: dict[str, ObjectRef] = {}
        self._dependents: dict[str, set[ObjectRef]] = {}
        self._history: deque[StoredEvent] = deque()
        self._history_limit = history_limit
        # Events up to and including this resourceVersion are no longer in the history.
        self._compacted_through = 0
        self._resource_version = 0
        self._subscribers: set[asyncio.Queue[StoredEvent | None]] = set()
        self._listeners: list[Callable[[StoredEvent], None]] = []

    @property
    def resource_version(self) -> int:
        return self._resource_version

    # Reads

    def get(self, key: StorageKey, namespace: str, name: str) -> Obj | None:
        return self._objects.get(key, {}).get((namespace, name))

    def list_objects(self, key: StorageKey, namespace: str | None = None) -> list[Obj]:
        objects = self._objects.get(key, {})
        return [
            obj
            for (ns, _), obj in sorted(objects.items(), key=lambda item: item[0])
            if namespace is None or ns == namespace
        ]

    def find_uid(self, uid: str) -> ObjectRef | None:
        return self._by_uid.get(uid)

    def dependents_of(self, owner_uid: str) -> list[ObjectRef]:
        return sorted(self._dependents.get(owner_uid, set()))

    def objects_in_namespace(self, namespace: str) -> list[tuple[StorageKey, Obj]]:
        return [
            (key, obj)
            for key, objects in self._objects.items()
            for (ns, _), obj in objects.items()
            if ns == namespace
        ]

    # Writes

    def create(self, key: StorageKey, obj: Obj) -> Obj:
        return self._put(key, obj, "ADDED")

    def update(self, key: StorageKey, obj: Obj) -> Obj:
        return self._put(key, obj, "MODIFIED")

    def remove(self, key: StorageKey, namespace: str, name: str) -> Obj:
        """Delete an object; the DELETED event carries its last state at the deletion's resourceVersion."""
        stored = self._objects.get(key, {}).pop((namespace, name))
        self._unindex(key, stored)
        gone = {**stored, "metadata": {**stored["metadata"], "resourceVersion": str(self._bump())}}
        self._emit(StoredEvent(self._resource_version, "DELETED", key, namespace, gone, stored))
        return gone

    def _put(self, key: StorageKey, obj: Obj, event_type: str) -> Obj:
        metadata = obj["metadata"]
        namespace, name = metadata.get("namespace", ""), metadata["name"]
        previous = self._objects.get(key, {}).get((namespace, name))
        if previous is not None:
            self._unindex(key, previous)
        metadata["resourceVersion"] = str(self._bump())
        self._objects.setdefault(key, {})[(namespace, name)] = obj
        self._index(key, obj)
        self._emit(StoredEvent(self._resource_version, event_type, key, namespace, obj, previous))
        return obj

    def _bump(self) -> int:
        self._resource_version += 1
        return self._resource_version

    def _index(self, key: StorageKey, obj: Obj) -> None:
        metadata = obj["metadata"]
        ref: ObjectRef = (key, metadata.get("namespace", ""), metadata["name"])
        self._by_uid[metadata["uid"]] = ref
        for owner in metadata.get("ownerReferences") or []:
            self._dependents.setdefault(owner["uid"], set()).add(ref)

    def _unindex(self, key: StorageKey, obj: Obj) -> None:
        metadata = obj["metadata"]
        ref: ObjectRef = (key, metadata.get("namespace", ""), metadata["name"])
        self._by_uid.pop(metadata["uid"], None)
        for owner in metadata.get("ownerReferences") or []:
            dependents = self._dependents.get(owner["uid"])
            if dependents is not None:
                dependents.discard(ref)
                if not dependents:
                    del self._dependents[owner["uid"]]

    # History and subscriptions

    def _emit(self, event: StoredEvent) -> None:
        self._history.append(event)
        while len(self._history) > self._history_limit:
            dropped = self._history.popleft()
            self._compacted_through = dropped.resource_version
        for queue in self._subscribers:
            queue.put_nowait(event)
        for listener in self._listeners:
            listener(event)

    def events_after(self, resource_version: int) -> list[StoredEvent]:
        """The changes after `resource_version`, or 410 Expired when the history no longer has them all."""
        if resource_version < self._compacted_through:
            raise ApiError.expired(resource_version, self._compacted_through + 1)
        return [event for event in self._history if event.resource_version > resource_version]

    def compact(self) -> None:
        """Forget the whole history, as etcd compaction does: older resourceVersions now answer 410."""
        self._history.clear()
        self._compacted_through = self._resource_version

    def subscribe(self) -> asyncio.Queue[StoredEvent | None]:
        queue: asyncio.Queue[StoredEvent | None] = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[StoredEvent | None]) -> None:
        self._subscribers.discard(queue)

    def close_subscriptions(self) -> None:
        """End every open watch stream (the server is going away)."""
        for queue in self._subscribers:
            queue.put_nowait(None)

    def add_listener(self, listener: Callable[[StoredEvent], None]) -> None:
        """Call `listener` synchronously after every change (the Job simulator uses it)."""
        self._listeners.append(listener)
