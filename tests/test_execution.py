"""The executor's shortcuts (`registry.api.execution`) answer exactly as graphql-core does, errors included."""

import asyncio
import datetime
from enum import Enum
from typing import Optional

import strawberry
from strawberry.extensions import SchemaExtension

from registry.api.execution import RegistryExecutionContext


@strawberry.enum
class Colour(Enum):
    RED = "red"


@strawberry.type
class Item:
    id: strawberry.ID
    name: Optional[str]
    colour: Colour
    at: datetime.datetime
    path: list[strawberry.ID]
    tags: Optional[list[str]]
    count: int


AT = datetime.datetime(2025, 5, 1, 9, tzinfo=datetime.timezone.utc)
GOOD = Item(id="a", name="A", colour=Colour.RED, at=AT, path=["f1", "f2"], tags=None, count=1)


@strawberry.type
class Query:
    @strawberry.field
    def first(self) -> Item:
        return GOOD

    @strawberry.field
    def items(self) -> list[Optional[Item]]:  # an item with an error becomes null
        return [
            GOOD,
            Item(id=7, name=None, colour=Colour.RED, at=AT, path=["f1", 3], tags=["x"], count=2),  # ints as ids
            Item(id=None, name="broken", colour=Colour.RED, at=AT, path=["f1"], tags=[], count=3),  # null in ID!
            Item(id="d", name="D", colour="not a colour", at=AT, path=[], tags=None, count=4),
            Item(id="e", name="E", colour=Colour.RED, at=AT, path=[None], tags=None, count=5),
            Item(id="f", name="F", colour=Colour.RED, at=AT, path=[], tags=None, count="many"),
        ]


QUERY = "{ items { id name colour at path tags count } }"


def run(query=QUERY, **options):
    schema = strawberry.Schema(query=Query, **options)
    return asyncio.run(schema.execute(query))


def test_shortcuts_give_graphql_cores_data_and_errors():
    plain, fast = run(), run(execution_context_class=RegistryExecutionContext)
    assert fast.data == plain.data
    assert [e.formatted for e in fast.errors] == [e.formatted for e in plain.errors]
    assert fast.data["items"][0] == {"id": "a", "name": "A", "colour": "RED", "at": "2025-05-01T09:00:00+00:00",
                                     "path": ["f1", "f2"], "tags": None, "count": 1}
    assert fast.data["items"][1:] == [{"id": "7", "name": None, "colour": "RED", "at": "2025-05-01T09:00:00+00:00",
                                       "path": ["f1", "3"], "tags": ["x"], "count": 2}, None, None, None, None]
    assert [e.path for e in fast.errors] == [["items", 2, "id"], ["items", 3, "colour"], ["items", 4, "path", 0],
                                             ["items", 5, "count"]]


def test_shortcuts_apply_only_without_resolver_middleware():
    seen = []

    class Spy(SchemaExtension):
        def resolve(self, _next, root, info, *args, **kwargs):
            seen.append(info.field_name)
            return _next(root, info, *args, **kwargs)

    result = run(execution_context_class=RegistryExecutionContext, extensions=[Spy])
    assert result.data["items"][0]["path"] == ["f1", "f2"]
    assert {"id", "name", "path"} <= set(seen)  # an extension that wraps resolvers still sees every field


def test_plain_fields_are_read_without_building_resolve_info(monkeypatch):
    built = []
    original = RegistryExecutionContext.build_resolve_info
    monkeypatch.setattr(RegistryExecutionContext, "build_resolve_info",
                        lambda self, field_def, *args: built.append(field_def) or original(self, field_def, *args))
    result = run("{ first { id name colour at path count } }", execution_context_class=RegistryExecutionContext)
    assert result.data == {"first": {"id": "a", "name": "A", "colour": "RED", "at": "2025-05-01T09:00:00+00:00",
                                     "path": ["f1", "f2"], "count": 1}}
    assert len(built) == 1  # for `first`, which has a resolver; its six plain fields took the shortcut
