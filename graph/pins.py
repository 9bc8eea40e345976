"""Pinned scopes (`GraphStore.pinned`): the registry version one service call reads at.

A store whose version check costs something (a round trip on Neo4j, a query on the embedded
store) reads the version once, on the scope's first read, and answers the scope's later reads as
of that version; a registry write in the scope drops the pin, so the next read looks again.
Each thread (each context) has its own scope.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Hashable

__all__ = ["Pin", "Pins"]


@dataclass
class Pin:
    """The version one `pinned` scope reads at: `at` (None before the registry's first write) and
    the version number, once `known`."""

    at: Hashable | None = None
    number: int = 0
    known: bool = False
    subject: Any = None
    """The `SubjectRow` a lookup by key read in the scope (`subject_by_key`), for the scope's `subject`."""


class Pins:
    """The `Pin` of each thread's (each context's) `pinned` scope, if it is in one.

    >>> pins = Pins()
    >>> pins.current() is None
    True
    >>> with pins.scope():
    ...     pins.current().known, pins.learn(("e", 3), 3).number
    (False, 3)
    >>> pins.current() is None
    True
    """

    def __init__(self) -> None:
        self._current: ContextVar[Pin | None] = ContextVar(f"pin-{id(self)}", default=None)

    def current(self) -> Pin | None:
        return self._current.get()

    @contextmanager
    def scope(self) -> Iterator[None]:
        """A pin for this context until the scope ends; an inner scope keeps the outer pin."""
        if self._current.get() is not None:
            yield
            return
        token = self._current.set(Pin())
        try:
            yield
        finally:
            self._current.reset(token)

    def learn(self, at: Hashable | None, number: int) -> Pin:
        """Pin the version just read, if in a scope whose version is not known yet; the pin (a
        throwaway one outside a scope)."""
        pin = self._current.get()
        if pin is None:
            return Pin(at, number, True)
        if not pin.known:
            pin.at, pin.number, pin.known = at, number, True
        return pin

    def drop(self) -> None:
        """Forget the pinned version (a registry write in the scope): the next read looks again."""
        pin = self._current.get()
        if pin is not None:
            pin.known = False
