"""Filters of `flows` and `holders`: sender, receiver, category, purpose, party kind, country and
"outside the EEA" give exact subsets of the whole list (in its order), alone and combined, the same
on every backend; a filter naming nothing is a clear error."""

import asyncio

import pytest

from registry.api.context import Context
from registry.api.schema import schema
from registry.auth.roles import Principal
from registry.filters import FlowFilter
from tests.graphs import LINEAGE

# Beyond LINEAGE: a purpose under `analytics`, a processor in Ireland (EEA) and a TPA in Switzerland
# (outside the EEA, with an adequacy decision: still outside).
EXTRA = """
purposes:
  - {id: analytics.pricing, name: Pricing, parent: analytics}
parties:
  - {id: cloud, name: Cloud, kind: processor, country: IE, role: processor}
  - {id: tpa, name: TPA, kind: tpa, country: CH, role: processor}
flows:
  - {id: g1, name: DWH to cloud, from: dwh, to: cloud, categories: [contact], purpose: analytics.pricing}
  - {id: g2, name: Claims to TPA, from: claims, to: tpa, categories: [health.diagnosis.oncology], purpose: claims-handling}
"""
ALL_FLOWS = ["b1", "f1", "f2", "f3", "f4", "f5", "f6", "g1", "g2"]


@pytest.fixture
def loaded(registry):
    registry.load([("lineage.yaml", LINEAGE), ("extra.yaml", EXTRA)], actor="test")
    return registry


def run(registry, query, **variables):
    context = Context(registry=registry, principal=Principal.of("tester", "viewer"))
    return asyncio.run(schema.execute(query, variable_values=variables, context_value=context))


def flows(registry, **filter) -> list[str]:
    result = run(registry, "query ($f: FlowFilter) { flows(filter: $f) { totalCount nodes { id } } }", f=filter)
    assert result.errors is None, result.errors
    ids = [flow["id"] for flow in result.data["flows"]["nodes"]]
    assert result.data["flows"]["totalCount"] == len(ids)
    assert ids == [id_ for id_ in ALL_FLOWS if id_ in ids], "not a subset in the list's order"
    return ids


@pytest.mark.parametrize("filter, expected", [
    ({}, ALL_FLOWS),
    ({"from": "dwh"}, ["f2", "f4", "g1"]),
    ({"to": "dwh"}, ["f1", "f5", "f6"]),
    ({"category": "health.diagnosis"}, ["f1", "f2", "f3", "f4", "f5", "g2"]),  # broader and narrower data too
    ({"category": "health.diagnosis.oncology"}, ["f1", "f2", "f3", "f4", "f5", "g2"]),
    ({"category": "contact"}, ["b1", "f4", "f6", "g1"]),
    ({"purpose": "analytics"}, ["f1", "f4", "f5", "f6", "g1"]),  # a purpose covers its narrower ones
    ({"purpose": "analytics.pricing"}, ["g1"]),
    ({"partyKind": "REINSURER"}, ["f2", "f3"]),
    ({"partyKind": "BROKER"}, []),  # the broker only sends: the kind is the receiving end's
    ({"partyKind": "PROCESSOR"}, ["g1"]),
    ({"country": "US"}, ["f2", "f3"]),
    ({"country": "DE"}, ["b1", "f1", "f4", "f5", "f6"]),
    ({"outsideEea": True}, ["f2", "f3", "g2"]),
    ({"outsideEea": False}, ["b1", "f1", "f4", "f5", "f6", "g1"]),
    ({"from": "dwh", "outsideEea": True}, ["f2"]),
    ({"category": "contact", "purpose": "analytics", "country": "IE"}, ["g1"]),
    ({"from": "claims", "to": "re", "partyKind": "REINSURER", "category": "health"}, ["f3"]),
    ({"from": "broker", "to": "dwh"}, []),
])
def test_flow_filters_keep_exactly_the_flows_that_match(loaded, filter, expected):
    assert flows(loaded, **filter) == expected


def test_the_service_filters_the_same_way(loaded):
    in_eea = {"DE", "IE"}.__contains__
    found = loaded.flows(FlowFilter(sender="dwh", outside_eea=False), in_eea=in_eea)
    assert [doc["id"] for doc in found] == ["f4", "g1"]
    assert [doc["id"] for doc in loaded.flows()] == ALL_FLOWS


HOLDERS = """query ($c: ID!, $f: FlowFilter) { holders(category: $c, filter: $f) {
  totalCount nodes { holder { ... on System { id country } ... on Party { id kind country } } flow { id } } } }"""


def holders(registry, **filter) -> list[tuple]:
    result = run(registry, HOLDERS, c="health.diagnosis", f=filter)
    assert result.errors is None, result.errors
    found = [(h["holder"]["id"], h["flow"]["id"] if h["flow"] else None) for h in result.data["holders"]["nodes"]]
    assert result.data["holders"]["totalCount"] == len(found)
    return found


EVERY_HOLDER = [("actuarial", "f4"), ("claims", None), ("dwh", "f1"), ("dwh", "f5"), ("re", "f3"), ("re", "f2"),
                ("tpa", "g2")]


@pytest.mark.parametrize("filter, expected", [
    ({}, EVERY_HOLDER),
    ({"from": "claims"}, [("dwh", "f1"), ("re", "f3"), ("tpa", "g2")]),  # a declaration has no sender
    ({"to": "re"}, [("re", "f3"), ("re", "f2")]),
    ({"purpose": "claims-handling"}, [("claims", None), ("tpa", "g2")]),
    ({"partyKind": "TPA"}, [("tpa", "g2")]),
    ({"country": "DE"}, [("actuarial", "f4"), ("claims", None), ("dwh", "f1"), ("dwh", "f5")]),
    ({"outsideEea": True}, [("re", "f3"), ("re", "f2"), ("tpa", "g2")]),
    ({"outsideEea": False, "from": "dwh"}, [("actuarial", "f4")]),
    ({"category": "health.diagnosis.oncology"}, EVERY_HOLDER),
    ({"category": "contact"}, []),
])
def test_holder_filters_keep_exactly_the_holdings_that_match(loaded, filter, expected):
    assert holders(loaded, **filter) == expected
    every = holders(loaded)
    assert [h for h in every if h in expected] == expected


@pytest.mark.parametrize("filter, message", [
    ({"from": "nope"}, "from: unknown system or party 'nope'"),
    ({"to": "contact"}, "to: unknown system or party 'contact'"),
    ({"category": "crm"}, "category: unknown category 'crm'"),
    ({"purpose": "fun"}, "purpose: unknown purpose 'fun'"),
    ({"country": "XX"}, "country: 'XX' is not an ISO 3166-1 alpha-2 country code"),
    ({"country": "de"}, "country: 'de' is not an ISO 3166-1 alpha-2 country code"),
    ({"from": "nope", "purpose": "fun", "country": "de"},  # every problem at once, in the filter's order
     "from: unknown system or party 'nope'; purpose: unknown purpose 'fun'; "
     "country: 'de' is not an ISO 3166-1 alpha-2 country code"),
])
def test_a_filter_naming_nothing_is_a_clear_error(loaded, filter, message):
    for query in ("query ($f: FlowFilter) { flows(filter: $f) { totalCount } }",
                  'query ($f: FlowFilter) { holders(category: "health", filter: $f) { totalCount } }'):
        result = run(loaded, query, f=filter)
        assert [error.message for error in result.errors] == [message]
    result = run(loaded, 'query { flows(filter: {partyKind: ALIEN}) { totalCount } }')
    assert "Value 'ALIEN' does not exist in 'PartyKind' enum" in result.errors[0].message
