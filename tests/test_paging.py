"""Cursor paging, the same for every list: pages concatenated are exactly the whole list, `totalCount`
is exact on every page, and a cursor that is not this API's, belongs to another list or went stale is a
clear one-line error; on every backend."""

import asyncio
import base64

import pytest

from registry.api.context import Context
from registry.api.schema import schema
from registry.auth.roles import Principal
from registry.paging import paginate
from tests.graphs import LINEAGE

ADMIN = Principal.of("tester", "admin")
SUBJECT_CATEGORIES = """
subject_categories: [{id: claimant, name: Claimants}, {id: policyholder, name: Policyholders}]
agreements: [{id: dpa-broker, name: Broker DPA, kind: dsa, parties: [broker], effective: 2024-01-01}]
"""


@pytest.fixture
def loaded(registry):
    registry.load([("lineage.yaml", LINEAGE), ("subjects.yaml", SUBJECT_CATEGORIES)], actor="test")
    return registry


def run(registry, query, **variables):
    context = Context(registry=registry, principal=ADMIN)
    result = asyncio.run(schema.execute(query, variable_values=variables, context_value=context))
    return result


def ask(registry, query, **variables):
    result = run(registry, query, **variables)
    assert result.errors is None, result.errors
    return next(iter(result.data.values()))


LISTS = {  # field and arguments -> the selection of one item
    "categories": "id", "purposes": "id", "subjectCategories": "id", "legalBases": "id", "systems": "id",
    "parties": "id", "agreements": "id", "flows": "id",
    'flows(filter: {category: "health"})': "id",
    'holders(category: "health")': "holder { ... on System { id } ... on Party { id } } flow { id } category { id }",
    'holdings(holder: "dwh")': "category { id } flow { id }",
    "findings": "rule entityId category regime",
    "auditLog": "seq",
    "apiTokens": "name",
}


def query(field: str, selection: str, paged: bool) -> str:
    name, _, arguments = field.partition("(")
    arguments = arguments.rstrip(")")
    paging = "first: $first, after: $after" if paged else ""
    inner = ", ".join(a for a in (arguments, paging) if a)
    head = "query ($first: Int, $after: String)" if paged else "query"
    return f"{head} {{ {name}{f'({inner})' if inner else ''} {{ totalCount pageInfo {{ hasNextPage endCursor }} " \
           f"nodes {{ {selection} }} }} }}"


def pages(registry, field: str, size: int) -> tuple[list, int]:
    """Every page of `size` items, concatenated, and how many pages it took."""
    found, after, count, total = [], None, 0, None
    while True:
        page = ask(registry, query(field, LISTS[field], True), first=size, after=after)
        total = page["totalCount"] if total is None else total
        assert page["totalCount"] == total, "totalCount changed between pages"
        assert len(page["nodes"]) <= size
        found += page["nodes"]
        count += 1
        if not page["pageInfo"]["hasNextPage"]:
            assert len(found) == total
            return found, count
        after = page["pageInfo"]["endCursor"]
        assert after


@pytest.mark.parametrize("field", list(LISTS))
def test_pages_concatenated_are_the_whole_list_and_total_count_is_exact(loaded, field):
    Context(registry=loaded, principal=ADMIN).tokens.create(principal=ADMIN, name="ci", role="viewer")
    Context(registry=loaded, principal=ADMIN).tokens.create(principal=ADMIN, name="portal", role="dpo")
    whole = ask(loaded, query(field, LISTS[field], False))
    if field != "auditLog":  # the log returns 100 at a time unless asked for more
        assert whole["totalCount"] == len(whole["nodes"]) > 1
        assert whole["pageInfo"] == {"hasNextPage": False, "endCursor": whole["pageInfo"]["endCursor"]}
    everything = ask(loaded, query(field, LISTS[field], True), first=1000)["nodes"]
    for size in (1, 2, 3, 1000):
        found, count = pages(loaded, field, size)
        assert found == everything
        assert count == max(1, -(-len(everything) // size))
    empty = ask(loaded, query(field, LISTS[field], True), first=0)
    assert empty["nodes"] == [] and empty["pageInfo"]["endCursor"] is None
    assert empty["totalCount"] == len(everything) and empty["pageInfo"]["hasNextPage"] is True


def test_the_last_page_says_there_is_no_next(loaded):
    systems = ask(loaded, "{ systems(first: 3) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } }")
    assert [s["id"] for s in systems["nodes"]] == ["actuarial", "claims", "crm"] and systems["totalCount"] == 4
    rest = ask(loaded, "query ($a: String) { systems(after: $a) { pageInfo { hasNextPage endCursor } nodes { id } } }",
               a=systems["pageInfo"]["endCursor"])
    assert [s["id"] for s in rest["nodes"]] == ["dwh"] and rest["pageInfo"]["hasNextPage"] is False


def errors(registry, text, **variables) -> list[str]:
    result = run(registry, text, **variables)
    return [error.message for error in result.errors or ()]


SYSTEMS = "query ($a: String) { systems(first: 2, after: $a) { nodes { id } pageInfo { endCursor } } }"


def test_a_forged_or_garbled_cursor_is_refused_in_one_line(loaded):
    cursor = ask(loaded, SYSTEMS)["pageInfo"]["endCursor"]
    decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    version, list_, position, key, check = decoded.split(":")
    edited = base64.urlsafe_b64encode(f"{version}:{list_}:3:{key}:{check}".encode()).decode()
    for forged in ("nonsense", "", "∂", cursor[:-2], edited, base64.urlsafe_b64encode(b"c1:a:b:c:d").decode()):
        assert errors(loaded, SYSTEMS, a=forged) == [
            "after: not a cursor this API returned; pass a page's `endCursor` unchanged"], forged


def test_a_cursor_of_another_list_or_other_arguments_is_refused(loaded):
    systems = ask(loaded, SYSTEMS)["pageInfo"]["endCursor"]
    other = ["after: not a cursor of this list: it was made for another query or other arguments; "
             "ask again without `after`"]
    assert errors(loaded, "query ($a: String) { parties(after: $a) { totalCount } }", a=systems) == other
    health = ask(loaded, '{ holders(category: "health", first: 1) { pageInfo { endCursor } } }')["pageInfo"]["endCursor"]
    assert errors(loaded, 'query ($a: String) { holders(category: "contact", after: $a) { totalCount } }',
                  a=health) == other
    assert errors(loaded, 'query ($a: String) { holders(category: "health", filter: {to: "re"}, after: $a) '
                          '{ totalCount } }', a=health) == other
    assert errors(loaded, 'query ($a: String) { holders(category: "health", asOf: "2026-01-01", after: $a) '
                          '{ totalCount } }', a=health) == other
    log = ask(loaded, '{ auditLog(first: 2) { pageInfo { endCursor } } }')["pageInfo"]["endCursor"]
    assert errors(loaded, 'query ($a: String) { auditLog(actor: "bob", after: $a) { totalCount } }', a=log) == other
    assert errors(loaded, "query ($a: String) { systems(after: $a) { totalCount } }", a=log) == other


def test_a_cursor_goes_stale_when_the_list_changes_before_it_and_not_after(loaded):
    cursor = ask(loaded, SYSTEMS)["pageInfo"]["endCursor"]  # after actuarial, claims
    loaded.load_data({"systems": [{"id": "zz-archive", "name": "Archive", "country": "DE"}]}, source="t", actor="t")
    after = ask(loaded, SYSTEMS, a=cursor)
    assert [s["id"] for s in after["nodes"]] == ["crm", "dwh"], "a change after the cursor leaves it valid"
    loaded.load_data({"systems": [{"id": "a-first", "name": "First", "country": "DE"}]}, source="t", actor="t")
    assert errors(loaded, SYSTEMS, a=cursor) == [
        "after: stale cursor: the list changed since that page was read; ask again without `after`"]
    beyond = ask(loaded, "{ systems(first: 6) { pageInfo { endCursor } } }")["pageInfo"]["endCursor"]
    loaded.delete("system", "zz-archive", actor="t")
    assert errors(loaded, SYSTEMS, a=beyond)[0].startswith("after: stale cursor")


def test_a_negative_first_is_refused(loaded):
    assert errors(loaded, "{ flows(first: -1) { totalCount } }") == ["first must not be negative (got -1)"]
    assert errors(loaded, "{ auditLog(first: 1001) { totalCount } }") == ["first must be between 0 and 1000 (got 1001)"]
    assert errors(loaded, "{ auditLog(first: -1) { totalCount } }") == ["first must be between 0 and 1000 (got -1)"]


def test_the_audit_log_pages_newest_first_and_new_entries_do_not_disturb_a_cursor(loaded):
    first = ask(loaded, "{ auditLog(first: 5) { totalCount pageInfo { endCursor } nodes { seq } } }")
    seqs = [e["seq"] for e in first["nodes"]]
    assert seqs == sorted(seqs, reverse=True) and first["totalCount"] == seqs[0]
    loaded.load_data({"purposes": [{"id": "pricing", "name": "Pricing"}]}, source="t", actor="t")
    second = ask(loaded, "query ($a: String) { auditLog(first: 5, after: $a) { totalCount nodes { seq } } }",
                 a=first["pageInfo"]["endCursor"])
    assert [e["seq"] for e in second["nodes"]] == list(range(seqs[-1] - 1, seqs[-1] - 6, -1))
    assert second["totalCount"] == first["totalCount"] + 1


def test_paginate_keys_cursors_by_item_and_list():
    items = [f"i{n:02}" for n in range(10)]
    page = paginate(items, first=4, list_id="l")
    assert (page.items, page.total, page.has_next) == (items[:4], 10, True)
    assert paginate(items, first=4, after=page.end_cursor, list_id="l").items == items[4:8]
    assert paginate(items, after=page.end_cursor, list_id="l").items == items[4:]
    assert paginate([], list_id="l").end_cursor is None


def test_data_subjects_page_with_the_same_opaque_cursors(loaded):
    from graph.subjects import SubjectRow

    loaded.store.write_subjects([SubjectRow(f"C-{n}", "policyholder", [{"system": "crm"}], []) for n in range(7)],
                                actor="test", source="test.jsonl")
    page = "query ($a: String) { subjects(first: 3, after: $a) { totalCount pageInfo { hasNextPage endCursor } " \
           "nodes { id } } }"
    found, after = [], None
    while True:
        answer = ask(loaded, page, a=after)
        assert answer["totalCount"] == 7
        found += [s["id"] for s in answer["nodes"]]
        if not answer["pageInfo"]["hasNextPage"]:
            break
        after = answer["pageInfo"]["endCursor"]
        assert "C-" not in after, "the cursor is opaque"
    assert found == [f"C-{n}" for n in range(7)]
    assert errors(loaded, page, a="C-2") == [
        "after: not a cursor this API returned; pass a page's `endCursor` unchanged"]
    foreign = ["after: not a cursor of this list: it was made for another query or other arguments; "
               "ask again without `after`"]
    assert errors(loaded, page, a=ask(loaded, SYSTEMS)["pageInfo"]["endCursor"]) == foreign
    assert errors(loaded, "query ($a: String) { systems(after: $a) { totalCount } }", a=after) == foreign
