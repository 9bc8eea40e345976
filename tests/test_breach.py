"""Breach analysis: exposed data, recipients downstream, and notification deadlines computed in
UTC whatever the offset of `detectedAt`; on every backend, through GraphQL and the CLI."""

import asyncio
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from registry.auth.roles import Principal
from registry.api.context import Context
from registry.api.schema import schema
from registry.compliance import breach_impact
from registry.errors import InvalidArgument, NotFound
from tests.compliance_graphs import BASE

ROOT = Path(__file__).resolve().parent.parent

# claims-sys also feeds diagnoses to the warehouse, which passes oncology data on to actuarial
# models and contact details (which it never received from claims-sys) to marketing.
EXTRA = """
systems:
  - {id: crm, name: CRM, country: DE, holds: [{category: contact, purposes: [marketing], legal_basis: gdpr-6-1-a,
                                               retention: P2Y}]}
  - {id: siu, name: SIU, country: DE, holds: [{category: criminal, purposes: [claims], legal_basis: gdpr-6-1-f,
                                               condition: gdpr-10, retention: P5Y}]}
  - {id: act, name: Actuarial models, country: DE}
  - {id: mkt, name: Marketing, country: DE}
parties:
  - {id: us-proc, name: US hosting, kind: processor, country: US, role: processor}
  - {id: us-re, name: US reinsurer, kind: reinsurer, country: US, role: controller}
flows:
  - {id: f-dwh, name: Diagnoses to the warehouse, from: claims-sys, to: dwh, categories: [health.diagnosis],
     purpose: claims, legal_basis: gdpr-6-1-b, condition: gdpr-9-2-f}
  - {id: f-act, name: Oncology to the models, from: dwh, to: act, categories: [health.diagnosis.oncology],
     purpose: claims, legal_basis: gdpr-6-1-b, condition: gdpr-9-2-f}
  - {id: f-mkt, name: Contacts to marketing, from: dwh, to: mkt, categories: [contact], purpose: marketing,
     legal_basis: gdpr-6-1-a}
  - {id: f-host, name: Hosting, from: us-sys, to: us-proc, categories: [contact], purpose: claims,
     legal_basis: glba-6802-e-1}
  - {id: f-us-re, name: US cessions, from: us-sys, to: us-re, categories: [contact], purpose: reinsurance,
     legal_basis: glba-6802-e-1}
"""


@pytest.fixture
def loaded(registry):
    registry.load([("base.yaml", BASE), ("extra.yaml", EXTRA)], actor="test")
    return registry


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize("detected, utc, deadline", [
    ("2026-11-25T10:00:00+09:00", "2026-11-25T01:00:00+00:00", "2026-11-28T01:00:00+00:00"),
    ("2026-11-25T10:00:00-05:00", "2026-11-25T15:00:00+00:00", "2026-11-28T15:00:00+00:00"),
    ("2026-03-27T23:30:00+01:00", "2026-03-27T22:30:00+00:00", "2026-03-30T22:30:00+00:00"),  # across the EU DST change
], ids=["tokyo", "new-york", "berlin-before-dst"])
def test_deadlines_are_72_hours_after_detection_as_utc_timestamps(loaded, detected, utc, deadline):
    found = breach_impact(loaded, systems=["claims-sys", "us-sys"], detected_at=at(detected))
    assert found.detected_at == at(utc) and found.detected_at.tzinfo == timezone.utc
    assert [(d.id, d.deadline) for d in found.duties] == [
        ("gdpr-art-33", at(deadline)), ("gdpr-art-34", None), ("naic-668-s6", at(deadline))]
    assert found.duties[0].deadline - at(detected) == timedelta(hours=72)
    result = run(loaded, """query ($at: DateTime!) { breachImpact(systems: ["claims-sys", "us-sys"], detectedAt: $at) {
        detectedAt duties { id deadline timing } } }""", at=detected)
    assert result.errors is None
    assert result.data["breachImpact"]["detectedAt"] == utc
    assert [(d["id"], d["deadline"]) for d in result.data["breachImpact"]["duties"]] == [
        ("gdpr-art-33", deadline), ("gdpr-art-34", None), ("naic-668-s6", deadline)]
    assert result.data["breachImpact"]["duties"][1]["timing"] == "without undue delay"


@pytest.mark.parametrize("system, duties", [
    ("crm", ["gdpr-art-33"]),
    ("claims-sys", ["gdpr-art-33", "gdpr-art-34"]),
    ("siu", ["gdpr-art-33", "gdpr-art-34"]),
], ids=["contact-details-only", "health-data", "criminal-offence-data"])
def test_data_subjects_are_notified_only_when_the_risk_is_high(loaded, system, duties):
    found = breach_impact(loaded, systems=[system], detected_at=at("2026-11-25T09:00:00+01:00"))
    assert [d.id for d in found.duties] == duties
    assert found.high_risk == ("gdpr-art-34" in duties)


@pytest.mark.parametrize("systems, parties, naic", [
    (["claims-sys"], [], False),
    (["us-sys"], [], True),
    ([], ["us-proc"], True),
    ([], ["us-re"], False),
], ids=["german-system", "us-system", "us-service-provider", "us-controller"])
def test_the_insurance_commissioner_is_notified_for_us_systems_and_service_providers(loaded, systems, parties, naic):
    found = breach_impact(loaded, systems=systems, parties=parties, detected_at=at("2026-11-25T09:00:00-05:00"))
    assert ("naic-668-s6" in [d.id for d in found.duties]) is naic


ELSEWHERE = """
systems:
  - {id: us-gdpr, name: US system serving EU customers, country: US, jurisdictions: [gdpr, naic],
     holds: [{category: contact, purposes: [claims], legal_basis: gdpr-6-1-b, retention: P7Y}]}
  - {id: us-dwh, name: US warehouse, country: US}
  - {id: uk-sys, name: UK claims, country: GB,
     holds: [{category: health, purposes: [claims], legal_basis: gdpr-6-1-b, condition: gdpr-9-2-f, retention: P7Y}]}
parties:
  - {id: eu-proc, name: EU hosting, kind: processor, country: US, role: processor}
flows:
  - {id: f-us-dwh, name: Diagnoses to the US warehouse, from: claims-sys, to: us-dwh, categories: [health.diagnosis],
     purpose: claims, legal_basis: gdpr-6-1-b, condition: gdpr-9-2-f, transfer_mechanism: scc}
  - {id: f-us-dwh-own, name: US contacts to the US warehouse, from: us-sys, to: us-dwh, categories: [contact],
     purpose: claims, legal_basis: glba-6802-e-1}
  - {id: f-eu-proc, name: Claims contacts to hosting, from: claims-sys, to: eu-proc, categories: [contact],
     purpose: claims, legal_basis: gdpr-6-1-b, transfer_mechanism: scc}
"""


def duties(registry, systems=(), parties=()) -> list[tuple[str, str]]:
    found = breach_impact(registry, systems=systems, parties=parties, detected_at=at("2026-11-25T09:00:00Z"))
    return [(d.id, d.reference) for d in found.duties]


@pytest.mark.parametrize("systems, parties, expected", [
    # A US system holding only US customers' data: the NAIC's 72 hours, no GDPR duty.
    (["us-sys"], [], [("naic-668-s6", "NAIC Insurance Data Security Model Law (#668) §6")]),
    # Declared under the GDPR as well (it serves EU customers, Art. 3(2)).
    (["us-gdpr"], [], [("gdpr-art-33", "GDPR Art. 33(1)"), ("naic-668-s6", "NAIC Insurance Data Security Model Law "
                                                                           "(#668) §6")]),
    # Diagnoses that came from the German claims system keep the GDPR's protection there (Art. 44).
    (["us-dwh"], [], [("gdpr-art-33", "GDPR Art. 33(1)"), ("gdpr-art-34", "GDPR Art. 34(1)"),
                      ("naic-668-s6", "NAIC Insurance Data Security Model Law (#668) §6")]),
    # The UK GDPR and its supervisor.
    (["uk-sys"], [], [("uk-gdpr-art-33", "UK GDPR Art. 33(1)"), ("uk-gdpr-art-34", "UK GDPR Art. 34(1)")]),
    (["crm"], [], [("gdpr-art-33", "GDPR Art. 33(1)")]),
    # A US processor holding EU data must tell us under Art. 33(2); one holding only US data has no GDPR duty.
    ([], ["eu-proc"], [("gdpr-art-33", "GDPR Art. 33(1)"), ("naic-668-s6", "NAIC Insurance Data Security Model "
                                                                          "Law (#668) §6"),
                       ("gdpr-art-33-2", "GDPR Art. 33(2)")]),
    ([], ["us-proc"], [("naic-668-s6", "NAIC Insurance Data Security Model Law (#668) §6")]),
], ids=["us-only", "us-declared-gdpr", "eu-data-in-the-us", "uk", "germany", "us-processor-of-eu-data",
        "us-processor-of-us-data"])
def test_the_duties_are_those_of_the_law_that_governs_the_breached_data(loaded, systems, parties, expected):
    loaded.load([("elsewhere.yaml", ELSEWHERE)], actor="test")
    assert duties(loaded, systems, parties) == expected


def test_the_uk_gdpr_duty_goes_to_the_information_commissioner(loaded):
    loaded.load([("elsewhere.yaml", ELSEWHERE)], actor="test")
    found = breach_impact(loaded, systems=["uk-sys"], detected_at=at("2026-11-25T09:00:00Z"))
    assert found.duties[0].notify == "the Information Commissioner's Office"
    assert found.duties[0].deadline == at("2026-11-28T09:00:00Z")


def test_exposed_categories_and_the_recipients_that_received_them(loaded):
    found = breach_impact(loaded, systems=["claims-sys"], detected_at=at("2026-11-25T09:00:00+01:00"))
    assert [(e.category["id"], e.high_risk) for e in found.exposed] == [
        ("contact", False), ("criminal", True), ("financial", False), ("health", True)]
    # mkt is downstream of claims-sys, but the warehouse sends it contact details it never got from claims-sys.
    assert [(r.holder.id, [c["id"] for c in r.categories], r.flows) for r in found.recipients] == [
        ("act", ["health.diagnosis.oncology"], ["f-act"]),
        ("dwh", ["health.diagnosis"], ["f-dwh"]),
        ("re", ["contact", "health.diagnosis"], ["f-re"])]
    assert (found.subject_systems, found.subject_count) == (["claims-sys"], 0)  # no subjects loaded


def test_a_breached_party_exposes_what_it_received_and_counts_the_subjects_of_its_sources(loaded):
    asked = []
    found = breach_impact(loaded, parties=["re"], detected_at=at("2026-11-25T09:00:00+01:00"),
                          count_subjects=lambda concerned: asked.append(concerned) or 42)
    assert [(e.category["id"], e.high_risk) for e in found.exposed] == [("contact", False), ("health.diagnosis", True)]
    assert found.recipients == []
    assert (found.subject_systems, found.subject_count) == (["claims-sys"], 42)
    assert asked == [found.concerned] and found.concerned.disclosed == ()


def test_a_breached_node_holds_what_it_sends_too(loaded):
    # The warehouse sends contact details to marketing that nothing brings it: it holds them.
    found = breach_impact(loaded, systems=["dwh"], detected_at=at("2026-11-25T09:00:00+01:00"))
    assert [e.category["id"] for e in found.exposed] == ["contact", "health.diagnosis"]
    assert [(r.holder.id, [c["id"] for c in r.categories], r.flows) for r in found.recipients] == [
        ("act", ["health.diagnosis.oncology"], ["f-act"]), ("mkt", ["contact"], ["f-mkt"])]
    # A claims administrator that only sends us data holds it: its breach exposes it, and where it went.
    loaded.load([("tpa.yaml", """
parties:
  - {id: tpa, name: Claims administrator, kind: tpa, country: DE, role: controller}
flows:
  - {id: f-tpa, name: Claim notifications, from: tpa, to: claims-sys, categories: [contact], purpose: claims,
     legal_basis: gdpr-6-1-b}
""")], actor="test")
    found = breach_impact(loaded, parties=["tpa"], detected_at=at("2026-11-25T09:00:00+01:00"))
    assert [e.category["id"] for e in found.exposed] == ["contact"]
    assert [(r.holder.id, r.flows) for r in found.recipients] == [("claims-sys", ["f-tpa"]), ("re", ["f-re"])]
    # Near miss: what a node sends that a broader category it holds covers is not listed twice.
    claims = breach_impact(loaded, systems=["claims-sys"], detected_at=at("2026-11-25T09:00:00+01:00"))
    assert "health.diagnosis" not in [e.category["id"] for e in claims.exposed]


@pytest.mark.parametrize("arguments, error, message", [
    (dict(systems=["claims-sys"], detected_at=datetime(2026, 11, 25, 9)), InvalidArgument,
     "detectedAt: give the time with its UTC offset, e.g. 2026-11-25T09:30:00+01:00"),
    (dict(detected_at=at("2026-11-25T09:00:00+01:00")), InvalidArgument,
     "give at least one system or party that was breached"),
    (dict(systems=["nope"], detected_at=at("2026-11-25T09:00:00+01:00")), NotFound, "systems: unknown system 'nope'"),
    (dict(systems=["re"], detected_at=at("2026-11-25T09:00:00+01:00")), NotFound, "systems: unknown system 're'"),
    (dict(parties=["crm"], detected_at=at("2026-11-25T09:00:00+01:00")), NotFound, "parties: unknown party 'crm'"),
])
def test_bad_arguments_are_refused_by_name(loaded, arguments, error, message):
    with pytest.raises(error) as raised:
        breach_impact(loaded, **arguments)
    assert str(raised.value) == message


def run(registry, query, **variables):
    context = Context(registry=registry, principal=Principal.of("tester", "viewer"))
    return asyncio.run(schema.execute(query, variable_values=variables or None, context_value=context))


def test_unknown_systems_are_graphql_errors(loaded):
    result = run(loaded, '{ breachImpact(systems: ["nope"], detectedAt: "2026-11-25T09:00:00+01:00") { highRisk } }')
    assert [(e.message, e.extensions["code"]) for e in result.errors] == [("systems: unknown system 'nope'", "NOT_FOUND")]


def test_the_breach_command_prints_the_duties_with_utc_deadlines(tmp_path):
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("DSA_REGISTRY_STORE", None)

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "registry.cli", *args], cwd=tmp_path, env=environment,
                              capture_output=True, text=True, timeout=60)

    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "extra.yaml").write_text(EXTRA)
    assert cli("load", "base.yaml", "extra.yaml").returncode == 0
    result = cli("breach", "--system", "us-sys", "--system", "claims-sys", "--detected-at", "2026-11-25T10:00:00+09:00")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Breach of system claims-sys, system us-sys, known since 2026-11-25T01:00:00+00:00 (UTC)"
    # deadlines already passed (the analysis runs now, after 2026-11-28) are marked
    assert "  the competent supervisory authority: by 2026-11-28T01:00:00+00:00  OVERDUE  [GDPR Art. 33(1)]" in lines
    assert "  the data subjects concerned: without undue delay  [GDPR Art. 34(1)]" in lines
    assert ("  the insurance commissioner of the home state: by 2026-11-28T01:00:00+00:00  OVERDUE  "
            "[NAIC Insurance Data Security Model Law (#668) §6]") in lines
    naive = cli("breach", "--system", "us-sys", "--detected-at", "2026-11-25T10:00:00")
    assert naive.returncode == 2 and "--detected-at" in naive.stderr and "UTC offset" in naive.stderr
    unknown = cli("breach", "--system", "nope")
    assert (unknown.returncode, unknown.stderr) == (2, "error: systems: unknown system 'nope'\n")
