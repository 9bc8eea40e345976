"""The fields compliance adds to the model: in bundles, exports and GraphQL, on every backend;
and the built-in NAIC authorisation."""

import asyncio

import pytest

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
    result = asyncio.run(schema.execute("""{ purposes { nodes { id insuranceFunction } } parties { nodes { id dpfCertified } }
        node(id: "naic-672-authorisation") { ... on LegalBasis { kind consent reference } } }""",
                                        context_value=context))
    assert result.errors is None
    assert result.data["purposes"]["nodes"] == [{"id": "claims", "insuranceFunction": True},
                                                {"id": "marketing", "insuranceFunction": False}]
    assert result.data["parties"]["nodes"] == [{"id": "bpo", "dpfCertified": False}, {"id": "saas", "dpfCertified": True}]
    naic = result.data["node"]
    assert (naic["kind"], naic["consent"]) == ("GLBA", True)
    assert naic["reference"].startswith("NAIC Privacy of Consumer Financial and Health Information Regulation "
                                        "(Model #672) Art. V")


NEW_FIELDS = """
categories:
  - {id: health, name: Health, special: true, health: true}
  - {id: biometric, name: Biometric, special: true}
purposes:
  - {id: claims.review, name: Medical review, parent: claims}
systems:
  - {id: us-portal, name: US portal, country: US, jurisdictions: [gdpr, glba, naic], dpf_uk_extension: true,
     dpia: DPIA-7, lia: "https://intranet.example/lia/9"}
parties:
  - {id: vendor, name: Vendor, kind: processor, country: US, role: processor, dpf_certified: true}
flows:
  - {id: f1, name: F1, from: us-portal, to: vendor, categories: [health], purpose: claims.review,
     status: proposed, since: 2027-01-01, lia: LIA-3, additional_bases: [naic-672-authorisation]}
"""


def test_new_fields_are_stored_only_when_set_and_round_trip(registry):
    registry.load([("bundle.yaml", BUNDLE), ("new.yaml", NEW_FIELDS)], actor="test")
    docs = {doc["id"]: doc for type_ in ("category", "purpose", "system", "party", "flow") for doc in registry.list(type_)}
    assert docs["health"]["health"] is True and "health" not in docs["biometric"]
    assert docs["us-portal"]["jurisdictions"] == ["gdpr", "glba", "naic"] and "jurisdictions" not in docs["crm"]
    assert "dpf_uk_extension" not in docs["saas"] and "status" not in {k for d in docs.values() for k in d
                                                                       if d["id"] != "f1"}
    assert {k: docs["f1"][k] for k in ("status", "since", "lia", "additional_bases")} == {
        "status": "proposed", "since": "2027-01-01", "lia": "LIA-3", "additional_bases": ["naic-672-authorisation"]}
    exported = registry.export()
    assert registry.load_data(exported, source="export", actor="test").unchanged == len(
        [doc for section in exported.values() for doc in section])


def test_jurisdictions_are_derived_from_the_country_unless_set(registry):
    registry.load([("bundle.yaml", BUNDLE), ("new.yaml", NEW_FIELDS)], actor="test")
    context = Context(registry=registry, principal=Principal.of("tester", "viewer"))
    result = asyncio.run(schema.execute("""{ systems { nodes { id jurisdictions dpia lia dpfUkExtension } }
        parties { nodes { id jurisdictions } } categories { nodes { id health } } }""", context_value=context))
    assert result.errors is None
    assert result.data["systems"]["nodes"] == [
        {"id": "crm", "jurisdictions": ["GDPR"], "dpia": None, "lia": None, "dpfUkExtension": False},
        {"id": "legacy", "jurisdictions": ["GDPR"], "dpia": None, "lia": None, "dpfUkExtension": False},
        {"id": "us-portal", "jurisdictions": ["GDPR", "GLBA", "NAIC"], "dpia": "DPIA-7",
         "lia": "https://intranet.example/lia/9", "dpfUkExtension": True}]
    assert result.data["parties"]["nodes"] == [{"id": "bpo", "jurisdictions": []},
                                               {"id": "saas", "jurisdictions": ["GLBA", "NAIC"]},
                                               {"id": "vendor", "jurisdictions": ["GLBA", "NAIC"]}]
    assert result.data["categories"]["nodes"] == [{"id": "biometric", "health": False}, {"id": "health", "health": True}]


def test_unknown_regimes_are_refused(registry):
    from registry.bundle import BundleInvalid

    with pytest.raises(BundleInvalid, match=r"system 's': jurisdictions\[0\]: Input should be 'gdpr', 'uk-gdpr', "
                                            r"'glba' or 'naic'"):
        registry.load([("bundle.yaml", "systems: [{id: s, name: S, country: FR, jurisdictions: [ccpa]}]")],
                      actor="test")
