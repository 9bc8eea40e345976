"""Consent events and disclosures written one at a time, on every backend: an event for a subject
erased meanwhile is refused inside the write transaction and records nothing (no row, no audit
entry); an event recorded again with corrected details keeps the corrected ones on both backends;
a subject load kept waiting after some batches says how much it applied."""

import sqlite3

import pytest

from graph.auditlog import AuditQuery
from graph.store import IntegrityError, StoreBusy
from graph.subjects import SUBJECT_BATCH
from registry.subjects.keys import KeyHasher
from registry.subjects.service import SubjectService
from tests.test_subject_load import DPO, SECRET, embedded_registry, service, subject_file  # noqa: F401 — service: the fixture

CONSENT = {"at": "2026-01-05T10:00:00Z", "purpose": "marketing", "status": "granted", "notice": "v4",
           "channel": "web", "expires": "2027-01-05T10:00:00Z"}


def everything(store) -> tuple:
    return store.subject("C-1"), store.count_consenting(["marketing"]), store.count_disclosures(["fraud"]), \
        len(store.audit(AuditQuery(limit=10_000)))


def test_a_consent_or_disclosure_for_a_subject_erased_meanwhile_records_nothing(service, store):  # noqa: F811
    assert store.erase_subject("C-1", keep=[], actor="dpo", plan_date="2026-01-01") is not None
    before = everything(store)
    with pytest.raises(IntegrityError, match=r"^unknown data subject 'C-1' \(erased meanwhile\?\): nothing was "
                                             r"recorded$"):
        store.add_consent("C-1", CONSENT, actor="alice")  # the service looked C-1 up before the erasure
    with pytest.raises(IntegrityError, match="^unknown data subject 'C-1'"):
        store.add_disclosure("C-1", {"flow": "fraud", "at": "2026-01-05T10:00:00Z", "reference": "F-1"}, actor="alice")
    assert everything(store) == before == (None, 0, {}, before[3])


def test_a_near_miss_an_event_for_a_subject_still_held_is_recorded(service, store):  # noqa: F811
    store.add_consent("C-1", CONSENT, actor="alice")
    store.add_disclosure("C-1", {"flow": "fraud", "at": "2026-01-05T10:00:00Z", "reference": "F-1"}, actor="alice")
    assert store.subject("C-1").consents[-1] == CONSENT
    assert store.count_disclosures(["fraud"]) == {"fraud": 1}


def test_an_event_recorded_again_with_corrected_details_keeps_the_corrected_ones(service, store):  # noqa: F811
    store.add_consent("C-1", CONSENT, actor="alice")
    corrected = {**CONSENT, "notice": "v5", "expires": "2028-01-05T10:00:00Z"}
    store.add_consent("C-1", corrected, actor="alice")
    events = [c for c in store.subject("C-1").consents if c["at"] == CONSENT["at"]]
    assert events == [corrected]  # one event, as the audit log says it was written last
    assert store.audit(AuditQuery(entity="C-1", limit=1, newest_first=True))[0].after == corrected


def test_a_load_kept_waiting_after_some_batches_says_how_much_it_applied(tmp_path):
    path = tmp_path / "r.db"
    registry = embedded_registry(path, busy_timeout=0.3)
    store, loader = registry.store, SubjectService(registry, KeyHasher(SECRET))
    count = SUBJECT_BATCH + 5
    subjects = subject_file(tmp_path, count)
    other = sqlite3.connect(path, isolation_level=None)

    def hold(done, total):  # another process starts a long write right after the first batch
        if done < total:
            other.execute("BEGIN IMMEDIATE")

    try:
        with pytest.raises(StoreBusy, match=rf"^busy: {SUBJECT_BATCH:,} of the {count:,} subjects of many.jsonl were "
                                            r"loaded, then another write kept the store longer than 0.3 s; load "
                                            r"many.jsonl again to complete it$"):
            loader.load(subjects, principal=DPO, applied=hold)
    finally:
        other.execute("ROLLBACK")
    assert store.pending_loads()[0].applied == SUBJECT_BATCH == store.count_subjects(["claims"])
    assert loader.load(subjects, principal=DPO) == count
    assert store.pending_loads() == () and store.count_subjects(["claims"]) == count
