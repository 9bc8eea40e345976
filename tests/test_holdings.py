"""Who holds which data and why: exact answers on the hand-built graphs, on every backend."""

import pytest

from registry.errors import NotFound
from tests.compliance_cases import entity, load_case
from tests.graphs import LINEAGE, TIES


def answer(views):
    return [(v.holding.holder, v.holding.category, v.holding.flow, list(v.holding.path)) for v in views]


@pytest.fixture
def lineage_registry(registry):
    registry.load([("lineage.yaml", LINEAGE)], actor="test")
    return registry


def test_holders_follow_category_hierarchy_both_ways_with_shortest_paths(lineage_registry):
    assert answer(lineage_registry.holders("health.diagnosis")) == [
        ("actuarial", "health.diagnosis.oncology", "f4", ["f1", "f4"]),
        ("claims", "health", None, []),
        ("dwh", "health.diagnosis", "f1", ["f1"]),
        ("dwh", "health.diagnosis", "f5", ["f1", "f4", "f5"]),
        ("re", "health", "f3", ["f3"]),
        ("re", "health.diagnosis", "f2", ["f1", "f2"]),
    ]


def test_holders_without_descendants_leave_out_narrower_categories(lineage_registry):
    assert [a[:3] for a in answer(lineage_registry.holders("health.diagnosis", include_descendants=False))] == [
        ("claims", "health", None),
        ("dwh", "health.diagnosis", "f1"),
        ("dwh", "health.diagnosis", "f5"),
        ("re", "health", "f3"),
        ("re", "health.diagnosis", "f2"),
    ]


def test_holders_of_a_leaf_include_holders_of_its_ancestors(lineage_registry):
    leaf = answer(lineage_registry.holders("health.diagnosis.oncology"))
    assert leaf == answer(lineage_registry.holders("health.diagnosis"))


def test_paths_start_at_parties_that_nothing_feeds(lineage_registry):
    assert answer(lineage_registry.holders("contact")) == [
        ("actuarial", "contact", "f4", ["f6", "f4"]),
        ("crm", "contact", None, []),
        ("crm", "contact", "b1", ["b1"]),
        ("dwh", "contact", "f6", ["f6"]),
    ]


def test_holding_carries_the_reason(lineage_registry):
    [declared, *_] = lineage_registry.holders("health", include_descendants=False)
    assert declared.holding.declared
    assert declared.holding.purposes == ("claims-handling",)
    assert (declared.holding.legal_basis, declared.holding.condition) == ("gdpr-6-1-b", "gdpr-9-2-f")
    assert declared.holding.retention == "P10Y"
    to_re = next(v.holding for v in lineage_registry.holdings("re") if v.holding.flow == "f2")
    assert (to_re.purposes, to_re.agreement, to_re.legal_basis, to_re.condition) == (
        ("reinsurance",), "treaty", "gdpr-6-1-b", "gdpr-9-2-f")
    # f3 relies on the treaty for its basis, condition and transfer mechanism.
    from_treaty = next(v.holding for v in lineage_registry.holdings("re") if v.holding.flow == "f3")
    assert (from_treaty.legal_basis, from_treaty.condition, from_treaty.transfer_mechanism) == (
        "gdpr-6-1-b", "gdpr-9-2-f", "scc")
    assert not to_re.declared


def test_holder_reached_by_several_flows_has_one_holding_per_flow(lineage_registry):
    assert answer(lineage_registry.holdings("dwh")) == [
        ("dwh", "contact", "f6", ["f6"]),
        ("dwh", "health.diagnosis", "f1", ["f1"]),
        ("dwh", "health.diagnosis", "f5", ["f1", "f4", "f5"]),
    ]


def test_holdings_list_declarations_and_every_carried_category(lineage_registry):
    assert answer(lineage_registry.holdings("crm")) == [
        ("crm", "contact", None, []),
        ("crm", "contact", "b1", ["b1"]),
    ]
    assert answer(lineage_registry.holdings("actuarial")) == [
        ("actuarial", "contact", "f4", ["f6", "f4"]),
        ("actuarial", "health.diagnosis.oncology", "f4", ["f1", "f4"]),
    ]


def test_equal_length_chains_choose_the_smallest_flow_ids_and_unfed_cycles_terminate(registry):
    registry.load([("ties.yaml", TIES)], actor="test")
    assert answer(registry.holdings("w")) == [("w", "x", "t-e", ["t-a", "t-d", "t-e"])]
    assert answer(registry.holders("y")) == [("p", "y", "u2", ["u2"]), ("q", "y", "u1", ["u1"])]


def test_a_flow_target_holds_what_the_flow_carries_even_when_the_source_declares_nothing(lineage_registry):
    # dwh declares nothing, yet re holds diagnoses through f2.
    assert ("re", "health.diagnosis", "f2", ["f1", "f2"]) in answer(lineage_registry.holdings("re"))


def test_views_include_the_entities_they_name(lineage_registry):
    view = next(v for v in lineage_registry.holdings("re") if v.holding.flow == "f2")
    assert view.entity("re").doc["name"] == "Reinsurer"
    assert view.entity("treaty").doc["transfer_mechanism"] == "scc"
    assert view.entity("health.diagnosis").type == "category"


@pytest.mark.parametrize("call", [lambda r: r.holders("nope"), lambda r: r.holders("crm"),
                                  lambda r: r.holdings("nope"), lambda r: r.holdings("health")])
def test_unknown_ids_are_reported(lineage_registry, call):
    with pytest.raises(NotFound):
        call(lineage_registry)


# --- effective bases: the flow's own terms, else its agreement's, with their source ----------

EFFECTIVE = "holders-show-own-basis-not-effective"


def terms(holding):
    return ((holding.legal_basis, holding.legal_basis_source), (holding.condition, holding.condition_source),
            (holding.transfer_mechanism, holding.transfer_mechanism_source))


def test_a_flow_relying_on_its_agreement_shows_the_agreements_basis_and_condition(registry):
    load_case(registry, EFFECTIVE)
    by_holder = {v.holding.holder: v.holding for v in registry.holders("health")}
    assert terms(by_holder["tpa"]) == (("gdpr-6-1-b", "agreement"), ("gdpr-9-2-f", "agreement"), (None, None))
    assert terms(by_holder["claims"]) == (("gdpr-6-1-b", "declaration"), ("gdpr-9-2-f", "declaration"), (None, None))


def test_the_flows_own_terms_win_term_by_term(registry):
    load_case(registry, EFFECTIVE, entity(EFFECTIVE, "flows", "claims-to-tpa", legal_basis="gdpr-6-1-f",
                                          transfer_mechanism="scc", additional_bases=["glba-6802-e-1"]),
              entity(EFFECTIVE, "agreements", "dpa-tpa", additional_bases=["naic-672-authorisation"]))
    [tpa] = [v.holding for v in registry.holdings("tpa")]
    assert terms(tpa) == (("gdpr-6-1-f", "flow"), ("gdpr-9-2-f", "agreement"), ("scc", "flow"))
    assert (tpa.additional_bases, tpa.additional_bases_source) == (("glba-6802-e-1",), "flow")


def test_holdings_over_graphql_say_where_each_term_comes_from(registry):
    import asyncio

    from registry.api.context import Context
    from registry.api.schema import schema
    from registry.auth.roles import Principal

    load_case(registry, EFFECTIVE)
    context = Context(registry=registry, principal=Principal.of("tester", "viewer"))
    result = asyncio.run(schema.execute("""{ holders(category: "health") { nodes { holder { ... on System { id } ... on Party { id } }
        legalBasis { id } legalBasisSource condition { id } conditionSource transferMechanism transferMechanismSource
        additionalBases { id } subjectCategories { id } } } }""", context_value=context))
    assert result.errors is None
    assert result.data["holders"]["nodes"] == [
        {"holder": {"id": "claims"}, "legalBasis": {"id": "gdpr-6-1-b"}, "legalBasisSource": "DECLARATION",
         "condition": {"id": "gdpr-9-2-f"}, "conditionSource": "DECLARATION", "transferMechanism": None,
         "transferMechanismSource": None, "additionalBases": [], "subjectCategories": []},
        {"holder": {"id": "tpa"}, "legalBasis": {"id": "gdpr-6-1-b"}, "legalBasisSource": "AGREEMENT",
         "condition": {"id": "gdpr-9-2-f"}, "conditionSource": "AGREEMENT", "transferMechanism": None,
         "transferMechanismSource": None, "additionalBases": [], "subjectCategories": []}]
