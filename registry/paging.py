"""Cursor paging of sorted answers, one way for every list: `first` items after the cursor `after`.

A cursor is opaque to callers. It names the list it was made for (the question and its
arguments, as a digest), the position after the last item of its page, and a digest of that
item's key, sealed by a checksum. Passing it back is checked:

- not something this API returned (bad encoding, bad checksum, edited)  -> `InvalidArgument`
  "after: not a cursor this API returned";
- a cursor of another list (another question, other arguments)          -> "after: not a cursor
  of this list …";
- the list changed under it (the item it points after moved or is gone)  -> "after: stale cursor …".

So the pages of one list, concatenated, are exactly the list, or the caller is told to start
again. Cursors carry positions, never data, and no secret: they are checked, not signed.

>>> items = ["a", "b", "c"]
>>> first = paginate(items, first=2, list_id="letters")
>>> first.items, first.total, first.has_next
(['a', 'b'], 3, True)
>>> paginate(items, first=2, after=first.end_cursor, list_id="letters").items
['c']
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from registry.errors import InvalidArgument

__all__ = ["Page", "paginate", "list_id", "cursor", "position", "key_digest", "key_cursor", "key_after"]

T = TypeVar("T")

_VERSION = "c1"
NOT_OURS = "after: not a cursor this API returned; pass a page's `endCursor` unchanged"
FOREIGN = "after: not a cursor of this list: it was made for another query or other arguments; ask again without `after`"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its `items`, how many the whole list has (`total`), whether items
    follow (`has_next`), and the cursor to pass as `after` for the next page (`end_cursor`,
    None on an empty page)."""

    items: list[T]
    total: int
    has_next: bool
    end_cursor: str | None


def list_id(question: str, **arguments: Any) -> str:
    """The identity of a list: the question and the arguments that shape it (None ones left out),
    so a cursor made for other arguments is refused. Values are compared by their `repr`."""
    shown = ",".join(f"{name}={sorted(value) if isinstance(value, (set, frozenset)) else value!r}"
                     for name, value in sorted(arguments.items()) if value is not None)
    return f"{question}({shown})"


def _digest(text: str, size: int = 8) -> str:
    return hashlib.blake2b(text.encode(), digest_size=size).hexdigest()


def key_digest(key: str) -> str:
    """What a cursor keeps of its last item's key (compare with `position`'s second value)."""
    return _digest(key)


def cursor(list_: str, position: int, key: str) -> str:
    """The cursor for "after `position` items of `list_`, the last of which has `key`"."""
    payload = f"{_VERSION}:{_digest(list_)}:{position}:{_digest(key)}"
    return base64.urlsafe_b64encode(f"{payload}:{_digest(payload, 4)}".encode()).decode().rstrip("=")


def _opened(after: str) -> list[str]:
    """A cursor's fields after its version, once its encoding and checksum hold."""
    try:
        text = base64.urlsafe_b64decode(after.encode("ascii") + b"=" * (-len(after) % 4)).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidArgument(NOT_OURS) from None
    payload, _, check = text.rpartition(":")
    if not payload or check != _digest(payload, 4):
        raise InvalidArgument(NOT_OURS)
    return payload.split(":", 3)


def position(after: str, list_: str) -> tuple[int, str]:
    """The position a cursor of `list_` points after, and the digest of its last item's key.

    Raises `InvalidArgument` for a cursor this API did not make, or made for another list."""
    parts = _opened(after)
    if parts[0] == "k1":  # a cursor of a list read by key
        raise InvalidArgument(FOREIGN)
    if len(parts) != 4 or parts[0] != _VERSION or not parts[2].isdigit():
        raise InvalidArgument(NOT_OURS)
    if parts[1] != _digest(list_):
        raise InvalidArgument(FOREIGN)
    return int(parts[2]), parts[3]


def key_cursor(list_: str, key: str) -> str:
    """A cursor for lists read by key from the store (too large to read whole: data subjects):
    "after the item `key` of `list_`". It carries the key, sealed like every cursor."""
    payload = f"k1:{_digest(list_)}:{key}"
    return base64.urlsafe_b64encode(f"{payload}:{_digest(payload, 4)}".encode()).decode().rstrip("=")


def key_after(after: str, list_: str) -> str:
    """The key a `key_cursor` of `list_` holds; `InvalidArgument` as `position` says."""
    version, *rest = _opened(after)
    if version == _VERSION:  # a cursor of a list read whole
        raise InvalidArgument(FOREIGN)
    if version != "k1" or len(rest) < 2 or not rest[1]:
        raise InvalidArgument(NOT_OURS)
    digest, key = rest[0], ":".join(rest[1:])
    if digest != _digest(list_):
        raise InvalidArgument(FOREIGN)
    return key


def stale() -> InvalidArgument:
    return InvalidArgument("after: stale cursor: the list changed since that page was read; "
                           "ask again without `after`")


def check_first(first: int | None, most: int | None = None) -> None:
    """Refuses a negative `first`, and one over `most` for a list served at most `most` at a time.

    Raises `InvalidArgument` naming the argument, its bounds and the value given."""
    if first is None:
        return
    if most is not None and not 0 <= first <= most:
        raise InvalidArgument(f"first must be between 0 and {most} (got {first})")
    if first < 0:
        raise InvalidArgument(f"first must not be negative (got {first})")


def paginate(items: Sequence[T], *, first: int | None = None, after: str | None = None, list_id: str,
             key: Callable[[T], str] = str) -> Page[T]:
    """The page of the sorted `items` that follows the cursor `after` (the start when None):
    `first` items (all the rest when None). `key` gives an item's identity in the list
    (default `str`), checked when a cursor comes back.

    Raises `InvalidArgument` for a negative `first` and for a bad, foreign or stale cursor."""
    check_first(first)
    start = 0
    if after is not None:
        start, digest = position(after, list_id)
        if not 0 < start <= len(items) or _digest(key(items[start - 1])) != digest:
            raise stale()
    end = len(items) if first is None else min(len(items), start + first)
    chunk = list(items[start:end])
    return Page(chunk, len(items), end < len(items),
                cursor(list_id, end, key(items[end - 1])) if chunk else None)
