"""Compliance findings: for every rule a graph that triggers it and a near miss that must not,
as exact finding sets on every backend; the demo shows each rule once; filters and errors."""

import asyncio
import importlib
from collections import Counter
from datetime import date

import pytest

from graph.embedded import EmbeddedStore
from registry.auth.roles import Principal
from registry.api.context import Context
from registry.api.schema import schema
from registry.cli import DEMO
from registry.compliance import RULES, Finding, Rule, findings
from registry.compliance.rules import Hit
from registry.errors import InvalidArgument
from registry.service import Registry
from tests.compliance_graphs import BASE

TODAY = date(2026, 11, 25)


def found(registry, extra: str, as_of: date = TODAY):
    registry.load([("base.yaml", BASE), ("case.yaml", extra)], actor="test")
    return [(f.rule, f.entity_kind, f.entity_id, f.category) for f in findings(registry, as_of=as_of)]


def test_the_base_graph_is_clean(registry):
    assert found(registry, "") == []


TRANSFERS = """
parties:
  - {id: bm-re, name: Bermuda reinsurer, kind: reinsurer, country: BM, role: controller}
  - {id: us-vendor, name: US vendor, kind: other, country: US, role: controller}
agreements:
  - {id: bm-treaty, name: BM treaty, kind: reinsurance-treaty, parties: [bm-re], categories: [contact],
     purposes: [reinsurance], legal_basis: gdpr-6-1-f, effective: 2024-01-01}
  - {id: us-dsa, name: US DSA, kind: dsa, parties: [bm-re, us-vendor], categories: [contact], purposes: [reinsurance],
     legal_basis: gdpr-6-1-f, transfer_mechanism: adequacy, effective: 2024-01-01}
flows:
  - {id: f1, name: From the EEA, from: claims-sys, to: bm-re, categories: [contact], purpose: reinsurance,
     agreement: bm-treaty}
  - {id: f2, name: Onward with adequacy claimed, from: bm-re, to: us-vendor, categories: [contact],
     purpose: reinsurance, agreement: us-dsa}
"""

CASES = [
    pytest.param("""
systems:
  - {id: crm, name: CRM, country: DE, holds: [{category: contact, purposes: [marketing], retention: P2Y}]}
flows:
  - {id: f1, name: F1, from: claims-sys, to: dwh, categories: [contact], purpose: claims}
""", [("missing-legal-basis", "flow", "f1", None), ("missing-legal-basis", "holding", "crm", "contact")],
        id="missing-legal-basis"),
    pytest.param("""
flows:
  - {id: f1, name: Basis from the agreement, from: claims-sys, to: re, categories: [contact], purpose: reinsurance,
     agreement: treaty}
  - {id: f2, name: Own basis, from: claims-sys, to: dwh, categories: [contact], purpose: claims,
     legal_basis: gdpr-6-1-b}
""", [], id="near-miss:basis-from-the-agreement"),

    pytest.param("""
systems:
  - id: lab
    name: Lab
    country: DE
    holds: [{category: health.diagnosis, purposes: [claims], legal_basis: gdpr-6-1-b, retention: P1Y}]
flows:
  - {id: f1, name: Descendant of a special category, from: claims-sys, to: dwh,
     categories: [health.diagnosis.oncology], purpose: claims, legal_basis: gdpr-6-1-b}
  - {id: f2, name: Art. 10 is no Art. 9(2) condition, from: claims-sys, to: dwh, categories: [contact, health],
     purpose: claims, legal_basis: gdpr-6-1-b, condition: gdpr-10}
""", [("special-category-without-condition", "flow", "f1", None),
      ("special-category-without-condition", "flow", "f2", None),
      ("special-category-without-condition", "holding", "lab", "health.diagnosis")],
        id="special-category-without-condition"),
    pytest.param("""
flows:
  - {id: f1, name: F1, from: claims-sys, to: dwh, categories: [health.diagnosis.oncology], purpose: claims,
     legal_basis: gdpr-6-1-b, condition: gdpr-9-2-j}
  - {id: f2, name: Not special, from: claims-sys, to: dwh, categories: [contact], purpose: claims,
     legal_basis: gdpr-6-1-b}
""", [], id="near-miss:special-category-with-condition"),

    pytest.param("""
systems:
  - {id: siu, name: SIU, country: DE,
     holds: [{category: criminal, purposes: [claims], legal_basis: gdpr-6-1-f, retention: P5Y}]}
flows:
  - {id: f1, name: F1, from: claims-sys, to: dwh, categories: [criminal], purpose: claims, legal_basis: gdpr-6-1-f,
     condition: gdpr-9-2-f}
""", [("criminal-data-without-authorisation", "flow", "f1", None),
      ("criminal-data-without-authorisation", "holding", "siu", "criminal")], id="criminal-data-without-authorisation"),
    pytest.param("""
flows:
  - {id: f1, name: F1, from: claims-sys, to: dwh, categories: [criminal], purpose: claims, legal_basis: gdpr-6-1-f,
     condition: gdpr-10}
""", [], id="near-miss:criminal-data-with-gdpr-10"),

    pytest.param("""
systems:
  - {id: crm, name: CRM, country: DE,
     holds: [{category: contact, purposes: [marketing], legal_basis: gdpr-10, retention: P2Y}]}
agreements:
  - {id: odd, name: Odd, kind: dsa, parties: [re], legal_basis: gdpr-9-2-f, effective: 2024-01-01}
flows:
  - {id: f1, name: F1, from: claims-sys, to: dwh, categories: [contact], purpose: claims, legal_basis: gdpr-9-2-a}
  - {id: f2, name: F2, from: claims-sys, to: dwh, categories: [contact], purpose: claims, legal_basis: gdpr-6-1-b,
     condition: gdpr-6-1-f}
""", [("basis-kind-mismatch", "agreement", "odd", None), ("basis-kind-mismatch", "flow", "f1", None),
      ("basis-kind-mismatch", "flow", "f2", None), ("basis-kind-mismatch", "holding", "crm", "contact")],
        id="basis-kind-mismatch"),
    pytest.param("""
systems:
  - {id: us-dwh, name: US warehouse, country: US}
flows:
  - {id: f1, name: US bases in either slot, from: us-sys, to: us-dwh, categories: [contact], purpose: claims,
     legal_basis: glba-6802-e-1, condition: naic-672-authorisation}
""", [], id="near-miss:us-bases-in-either-slot"),

    pytest.param("""
flows:
  - {id: f1, name: To a party, from: claims-sys, to: re, categories: [contact], purpose: reinsurance,
     legal_basis: gdpr-6-1-f}
  - {id: f2, name: From a party, from: re, to: claims-sys, categories: [contact], purpose: reinsurance,
     legal_basis: gdpr-6-1-f}
""", [("external-flow-without-agreement", "flow", "f1", None), ("external-flow-without-agreement", "flow", "f2", None)],
        id="external-flow-without-agreement"),
    pytest.param("""
flows:
  - {id: f1, name: Internal, from: claims-sys, to: dwh, categories: [contact], purpose: claims, legal_basis: gdpr-6-1-b}
""", [], id="near-miss:internal-flow-needs-no-agreement"),

    pytest.param("""
agreements:
  - {id: draft, name: Draft, kind: reinsurance-treaty, parties: [re], legal_basis: gdpr-6-1-f, effective: 2024-01-01,
     status: draft}
  - {id: ended, name: Ended, kind: reinsurance-treaty, parties: [re], legal_basis: gdpr-6-1-f, effective: 2024-01-01,
     expires: 2025-01-01, status: terminated}
  - {id: future, name: Future, kind: reinsurance-treaty, parties: [re], legal_basis: gdpr-6-1-f, effective: 2026-11-26}
  - {id: from-today, name: From today, kind: reinsurance-treaty, parties: [re], legal_basis: gdpr-6-1-f,
     effective: 2026-11-25}
flows:
  - {id: f1, name: F1, from: claims-sys, to: re, categories: [contact], purpose: reinsurance, agreement: draft}
  - {id: f2, name: F2, from: claims-sys, to: re, categories: [contact], purpose: reinsurance, agreement: ended}
  - {id: f3, name: F3, from: claims-sys, to: re, categories: [contact], purpose: reinsurance, agreement: future}
  - {id: f4, name: F4, from: claims-sys, to: re, categories: [contact], purpose: reinsurance, agreement: from-today}
""", [("agreement-not-active", "flow", "f1", None), ("agreement-not-active", "flow", "f2", None),
      ("agreement-not-active", "flow", "f3", None)], id="agreement-not-active"),

    pytest.param("""
parties:
  - {id: re2, name: Second reinsurer, kind: reinsurer, country: DE, role: controller}
flows:
  - {id: f1, name: F1, from: claims-sys, to: re2, categories: [contact], purpose: reinsurance, agreement: treaty}
  - {id: f2, name: F2, from: re2, to: claims-sys, categories: [contact], purpose: reinsurance, agreement: treaty}
""", [("agreement-party-mismatch", "flow", "f1", None), ("agreement-party-mismatch", "flow", "f2", None)],
        id="agreement-party-mismatch"),
    pytest.param("""
flows:
  - {id: f1, name: Back from the party, from: re, to: claims-sys, categories: [contact], purpose: reinsurance,
     agreement: treaty}
""", [], id="near-miss:party-to-its-agreement"),

    pytest.param("""
agreements:
  - {id: open, name: No scope, kind: dsa, parties: [re], purposes: [reinsurance], legal_basis: gdpr-6-1-f,
     effective: 2024-01-01}
flows:
  - {id: f1, name: F1, from: claims-sys, to: re, categories: [contact, financial], purpose: reinsurance,
     agreement: treaty}
  - {id: f2, name: Agreement without categories, from: claims-sys, to: re, categories: [financial],
     purpose: reinsurance, agreement: open}
""", [("agreement-category-out-of-scope", "flow", "f1", None)], id="agreement-category-out-of-scope"),
    pytest.param("""
flows:
  - {id: f1, name: A descendant inside the scope, from: claims-sys, to: re, categories: [health.diagnosis.oncology],
     purpose: reinsurance, agreement: treaty}
""", [], id="near-miss:descendant-category-inside-the-scope"),

    pytest.param("""
flows:
  - {id: f1, name: F1, from: claims-sys, to: re, categories: [contact], purpose: claims, agreement: treaty}
""", [("agreement-purpose-out-of-scope", "flow", "f1", None)], id="agreement-purpose-out-of-scope"),
    pytest.param("""
flows:
  - {id: f1, name: F1, from: claims-sys, to: re, categories: [contact], purpose: reinsurance, agreement: treaty}
""", [], id="near-miss:purpose-inside-the-scope"),

    pytest.param(TRANSFERS, [("transfer-without-safeguard", "flow", "f1", None),
                             ("transfer-without-safeguard", "flow", "f2", None)],
        id="transfer-without-safeguard"),
    pytest.param("""
parties:
  - {id: bm-re, name: Bermuda reinsurer, kind: reinsurer, country: BM, role: controller}
  - {id: us-dpf, name: US processor, kind: processor, country: US, role: processor, dpf_certified: true}
  - {id: ch-re, name: Swiss reinsurer, kind: reinsurer, country: CH, role: controller}
agreements:
  - {id: bm-treaty, name: BM treaty, kind: reinsurance-treaty, parties: [bm-re], categories: [contact, financial],
     purposes: [reinsurance], legal_basis: gdpr-6-1-f, transfer_mechanism: scc, effective: 2024-01-01}
  - {id: dpa-us, name: US DPA, kind: dpa, parties: [us-dpf], categories: [contact], purposes: [claims],
     legal_basis: gdpr-6-1-b, effective: 2024-01-01}
  - {id: ch-treaty, name: CH treaty, kind: reinsurance-treaty, parties: [ch-re], categories: [contact],
     purposes: [reinsurance], legal_basis: gdpr-6-1-f, effective: 2024-01-01}
flows:
  - {id: f1, name: Mechanism from the agreement, from: claims-sys, to: bm-re, categories: [contact],
     purpose: reinsurance, agreement: bm-treaty}
  - {id: f2, name: DPF-certified recipient, from: claims-sys, to: us-dpf, categories: [contact], purpose: claims,
     agreement: dpa-us}
  - {id: f3, name: Adequate country, from: claims-sys, to: ch-re, categories: [contact], purpose: reinsurance,
     agreement: ch-treaty}
  - {id: f4, name: Between non-EEA ends without EEA data, from: us-sys, to: bm-re, categories: [financial],
     purpose: reinsurance, legal_basis: glba-6802-e-1, agreement: bm-treaty}
""", [], id="near-miss:transfers-with-safeguards"),

    pytest.param("""
parties:
  - {id: proc, name: Print house, kind: processor, country: DE, role: processor}
agreements:
  - {id: svc, name: Service contract, kind: other, parties: [proc], categories: [contact], purposes: [claims],
     effective: 2024-01-01}
flows:
  - {id: f1, name: Under a service contract, from: claims-sys, to: proc, categories: [contact], purpose: claims,
     legal_basis: gdpr-6-1-b, agreement: svc}
  - {id: f2, name: Under nothing, from: claims-sys, to: proc, categories: [contact], purpose: claims,
     legal_basis: gdpr-6-1-b}
""", [("external-flow-without-agreement", "flow", "f2", None), ("processor-without-dpa", "flow", "f1", None),
      ("processor-without-dpa", "flow", "f2", None)], id="processor-without-dpa"),
    pytest.param("""
parties:
  - {id: proc, name: Print house, kind: processor, country: DE, role: processor}
agreements:
  - {id: dpa, name: DPA, kind: dpa, parties: [proc], categories: [contact], purposes: [claims], effective: 2024-01-01}
flows:
  - {id: f1, name: To the processor, from: claims-sys, to: proc, categories: [contact], purpose: claims,
     legal_basis: gdpr-6-1-b, agreement: dpa}
  - {id: f2, name: Back from the processor, from: proc, to: claims-sys, categories: [contact], purpose: claims,
     legal_basis: gdpr-6-1-b, agreement: dpa}
""", [], id="near-miss:processor-under-a-dpa"),

    pytest.param("""
flows:
  - {id: f1, name: F1, from: dwh, to: claims-sys, categories: [contact, financial], purpose: claims,
     legal_basis: gdpr-6-1-b}
""", [("source-does-not-hold", "flow", "f1", None)], id="source-does-not-hold"),
    pytest.param("""
flows:
  - {id: f1, name: Declared ancestor, from: claims-sys, to: dwh, categories: [health.diagnosis.oncology],
     purpose: claims, legal_basis: gdpr-6-1-b, condition: gdpr-9-2-f}
  - {id: f2, name: Received descendant, from: dwh, to: claims-sys, categories: [health], purpose: claims,
     legal_basis: gdpr-6-1-b, condition: gdpr-9-2-f}
  - {id: f3, name: A party is an origin, from: re, to: claims-sys, categories: [contact], purpose: reinsurance,
     agreement: treaty}
""", [], id="near-miss:source-declares-or-receives"),

    pytest.param("""
systems:
  - {id: crm, name: CRM, country: DE, holds: [{category: contact, purposes: [marketing], legal_basis: gdpr-6-1-a}]}
""", [("holding-without-retention", "holding", "crm", "contact")], id="holding-without-retention"),
    pytest.param("""
systems:
  - {id: crm, name: CRM, country: DE,
     holds: [{category: contact, purposes: [marketing], legal_basis: gdpr-6-1-a, retention: P2Y}]}
""", [], id="near-miss:holding-with-retention"),

    pytest.param("""
flows:
  - {id: f1, name: F1, from: claims-sys, to: dwh, categories: [health.diagnosis], purpose: claims,
     legal_basis: gdpr-6-1-a, condition: gdpr-9-2-h}
""", [("consent-flow-for-special-category-without-explicit-consent", "flow", "f1", None)],
        id="consent-flow-for-special-category-without-explicit-consent"),
    pytest.param("""
flows:
  - {id: f1, name: Explicit consent, from: claims-sys, to: dwh, categories: [health.diagnosis], purpose: claims,
     legal_basis: gdpr-6-1-a, condition: gdpr-9-2-a}
  - {id: f2, name: Consent to ordinary data, from: claims-sys, to: dwh, categories: [contact], purpose: marketing,
     legal_basis: gdpr-6-1-a}
""", [], id="near-miss:explicit-consent"),

    pytest.param("""
parties:
  - {id: us-broker, name: US broker, kind: broker, country: US, role: controller}
agreements:
  - {id: us-dsa, name: US DSA, kind: dsa, parties: [us-broker], categories: [contact, financial, health],
     purposes: [claims, marketing], effective: 2024-01-01}
flows:
  - {id: f1, name: F1, from: us-sys, to: us-broker, categories: [financial], purpose: marketing,
     legal_basis: gdpr-6-1-f, agreement: us-dsa}
  - {id: f2, name: NPI by inheritance, from: us-sys, to: us-broker, categories: [contact, health.diagnosis],
     purpose: claims, legal_basis: gdpr-6-1-b, condition: gdpr-9-2-a, agreement: us-dsa}
""", [("glba-sharing-without-opt-out", "flow", "f1", None), ("glba-sharing-without-opt-out", "flow", "f2", None)],
        id="glba-sharing-without-opt-out"),
    pytest.param("""
parties:
  - {id: us-broker, name: US broker, kind: broker, country: US, role: controller}
  - {id: us-affiliate, name: US affiliate, kind: affiliate, country: US, role: controller}
agreements:
  - {id: us-dsa, name: US DSA, kind: dsa, parties: [us-broker, us-affiliate], categories: [financial],
     purposes: [claims, marketing], effective: 2024-01-01}
flows:
  - {id: f1, name: Opt-out given, from: us-sys, to: us-broker, categories: [financial], purpose: marketing,
     legal_basis: glba-6802-b, agreement: us-dsa}
  - {id: f2, name: Exception as the condition, from: us-sys, to: us-broker, categories: [financial], purpose: claims,
     legal_basis: gdpr-6-1-b, condition: glba-6802-e-3, agreement: us-dsa}
  - {id: f3, name: To an affiliate, from: us-sys, to: us-affiliate, categories: [financial], purpose: marketing,
     legal_basis: gdpr-6-1-f, agreement: us-dsa}
""", [], id="near-miss:glba-opt-out-exception-or-affiliate"),

    pytest.param("""
parties:
  - {id: wellness, name: Wellness partner, kind: other, country: US, role: controller}
agreements:
  - {id: w-dsa, name: Wellness DSA, kind: dsa, parties: [wellness], categories: [health], purposes: [marketing, claims],
     effective: 2024-01-01}
flows:
  - {id: f1, name: F1, from: us-sys, to: wellness, categories: [health.diagnosis], purpose: marketing,
     legal_basis: glba-6802-b, condition: gdpr-9-2-a, agreement: w-dsa}
""", [("naic-health-without-authorisation", "flow", "f1", None)], id="naic-health-without-authorisation"),
    pytest.param("""
parties:
  - {id: wellness, name: Wellness partner, kind: other, country: US, role: controller}
agreements:
  - {id: w-dsa, name: Wellness DSA, kind: dsa, parties: [wellness], categories: [health], purposes: [marketing, claims],
     effective: 2024-01-01}
flows:
  - {id: f1, name: Authorised, from: us-sys, to: wellness, categories: [health.diagnosis], purpose: marketing,
     legal_basis: naic-672-authorisation, condition: gdpr-9-2-a, agreement: w-dsa}
  - {id: f2, name: An insurance function, from: us-sys, to: wellness, categories: [health.diagnosis], purpose: claims,
     legal_basis: glba-6802-b, condition: gdpr-9-2-a, agreement: w-dsa}
""", [], id="near-miss:naic-authorised-or-insurance-function"),
]


@pytest.mark.parametrize("extra, expected", CASES)
def test_each_rule_has_a_graph_that_triggers_it_and_a_near_miss_that_does_not(registry, extra, expected):
    assert found(registry, extra) == expected


EXPIRY = """
agreements:
  - {id: short, name: Short treaty, kind: reinsurance-treaty, parties: [re], categories: [contact],
     purposes: [reinsurance], legal_basis: gdpr-6-1-f, effective: 2024-01-01, expires: 2026-12-31}
  - {id: unused, name: Nothing relies on it, kind: dsa, parties: [re], effective: 2024-01-01, expires: 2026-12-31}
flows:
  - {id: f1, name: F1, from: claims-sys, to: re, categories: [contact], purpose: reinsurance, agreement: short}
"""


@pytest.mark.parametrize("as_of, expected", [
    (date(2027, 1, 1), [("agreement-expired", "flow", "f1", None)]),
    (date(2026, 12, 31), [("agreement-expiring", "agreement", "short", None)]),
    (date(2026, 12, 30), [("agreement-expiring", "agreement", "short", None)]),
    (date(2026, 10, 2), [("agreement-expiring", "agreement", "short", None)]),
    (date(2026, 10, 1), []),
], ids=["expired-yesterday", "last-day-in-force", "expires-tomorrow", "90-days-ahead", "91-days-ahead"])
def test_expiry_is_judged_on_the_evaluation_date(registry, as_of, expected):
    assert found(registry, EXPIRY, as_of=as_of) == expected


def test_findings_asked_again_follow_every_change_and_each_day(registry):
    """The same question asked again after a write, or for another day, gets the new answer (the
    facts behind it are kept between questions only while the registry's documents are the same)."""
    assert found(registry, "") == []
    assert found(registry, EXPIRY) == [("agreement-expiring", "agreement", "short", None)]
    assert found(registry, EXPIRY, as_of=date(2027, 1, 1)) == [("agreement-expired", "flow", "f1", None)]
    assert found(registry, EXPIRY.replace("expires: 2026-12-31}", "expires: 2027-06-30}")) == []
    registry.upsert("flow", {"id": "f1", "name": "F1", "from": "claims-sys", "to": "re", "categories": ["health"],
                             "purpose": "reinsurance", "agreement": "short"}, actor="test")
    assert [(f.rule, f.entity_id) for f in findings(registry, as_of=TODAY)] == [
        ("agreement-category-out-of-scope", "f1"), ("special-category-without-condition", "f1")]
    assert [(f.rule, f.entity_id) for f in findings(registry, as_of=date(2027, 1, 1))] == [
        ("agreement-category-out-of-scope", "f1"), ("special-category-without-condition", "f1")]


BRAZIL = """
parties:
  - {id: br-tpa, name: Brazilian TPA, kind: tpa, country: BR, role: controller}
agreements:
  - {id: br-dsa, name: BR DSA, kind: dsa, parties: [br-tpa], categories: [contact], purposes: [claims],
     legal_basis: gdpr-6-1-b, effective: 2024-01-01}
flows:
  - {id: f1, name: F1, from: claims-sys, to: br-tpa, categories: [contact], purpose: claims, agreement: br-dsa}
"""


@pytest.mark.parametrize("as_of, expected", [
    (date(2026, 1, 25), [("transfer-without-safeguard", "flow", "f1", None)]),
    (date(2026, 1, 26), []),
], ids=["before-the-decision", "from-the-decision"])
def test_adequacy_decisions_count_from_their_date(registry, as_of, expected):
    assert found(registry, BRAZIL, as_of=as_of) == expected


def test_a_finding_says_what_where_why_and_how_to_fix_it(registry):
    registry.load([("base.yaml", BASE), ("case.yaml", TRANSFERS)], actor="test")
    [first, _] = findings(registry, as_of=TODAY, rule="transfer-without-safeguard")
    assert first == Finding(
        rule="transfer-without-safeguard", severity="error",
        message="Flow f1 (claims-sys → bm-re) is a transfer from the EEA to BM, where no EU adequacy decision covers "
                "this recipient, and there is no transfer mechanism on the flow or its agreement: the data leaves the "
                "GDPR's protection without appropriate safeguards.",
        reference="GDPR Art. 44-46", entity_kind="flow", entity_id="f1",
        remedy=RULES["transfer-without-safeguard"].remedy, category=None, subject_count=None, regime="gdpr")


@pytest.fixture
def demo(registry):
    registry.load([("demo", DEMO.read_text())], actor="test")
    return registry


def test_the_demo_shows_each_rule_once(demo):
    found = findings(demo, as_of=TODAY)
    assert Counter(f.rule for f in found) == dict.fromkeys(RULES, 1)
    # The US book is US data: its rules are GLBA's and NAIC's, and no GDPR condition is recorded on it.
    assert {f.rule: f.regime for f in found if f.regime != "gdpr"} == {
        "glba-sharing-without-opt-out": "glba", "naic-health-without-authorisation": "naic"}
    us = next(doc for doc in demo.list("system") if doc["id"] == "us-policy-admin")
    assert not [h for h in us["holds"] if (h.get("condition") or "").startswith("gdpr")]
    assert not [f for f in demo.list("flow") if f["from"] == "us-policy-admin"
                and (f.get("condition") or "").startswith("gdpr")]


def test_severity_is_a_minimum_and_rule_a_filter(demo):
    assert Counter(f.severity for f in findings(demo, as_of=TODAY, severity="error")) == {"error": 14}
    assert Counter(f.severity for f in findings(demo, as_of=TODAY, severity="warning")) == {"error": 14, "warning": 4}
    assert [(f.rule, f.entity_id) for f in findings(demo, as_of=TODAY, rule="agreement-expiring")] == [
        ("agreement-expiring", "dpa-medgutachten")]
    assert findings(demo, as_of=TODAY, rule="agreement-expiring", severity="error") == []


@pytest.mark.parametrize("arguments, message", [
    (dict(severity="fatal"), "severity: unknown severity 'fatal'; expected one of error, warning, info"),
    (dict(rule="no-such-rule"), "rule: unknown rule 'no-such-rule'; expected one of "),
])
def test_unknown_severities_and_rules_are_refused_by_name(registry, arguments, message):
    with pytest.raises(InvalidArgument) as error:
        findings(registry, **arguments)
    assert str(error.value).startswith(message)


def run(registry, query, **variables):
    context = Context(registry=registry, principal=Principal.of("tester", "viewer"))
    return asyncio.run(schema.execute(query, variable_values=variables or None, context_value=context))


def test_findings_over_graphql(demo):
    result = run(demo, """{ findings(asOf: "2026-11-25", rule: "holding-without-retention") {
        totalCount nodes { rule severity message reference entityKind entityId category remedy subjectCount } } }""")
    assert result.errors is None
    assert result.data["findings"]["totalCount"] == 1
    assert result.data["findings"]["nodes"] == [{
        "rule": "holding-without-retention", "severity": "WARNING",
        "message": "The holding of genetic that system dms declares has no retention period: data may not be kept "
                   "longer than necessary, and the Art. 30 record must state when it is erased.",
        "reference": "GDPR Art. 5(1)(e), Art. 30(1)(f)", "entityKind": "HOLDING", "entityId": "dms",
        "category": "genetic", "remedy": "Set `retention` on the declaration (an ISO 8601 duration such as P10Y).",
        "subjectCount": None}]
    result = run(demo, '{ findings(severity: FATAL) { totalCount } }')
    assert "Value 'FATAL' does not exist in 'Severity' enum" in result.errors[0].message
    result = run(demo, '{ findings(severity: WARNING) { nodes { severity } } }')
    assert {f["severity"] for f in result.data["findings"]["nodes"]} == {"ERROR", "WARNING"}


def test_findings_over_graphql_asked_again_follow_a_change(registry):
    """Findings' GraphQL objects and their completed values are kept while the findings are
    (`registry.api.kept`): the same answer again, and after a write the new one."""
    query = '{ findings(asOf: "2026-11-25") { totalCount nodes { rule entityId message } } }'
    registry.load([("base.yaml", BASE), ("case.yaml", EXPIRY)], actor="test")
    first, again = run(registry, query), run(registry, query)
    assert first.errors is None and again.data == first.data
    assert [(f["rule"], f["entityId"]) for f in first.data["findings"]["nodes"]] == [("agreement-expiring", "short")]
    registry.load([("base.yaml", BASE), ("case.yaml", EXPIRY.replace("expires: 2026-12-31}", "expires: 2027-06-30}"))],
                  actor="test")
    assert run(registry, query).data == {"findings": {"totalCount": 0, "nodes": []}}
    registry.load([("base.yaml", BASE), ("case.yaml", EXPIRY.replace("expires: 2026-12-31}", "expires: 2026-12-20}"))],
                  actor="test")
    [changed] = run(registry, query).data["findings"]["nodes"]
    assert changed["rule"] == "agreement-expiring" and "2026-12-20" in changed["message"]
    assert changed["message"] != first.data["findings"]["nodes"][0]["message"]


def test_extra_rules_run_alongside_and_can_count_subjects(registry):
    """The seam for rules that need more than the registry's documents (data subjects)."""
    counted = Rule("consent-withdrawn-data-still-flowing", "info", "GDPR Art. 7(3)", "Counts.", "Stop the flow.",
                   "https://eur-lex.europa.eu/eli/reg/2016/679/oj",
                   lambda facts: [Hit("flow", "f-re", "3 subjects withdrew consent.", subject_count=3)])
    registry.load([("base.yaml", BASE)], actor="test")
    [finding] = findings(registry, as_of=TODAY, extra_rules=[counted])
    assert (finding.rule, finding.severity, finding.entity_id, finding.subject_count) == (
        "consent-withdrawn-data-still-flowing", "info", "f-re", 3)
    assert findings(registry, as_of=TODAY, extra_rules=[counted], severity="warning") == []
    assert len(findings(registry, as_of=TODAY, extra_rules=[counted], rule="consent-withdrawn-data-still-flowing")) == 1


def test_a_rule_reading_more_than_the_documents_gives_the_same_finding_while_its_answer_stays(tmp_path):
    """A rule over data subjects runs at every question; on a store that keeps its documents
    between writes (the embedded one), an unchanged finding is the very object made before (so a
    page of findings asked again is the same page: `registry.api.kept`), a changed one is new,
    and the built-in rules' findings stay as they were."""
    registry = Registry(EmbeddedStore(tmp_path / "registry.db"))
    count = [3]
    counted = Rule("subjects-counted", "info", "GDPR Art. 7(3)", "Counts.", "Stop the flow.",
                   "https://eur-lex.europa.eu/eli/reg/2016/679/oj",
                   lambda facts: [Hit("flow", "f-re", f"{count[0]} subjects withdrew consent.",
                                      subject_count=count[0])])
    registry.load([("base.yaml", BASE), ("case.yaml", EXPIRY)], actor="test")
    first = findings(registry, as_of=TODAY, extra_rules=[counted])
    again = findings(registry, as_of=TODAY, extra_rules=[counted])
    assert [f.rule for f in first] == ["agreement-expiring", "subjects-counted"]
    assert all(one is other for one, other in zip(first, again))
    count[0] = 4
    changed = findings(registry, as_of=TODAY, extra_rules=[counted])
    assert changed[0] is first[0] and changed[1] is not first[1]
    assert (changed[1].subject_count, changed[1].message) == (4, "4 subjects withdrew consent.")
    count[0] = 3
    assert findings(registry, as_of=TODAY, extra_rules=[counted])[1] is first[1]


def test_the_same_page_of_findings_is_completed_once_while_its_findings_live(tmp_path):
    """A governance tool polling `findings`: the same answer is the same completed page (no
    finding converted or completed again), and after a write the new answer."""
    registry = Registry(EmbeddedStore(tmp_path / "registry.db"))
    registry.load([("base.yaml", BASE), ("case.yaml", EXPIRY)], actor="test")
    query = '{ findings(asOf: "2026-11-25") { totalCount nodes { rule entityId message } } }'
    first, again = run(registry, query), run(registry, query)
    assert first.data["findings"]["nodes"] == [{"rule": "agreement-expiring", "entityId": "short",
                                                "message": first.data["findings"]["nodes"][0]["message"]}]
    assert again.data["findings"]["nodes"] is first.data["findings"]["nodes"]
    registry.load([("base.yaml", BASE), ("case.yaml", EXPIRY.replace("expires: 2026-12-31}", "expires: 2026-12-20}"))],
                  actor="test")
    changed = run(registry, query).data["findings"]["nodes"]
    assert changed is not first.data["findings"]["nodes"] and "2026-12-20" in changed[0]["message"]


def test_findings_of_other_rules_past_the_cap_are_answered_all_the_same(tmp_path):
    module = importlib.import_module("registry.compliance.findings")

    many = Rule("subjects-counted", "info", "GDPR Art. 7(3)", "Counts.", "Stop the flow.",
                "https://eur-lex.europa.eu/eli/reg/2016/679/oj",
                lambda facts: [Hit("system", f"s{i:05d}", "Counted.") for i in range(module._MADE_AT_MOST + 1)])
    few = Rule("few-counted", "info", "GDPR Art. 7(3)", "Counts.", "Stop the flow.",
               "https://eur-lex.europa.eu/eli/reg/2016/679/oj", lambda facts: [Hit("flow", "f-re", "Counted.")])
    registry = Registry(EmbeddedStore(tmp_path / "registry.db"))
    registry.load([("base.yaml", BASE)], actor="test")
    first = findings(registry, as_of=TODAY, extra_rules=[many, few], rule="few-counted")
    assert len(findings(registry, as_of=TODAY, extra_rules=[many, few])) == module._MADE_AT_MOST + 2
    assert findings(registry, as_of=TODAY, extra_rules=[many, few], rule="few-counted")[0] is first[0]


def test_findings_page_with_cursors(demo):
    query = 'query ($after: String) { findings(asOf: "2026-11-25", first: 5, after: $after) { totalCount ' \
            'pageInfo { hasNextPage endCursor } nodes { rule entityId category regime } } }'
    whole = run(demo, '{ findings(asOf: "2026-11-25") { totalCount nodes { rule entityId category regime } } }')
    pages, after = [], None
    while True:
        page = run(demo, query, after=after).data["findings"]
        assert page["totalCount"] == whole.data["findings"]["totalCount"] > 5
        pages += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == whole.data["findings"]["nodes"]
    result = run(demo, '{ findings(first: -1) { totalCount } }')
    assert [e.message for e in result.errors] == ["first must not be negative (got -1)"]
