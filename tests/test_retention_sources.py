"""Data a system gets from several of a subject's records (two contracts feeding one ledger) is
kept as long as the latest of them requires, whatever the flows are called; and what must be
kept downstream survives the erasure of the records it came from. On every backend."""

import json
from datetime import date

import pytest

from registry.auth.roles import Principal
from registry.subjects.keys import KeyHasher
from registry.subjects.service import SubjectService

DPO = Principal.of("alice", "dpo")

LEDGER = """
subject_categories:
  - {{id: policyholder, name: Policyholders}}
categories:
  - {{id: identity, name: Identity data}}
purposes:
  - {{id: reporting, name: Reporting}}
  - {{id: service, name: Service}}
systems:
  - {{id: old-sys, name: Old contract system, country: DE,
     holds: [{{category: identity, purposes: [service], legal_basis: gdpr-6-1-b, retention: P1Y}}]}}
  - {{id: live-sys, name: Live contract system, country: DE,
     holds: [{{category: identity, purposes: [service], legal_basis: gdpr-6-1-b, retention: P1Y}}]}}
  - {{id: ledger, name: Ledger, country: DE,
     holds: [{{category: identity, purposes: [reporting], legal_basis: gdpr-6-1-c, retention: P10Y}}]}}
flows:
  - {{id: {old}, name: Old feed, from: old-sys, to: ledger, categories: [identity], purpose: reporting,
     legal_basis: gdpr-6-1-c}}
  - {{id: live-to-ledger, name: Live feed, from: live-sys, to: ledger, categories: [identity], purpose: reporting,
     legal_basis: gdpr-6-1-c}}
"""
OLD = {"system": "old-sys", "since": "2005-01-01", "until": "2010-12-31"}


def loaded(registry, tmp_path, old_flow: str, *subjects: dict) -> SubjectService:
    registry.load([("ledger.yaml", LEDGER.format(old=old_flow))], actor="test")
    service = SubjectService(registry, KeyHasher(b"test-secret-test-secret-test-secret"), clock=lambda: date(2026, 12, 1))
    path = tmp_path / "subjects.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in subjects))
    service.load(path, principal=DPO)
    return service


def ledger(plan):
    return [(k.system, k.until, k.starts) for k in plan.keep if k.system == "ledger"]


# The ended contract's feed sorts first by id, then last: the answer must not change.
@pytest.mark.parametrize("old_flow", ["a-old-to-ledger", "old-to-ledger"])
def test_data_from_a_live_and_an_ended_contract_is_kept_with_no_end_date(registry, tmp_path, old_flow):
    service = loaded(registry, tmp_path, old_flow, {"id": "S", "kind": "policyholder", "records": [
        OLD, {"system": "live-sys", "since": "2011-01-01"}]})
    plan = service.erasure_plan(principal=DPO, subject="S", today=date(2026, 11, 25))
    assert ledger(plan) == [("ledger", None, None)]  # 10 years after the live contract ends: not yet
    assert ("ledger", ("identity",)) not in plan.erase
    [held] = [h for h in service.report(principal=DPO, subject="S").holdings if h.system == "ledger"]
    assert (held.collected, held.ended) == (date(2011, 1, 1), None)


@pytest.mark.parametrize("old_flow", ["a-old-to-ledger", "old-to-ledger"])
def test_once_both_contracts_ended_retention_runs_from_the_later_end(registry, tmp_path, old_flow):
    service = loaded(registry, tmp_path, old_flow, {"id": "S", "kind": "policyholder", "records": [
        OLD, {"system": "live-sys", "since": "2011-01-01", "until": "2020-06-30"}]})
    plan = service.erasure_plan(principal=DPO, subject="S", today=date(2026, 11, 25))
    assert ledger(plan) == [("ledger", date(2030, 6, 30), date(2020, 6, 30))]


def test_data_from_one_ended_contract_alone_is_erasable_once_its_retention_ran(registry, tmp_path):
    service = loaded(registry, tmp_path, "old-to-ledger", {"id": "S", "kind": "policyholder", "records": [OLD]})
    plan = service.erasure_plan(principal=DPO, subject="S", today=date(2026, 11, 25))
    assert ledger(plan) == [] and ("ledger", ("identity",)) in plan.erase  # 2010-12-31 + P10Y has run


def test_erasing_the_records_keeps_a_record_of_the_data_the_ledger_must_keep(registry, tmp_path, store):
    service = loaded(registry, tmp_path, "old-to-ledger", {"id": "S", "kind": "policyholder", "records": [
        {"system": "live-sys", "since": "2011-01-01"}]})
    plan, done = service.erase(principal=DPO, subject="S", today=date(2026, 11, 25))
    assert (plan.erase, ledger(plan)) == ([("live-sys", ("identity",))], [("ledger", None, None)])
    assert (done.systems, done.kept) == (("live-sys",), ("ledger",))
    assert store.subject("S").records == [{"system": "ledger", "categories": ["identity"], "since": "2011-01-01",
                                           "restricted": "2026-11-25"}]
    assert store.count_subjects(["ledger"]) == 1 and store.count_subjects(["live-sys"]) == 0
    after = service.report(principal=DPO, subject="S")  # the kept data can still be accounted for (Art. 15)
    assert [(h.system, h.category, h.path, h.collected, h.ended) for h in after.holdings] == [
        ("ledger", "identity", (), date(2011, 1, 1), None)]
    assert ledger(service.erasure_plan(principal=DPO, subject="S", today=date(2026, 11, 25))) == [("ledger", None, None)]


def test_data_whose_retention_has_run_everywhere_leaves_nothing_behind(registry, tmp_path, store):
    service = loaded(registry, tmp_path, "old-to-ledger", {"id": "S", "kind": "policyholder", "records": [OLD]})
    _plan, done = service.erase(principal=DPO, subject="S", today=date(2026, 11, 25))
    assert (done.systems, done.kept) == (("old-sys",), ()) and store.subject("S") is None
