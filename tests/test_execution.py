"""The executor's shortcuts (`registry.api.execution`) answer exactly as graphql-core does, errors included."""

import asyncio
import dataclasses
import datetime
from enum import Enum
from typing import Annotated, Optional, Union

import pytest
import strawberry
from strawberry.extensions import SchemaExtension

from registry.api.execution import RegistryExecutionContext
from registry.api.kept import KeptList, SameItems, kept


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


# --- plans: whole plain answers (`registry.api.execution`'s plain path) -------------------------

@strawberry.type
class Leaf:
    id: strawberry.ID
    label: Optional[str]


@strawberry.type
class Other:
    id: strawberry.ID
    size: int


@strawberry.type
class Node:
    id: strawberry.ID
    colour: Colour
    leaf: Optional[Leaf]
    leaves: list[Leaf]
    either: Annotated[Union[Leaf, Other], strawberry.union("Either")]
    path: list[strawberry.ID]

    @strawberry.field
    def computed(self) -> str:  # a resolver: graphql-core's path for this value
        return f"computed {self.id}"


SHARED = Leaf(id="shared", label="S")


def nodes() -> list[Optional[Node]]:
    good = [Node(id=f"n{i}", colour=Colour.RED, leaf=SHARED if i % 2 else None, leaves=[SHARED, Leaf(id=f"l{i}", label=None)],
                 either=Other(id=f"o{i}", size=i) if i % 3 else SHARED, path=[f"f{i}", "f0"]) for i in range(6)]
    broken = [Node(id="bad-leaf", colour=Colour.RED, leaf=Leaf(id=None, label="x"), leaves=[], either=SHARED, path=[]),
              Node(id="bad-union", colour=Colour.RED, leaf=None, leaves=[], either="not an object", path=[]),
              Node(id="bad-enum", colour="purple", leaf=None, leaves=[], either=SHARED, path=[]),
              Node(id="bad-path", colour=Colour.RED, leaf=None, leaves=[None], either=SHARED, path=[1, None])]
    return good[:3] + broken + good[3:]


@strawberry.type
class Graph:
    @strawberry.field
    def nodes(self) -> list[Optional[Node]]:
        return nodes()

    @strawberry.field
    def strict(self) -> list[Node]:  # one broken item nulls the whole list
        return nodes()


PLAIN = """{ nodes { __typename id colour leaf { id label } leaves { id } path
  either { __typename ... on Leaf { id label } ... on Other { id size } } again: leaf { label } } }"""
SHAPES = [
    PLAIN,
    "query ($with: Boolean!) { nodes { id leaf @include(if: $with) { id } path @skip(if: $with) } }",
    "{ nodes { ...N } } fragment N on Node { id either { ... on Other { size } } }",
    "{ nodes { id computed leaves { id label } } }",
    "{ strict { id leaf { id } } }",
]


def execute(query, context_class=None, **variables):
    schema = strawberry.Schema(query=Graph, execution_context_class=context_class)
    return asyncio.run(schema.execute(query, variable_values=variables if "$with" in query else None))


@pytest.mark.parametrize("query", SHAPES)
@pytest.mark.parametrize("with_", [True, False])
def test_plans_give_graphql_cores_data_and_errors_on_every_shape(query, with_):
    plain, fast = execute(query, **{"with": with_}), execute(query, RegistryExecutionContext, **{"with": with_})
    assert fast.data == plain.data
    assert sorted((e.message, tuple(e.path)) for e in fast.errors or ()) == \
           sorted((e.message, tuple(e.path)) for e in plain.errors or ())


def test_a_plain_answer_is_completed_without_resolve_info_for_its_items(monkeypatch):
    built = []
    original = RegistryExecutionContext.build_resolve_info
    monkeypatch.setattr(RegistryExecutionContext, "build_resolve_info",
                        lambda self, field_def, *args: built.append(field_def) or original(self, field_def, *args))
    clean = execute("{ strict { __typename id leaf { label } } }", RegistryExecutionContext)
    assert clean.errors is None and len(clean.data["strict"]) == 10
    assert len(built) == 1  # `strict` itself: every item, object and leaf below it took the plan
    built.clear()
    execute("{ strict { id computed } }", RegistryExecutionContext)
    assert len(built) == 1 + 10  # `computed` has a resolver: graphql-core's path for each item's


def test_an_object_met_twice_is_completed_once():
    result = execute("{ nodes { leaves { id label } } }", RegistryExecutionContext)
    shared = [node["leaves"][0] for node in result.data["nodes"] if node and node["leaves"]]
    assert len(shared) == 6 and all(leaf is shared[0] for leaf in shared)
    assert shared[0] == {"id": "shared", "label": "S"}


# --- plans kept across requests ------------------------------------------------------------------

KEEPING = strawberry.Schema(query=Graph, execution_context_class=RegistryExecutionContext)
"""One schema for several requests: plans are kept per schema type, so a schema made per request
would never find one."""


def ask(query, operation_name=None, **variables):
    return asyncio.run(KEEPING.execute(query, variable_values=variables or None, operation_name=operation_name))


def same(fast, plain) -> None:
    assert fast.data == plain.data
    assert sorted((e.message, tuple(e.path)) for e in fast.errors or ()) == \
           sorted((e.message, tuple(e.path)) for e in plain.errors or ())


def compiled(monkeypatch) -> list:
    made = []
    original = RegistryExecutionContext._compile
    monkeypatch.setattr(RegistryExecutionContext, "_compile",
                        lambda self, type_, selection: made.append(type_) or original(self, type_, selection))
    return made


def test_a_query_asked_again_takes_the_plan_made_the_first_time(monkeypatch):
    made = compiled(monkeypatch)
    query = PLAIN + " "  # a text of this test's own: no plan kept for it yet
    first = ask(query)
    assert made, "the first request makes its plans"
    made.clear()
    again = ask(query)
    assert made == []
    same(again, first)
    same(again, execute(query))


@pytest.mark.parametrize("order", [(True, False, True), (False, True, False)])
def test_the_same_query_with_other_include_values_gets_its_own_shape(order):
    query = f"query ($with: Boolean!) {{ nodes {{ id leaf @include(if: $with) {{ id }} path @skip(if: $with) }} }} # {order}"
    for with_ in order:
        fast = ask(query, **{"with": with_})
        same(fast, execute(query, **{"with": with_}))
        assert {frozenset(node) for node in fast.data["nodes"] if node} == \
               {frozenset({"id", "leaf"} if with_ else {"id", "path"})}


def test_include_values_inside_fragments_count_too():
    query = ("query ($with: Boolean!) { nodes { ...N } } "
             "fragment N on Node { id leaf @include(if: $with) { label } again: leaf { id } }")
    for with_ in (True, False, True):
        same(ask(query, **{"with": with_}), execute(query, **{"with": with_}))


def test_queries_sharing_a_beginning_do_not_share_plans():
    one, other = "{ nodes { id colour } }", "{ nodes { id path   } }"  # as long, `nodes` at the same offset
    for query in (one, other, one, other):
        same(ask(query), execute(query))
    assert {frozenset(node) for node in ask(one).data["nodes"] if node} == {frozenset({"id", "colour"})}
    assert {frozenset(node) for node in ask(other).data["nodes"] if node} == {frozenset({"id", "path"})}


def test_each_operation_of_a_document_has_its_own_plans():
    document = "query A { nodes { id } } query B { nodes { path } }"
    for name in ("A", "B", "A"):
        expected = {"id"} if name == "A" else {"path"}
        assert {frozenset(node) for node in ask(document, name).data["nodes"] if node} == {frozenset(expected)}


def test_a_kept_plan_keeps_no_answer_alive():
    import gc
    import weakref

    made = []

    @strawberry.type
    class Fresh:
        @strawberry.field
        def leaves(self) -> list[Leaf]:
            leaf = Leaf(id="x", label="fresh")
            made.append(weakref.ref(leaf))
            return [leaf, leaf]

    schema = strawberry.Schema(query=Fresh, execution_context_class=RegistryExecutionContext)
    gc.disable()  # nor does the request keep it in a reference cycle: it goes when the request ends
    try:
        for _ in range(2):
            result = asyncio.run(schema.execute("{ leaves { id label } }"))
            assert result.data == {"leaves": [{"id": "x", "label": "fresh"}] * 2}
        del result
        assert len(made) == 2 and all(ref() is None for ref in made)
    finally:
        gc.enable()


def test_plans_are_shared_safely_between_threads():
    from concurrent.futures import ThreadPoolExecutor

    queries = [(query, with_) for query in SHAPES for with_ in (True, False)] * 8
    expected = {(query, with_): execute(query, **{"with": with_}).data for query, with_ in set(queries)}

    def ask(pair):
        query, with_ = pair
        return KEEPING.execute_sync(query, variable_values={"with": with_} if "$with" in query else None).data

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(ask, queries))
    assert answers == [expected[pair] for pair in queries]


def test_plans_are_kept_for_a_bounded_number_of_texts(monkeypatch):
    from registry.api import plan_cache

    monkeypatch.setattr(plan_cache, "PLANNED_TEXTS", 3)
    for i in range(6):
        query = f"{{ nodes {{ id }} }} # {i}"
        same(ask(query), execute(query))
    assert len(plan_cache.PLANS.operations) <= 3
    assert [text for text, _ in plan_cache.PLANS.operations][-1] == "{ nodes { id } } # 5"
    long = "{ nodes { id } } #" + " " * plan_cache.PLANNED_CHARS
    same(ask(long), execute(long))
    assert all(text != long for text, _ in plan_cache.PLANS.operations)


# --- completions kept across requests (`registry.api.kept`) ------------------------------------

@kept
@strawberry.type
class Card:
    id: strawberry.ID
    colour: Colour
    leaf: Optional[Leaf]
    path: list[strawberry.ID]


class Shelf:
    """A store's kept answer: the same objects until a write replaces them."""
    cards: list = []

    @classmethod
    def write(cls, *cards) -> None:
        cls.cards = list(cards)


SHELF_LISTS = SameItems()


@strawberry.type
class Cards:
    @strawberry.field
    def cards(self) -> list[Optional[Card]]:
        return list(Shelf.cards)

    @strawberry.field
    def kept_cards(self) -> list[Optional[Card]]:
        """The same list while the same cards are on the shelf, as a page of findings is: made of
        objects of their own, as findings' GraphQL objects are."""
        return SHELF_LISTS.get(Shelf.cards, lambda shelved: [dataclasses.replace(one) for one in shelved])


CARDS = strawberry.Schema(query=Cards, execution_context_class=RegistryExecutionContext)


def cards(query: str):
    return asyncio.run(CARDS.execute(query))


def plainly(query: str):
    return asyncio.run(strawberry.Schema(query=Cards).execute(query))


def card(id_, colour=Colour.RED, label="L"):
    return Card(id=id_, colour=colour, leaf=Leaf(id=f"leaf-{id_}", label=label), path=[f"f-{id_}"])


def test_a_kept_object_is_completed_once_for_every_request_while_it_lives():
    Shelf.write(card("a"), card("b"))
    query = "{ cards { id colour leaf { label } path } } # once"
    first, again = cards(query), cards(query)
    same(first, plainly(query))
    assert first.data == {"cards": [{"id": "a", "colour": "RED", "leaf": {"label": "L"}, "path": ["f-a"]},
                                    {"id": "b", "colour": "RED", "leaf": {"label": "L"}, "path": ["f-b"]}]}
    assert all(one is other for one, other in zip(first.data["cards"], again.data["cards"]))


def test_a_written_answer_is_completed_afresh_and_the_old_one_is_let_go():
    import gc
    import weakref

    query = "{ cards { id leaf { label } } } # rewritten"
    Shelf.write(card("a", label="before"))
    old = weakref.ref(Shelf.cards[0])
    assert cards(query).data == {"cards": [{"id": "a", "leaf": {"label": "before"}}]}
    gc.disable()  # the kept completion holds its object weakly: it goes with the store's answer
    try:
        Shelf.write(card("a", label="after"))
        assert old() is None
        assert cards(query).data == {"cards": [{"id": "a", "leaf": {"label": "after"}}]}
    finally:
        gc.enable()


def test_each_selection_keeps_its_own_completions():
    Shelf.write(card("a"), card("b"))
    one, other = "{ cards { id colour } } # own", "{ cards { id path   } } # own"
    for query in (one, other, one, other):
        same(cards(query), plainly(query))
    assert cards(one).data["cards"][0] == {"id": "a", "colour": "RED"}
    assert cards(other).data["cards"][0] == {"id": "a", "path": ["f-a"]}


def test_a_kept_object_that_fails_is_reported_the_same_way_every_time():
    Shelf.write(card("a"), Card(id="bad", colour="purple", leaf=None, path=[]), card("c"))
    query = "{ cards { id colour } } # failing"
    for _ in range(3):
        result = cards(query)
        same(result, plainly(query))
        assert result.data["cards"][1] is None and len(result.errors) == 1


def test_objects_of_types_not_kept_are_completed_per_request():
    query = "{ nodes { id leaves { id label } } } # per request"
    first, again = ask(query), ask(query)
    same(first, execute(query))
    assert first.data == again.data
    assert first.data["nodes"][0]["leaves"][0] is not again.data["nodes"][0]["leaves"][0]


def test_a_list_kept_whole_is_completed_once_while_its_items_live():
    import gc
    import weakref

    Shelf.write(card("a"), card("b", label="B"))
    query = "{ keptCards { id leaf { label } } } # whole"
    first, again = cards(query), cards(query)
    same(first, plainly(query))
    assert first.data == {"keptCards": [{"id": "a", "leaf": {"label": "L"}}, {"id": "b", "leaf": {"label": "B"}}]}
    assert again.data["keptCards"] is first.data["keptCards"]
    old = weakref.ref(SHELF_LISTS.get(Shelf.cards, lambda shelved: 1 / 0))  # the one kept
    gc.disable()  # what is kept goes with the items, without waiting for the cycle collector
    try:
        Shelf.write(card("a"), card("b", label="changed"))
        assert old() is None
        changed = cards(query)
        assert changed.data == {"keptCards": [{"id": "a", "leaf": {"label": "L"}},
                                              {"id": "b", "leaf": {"label": "changed"}}]}
        same(changed, plainly(query))
    finally:
        gc.enable()


def test_same_items_give_the_same_list_and_equal_items_do_not():
    a, b = card("a"), card("b")
    same_items, made = SameItems(size=2), []

    def make(items):
        made.append([one.id for one in items])
        return made[-1]

    first = same_items.get([a, b], make)
    assert type(first) is KeptList and first == ["a", "b"]
    assert same_items.get((a, b), make) is first  # the very same objects, in another sequence
    assert same_items.get([a, card("b")], make) == ["a", "b"] and len(made) == 2  # equal is not the same
    assert same_items.get([b, a], make) == ["b", "a"]  # order counts
    assert same_items.get([a, b], make) is not first and len(made) == 4  # three lists since: the oldest went
    assert same_items.get([], make) == [] and same_items.get([], make) == [] and len(made) == 5


def test_same_items_let_go_of_a_list_when_one_of_its_items_goes():
    import gc
    import weakref

    a, b = card("a"), card("b")
    same_items = SameItems()
    ids = lambda items: [one.id for one in items]  # noqa: E731 (refers to no item)
    kept_list = weakref.ref(same_items.get([a, b], ids))
    assert kept_list() is not None
    gc.disable()
    try:
        del b
        assert kept_list() is None
        assert same_items.get([a, card("b")], ids) == ["a", "b"]
    finally:
        gc.enable()
