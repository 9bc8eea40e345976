"""GraphQL objects kept while the stored answers they are made from live, and their completions.

A store keeps its answers per snapshot (until the next write), so a question asked again returns
the same stored objects: the same holdings, the same findings. `ByIdentity` keeps the GraphQL
object made from each, by the stored object's identity, for as long as the stored object lives
(a weak reference): a repeated question then reuses its objects instead of making them again.

`SameItems` does the same for a whole list: the list made from a list of the very same stored
objects (a page of findings asked again), while every one of them lives. It hands out a
`KeptList`, which a plan completes once, as it completes a kept object once.

A GraphQL type whose objects are only ever made that way, and never changed once made, is marked
`kept`. The completion plans of `registry.api.execution` then keep the dict each such object
completed to, under the plan (one selection of one query text), while the object lives: a
repeated question completes its thousands of holdings or findings by looking each one up. The
results of requests then share those dicts, so a result is read-only: it is encoded as JSON and
dropped, never changed.
"""

from __future__ import annotations

import collections
import weakref
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["ByIdentity", "KEPT", "KeptList", "SameItems", "kept"]

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


class SameItems(Generic[S, T]):
    """The list last made from a list of the very same objects, for the last `size` lists.

    `same.get(items, make)` is `make(items)`, unless one of the last `size` lists kept was made
    from items that are, one by one, the very objects of `items` (compared by identity, in C:
    about 40 ns an item), and all of them still live: then it is the list made then. An entry
    goes when any of its items does, so an address reused by a new object cannot match it, and
    it keeps no item alive unless what `make` made refers to it (then until the cycle collector
    frees the entry, once it is no longer among the last `size`); the items must allow weak
    references. Use one `SameItems` per way of making lists: it compares the items only. The
    lists made are shared by every caller that gets them: read-only. Safe across threads, as
    `ByIdentity` is."""

    def __init__(self, size: int = 4):
        self._recent: collections.deque[_Made] = collections.deque(maxlen=size)

    def get(self, items: Sequence[S], make: Callable[[Sequence[S]], list[T]]) -> KeptList[T]:
        ids = list(map(id, items))
        for entry in tuple(self._recent):  # a copy: another thread may add one meanwhile
            made = entry.made  # before `live`: an entry that ends meanwhile gives up its list after
            if entry.live and entry.ids == ids:
                return made
        made = KeptList(make(items))
        self._recent.append(_Made(ids, items, made))
        return made


class KeptList(list):
    """A list `SameItems` made and keeps: never changed once made, so a plan may keep what it
    completed to (by its identity, while it lives)."""

    __slots__ = ("__weakref__",)


class _Made:
    """A list made from `items` (their ids), while all of them live."""

    __slots__ = ("ids", "made", "live", "_refs")

    def __init__(self, ids: list[int], items: Sequence, made: list):
        self.ids, self.made, self.live = ids, made, True
        end = self._end  # one callback for all: this entry and its references are a cycle the collector frees
        self._refs = [weakref.ref(item, end) for item in items]

    def _end(self, _ref: weakref.ref) -> None:
        self.live, self.made, self._refs = False, None, []
