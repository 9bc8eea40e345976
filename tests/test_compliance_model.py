"""The fields compliance adds to the model: in bundles, exports and GraphQL, on every backend;
and the built-in NAIC authorisation."""

import asyncio

from registry.auth.roles import Principal
from registry.api.context import Context
from registry.api.schema import schema

BUNDLE = """
purposes:
  - {id: claims, name: Claims, insurance_function: true}
  - {id: marketing, name: Marketing}
systems:
  - {id: crm, name: CRM, country: DE, security_measures: MFA and encryption at rest.}
  - {id: legacy, name: Legacy, country: DE}
parties:
  - {id: saas, name: SaaS, kind: processor, country: US, role: processor, dpf_certified: true}
  - {id: bpo, name: BPO, kind: processor, country: IN, role: processor}
"""


def test_flags_are_stored_only_when_set_and_export_round_trips(registry):
    registry.load([("bundle.yaml", BUNDLE)], actor="test")
    assert {doc["id"]: doc.get("insurance_function") for doc in registry.list("purpose")} == {
        "claims": True, "marketing": None}
    assert {doc["id"]: doc.get("dpf_certified") for doc in registry.list("party")} == {"bpo": None, "saas": True}
    exported = registry.export()
    assert exported["systems"] == [{"id": "crm", "name": "CRM", "country": "DE",
                                    "security_measures": "MFA and encryption at rest."},
                                   {"id": "legacy", "name": "Legacy", "country": "DE"}]
    assert registry.load_data(exported, source="export", actor="test").unchanged == len(
        [doc for section in exported.values() for doc in section])


def test_flags_in_graphql_and_upserts(registry):
    registry.load([("bundle.yaml", BUNDLE)], actor="test")
    context = Context(registry=registry, principal=Principal.of("tester", "steward"))
    result = asyncio.run(schema.execute("""mutation {
        upsertSystem(input: {id: "us-core", name: "US core", country: "US", dpfCertified: true,
                             securityMeasures: "SOC 2"}) { id dpfCertified securityMeasures } }""",
                                        context_value=context))
    assert result.errors is None
    assert result.data["upsertSystem"] == {"id": "us-core", "dpfCertified": True, "securityMeasures": "SOC 2"}
    result = asyncio.run(schema.execute("""{ purposes { id insuranceFunction } parties { id dpfCertified }
        node(id: "naic-672-authorisation") { ... on LegalBasis { kind consent reference } } }""",
                                        context_value=context))
    assert result.errors is None
    assert result.data["purposes"] == [{"id": "claims", "insuranceFunction": True},
                                       {"id": "marketing", "insuranceFunction": False}]
    assert result.data["parties"] == [{"id": "bpo", "dpfCertified": False}, {"id": "saas", "dpfCertified": True}]
    naic = result.data["node"]
    assert (naic["kind"], naic["consent"]) == ("glba", True)
    assert naic["reference"].startswith("NAIC Privacy of Consumer Financial and Health Information Regulation "
                                        "(Model #672) Art. V")
