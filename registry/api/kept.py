"""GraphQL objects kept while the stored answers they are made from live, and their completions.

A store keeps its answers per snapshot (until the next write), so a question asked again returns
the same stored objects: the same holdings, the same findings. `ByIdentity` keeps the GraphQL
object made from each, by the stored object's identity, for as long as the stored object lives
(a weak reference): a repeated question then reuses its objects instead of making them again.

A GraphQL type whose objects are only ever made that way, and never changed once made, is marked
`kept`. The completion plans of `registry.api.execution` then keep the dict each such object
completed to, under the plan (one selection of one query text), while the object lives: a
repeated question completes its thousands of holdings or findings by looking each one up. The
results of requests then share those dicts, so a result is read-only: it is encoded as JSON and
dropped, never changed.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["ByIdentity", "KEPT", "kept"]

S = TypeVar("S")
T = TypeVar("T")
A = TypeVar("A")
C = TypeVar("C", bound=type)

KEPT = "__completion_kept__"
"""The class attribute `kept` sets."""


def kept(cls: C) -> C:
    """Mark a strawberry type whose objects are made once per stored object (`ByIdentity`) and
    never changed: a plan may keep each one's completed dict for later requests."""
    setattr(cls, KEPT, True)
    return cls


class ByIdentity(Generic[S, T]):
    """What was made from each stored object, by the stored object's identity, while it lives.

    `by_identity.get(source, make, argument)` is `make(argument)` the first time, and the same
    object again for as long as `source` lives; an entry goes when its source does, so this keeps
    nothing the store has let go of. `source` must allow weak references (a dataclass without
    `__slots__` does). Safe across threads: two threads converting the same source at once may
    each make an object, and one of them is kept."""

    def __init__(self):
        self._made: dict[int, tuple[weakref.ref, T]] = {}

    def get(self, source: S, make: Callable[[A], T], argument: A) -> T:
        found = self._made.get(id(source))
        if found is not None and found[0]() is source:
            return found[1]
        made = make(argument)
        key = id(source)
        self._made[key] = (weakref.ref(source, lambda _, key=key: self._made.pop(key, None)), made)
        return made
