"""Lineage: the part of the flow graph reached from a node, on every backend."""

import datetime

import pytest

from graph.store import MAX_DEPTH
from registry.errors import InvalidArgument, NotFound
from tests.graphs import LINEAGE


@pytest.fixture
def lineage_registry(registry):
    registry.load([("lineage.yaml", LINEAGE)], actor="test")
    return registry


def shape(lineage):
    return [n.id for n in lineage.nodes], [e["id"] for e in lineage.edges]


def test_downstream_follows_flows_transitively_through_cycles(lineage_registry):
    assert shape(lineage_registry.lineage("claims")) == (
        ["actuarial", "claims", "dwh", "re"], ["f1", "f2", "f3", "f4", "f5"])


def test_depth_bounds_the_number_of_flows_followed(lineage_registry):
    assert shape(lineage_registry.lineage("claims", depth=1)) == (["claims", "dwh", "re"], ["f1", "f3"])
    assert shape(lineage_registry.lineage("claims", depth=0)) == (["claims"], [])


def test_upstream_follows_flows_backwards_to_the_origins(lineage_registry):
    assert shape(lineage_registry.lineage("re", direction="upstream")) == (
        ["actuarial", "broker", "claims", "crm", "dwh", "re"], ["b1", "f1", "f2", "f3", "f4", "f5", "f6"])


def test_category_filter_keeps_flows_of_ancestors_and_descendants(lineage_registry):
    assert shape(lineage_registry.lineage("re", direction="upstream", categories=["health.diagnosis"])) == (
        ["actuarial", "claims", "dwh", "re"], ["f1", "f2", "f3", "f4", "f5"])
    assert shape(lineage_registry.lineage("crm", categories=["contact"])) == (
        ["actuarial", "crm", "dwh"], ["f4", "f6"])


def test_both_directions_combine_upstream_and_downstream(lineage_registry):
    assert shape(lineage_registry.lineage("dwh", direction="both", depth=1)) == (
        ["actuarial", "claims", "crm", "dwh", "re"], ["f1", "f2", "f4", "f5", "f6"])


def test_edges_carry_what_a_visualisation_draws(lineage_registry):
    edge = next(e for e in lineage_registry.lineage("claims", depth=1).edges if e["id"] == "f3")
    assert (edge["from"], edge["to"], edge["categories"], edge["purpose"], edge["agreement"]) == (
        "claims", "re", ["health"], "reinsurance", "treaty")
    nodes = {n.id: n.type for n in lineage_registry.lineage("claims", depth=1).nodes}
    assert nodes == {"claims": "system", "dwh": "system", "re": "party"}


def test_without_a_start_the_lineage_is_the_whole_registry(lineage_registry):
    whole = lineage_registry.lineage(None)
    assert shape(whole) == (["actuarial", "broker", "claims", "crm", "dwh", "re"],
                            ["b1", "f1", "f2", "f3", "f4", "f5", "f6"])
    assert (whole.distances, whole.truncated) == ({}, False)


@pytest.mark.parametrize("categories, nodes, edges", [
    # contact: the flows carrying it, their ends, and crm, which declares it
    (["contact"], ["actuarial", "broker", "crm", "dwh"], ["b1", "f4", "f6"]),
    # oncology overlaps its ancestors (diagnoses, health): every health flow; claims declares health
    (["health.diagnosis.oncology"], ["actuarial", "claims", "dwh", "re"], ["f1", "f2", "f3", "f4", "f5"]),
])
def test_the_whole_registry_filtered_by_categories(lineage_registry, categories, nodes, edges):
    assert shape(lineage_registry.lineage(None, categories=categories)) == (nodes, edges)


def test_the_whole_registry_on_a_day_leaves_out_flows_not_in_force_unless_planned_ones_are_asked_for(
        lineage_registry):
    lineage_registry.upsert("flow", {"id": "f7", "name": "Planned", "from": "crm", "to": "re", "categories": ["contact"],
                                     "purpose": "analytics", "status": "proposed"}, actor="test")
    lineage_registry.upsert("flow", {"id": "f8", "name": "Ended", "from": "crm", "to": "re", "categories": ["contact"],
                                     "purpose": "analytics", "until": "2026-01-31"}, actor="test")
    on = datetime.date(2026, 6, 1)
    assert shape(lineage_registry.lineage(None, as_of=on))[1] == ["b1", "f1", "f2", "f3", "f4", "f5", "f6"]
    assert shape(lineage_registry.lineage(None, as_of=on, include_proposed=True))[1][-1] == "f7"
    assert "f8" in shape(lineage_registry.lineage(None, as_of=datetime.date(2026, 1, 31)))[1]  # its last day


@pytest.mark.parametrize("kwargs, error", [
    ({"start": "nope"}, NotFound),
    ({"start": "health"}, NotFound),
    ({"start": "crm", "categories": ["nope"]}, NotFound),
    ({"start": "crm", "depth": -1}, InvalidArgument),
    ({"start": "crm", "depth": MAX_DEPTH + 1}, InvalidArgument),
    ({"start": None, "direction": "upstream"}, InvalidArgument),
    ({"start": None, "depth": 2}, InvalidArgument),
    ({"start": None, "categories": ["nope"]}, NotFound),
])
def test_bad_arguments_are_reported(lineage_registry, kwargs, error):
    with pytest.raises(error):
        lineage_registry.lineage(**kwargs)


def test_nodes_carry_their_distance_from_the_start(lineage_registry):
    assert lineage_registry.lineage("claims").distances == {"actuarial": 2, "claims": 0, "dwh": 1, "re": 1}
    # Both directions: the fewer flows either way.
    assert lineage_registry.lineage("dwh", direction="both").distances == {
        "actuarial": 1, "broker": 2, "claims": 1, "crm": 1, "dwh": 0, "re": 1}


@pytest.mark.parametrize("kwargs, truncated", [
    ({"start": "claims", "depth": 1}, True),        # f4 and f5 go on from dwh
    ({"start": "claims", "depth": 2}, True),        # f5 goes back from actuarial to dwh: not in the answer yet
    ({"start": "claims", "depth": 3}, False),
    ({"start": "claims", "depth": 0}, True),
    ({"start": "re", "depth": 0}, False),           # nothing leaves the reinsurer
    ({"start": "crm", "depth": 1, "categories": ["contact"]}, True),
    ({"start": "claims", "depth": 1, "categories": ["contact"]}, False),
    ({"start": "re", "direction": "upstream", "depth": 1}, True),
    ({"start": "broker", "direction": "upstream", "depth": 0}, False),
])
def test_the_answer_says_when_the_depth_bound_cut_it(lineage_registry, kwargs, truncated):
    assert lineage_registry.lineage(**kwargs).truncated is truncated


def test_the_64_flow_cap_is_reported(registry):
    docs = ["systems:", "  - {id: n000, name: N, country: DE, holds: [{category: c}]}"]
    docs += [f"  - {{id: n{i:03d}, name: N, country: DE}}" for i in range(1, MAX_DEPTH + 2)]
    docs += ["categories: [{id: c, name: C}]", "purposes: [{id: p, name: P}]", "flows:"]
    docs += [f"  - {{id: f{i:03d}, name: F, from: n{i:03d}, to: n{i + 1:03d}, categories: [c], purpose: p}}"
             for i in range(MAX_DEPTH + 1)]
    registry.load([("chain.yaml", "\n".join(docs))], actor="test")
    cut = registry.lineage("n000")
    assert (len(cut.edges), max(cut.distances.values()), cut.truncated) == (MAX_DEPTH, MAX_DEPTH, True)
    assert registry.lineage("n001").truncated is False
