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


class _Ref(weakref.ref):
    """A weak reference to a stored object, knowing its key in `ByIdentity.made`."""
    __slots__ = ("key",)


class ByIdentity(Generic[S, T]):
    """What was made from each stored object, by the stored object's identity, while it lives.

    `by_identity.get(source, make, argument)` is `make(argument)` the first time, and the same
    object again for as long as `source` lives; an entry goes when its source does, so this keeps
    nothing the store has let go of. `source` must allow weak references (a dataclass without
    `__slots__` does). Safe across threads: two threads converting the same source at once may
    each make an object, and one of them is kept.

    `made` (id of the source -> (weak reference to it, what was made)) is there to be read in a
    hot loop: an entry is the source's only if its reference still gives the source itself."""

    def __init__(self):
        self.made: dict[int, tuple[_Ref, T]] = {}

    def get(self, source: S, make: Callable[[A], T], argument: A) -> T:
        found = self.made.get(id(source))
        if found is not None and found[0]() is source:
            return found[1]
        return self.keep(source, make(argument))

    def keep(self, source: S, made: T) -> T:
        """Keep `made` for `source` while it lives; `made`."""
        ref = _Ref(source, self._forget)
        ref.key = id(source)
        self.made[ref.key] = (ref, made)
        return made

    def _forget(self, ref: _Ref) -> None:
        self.made.pop(ref.key, None)
