"""Whose data a breach concerns (GDPR Art. 33(3)(a), 34): the people whose data the flows brought
to the breached systems and parties, not only those with a record there. Exact counts and ids on
a hand-built graph (tests.subject_graphs.CASES: P-1 a policyholder, K-1 a claimant, both with
records in claims and crm; P-1's large-loss file went to Facultative Re on 2025-03-01), on every
backend."""

import json
from datetime import datetime

import pytest

from registry.auth.roles import Principal
from registry.compliance.impact import breach_impact
from registry.subjects.keys import KeyHasher
from registry.subjects.service import SubjectService
from tests.subject_graphs import CASE_SUBJECTS, CASES

DPO = Principal.of("alice", "dpo")


@pytest.fixture
def service(registry, tmp_path):
    registry.load([("cases.yaml", CASES)], actor="test")
    # A warehouse fed from the claims system: nobody has a record there, everyone's claims arrive.
    registry.upsert("system", {"id": "dwh", "name": "Warehouse", "country": "DE"}, actor="test")
    registry.upsert("flow", {"id": "claims-to-dwh", "name": "Nightly load", "from": "claims", "to": "dwh",
                             "categories": ["claim"], "purpose": "claims-handling", "legal_basis": "gdpr-6-1-c"},
                    actor="test")
    service = SubjectService(registry, KeyHasher(b"test-secret-test-secret-test-secret"))
    path = tmp_path / "subjects.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in CASE_SUBJECTS))
    service.load(path, principal=DPO)
    return service


def concerned(service, when="2026-11-25T09:00:00+01:00", **breached):
    found = breach_impact(service.registry, detected_at=datetime.fromisoformat(when), **breached)
    return found.subject_count, service.affected(principal=DPO, concerned=found.concerned)


@pytest.mark.parametrize("breached, count, ids", [
    (dict(systems=["claims"]), 2, ["K-1", "P-1"]),       # their records are there
    (dict(systems=["dwh"]), 2, ["K-1", "P-1"]),          # no records there; every claim file flows in
    (dict(parties=["surveyco"]), 1, ["K-1"]),            # the survey takes claimants' contact details only
    (dict(parties=["retro-re"]), 1, ["P-1"]),            # behind a case flow: only P-1's large loss went on
    (dict(parties=["lka"]), 0, []),                      # no fraud referral recorded
    (dict(parties=["mailer"]), 2, ["K-1", "P-1"]),       # consent not looked at: what was sent is there
], ids=["records", "downstream-system", "subject-category", "beyond-a-case-flow", "case-flow-unused", "consent"])
def test_a_breach_concerns_the_people_whose_data_reached_it(service, breached, count, ids):
    assert concerned(service, **breached) == (count, ids)


def test_a_disclosure_after_the_breach_was_detected_does_not_count(service):
    assert concerned(service, "2025-02-28T12:00:00Z", parties=["retro-re"]) == (0, [])
    assert concerned(service, "2025-03-01T08:00:00Z", parties=["retro-re"]) == (1, ["P-1"])  # the very instant
