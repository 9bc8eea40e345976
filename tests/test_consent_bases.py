"""Which processing rests on a consent, decided once (`registry.legal_bases.consent_relied_on`) for
DSARs and the consent-withdrawal finding alike: consent as the Art. 6(1) basis (a bundle's own
basis flagged `consent` too), explicit consent as the Art. 9(2) condition of special-category
data whatever the Art. 6 basis, the NAIC #672 authorisation for health information in whichever
slot it is recorded; the GLBA opt-out is not a consent. On every backend.

Before, the finding knew only `gdpr-6-1-a` as the basis of every flow into a system, and DSARs
knew the three built-in ids, the NAIC authorisation only as a basis or an additional basis.
"""

import asyncio
import json
from datetime import date, datetime, timezone

import pytest

from registry.api.context import Context
from registry.api.schema import schema
from registry.auth.roles import Principal
from registry.compliance import findings
from registry.subjects.keys import KeyHasher
from registry.subjects.render import render
from registry.subjects.service import SubjectService
from tests.subject_graphs import bundles

#   claims --r1[health.diagnosis] (contract + explicit consent, research)--> studies
#   crm --l1[contact] (national-consent, marketing)--> leads
#   claims --n1[medical] (GLBA exception + NAIC #672 authorisation, underwriting)--> us-life
#   crm --o1[contact] (GLBA notice and opt-out, marketing)--> us-agency
EXTRA = """
legal_bases:
  - {id: national-consent, name: Consent under national law, kind: lawful-basis, reference: "A national law's consent", consent: true}
categories:
  - {id: medical, name: Medical history (US), health: true}
purposes:
  - {id: research, name: Health research}
subject_categories:
  - {id: policyholder, name: Policyholders}
systems:
  - {id: studies, name: Health studies, country: DE}
  - {id: leads, name: Lead scoring, country: DE}
  - id: biobank
    name: Biobank
    country: DE
    holds:
      - {category: health.diagnosis, purposes: [research], legal_basis: gdpr-6-1-b, condition: gdpr-9-2-a}
      - {category: contact, purposes: [research], legal_basis: gdpr-6-1-b, condition: gdpr-9-2-a}
parties:
  - {id: us-life, name: US Life Re, kind: reinsurer, country: US, role: controller}
  - {id: us-agency, name: US Agency, kind: other, country: US, role: controller}
flows:
  - {id: r1, name: Research extracts, from: claims, to: studies, categories: [health.diagnosis], purpose: research, legal_basis: gdpr-6-1-b, condition: gdpr-9-2-a}
  - {id: l1, name: Lead feed, from: crm, to: leads, categories: [contact], purpose: marketing, legal_basis: national-consent}
  - {id: n1, name: US underwriting, from: claims, to: us-life, categories: [medical], purpose: underwriting, legal_basis: glba-6802-e-1, condition: naic-672-authorisation}
  - {id: o1, name: US offers, from: crm, to: us-agency, categories: [contact], purpose: marketing, legal_basis: glba-6802-b}
"""
ADMIN = Principal.of("alice", "admin")
LAPSED = "consent-withdrawn-data-still-flowing"
GRANTED = {"status": "granted", "at": "2024-01-01T00:00:00Z"}
WITHDRAWN = {"status": "withdrawn", "at": "2025-01-01T00:00:00Z"}


def person(id_, records, **consents):
    return {"id": id_, "kind": "policyholder", "records": records,
            "consents": [{"purpose": purpose, **event} for purpose, events in consents.items() for event in events]}


PEOPLE = [
    person("R-1", [{"system": "claims", "categories": ["health.diagnosis"]}], research=[GRANTED, WITHDRAWN]),
    person("R-2", [{"system": "claims", "categories": ["health.diagnosis"]}], research=[GRANTED]),
    person("L-1", [{"system": "crm"}], marketing=[GRANTED, WITHDRAWN]),
    person("N-1", [{"system": "claims", "categories": ["medical"]}]),
    person("B-1", [{"system": "biobank"}, {"system": "claims", "categories": ["health.diagnosis"]}]),
    person("B-2", [{"system": "biobank"}], research=[GRANTED, WITHDRAWN]),
    person("B-3", [{"system": "biobank"}], research=[GRANTED]),
]


@pytest.fixture
def service(registry, tmp_path):
    registry.load([*bundles(), ("consents.yaml", EXTRA)], actor="test")
    service = SubjectService(registry, KeyHasher(b"secret-secret-secret-secret-secret"))
    path = tmp_path / "subjects.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in PEOPLE))
    service.load(path, principal=ADMIN)
    return service


def lapsed(registry):
    return [(f.entity_id, f.subject_count, f.message) for f in findings(registry, rule=LAPSED, as_of=date(2026, 6, 1))]


def test_explicit_consent_and_a_bundles_own_consent_basis_make_a_system_rest_on_consent(service, registry):
    # studies gets diagnoses on a contract, but special-category data only on explicit consent: R-1
    # withdrew it. leads gets contact details on a national law's consent: L-1 withdrew marketing.
    assert lapsed(registry) == [
        ("leads", 1, "1 data subject(s) withdrew consent for marketing, yet system leads, which receives data only "
                     "through consent-based flows (l1), still holds their data."),
        ("studies", 1, "1 data subject(s) withdrew consent for research, yet system studies, which receives data "
                        "only through consent-based flows (r1), still holds their data.")]


def test_data_held_only_partly_on_consent_is_named_by_category(service, registry):
    registry.upsert("flow", {"id": "r2", "name": "Research contacts", "from": "crm", "to": "studies",
                             "categories": ["contact"], "purpose": "research", "legal_basis": "gdpr-6-1-b"},
                    actor="test")
    assert lapsed(registry)[1] == (
        "studies", 1, "1 data subject(s) withdrew consent for research, yet system studies, which holds "
                       "health.diagnosis data only on consent (flows r1), still holds that data.")


@pytest.mark.parametrize("change", [
    {"flow": {"condition": "gdpr-9-2-h"}},  # another Art. 9(2) condition: no consent to withdraw
    {"flow": {"categories": ["contact"]}},  # explicit consent as condition counts for special-category data only
    {"holds": {"category": "health", "purposes": ["research"], "legal_basis": "gdpr-6-1-b",
               "condition": "gdpr-9-2-j"}},  # the system holds broader health data on another condition
])
def test_near_misses_do_not_rest_on_consent(service, registry, change):
    if "flow" in change:
        r1 = registry.entity("r1", "flow").doc
        registry.upsert("flow", {**r1, **change["flow"]}, actor="test")
    else:
        studies = registry.entity("studies", "system").doc
        registry.upsert("system", {**studies, "holds": [change["holds"]]}, actor="test")
    assert [entity for entity, _, _ in lapsed(registry)] == ["leads"]


def suspended(service, subject):
    report = service.report(principal=ADMIN, subject=subject, as_of=date(2026, 6, 1))
    return [(s.flow, s.categories) for s in report.suspended], {r.party for r in report.recipients}


def test_dsars_suspend_what_the_finding_counts_and_the_naic_authorisation_in_the_condition_slot(service):
    # w1 (wellness, explicit consent) was suspended before and still is: neither gave that consent.
    assert suspended(service, "R-1")[0] == [("r1", ("health.diagnosis",)), ("w1", ("health.diagnosis",))]
    assert suspended(service, "R-2")[0] == [("w1", ("health.diagnosis",))]
    flows, parties = suspended(service, "L-1")
    assert flows == [("l1", ("contact",)), ("m1", ("contact",))]
    # The GLBA opt-out is not a consent: without an objection on record the data goes.
    assert "us-agency" in parties and "o1" not in {flow for flow, _ in flows}
    # N-1 signed no NAIC #672 authorisation: its medical history does not go to US Life Re.
    flows, parties = suspended(service, "N-1")
    assert ("n1", ("medical",)) in flows and "us-life" not in parties
    service.set_consent(principal=ADMIN, subject="N-1", purpose="underwriting", status="granted",
                        at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    flows, parties = suspended(service, "N-1")
    assert "n1" not in {flow for flow, _ in flows} and "us-life" in parties


def test_the_glba_opt_out_is_not_flagged_as_a_consent(registry):
    registry.load(bundles(), actor="test")
    assert not registry.entity("glba-6802-b", "legal-basis").doc.get("consent")
    assert registry.entity("naic-672-authorisation", "legal-basis").doc["consent"] is True


def test_data_held_on_a_consent_that_does_not_stand_says_so_in_the_report_and_the_letter(service):
    def lacking(subject):
        report = service.report(principal=ADMIN, subject=subject, as_of=date(2026, 6, 1))
        return {(h.system, h.category): h.consent_lacking for h in report.holdings}

    # The biobank holds diagnoses on explicit consent; its contact details need none (explicit consent
    # as a condition concerns special-category data only), nor do the claims system's diagnoses (legal claims).
    assert lacking("B-1") == {("biobank", "contact"): None, ("biobank", "health.diagnosis"): "missing",
                              ("claims", "health.diagnosis"): None, ("dwh", "health.diagnosis"): None,
                              ("actuarial", "health.diagnosis.oncology"): None}
    assert lacking("B-2")[("biobank", "health.diagnosis")] == "withdrawn"
    assert lacking("B-3")[("biobank", "health.diagnosis")] is None
    report = service.report(principal=ADMIN, subject="B-2", as_of=date(2026, 6, 1))
    english, german = (render(report, service.registry.entities, "markdown", controller="Aurora Mutual", lang=lang)
                       for lang in ("en", "de"))
    assert "| Biobank | Diagnoses | Health research | Contract (GDPR Art. 6(1)(b)); Explicit consent (GDPR Art. " \
           "9(2)(a)) — you have withdrawn this consent |" in english
    assert "Ausdrückliche Einwilligung (Art. 9 Abs. 2 lit. a DSGVO) — Sie haben diese Einwilligung widerrufen" in german


def test_the_api_says_which_holdings_lack_their_consent(service):
    context = Context(registry=service.registry, subjects=service, principal=ADMIN)
    query = '{ dsar(subject: "B-1", asOf: "2026-06-01") { holdings { system { id } category consentLacking } } }'
    result = asyncio.run(schema.execute(query, context_value=context))
    assert result.errors is None
    assert [(h["system"]["id"], h["category"], h["consentLacking"]) for h in result.data["dsar"]["holdings"]] == [
        ("actuarial", "health.diagnosis.oncology", None), ("biobank", "contact", None),
        ("biobank", "health.diagnosis", "MISSING"), ("claims", "health.diagnosis", None), ("dwh", "health.diagnosis", None)]


def test_what_went_while_a_consent_stood_is_still_there_after_it_is_withdrawn(service, registry):
    # L-1 gave marketing consent in 2024 and withdrew it in 2025: the lead feed is suspended, but the contact
    # details it took meanwhile are at the lead-scoring system until erased, as the consent finding says.
    report = service.report(principal=ADMIN, subject="L-1", as_of=date(2026, 6, 1))
    assert ("l1", ("contact",)) in [(s.flow, s.categories) for s in report.suspended]
    assert [(h.system, h.consent_lacking) for h in report.holdings if h.system == "leads"] == [("leads", "withdrawn")]
    plan = service.erasure_plan(principal=ADMIN, subject="L-1", today=date(2026, 6, 1))
    assert ("leads", ("contact",)) in plan.erase
    # Near misses: a flow that started after the withdrawal took nothing; a consent never given let nothing go.
    def systems(subject):
        return {h.system for h in service.report(principal=ADMIN, subject=subject, as_of=date(2026, 6, 1)).holdings}

    l1 = registry.entity("l1", "flow").doc
    registry.upsert("flow", {**l1, "since": "2025-06-01"}, actor="test")
    assert "leads" not in systems("L-1")
    assert "studies" not in systems("B-1")  # B-1 never gave the explicit consent r1 rests on
