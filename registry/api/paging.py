"""Paging of sorted answers: `offset` and `limit` arguments, checked the same way everywhere."""

from __future__ import annotations

from registry.errors import InvalidArgument


def page(items: list, offset: int, limit: int | None) -> list:
    """One page of a sorted answer: `limit` items (all when None) after skipping `offset`."""
    if offset < 0 or (limit is not None and limit < 0):
        raise InvalidArgument("offset and limit must not be negative")
    return items[offset:None if limit is None else offset + limit]
