"""What a DSAR says about a person must hold for that person's data on that day: an Art. 9(2) or
Art. 10 condition only for special-category or criminal-offence data, and only records collected
by the report's day. Exact answers on tests.subject_graphs (C-1: contact details in crm since
2020-03-01, diagnoses in claims since 2024-06-01), on every backend."""

import json
from datetime import date

import pytest

from registry.auth.roles import Principal
from registry.subjects.keys import KeyHasher
from registry.subjects.service import SubjectService
from tests.subject_graphs import SUBJECT, bundles

DPO = Principal.of("alice", "dpo")


@pytest.fixture
def service(registry, tmp_path):
    registry.load(bundles(), actor="test")
    # Contact details to the reinsurer under the treaty, whose terms name the legal-claims condition
    # (gdpr-9-2-f) for the health data it covers.
    registry.upsert("flow", {"id": "crm-to-re", "name": "Policyholder list", "from": "crm", "to": "re",
                             "categories": ["contact"], "purpose": "reinsurance", "agreement": "treaty"}, actor="test")
    service = SubjectService(registry, KeyHasher(b"test-secret-test-secret-test-secret"))
    path = tmp_path / "subjects.jsonl"
    path.write_text(json.dumps(SUBJECT) + "\n")
    service.load(path, principal=DPO)
    return service


def test_a_special_category_condition_is_stated_only_for_special_category_data(service):
    report = service.report(principal=DPO, subject="C-1", as_of=date(2026, 11, 30))
    to_re = {r.flow: (r.categories, r.legal_basis, r.condition) for r in report.recipients if r.party == "re"}
    assert to_re["crm-to-re"] == (("contact",), "gdpr-6-1-b", None)  # contact details: Art. 6 alone
    assert to_re["f2"] == (("health.diagnosis",), "gdpr-6-1-b", "gdpr-9-2-f")  # diagnoses: Art. 6 and Art. 9
    held = {(h.system, h.category): h.condition for h in report.holdings}
    assert held[("claims", "health.diagnosis")] == "gdpr-9-2-f" and held[("crm", "contact")] is None


def test_a_report_dated_before_a_record_was_collected_leaves_that_record_out(service):
    early = service.report(principal=DPO, subject="C-1", as_of=date(2024, 5, 31))  # claims record from 2024-06-01
    assert {h.system for h in early.holdings} == {"crm", "dwh", "actuarial"}
    # the marketing consent (2024-01-10 to 2025-05-01) still stood
    assert {(r.party, r.flow) for r in early.recipients} == {("adco", "m1"), ("re", "crm-to-re")}
    on_the_day = service.report(principal=DPO, subject="C-1", as_of=date(2024, 6, 1))
    assert ("claims", "health.diagnosis") in {(h.system, h.category) for h in on_the_day.holdings}
    assert ("re", "f2") in {(r.party, r.flow) for r in on_the_day.recipients}
