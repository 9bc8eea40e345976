"""Impact analysis: what depends on an agreement, party or system, on every backend."""

import asyncio
from datetime import date

import pytest

from registry.auth.roles import Principal
from registry.api.context import Context
from registry.api.schema import schema
from registry.compliance import impact
from registry.errors import InvalidArgument, NotFound
from tests.compliance_graphs import BASE

# The reinsurer retrocedes diagnoses to a retrocessionaire, which files them with a regulator;
# claims-sys also sends contact details to the warehouse.
EXTRA = """
parties:
  - {id: retro, name: Retrocessionaire, kind: reinsurer, country: DE, role: controller}
  - {id: regulator, name: Regulator, kind: regulator, country: DE, role: controller}
agreements:
  - {id: retro-treaty, name: Retrocession, kind: reinsurance-treaty, parties: [re, retro], categories: [health],
     purposes: [reinsurance], legal_basis: gdpr-6-1-f, condition: gdpr-9-2-f, effective: 2024-01-01}
  - {id: mandate, name: Mandate, kind: regulatory, parties: [retro, regulator], categories: [health],
     purposes: [reinsurance], legal_basis: gdpr-6-1-c, condition: gdpr-9-2-g, effective: 2024-01-01}
flows:
  - {id: f-retro, name: Retrocession, from: re, to: retro, categories: [health.diagnosis], purpose: reinsurance,
     agreement: retro-treaty}
  - {id: f-reg, name: Filing, from: retro, to: regulator, categories: [health.diagnosis], purpose: reinsurance,
     agreement: mandate}
  - {id: f-dwh, name: Contacts to the warehouse, from: claims-sys, to: dwh, categories: [contact], purpose: claims,
     legal_basis: gdpr-6-1-b}
"""


@pytest.fixture
def loaded(registry):
    registry.load([("base.yaml", BASE), ("extra.yaml", EXTRA)], actor="test")
    return registry


def ids(docs):
    return [doc["id"] for doc in docs]


def test_an_agreement_impacts_its_flows_and_everyone_downstream_of_them(loaded):
    found = impact(loaded, agreement="treaty", as_of=date(2026, 11, 25))
    assert (found.entity.type, found.entity.id) == ("agreement", "treaty")
    assert ids(found.flows) == ["f-re"]
    assert ids(found.categories) == ["contact", "health.diagnosis"]
    assert ids(found.purposes) == ["reinsurance"]
    assert [h.id for h in found.holders] == ["re", "regulator", "retro"]
    assert found.findings == []
    assert (found.subject_systems, found.subject_count) == (["claims-sys"], 0)  # no subjects loaded


def test_findings_are_those_on_the_evaluation_date(loaded):
    found = impact(loaded, agreement="treaty", as_of=date(2027, 11, 1))
    assert [(f.rule, f.entity_kind, f.entity_id) for f in found.findings] == [
        ("agreement-expiring", "agreement", "treaty")]
    found = impact(loaded, agreement="treaty", as_of=date(2028, 1, 1))
    assert [(f.rule, f.entity_kind, f.entity_id) for f in found.findings] == [("agreement-expired", "flow", "f-re")]


def test_a_system_impacts_its_flows_declarations_and_downstream_holders(loaded):
    asked = []
    found = impact(loaded, system="claims-sys", count_subjects=lambda systems: asked.append(sorted(systems)) or 7)
    assert ids(found.flows) == ["f-dwh", "f-re"]
    assert ids(found.categories) == ["contact", "criminal", "financial", "health", "health.diagnosis"]
    assert ids(found.purposes) == ["claims", "reinsurance"]
    assert [h.id for h in found.holders] == ["dwh", "re", "regulator", "retro"]
    assert (found.subject_systems, found.subject_count, asked) == (["claims-sys", "dwh"], 7, [["claims-sys", "dwh"]])


def test_a_party_impacts_the_flows_to_and_from_it(loaded):
    found = impact(loaded, party="retro")
    assert ids(found.flows) == ["f-reg", "f-retro"]
    assert ids(found.categories) == ["health.diagnosis"]
    assert [h.id for h in found.holders] == ["regulator"]
    assert found.subject_systems == []


@pytest.mark.parametrize("arguments, error, message", [
    (dict(), InvalidArgument, "give exactly one of agreement, party or system"),
    (dict(agreement="treaty", system="dwh"), InvalidArgument, "give exactly one of agreement, party or system"),
    (dict(agreement="nope"), NotFound, "agreement: unknown agreement 'nope'"),
    (dict(party="claims-sys"), NotFound, "party: unknown party 'claims-sys'"),
])
def test_bad_arguments_are_refused_by_name(loaded, arguments, error, message):
    with pytest.raises(error) as raised:
        impact(loaded, **arguments)
    assert str(raised.value) == message


def test_impact_over_graphql(loaded):
    context = Context(registry=loaded, principal=Principal.of("tester", "viewer"))
    result = asyncio.run(schema.execute("""{ impact(agreement: "treaty", asOf: "2027-11-01") {
        entity { id ... on Agreement { expires } } flows { id } categories { id } purposes { id } holders { id kind }
        findings { rule entityId } subjectCount } }""", context_value=context))
    assert result.errors is None
    assert result.data["impact"] == {
        "entity": {"id": "treaty", "expires": "2027-12-31"}, "flows": [{"id": "f-re"}],
        "categories": [{"id": "contact"}, {"id": "health.diagnosis"}], "purposes": [{"id": "reinsurance"}],
        "holders": [{"id": "re", "kind": "PARTY"}, {"id": "regulator", "kind": "PARTY"},
                    {"id": "retro", "kind": "PARTY"}],
        "findings": [{"rule": "agreement-expiring", "entityId": "treaty"}], "subjectCount": 0}
