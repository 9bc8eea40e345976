"""Data we process on behalf of another controller (a data processing agreement with a party whose
role is `controller`, `registry.processing`): a DSAR leaves it to the controller (GDPR Art.
28(3)(e)), an erasure plan keeps it for the controller's instructions, a breach of it is reported
to the controller (Art. 33(2)). On every backend.

    pk (pension fund, controller) --pk-in[contact] (dpa-pk)--> pensions-admin
    pensions-admin --pk-out[contact] (dpa-pk)--> pk
    pensions-admin --pk-host[contact] (pensions)--> cloud (our processor, a sub-processor here)
    pensions-admin --pk-dwh[contact] (analytics)--> dwh (our own processing)
"""

import json
from datetime import date, datetime, timezone

import pytest

from registry.auth.roles import Principal
from registry.compliance import breach_impact, ropa
from registry.errors import InvalidArgument
from registry.subjects.erasure import erasure_plan
from registry.subjects.model import KeyHasher
from registry.subjects.render import render
from registry.subjects.service import SubjectService
from tests.graphs import LINEAGE

PENSIONS = """
purposes:
  - {id: pensions, name: Pension administration}
parties:
  - {id: pk, name: Rhein Pension Fund, kind: other, country: DE, role: controller}
  - {id: cloud, name: Cloud Hosting, kind: processor, country: DE, role: processor}
systems:
  - id: pensions-admin
    name: Pension administration
    country: DE
    holds:
      - {category: contact, purposes: [pensions], legal_basis: gdpr-6-1-b}
agreements:
  - {id: dpa-pk, name: Pension administration agreement, kind: dpa, parties: [pk], categories: [contact],
     purposes: [pensions], effective: 2024-01-01}
flows:
  - {id: pk-in, name: Members, from: pk, to: pensions-admin, categories: [contact], purpose: pensions, agreement: dpa-pk, legal_basis: gdpr-6-1-b}
  - {id: pk-out, name: Member reports, from: pensions-admin, to: pk, categories: [contact], purpose: pensions, agreement: dpa-pk, legal_basis: gdpr-6-1-b}
  - {id: pk-host, name: Hosting, from: pensions-admin, to: cloud, categories: [contact], purpose: pensions, legal_basis: gdpr-6-1-b}
  - {id: pk-dwh, name: Analytics extract, from: pensions-admin, to: dwh, categories: [contact], purpose: analytics, legal_basis: gdpr-6-1-f}
"""
ADMIN = Principal.of("alice", "admin")
DAY = date(2026, 6, 1)
SUBJECTS = [
    {"id": "M-1", "kind": "member", "records": [{"system": "pensions-admin", "source": "pk"}]},
    {"id": "M-2", "kind": "member", "records": [{"system": "pensions-admin", "source": "pk"}, {"system": "crm"}]},
    {"id": "M-3", "kind": "member", "records": [{"system": "pensions-admin"}]},  # not supplied by the fund: ours
    {"id": "M-4", "kind": "member", "records": [{"system": "pensions-admin", "source": "broker"}]},  # a broker, no DPA
]


@pytest.fixture
def service(registry, tmp_path):
    registry.load([("lineage.yaml", LINEAGE), ("pensions.yaml", PENSIONS),
                   ("kinds.yaml", "subject_categories:\n  - {id: member, name: Pension scheme members}\n")],
                  actor="test")
    service = SubjectService(registry, KeyHasher(None))
    path = tmp_path / "subjects.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in SUBJECTS))
    service.load(path, principal=ADMIN)
    return service


def report(service, subject):
    return service.report(principal=ADMIN, subject=subject, as_of=DAY)


def test_data_a_controller_supplied_us_as_its_processor_stays_on_its_instructions(service):
    found = report(service, "M-1")
    assert [(h.system, h.category, h.on_behalf_of) for h in found.holdings] == [("pensions-admin", "contact", "pk")]
    # Back to the fund and to our sub-processor for the fund's purpose; never into our own analytics.
    assert [(r.party, r.flow, r.on_behalf_of) for r in found.recipients] == [
        ("cloud", "pk-host", "pk"), ("pk", "pk-out", "pk")]
    assert found.processed_for == ["pk"]
    with pytest.raises(InvalidArgument) as refused:
        render(found, service.registry.entities, "markdown", controller="Aurora Mutual")
    assert str(refused.value) == ("subject M-1: we process all their data on behalf of Rhein Pension Fund (pk), which "
                                  "answers the request as its controller: pass the request on (GDPR Art. 28(3)(e))")
    plan = erasure_plan(found, DAY)
    assert (plan.erase, plan.notify) == ([], [])
    assert [(k.system, k.category, k.reason.split(":")[0]) for k in plan.keep] == [
        ("pensions-admin", "contact", "processed on behalf of pk as its processor")]


@pytest.mark.parametrize("subject", ["M-3", "M-4"])
def test_data_no_controller_we_process_for_supplied_is_ours(service, subject):
    found = report(service, subject)
    assert found.processed_for == []
    assert ("dwh", "contact") in {(h.system, h.category) for h in found.holdings}
    assert all(h.on_behalf_of is None for h in found.holdings)


def test_a_letter_answers_for_our_data_and_names_the_controller_of_the_rest(service):
    found = report(service, "M-2")
    # The CRM record is ours: its contact details go on to the warehouse; the fund's stay on its instructions.
    assert [(h.system, h.on_behalf_of) for h in found.holdings] == [
        ("actuarial", None), ("crm", None), ("dwh", None), ("pensions-admin", "pk")]
    english, german = (render(found, service.registry.entities, "markdown", controller="Aurora Mutual", lang=lang,
                              now=datetime(2026, 6, 1, tzinfo=timezone.utc)) for lang in ("en", "de"))
    held = [line for line in english.splitlines() if line.startswith("| ") and " | Contact details | " in line]
    assert [line.split(" | ")[0] for line in held] == ["| Actuarial models", "| CRM", "| Data warehouse"]
    assert ("## Data we process on behalf of others\n\nWe process the following data on behalf of the organisations "
            "named, which decide why and how it is processed and answer your request for it; we pass your request on "
            "to them (GDPR Art. 28(3)(e)).\n\n| Controller | Where | Data |\n|---|---|---|\n"
            "| Rhein Pension Fund | Pension administration | Contact details |") in english
    assert "## Daten, die wir im Auftrag anderer verarbeiten" in german and "(Art. 28 Abs. 3 lit. e DSGVO)" in german


def test_a_breach_of_what_we_process_for_a_controller_is_reported_to_it(service):
    registry = service.registry
    at = datetime(2026, 6, 1, 9, tzinfo=timezone.utc)
    duties = {d.id: d for d in breach_impact(registry, systems=["pensions-admin"], detected_at=at).duties}
    duty = duties["art-33-2-pk"]
    assert (duty.notify, duty.reference, duty.deadline, duty.duty_of) == (
        "Rhein Pension Fund, the controller", "GDPR Art. 33(2)", None, None)
    assert duty.reason.startswith("we process its data (contact at pensions-admin) as its processor")
    # Near miss: a breach of a system that holds nothing of the fund's owes it nothing.
    assert not any(d.startswith("art-33-2") for d in
                   (d.id for d in breach_impact(registry, systems=["crm"], detected_at=at).duties))
    # The record of processing activities keeps the fund's processing in its processor view, as before.
    assert [a.agreement for a in ropa(registry, on=DAY).processor_activities] == ["dpa-pk"]
