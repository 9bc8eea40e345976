"""One shape for every list that can grow: a `Connection` of its item type.

    { systems(first: 100, after: $cursor) { totalCount pageInfo { hasNextPage endCursor } nodes { id name } } }

`Connection[System]` is the GraphQL type `SystemConnection`; give a connection another name
by subclassing it (`@strawberry.type(name="SubjectConnection") class SubjectConnection(Connection[DataSubject])`).
`to_connection(page, convert)` turns a `registry.paging.Page` into one, converting only the
page's items. Cursors and their checks live in `registry.paging`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Generic, Optional, TypeVar

import strawberry

from registry.api.kept import SameItems
from registry.paging import Page

__all__ = ["After", "Connection", "First", "PageInfo", "to_connection"]

T = TypeVar("T")

First = Annotated[Optional[int], strawberry.argument(description="How many items to return (default: all that "
                                                                   "follow).")]
After = Annotated[Optional[str], strawberry.argument(description="The `endCursor` of the page before (default: the "
                                                                 "start).")]


@strawberry.type(description="Where a page ends and whether more follows.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether items follow this page.")
    end_cursor: Optional[str] = strawberry.field(
        description="Pass as `after` for the next page; null on an empty page. Opaque; refused once the list "
                    "changed before it.")


@strawberry.type(description="A page of a list: its items (`nodes`), how many the whole list has, and where the "
                              "page ends.")
class Connection(Generic[T]):
    nodes: list[T]
    total_count: int = strawberry.field(description="How many items the whole list has (every page).")
    page_info: PageInfo


def to_connection(page: Page, convert: Callable[[object], T] | None = None,
                  same: SameItems | None = None) -> Connection[T]:
    """A `Connection` of `page`, its items passed through `convert` (as they are when None); with
    `same`, a page of the very same items as a page converted before gets the same list
    (`registry.api.kept.SameItems`, one per `convert`: for items the store keeps, such as findings)."""
    if convert is None:
        items = page.items
    elif same is None:
        items = [convert(item) for item in page.items]
    else:
        items = same.get(page.items, lambda found: [convert(item) for item in found])
    return Connection(nodes=items, total_count=page.total,
                      page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor))
