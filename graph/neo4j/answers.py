"""Answers the Neo4j store keeps per registry version, as the embedded store keeps them per snapshot.

Every registry write bumps `version` on the meta node in the transaction that makes the change
(`graph.neo4j.store`), whoever writes: this process, another API server, the CLI. So an answer
computed from the registry at version V stays right as long as the meta node still says V, and
asking costs one small read (`cypher.VERSION`) instead of the traversal. The meta node also
carries an `epoch`, a random id set when it is created, so a database emptied and filled again
(whose version starts again from 0) never serves the answers of the one before.

An answer is kept only when the version read before and after computing it, in the same read
transaction, is the same: a write that committed meanwhile could have mixed the two states.
Subject data (loads, consents, erasures) does not change the version; nothing kept here may
depend on it. Entity documents (`get_many`) are kept the same way: one statement
(`cypher.GET_MANY_KEPT`) sends only the ids not kept and gets them back if the version still
holds, in one round trip; after a change, a second one asks for them all.

Each of those reads still costs the round trip that asks for the version. Inside a
`GraphStore.pinned` scope the version is read once, on the scope's first read, and
the kept answers and documents of that version are served without asking again (`graph.pins`): the reads of
one service call see the registry as of that moment, which lies within the call, so a write
committed by another process before the call is seen, and one committed during it may or may not
be (as with any read that overlaps a write). A registry write in the scope ends the pin.

>>> kept = Answers(size=2)
>>> kept.get(("e", 1), "q") is MISSING
True
>>> kept.put(("e", 1), "q", [1, 2])
>>> kept.get(("e", 1), "q")
[1, 2]
>>> kept.get(("e", 2), "q") is MISSING   # a newer version: everything kept before is dropped
True
>>> kept.get(("e", 1), "q") is MISSING
True
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Hashable

__all__ = ["Answers", "MISSING", "Version", "numbered", "version_of"]

Version = tuple[str, int]
"""(epoch, version) of the registry as the meta node says."""

MISSING: Any = object()


def numbered(version: Version) -> int:
    """`GraphStore.version()` of (epoch, version): the version in the low 32 bits, 21 bits of the
    epoch (a UUID's hex digits) above them.

    >>> numbered(("1f3c2b7e-0000-4000-8000-000000000000", 7)) == (0x1f3c2b7e >> 11) << 32 | 7
    True
    """
    epoch, number = version
    return (int(epoch[:8], 16) >> 11) << 32 | number & 0xFFFFFFFF  # a version past 2**32 writes wraps


def version_of(record: Mapping[str, Any]) -> Version | None:
    """(epoch, version) from a record with the fields `epoch` and `version` (`cypher.VERSION`);
    None before the registry's first write."""
    return (record["epoch"], record["version"]) if record["epoch"] else None


class Answers:
    """Up to `size` answers of one registry version, least recently used dropped first; thread-safe."""

    def __init__(self, size: int = 256):
        self.size = size
        self._version: Version | None = None
        self._kept: OrderedDict[Hashable, Any] = OrderedDict()
        self._docs: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def version(self) -> Version | None:
        """The version the answers kept are for."""
        return self._version

    def get(self, version: Version | None, key: Hashable) -> Any:
        """The answer kept for `key` at `version`, else `MISSING` (always, when `version` is None:
        a registry never written has no epoch yet)."""
        with self._lock:
            if version is None or version != self._version:
                self._forget(version)
                return MISSING
            found = self._kept.get(key, MISSING)
            if found is not MISSING:
                self._kept.move_to_end(key)
            return found

    def put(self, version: Version | None, key: Hashable, answer: Any) -> None:
        if version is None:
            return
        with self._lock:
            if version != self._version:
                self._forget(version)
            self._kept[key] = answer
            if len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def docs(self, version: Version | None, ids: list[str]) -> tuple[dict[str, Any], list[str]]:
        """Of `ids`, the documents kept at `version` (a `Stored`, or None for an id the registry
        does not have) and the ids not kept."""
        with self._lock:
            if version is None or version != self._version:
                return {}, ids
            kept, missing = {}, []
            for id_ in ids:
                found = self._docs.get(id_, MISSING)
                if found is MISSING:
                    missing.append(id_)
                else:
                    kept[id_] = found
            return kept, missing

    def put_docs(self, version: Version | None, found: dict[str, Any]) -> None:
        """Keep `found` (id -> `Stored` or None) at `version`; at most `size` × 100 documents."""
        if version is None:
            return
        with self._lock:
            if version != self._version:
                self._forget(version)
            if len(self._docs) + len(found) > self.size * 100:
                self._docs.clear()
            self._docs.update(found)

    def _forget(self, version: Version | None) -> None:
        if version != self._version:
            self._version = version
            self._kept.clear()
            self._docs.clear()
