"""Data we process on behalf of another controller (a data processing agreement with a party whose
role is `controller`, `registry.processing`): a DSAR names it apart and leaves the request for it to
the controller (GDPR Art. 28(3)(e)), an erasure plan keeps it for the controller's instructions, a
breach of it is reported to the controller (Art. 33(2)), who notifies the authority; what the
registry records going on into our own processing is ours (Art. 28(10)). On every backend.

    pk (pension fund, controller) --pk-in[contact] (dpa-pk)--> pensions-admin (declares nothing)
    pensions-admin --pk-out[contact] (dpa-pk)--> pk
    pensions-admin --pk-host[contact] (pensions)--> cloud (our processor: a sub-processor here)
    pensions-admin --pk-archive[contact] (pensions)--> archive
    pensions-admin --pk-dwh[contact] (analytics, customers only)--> dwh (our own processing)
    pk --pk-pay[contact] (dpa-pk-benefits)--> payments          a second agreement with the fund
    broker --portal-in[contact] (dpa-portal)--> portal           the broker's own DPA with us
    usco (US controller) --us-in[contact] (dpa-us)--> us-admin (US)
"""

import json
from datetime import date, datetime, timezone

import pytest

from registry.auth.roles import Principal
from registry.compliance import breach_impact, ropa
from registry.errors import InvalidArgument
from registry.subjects.erasure import erasure_plan
from registry.subjects.keys import KeyHasher
from registry.subjects.render import render, render_erasure
from registry.subjects.service import SubjectService
from tests.graphs import LINEAGE

PENSIONS = """
purposes:
  - {id: pensions, name: Pension administration}
  - {id: benefits, name: Benefit payments}
subject_categories:
  - {id: member, name: Pension scheme members}
  - {id: customer, name: Customers}
parties:
  - {id: pk, name: Rhein Pension Fund, kind: other, country: DE, role: controller}
  - {id: cloud, name: Cloud Hosting, kind: processor, country: DE, role: processor}
  - {id: usco, name: US Pension Co, kind: other, country: US, role: controller}
systems:
  - {id: pensions-admin, name: Pension administration, country: DE}
  - {id: archive, name: Archive, country: DE}
  - {id: payments, name: Payments, country: DE}
  - {id: portal, name: Portal, country: DE}
  - {id: us-admin, name: US administration, country: US}
agreements:
  - {id: dpa-pk, name: Pension administration agreement, kind: dpa, parties: [pk], categories: [contact],
     purposes: [pensions], effective: 2024-01-01}
  - {id: dpa-pk-benefits, name: Benefit payments agreement, kind: dpa, parties: [pk], categories: [contact],
     purposes: [benefits], effective: 2024-01-01}
  - {id: dpa-portal, name: Portal hosting for the broker, kind: dpa, parties: [broker], categories: [contact],
     purposes: [underwriting], effective: 2024-01-01}
  - {id: dpa-us, name: US administration agreement, kind: dpa, parties: [usco], categories: [contact],
     purposes: [pensions], effective: 2024-01-01}
flows:
  - {id: pk-in, name: Members, from: pk, to: pensions-admin, categories: [contact], purpose: pensions, agreement: dpa-pk, legal_basis: gdpr-6-1-b}
  - {id: pk-out, name: Member reports, from: pensions-admin, to: pk, categories: [contact], purpose: pensions, agreement: dpa-pk, legal_basis: gdpr-6-1-b}
  - {id: pk-host, name: Hosting, from: pensions-admin, to: cloud, categories: [contact], purpose: pensions, legal_basis: gdpr-6-1-b}
  - {id: pk-archive, name: Archiving, from: pensions-admin, to: archive, categories: [contact], purpose: pensions, legal_basis: gdpr-6-1-b}
  - {id: pk-dwh, name: Analytics extract, from: pensions-admin, to: dwh, categories: [contact], purpose: analytics, legal_basis: gdpr-6-1-f, subject_categories: [customer]}
  - {id: pk-pay, name: Payees, from: pk, to: payments, categories: [contact], purpose: benefits, agreement: dpa-pk-benefits, legal_basis: gdpr-6-1-b}
  - {id: portal-in, name: Portal accounts, from: broker, to: portal, categories: [contact], purpose: underwriting, agreement: dpa-portal, legal_basis: gdpr-6-1-b}
  - {id: us-in, name: US members, from: usco, to: us-admin, categories: [contact], purpose: pensions, agreement: dpa-us, legal_basis: glba-6802-e-1}
"""
ADMIN = Principal.of("alice", "admin")
DAY = date(2026, 6, 1)
FUND = {"system": "pensions-admin", "categories": ["contact"], "source": "pk"}
OURS = {"system": "pensions-admin", "categories": ["contact"]}
SUBJECTS = [
    {"id": "M-1", "kind": "member", "records": [FUND]},
    {"id": "M-2", "kind": "member", "records": [FUND, {"system": "crm"}]},
    {"id": "M-3", "kind": "member", "records": [OURS]},                                   # not supplied by the fund
    {"id": "M-4", "kind": "member", "records": [{"system": "crm", "source": "broker"}]},  # the broker's DPA is the portal's
    {"id": "M-5", "kind": "customer", "records": [FUND]},     # the analytics extract takes customers' data too
    {"id": "M-6", "kind": "member", "records": [FUND, OURS]},
    {"id": "M-7", "kind": "member", "records": [OURS, FUND]},
    {"id": "M-8", "kind": "member", "records": [{"system": "payments", "categories": ["contact"], "source": "pk"}]},
]


@pytest.fixture
def service(registry, tmp_path):
    registry.load([("lineage.yaml", LINEAGE), ("pensions.yaml", PENSIONS)], actor="test")
    service = SubjectService(registry, KeyHasher(None))
    path = tmp_path / "subjects.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in SUBJECTS))
    service.load(path, principal=ADMIN)
    return service


def report(service, subject):
    return service.report(principal=ADMIN, subject=subject, as_of=DAY)


def held(service, subject):
    return [(h.system, h.on_behalf_of) for h in report(service, subject).holdings]


def test_data_a_controller_supplied_us_as_its_processor_is_its_own(service):
    found = report(service, "M-1")
    # What goes back to the fund and comes to our payments system under its other agreement is its own too.
    assert [(h.system, h.category, h.on_behalf_of) for h in found.holdings] == [
        ("archive", "contact", "pk"), ("payments", "contact", "pk"), ("pensions-admin", "contact", "pk")]
    # Back to the fund and to our sub-processor for the fund's purpose; the analytics extract takes customers only.
    assert [(r.party, r.flow, r.on_behalf_of) for r in found.recipients] == [
        ("cloud", "pk-host", "pk"), ("pk", "pk-out", "pk")]
    assert found.processed_for == ["pk"]
    with pytest.raises(InvalidArgument) as refused:
        render(found, service.registry.entities, "markdown", controller="Aurora Mutual")
    assert str(refused.value) == ("subject M-1: we process all their data on behalf of Rhein Pension Fund (pk), which "
                                  "answers the request as its controller: pass the request on (GDPR Art. 28(3)(e))")
    plan = erasure_plan(found, DAY)
    assert (plan.erase, plan.notify) == ([], [])
    assert [(k.system, k.reason.split(":")[0]) for k in plan.keep] == [
        (system, "processed on behalf of pk as its processor") for system in ("archive", "payments", "pensions-admin")]
    text = render_erasure(plan, DAY, service.registry.entities, "text")
    assert "Keep (Art. 17(3); Art. 28(3) for data we process for others):\n  archive: contact: processed on behalf " \
           "of pk as its processor: erased only on its instructions" in text
    # Under the fund's other agreement too.
    assert held(service, "M-8") == [("payments", "pk")]


def test_what_the_registry_records_going_into_our_own_processing_is_ours(service):
    # A customer's data the fund supplied goes on to our warehouse (and from there to the models): Art. 28(10).
    assert held(service, "M-5") == [("actuarial", None), ("archive", "pk"), ("dwh", None), ("payments", "pk"),
                                    ("pensions-admin", "pk")]


def test_data_no_controller_we_process_for_supplied_to_that_system_is_ours(service):
    # The broker has a processing agreement with us, for the portal: what it gave the CRM is ours.
    assert held(service, "M-4") == [("actuarial", None), ("crm", None), ("dwh", None)]
    # Our own record; what the fund, as controller, gives our payments system under its agreement is its own.
    assert held(service, "M-3") == [("archive", None), ("payments", "pk"), ("pensions-admin", None)]


@pytest.mark.parametrize("subject", ["M-6", "M-7"])
def test_data_that_is_both_ours_and_the_controllers_is_ours_whichever_record_comes_first(service, subject):
    assert held(service, subject) == [("archive", None), ("payments", "pk"), ("pensions-admin", None)]


def test_a_letter_answers_for_our_data_and_names_the_controller_of_the_rest(service):
    found = report(service, "M-2")
    assert [(h.system, h.on_behalf_of) for h in found.holdings] == [
        ("actuarial", None), ("archive", "pk"), ("crm", None), ("dwh", None), ("payments", "pk"),
        ("pensions-admin", "pk")]
    english, german = (render(found, service.registry.entities, "markdown", controller="Aurora Mutual", lang=lang,
                              now=datetime(2026, 6, 1, tzinfo=timezone.utc)) for lang in ("en", "de"))
    ours = [line.split(" | ")[0] for line in english.splitlines() if " | Contact details | " in line]
    assert ours == ["| Actuarial models", "| CRM", "| Data warehouse"]
    assert ("## Data we process on behalf of others\n\nWe process the following data on behalf of the organisations "
            "named, which decide why and how it is processed and answer your request for it; we pass your request on "
            "to them (GDPR Art. 28(3)(e)).\n\n| Controller | Where | Data |\n|---|---|---|\n"
            "| Rhein Pension Fund | Archive | Contact details |\n"
            "| Rhein Pension Fund | Payments | Contact details |\n"
            "| Rhein Pension Fund | Pension administration | Contact details |") in english
    assert "## Daten, die wir im Auftrag anderer verarbeiten" in german and "(Art. 28 Abs. 3 lit. e DSGVO)" in german


def test_a_breach_of_what_we_hold_only_for_a_controller_is_the_controllers_to_notify(service):
    registry = service.registry
    at = datetime(2026, 6, 1, 9, tzinfo=timezone.utc)

    def duties(*systems):
        return {d.id: d for d in breach_impact(registry, systems=list(systems), detected_at=at).duties}

    found = duties("pensions-admin")
    assert list(found) == ["art-33-2-pk"]  # no notification of ours to the authority or the people
    duty = found["art-33-2-pk"]
    assert (duty.notify, duty.reference, duty.deadline, duty.duty_of) == (
        "Rhein Pension Fund, the controller", "GDPR Art. 33(2)", None, None)
    assert duty.reason.startswith("we process its data (contact at pensions-admin) as its processor")
    assert list(duties("archive")) == ["art-33-2-pk"]  # passed on there on the fund's instructions
    # Where we hold our own data of the same kind too, our own duty stays beside it.
    registry.upsert("system", {"id": "pensions-admin", "name": "Pension administration", "country": "DE",
                               "holds": [{"category": "contact", "purposes": ["underwriting"],
                                          "legal_basis": "gdpr-6-1-b"}]}, actor="test")
    assert sorted(duties("pensions-admin")) == ["art-33-2-pk", "gdpr-art-33"]
    # A controller no GDPR-family law governs: the agreement says how.
    assert duties("us-admin")["art-33-2-usco"].reference == "the data processing agreement"
    # Near miss: a system that holds nothing of the fund's owes it nothing.
    assert not any(d.startswith("art-33-2") for d in duties("crm"))
    # The record of processing activities keeps the fund's processing in its processor view, as before.
    assert [a.agreement for a in ropa(registry, on=DAY).processor_activities] == [
        "dpa-pk", "dpa-pk-benefits", "dpa-portal", "dpa-us"]


PAY = ("{id: pk-pay, name: Payees, from: pk, to: payments, categories: [contact], purpose: benefits, "
       "agreement: dpa-pk-benefits, legal_basis: gdpr-6-1-b, %s}")


@pytest.mark.parametrize("window, whose", [
    ("status: proposed", None),                          # a plan has supplied nothing yet
    ("since: 2026-06-02", None),                         # nor has a feed that starts tomorrow
    ("since: 2026-06-01", "pk"),                         # one that starts today has
    ("status: ended, until: 2026-05-01", "pk"),          # the fund's data stays the fund's when the feed ends
    ("status: suspended", "pk"),
])
def test_only_a_feed_that_has_carried_data_makes_a_record_the_controllers(service, window, whose):
    service.registry.load([("pay.yaml", "flows:\n  - " + PAY % window)], actor="test")
    assert held(service, "M-8") == [("payments", whose)]


ON_INSTRUCTIONS = """
purposes:
  - {id: marketing, name: Marketing}
parties:
  - {id: auditor, name: Fund Auditor, kind: other, country: DE, role: controller}
flows:
  - {id: pk-audit, name: Audit files, from: pensions-admin, to: auditor, categories: [contact], purpose: pensions,
     agreement: dpa-pk, legal_basis: gdpr-6-1-c, scope: case}
  - {id: pk-survey, name: Member survey, from: pensions-admin, to: auditor, categories: [contact], purpose: pensions,
     legal_basis: gdpr-6-1-a}
  - {id: pk-mkt, name: Marketing extract, from: pensions-admin, to: crm, categories: [contact], purpose: marketing,
     legal_basis: gdpr-6-1-a}
"""


def test_disclosures_and_withheld_flows_of_a_controllers_data_are_its_own_to_answer_for(service):
    service.registry.load([("instructions.yaml", ON_INSTRUCTIONS)], actor="test")
    service.disclose(principal=ADMIN, subject="M-2", flow="pk-audit", at=datetime(2026, 5, 1, tzinfo=timezone.utc),
                     reference="audit 7")
    found = report(service, "M-2")
    # The fund's auditor got the fund's data on the fund's instructions: the fund accounts for it (the member's
    # data of ours never reached the source, which does not make the disclosure ours).
    assert [(d.flow, d.on_behalf_of) for d in found.disclosures] == [("pk-audit", "pk")]
    assert [(r.flow, r.on_behalf_of) for r in found.recipients if r.party == "auditor"] == [("pk-audit", "pk")]
    # Without the member's consent neither flow carries anything; the survey would be the fund's processing (its
    # purpose), the marketing extract ours (Art. 28(10)): only ours is the letter's to mention.
    assert [(s.flow, s.on_behalf_of) for s in found.suspended] == [("pk-mkt", None), ("pk-survey", "pk")]
    letter = render(found, service.registry.entities, "markdown", controller="Aurora Mutual",
                    now=datetime(2026, 6, 1, tzinfo=timezone.utc))
    assert "Marketing extract" in letter
    assert "Member survey" not in letter and "Audit files" not in letter and "audit 7" not in letter
