"""Purposes form a hierarchy like categories: a scope that names a purpose covers its
descendants (never its ancestors), flags are inherited, and parent cycles are refused. On every
backend."""

import asyncio
from datetime import date

import pytest

from registry.api.context import Context
from registry.api.schema import schema
from registry.auth.roles import Principal
from registry.bundle import BundleInvalid
from registry.compliance import findings
from tests.compliance_cases import entity, load_case

TODAY = date(2026, 11, 25)
FIDES = "purpose-hierarchy-not-expressible"
TARGETED = "marketing.advertising.first_party.targeted"
TAXONOMY = f"""
purposes:
  - {{id: marketing.advertising, name: Advertising, parent: marketing}}
  - {{id: marketing.advertising.first_party, name: First-party advertising, parent: marketing.advertising}}
  - {{id: {TARGETED}, name: First-party targeted ads, parent: marketing.advertising.first_party}}
"""


def found(registry):
    return [(f.rule, f.entity_id) for f in findings(registry, as_of=TODAY)]


def test_without_a_parent_the_narrower_purpose_is_out_of_scope(registry):
    assert found(load_case(registry, FIDES)) == [("agreement-purpose-out-of-scope", "crm-to-agency")]


def test_an_agreement_for_marketing_covers_its_descendants(registry):
    assert found(load_case(registry, FIDES, TAXONOMY)) == []


def test_a_narrower_agreement_does_not_cover_the_broader_purpose(registry):
    overlay = TAXONOMY + entity(FIDES, "agreements", "dpa-agency", purposes=["marketing.advertising"]) \
        + entity(FIDES, "flows", "crm-to-agency", purpose="marketing")
    assert found(load_case(registry, FIDES, overlay)) == [("agreement-purpose-out-of-scope", "crm-to-agency")]


def test_a_sibling_is_not_covered(registry):
    overlay = TAXONOMY + "  - {id: marketing.advertising.third_party, name: Third-party ads, " \
                         "parent: marketing.advertising}\n" \
        + entity(FIDES, "agreements", "dpa-agency", purposes=["marketing.advertising.third_party"])
    assert found(load_case(registry, FIDES, overlay)) == [("agreement-purpose-out-of-scope", "crm-to-agency")]


def test_insurance_functions_are_inherited_for_naic(registry):
    bundle = """
categories: [{id: health, name: Health, special: true, health: true}]
purposes:
  - {id: claims, name: Claims handling, insurance_function: true}
  - {id: claims.medical-review, name: Medical review of claims, parent: claims}
systems:
  - {id: us-claims, name: US claims, country: US, holds: [{category: health, purposes: [claims],
     legal_basis: glba-6802-e-1, condition: naic-672-authorisation, retention: P7Y}]}
parties:
  - {id: reviewer, name: Medical reviewer, kind: other, country: US, role: controller}
agreements:
  - {id: review, name: Review agreement, kind: dsa, parties: [reviewer], effective: 2025-01-01}
flows:
  - {id: to-reviewer, name: Reviews, from: us-claims, to: reviewer, categories: [health],
     purpose: claims.medical-review, legal_basis: glba-6802-e-1, agreement: review}
"""
    registry.load([("bundle.yaml", bundle)], actor="test")
    assert found(registry) == []


@pytest.mark.parametrize("bundle, message", [
    ("purposes: [{id: a, name: A, parent: b}, {id: b, name: B, parent: a}]",
     ["bundle.yaml:1:37: purpose 'a': parent: parent cycle: a → b → a",
      "bundle.yaml:1:66: purpose 'b': parent: parent cycle: b → a → b"]),
    ("categories: [{id: c, name: C}]\npurposes: [{id: a, name: A, parent: c}]",
     ["bundle.yaml:2:37: purpose 'a': parent: 'c' is a category, not a purpose"]),
], ids=["cycle", "parent-of-another-type"])
def test_bad_parents_are_refused(registry, bundle, message):
    with pytest.raises(BundleInvalid) as error:
        registry.load([("bundle.yaml", bundle)], actor="test")
    assert [str(p) for p in error.value.problems] == message


def test_a_cycle_through_existing_purposes_is_refused(registry):
    registry.load([("a.yaml", "purposes: [{id: a, name: A}, {id: b, name: B, parent: a}]")], actor="test")
    with pytest.raises(BundleInvalid, match="parent cycle: a → b → a"):
        registry.load([("b.yaml", "purposes: [{id: a, name: A, parent: b}]")], actor="test")


def test_purposes_show_their_parent_over_graphql(registry):
    load_case(registry, FIDES, TAXONOMY)
    context = Context(registry=registry, principal=Principal.of("tester", "viewer"))
    result = asyncio.run(schema.execute(f'{{ node(id: "{TARGETED}") {{ ... on Purpose {{ parent {{ id parent {{ id }} }} }} }} }}',
                                        context_value=context))
    assert result.errors is None
    assert result.data["node"] == {"parent": {"id": "marketing.advertising.first_party",
                                              "parent": {"id": "marketing.advertising"}}}
