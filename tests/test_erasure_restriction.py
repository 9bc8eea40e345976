"""After an erasure that keeps data (GDPR Art. 17(3)), the kept data is kept for that ground only:
the nightly feeds that carried it before no longer carry it on, so a later access request does not
name the systems and recipients the erasure removed it from, while a case flow (the legal claim
it is kept for) still carries it where a disclosure is recorded. On every backend."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from registry.auth.roles import Principal
from registry.subjects.keys import KeyHasher
from registry.subjects.service import SubjectService

DPO = Principal.of("alice", "dpo")
ERASED_ON = date(2026, 11, 25)

GRAPH = """
#   crm --crm-feed[contact]--> dwh --vendor-extract[contact, claim]--> analytics-co
#   claims --claims-feed[claim]--> dwh
#   claims --to-counsel[claim] (case)--> counsel
categories:
  - {id: contact, name: Contact details}
  - {id: claim, name: Claim files}
purposes:
  - {id: claims-handling, name: Claims handling}
  - {id: analytics, name: Analytics}
  - {id: legal-claims, name: Legal claims}
systems:
  - id: claims
    name: Claims system
    country: DE
    holds:
      - {category: claim, purposes: [claims-handling], legal_basis: gdpr-6-1-c, retention: P10Y}
  - id: crm
    name: CRM
    country: DE
    holds:
      - {category: contact, purposes: [claims-handling], legal_basis: gdpr-6-1-b}
  - id: dwh
    name: Data warehouse
    country: DE
    holds:
      - {category: contact, purposes: [analytics], legal_basis: gdpr-6-1-f}
      - {category: claim, purposes: [analytics], legal_basis: gdpr-6-1-f}
parties:
  - {id: analytics-co, name: Analytics Co, kind: processor, country: DE, role: processor}
  - {id: counsel, name: Outside counsel, kind: other, country: DE, role: controller}
flows:
  - {id: crm-feed, name: CRM feed, from: crm, to: dwh, categories: [contact], purpose: analytics, legal_basis: gdpr-6-1-f}
  - {id: claims-feed, name: Claims feed, from: claims, to: dwh, categories: [claim], purpose: analytics, legal_basis: gdpr-6-1-f}
  - {id: vendor-extract, name: Analytics extract, from: dwh, to: analytics-co, categories: [contact, claim], purpose: analytics, legal_basis: gdpr-6-1-f}
  - {id: to-counsel, name: Litigation files, from: claims, to: counsel, categories: [claim], purpose: legal-claims, legal_basis: gdpr-6-1-f, scope: case}
"""

SUBJECTS = [
    {"id": "E-1", "kind": "policyholder",
     "records": [{"system": "claims", "since": "2015-01-01"}, {"system": "crm", "since": "2015-01-01"}]},
    {"id": "E-2", "kind": "policyholder",  # the same, never erased: the near-miss
     "records": [{"system": "claims", "since": "2015-01-01"}, {"system": "crm", "since": "2015-01-01"}]},
]


@pytest.fixture
def service(registry, tmp_path):
    registry.load([("restriction.yaml", GRAPH)], actor="test")
    service = SubjectService(registry, KeyHasher(b"test-secret-test-secret-test-secret"), clock=lambda: ERASED_ON)
    path = tmp_path / "subjects.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in SUBJECTS))
    service.load(path, principal=DPO)
    return service


def where(service, subject: str, day: date = ERASED_ON):
    found = service.report(principal=DPO, subject=subject, as_of=day)
    return (sorted({(h.system, h.category) for h in found.holdings}),
            sorted({(r.party, r.flow) for r in found.recipients}),
            sorted({(r.party, r.flow) for r in found.potential_recipients}))


BEFORE = ([("claims", "claim"), ("crm", "contact"), ("dwh", "claim"), ("dwh", "contact")],
          [("analytics-co", "vendor-extract")], [("counsel", "to-counsel")])


def test_data_kept_by_an_erasure_is_no_longer_carried_on_by_the_feeds(service, store):
    assert where(service, "E-1") == BEFORE
    plan, done = service.erase(principal=DPO, subject="E-1")
    assert (plan.erase, [(k.system, k.category) for k in plan.keep]) == (
        [("crm", ("contact",)), ("dwh", ("claim", "contact"))], [("claims", "claim")])
    assert [(n.party, n.flow) for n in plan.notify] == [("analytics-co", "vendor-extract")]
    assert (done.systems, done.kept) == (("crm",), ("claims",))
    assert store.subject("E-1").records == [{"system": "claims", "since": "2015-01-01", "restricted": "2026-11-25"}]
    # Kept for the legal obligation only: the claims feed no longer takes it to the warehouse and on.
    assert where(service, "E-1") == ([("claims", "claim")], [], [("counsel", "to-counsel")])
    again = service.erasure_plan(principal=DPO, subject="E-1")
    assert (again.erase, [k.system for k in again.keep], again.notify) == ([], ["claims"], [])
    # The day before the erasure, the record was not restricted yet.
    assert where(service, "E-1", date(2026, 11, 24)) == (
        [("claims", "claim"), ("dwh", "claim")], [("analytics-co", "vendor-extract")], [("counsel", "to-counsel")])
    assert where(service, "E-2") == BEFORE  # not erased: unchanged


def test_a_disclosure_for_the_legal_claim_still_carries_kept_data(service):
    service.erase(principal=DPO, subject="E-1")
    service.disclose(principal=DPO, subject="E-1", flow="to-counsel", reference="LG Köln 2 O 17/26",
                     at=datetime(2026, 11, 25, 9, tzinfo=timezone.utc))
    assert where(service, "E-1") == ([("claims", "claim")], [("counsel", "to-counsel")], [])


def test_a_second_erasure_keeps_the_first_restriction_day_and_an_export_carries_it(service, store, tmp_path):
    service.erase(principal=DPO, subject="E-1")
    service.clock = lambda: date(2027, 1, 10)
    _, done = service.erase(principal=DPO, subject="E-1")
    assert done.kept == ("claims",)
    assert store.subject("E-1").records[0]["restricted"] == "2026-11-25"
    [exported] = list(service.export(principal=DPO, subjects=["E-1"]))
    assert exported["records"] == [{"system": "claims", "since": "2015-01-01", "restricted": "2026-11-25"}]
    path = tmp_path / "back.jsonl"
    path.write_text(json.dumps(exported) + "\n")
    service.load(path, principal=DPO)
    assert store.subject("E-1").records == exported["records"]
    assert where(service, "E-1")[0] == [("claims", "claim")]
