"""Lineage: the part of the flow graph reached from a node, on every backend."""

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


@pytest.mark.parametrize("kwargs, error", [
    ({"start": "nope"}, NotFound),
    ({"start": "health"}, NotFound),
    ({"start": "crm", "categories": ["nope"]}, NotFound),
    ({"start": "crm", "depth": -1}, InvalidArgument),
    ({"start": "crm", "depth": MAX_DEPTH + 1}, InvalidArgument),
])
def test_bad_arguments_are_reported(lineage_registry, kwargs, error):
    with pytest.raises(error):
        lineage_registry.lineage(**kwargs)
