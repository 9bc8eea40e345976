"""Whose data a flow carries, consent that expires, retention from the right event, disclosures
and erasure carried out (issue 13): exact answers on a hand-built graph, on every backend."""

import json
import sqlite3
from datetime import date, datetime, timezone

import pytest

from graph import audit as chain
from graph.embedded import EmbeddedStore
from graph.subjects import WAL_RESIDUE
from registry.audit import AuditTrail
from registry.auth.roles import Forbidden, Principal
from registry.errors import InvalidArgument, NotFound
from registry.subjects.keys import KeyHasher
from registry.subjects.model import SubjectsInvalid
from registry.subjects.service import SubjectService
from tests.subject_graphs import CASE_SUBJECTS, CASES

DPO = Principal.of("alice", "dpo")


@pytest.fixture
def service(registry, tmp_path):
    registry.load([("cases.yaml", CASES)], actor="test")
    service = SubjectService(registry, KeyHasher(b"test-secret-test-secret-test-secret"))
    path = tmp_path / "subjects.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in CASE_SUBJECTS))
    assert service.load(path, principal=DPO) == 2
    return service


def recipients(found):
    return [(r.party, r.flow, r.categories, r.path) for r in found]


def report(service, subject, day):
    return service.report(principal=DPO, subject=subject, as_of=day)


def test_a_case_flow_carries_data_only_where_a_disclosure_is_recorded_and_beyond_it(service):
    found = report(service, "P-1", date(2025, 6, 1))
    assert recipients(found.recipients) == [
        ("fac-re", "fac", ("claim",), ("fac",)),
        ("mailer", "news", ("contact",), ("news",)),
        ("retro-re", "retro", ("claim",), ("fac", "retro")),
    ]
    assert [(r.party, r.flow, r.path, r.case_flows) for r in found.potential_recipients] == [
        ("lka", "lka-referral", ("lka-referral",), ("lka-referral",))]
    assert [(h.system, h.category) for h in found.holdings] == [
        ("claims", "claim"), ("claims", "contact"), ("crm", "contact")]
    assert [(d.flow, d.receiver, d.at, d.reference, d.categories, d.purpose) for d in found.disclosures] == [
        ("fac", "fac-re", datetime(2025, 3, 1, 8, tzinfo=timezone.utc), "FAC-17", ("claim",), "reinsurance")]


def test_before_its_disclosure_a_case_flow_and_what_lies_beyond_are_potential_recipients(service):
    found = report(service, "P-1", date(2025, 2, 28))
    assert recipients(found.recipients) == [("mailer", "news", ("contact",), ("news",))]
    assert [(r.party, r.flow, r.path, r.case_flows) for r in found.potential_recipients] == [
        ("fac-re", "fac", ("fac",), ("fac",)), ("lka", "lka-referral", ("lka-referral",), ("lka-referral",)),
        ("retro-re", "retro", ("fac", "retro"), ("fac",))]
    assert found.disclosures == []


def test_a_flow_limited_to_claimants_carries_no_policyholders_data(service):
    assert "surveyco" not in {r.party for r in report(service, "P-1", date(2025, 6, 1)).recipients}
    assert "surveyco" not in {r.party for r in report(service, "P-1", date(2025, 6, 1)).potential_recipients}
    claimant = report(service, "K-1", date(2025, 6, 1))
    assert recipients(claimant.recipients) == [
        ("mailer", "news", ("contact",), ("news",)), ("surveyco", "survey", ("contact",), ("survey",))]


def test_consent_to_a_broader_purpose_covers_the_narrower_one_until_its_validity_runs_out(service):
    # marketing granted 2024-06-01T10:00Z, valid P24M: it counts up to 2026-05-31 and no longer on 2026-06-01
    before = report(service, "P-1", date(2026, 5, 31))
    assert "mailer" in {r.party for r in before.recipients} and before.suspended == []
    assert before.consents["marketing"].status == "granted"
    assert before.consents["marketing"].expires == datetime(2026, 6, 1, 10, tzinfo=timezone.utc)
    after = report(service, "P-1", date(2026, 6, 1))
    # The newsletter flow is suspended; the mailer got P-1's contact details while the consent stood.
    assert "mailer" in {r.party for r in after.recipients}
    assert [(s.flow, s.purpose, s.categories, s.expired) for s in after.suspended] == [
        ("news", "marketing.newsletter", ("contact",), True)]
    assert after.consents["marketing"].status == "expired"


def test_a_consent_event_expires_on_its_own_date_before_the_purpose_validity(service):
    # granted 2025-01-01 for the newsletter, expires 2025-12-31T00:00Z (P24M would run to 2027)
    assert "mailer" in {r.party for r in report(service, "K-1", date(2025, 12, 30)).recipients}
    expired = report(service, "K-1", date(2025, 12, 31))
    assert [(s.flow, s.expired) for s in expired.suspended] == [("news", True)]
    assert expired.consents["marketing.newsletter"].status == "expired"


def test_withdrawing_the_narrower_purpose_leaves_the_broader_consent_for_the_rest(service):
    service.set_consent(principal=DPO, subject="P-1", purpose="marketing.newsletter", status="withdrawn",
                        at=datetime(2025, 7, 1, tzinfo=timezone.utc))
    found = report(service, "P-1", date(2025, 8, 1))
    assert [(s.flow, s.expired) for s in found.suspended] == [("news", False)]
    assert (found.consents["marketing"].status, found.consents["marketing.newsletter"].status) == (
        "granted", "withdrawn")


def test_retention_runs_from_the_end_of_the_relationship_and_never_ends_without_it(service):
    plan = service.erasure_plan(principal=DPO, subject="P-1", today=date(2040, 1, 1))
    # claims: P10Y from the end (no until: kept with no date); crm: P6Y from collection 2024-01-15
    assert [(k.system, k.category, k.until, k.retention, k.retention_from, k.starts) for k in plan.keep] == [
        ("claims", "claim", None, "P10Y", "end", None)]
    assert plan.erase == [("claims", ("contact",)), ("crm", ("contact",))]
    ended = service.erasure_plan(principal=DPO, subject="K-1", today=date(2029, 12, 1))
    assert [(k.system, k.category, k.until, k.starts) for k in ended.keep] == [
        ("claims", "claim", date(2030, 1, 31), date(2020, 1, 31))]  # crm: P6Y from 2019-05-01 has run
    assert ended.erase == [("claims", ("contact",)), ("crm", ("contact",))]
    assert service.erasure_plan(principal=DPO, subject="K-1", today=date(2030, 2, 1)).keep == []


def test_retention_from_collection_runs_from_the_records_since(service):
    plan = service.erasure_plan(principal=DPO, subject="P-1", today=date(2029, 12, 1))
    assert [(k.system, k.until, k.starts) for k in plan.keep if k.system == "crm"] == [
        ("crm", date(2030, 1, 15), date(2024, 1, 15))]


def test_recording_a_disclosure_makes_the_recipient_actual_and_is_audited(service, registry):
    with pytest.raises(InvalidArgument, match="flow 'retro' has scope all"):
        service.disclose(principal=DPO, subject="P-1", flow="retro")
    with pytest.raises(NotFound, match="^flow: unknown flow 'nope'$"):
        service.disclose(principal=DPO, subject="P-1", flow="nope")
    with pytest.raises(Forbidden):
        service.disclose(principal=Principal.of("bob", "steward"), subject="P-1", flow="lka-referral")
    row = service.disclose(principal=DPO, subject="P-1", flow="lka-referral", reference="LKA-2025-0042",
                           at=datetime(2025, 9, 1, 12, tzinfo=timezone.utc))
    assert row.disclosures == [{"flow": "fac", "at": "2025-03-01T08:00:00+00:00", "reference": "FAC-17"},
                               {"flow": "lka-referral", "at": "2025-09-01T12:00:00+00:00", "reference": "LKA-2025-0042"}]
    found = report(service, "P-1", date(2025, 10, 1))
    assert "lka" in {r.party for r in found.recipients} and found.potential_recipients == []
    [entry] = [e for e in registry.audit(entity="P-1") if e.type == "disclosure"]
    assert (entry.actor, entry.action, entry.after) == (
        "alice", "create", {"flow": "lka-referral", "at": "2025-09-01T12:00:00+00:00", "reference": "LKA-2025-0042"})


def test_a_subject_file_may_not_record_a_disclosure_on_a_flow_of_scope_all(service, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"id": "X-1", "kind": "claimant", "disclosures": [
        {"flow": "retro", "at": "2025-01-01T00:00:00Z"}]}) + "\n")
    with pytest.raises(SubjectsInvalid, match="flow 'retro' has scope all"):
        service.load(path, principal=DPO)


def on(service, day: date) -> date:
    """Make `day` today for `service` (an erasure is carried out as of today or earlier)."""
    service.clock = lambda: day
    return day


def test_erasure_keeps_what_must_be_kept_then_removes_everything_but_the_proof(service, registry, store):
    plan, done = service.erase(principal=DPO, subject="P-1", today=on(service, date(2031, 1, 10)))
    assert (done.systems, done.kept) == (("crm",), ("claims",))
    assert [r["system"] for r in store.subject("P-1").records] == ["claims"]
    assert plan.kept_systems == ["claims"]
    plan, done = service.erase(principal=DPO, subject="K-1", today=on(service, date(2030, 2, 1)))
    assert (done.systems, done.kept, done.consents, done.keys, done.disclosures) == (("claims", "crm"), (), 1, 0, 0)
    assert store.subject("K-1") is None
    with pytest.raises(NotFound):
        service.report(principal=DPO, subject="K-1")
    [proof] = [e for e in registry.audit(entity="K-1", limit=1000) if e.action == "erase"]
    assert (proof.actor, proof.type, proof.after) == ("alice", "subject", {
        "erased": ["claims", "crm"], "kept": [], "consents": 1, "keys": 0, "disclosures": 0, "audit_documents": 1,
        "plan": "2030-02-01"})  # the erasure plan's read
    assert [s.id for s in service.list(principal=DPO)[0]] == ["P-1"]


def test_a_full_erasure_leaves_only_seals_of_the_audit_entries_about_the_subject(service, registry, store):
    service.set_consent(principal=DPO, subject="K-1", purpose="marketing.newsletter", status="withdrawn",
                        at=datetime(2026, 1, 5, tzinfo=timezone.utc), channel="phone call from Mrs Mustermann")
    service.disclose(principal=DPO, subject="K-1", flow="lka-referral", at=datetime(2026, 2, 1, tzinfo=timezone.utc),
                     reference="Strafanzeige Mustermann 123")
    service.report(principal=DPO, subject="K-1")
    service.report(principal=DPO, subject="P-1")
    about = [(e.action, e.type) for e in registry.audit(entity="K-1", limit=1000)]
    assert about == [("update", "consent"), ("create", "disclosure"), ("read", "subject")]
    _, done = service.erase(principal=DPO, subject="K-1", today=on(service, date(2030, 2, 1)))
    assert done.kept == () and done.audit_documents == 3 + 1  # the erasure plan's read too
    *entries, proof = registry.audit(entity="K-1", limit=1000)
    assert [(e.action, e.type, e.after, e.salt, e.erased, len(e.seal)) for e in entries] == [
        (action, type_, None, None, True, 64) for action, type_ in about + [("read", "subject")]]
    assert (proof.action, proof.after["audit_documents"], proof.after["disclosures"]) == ("erase", 4, 1)
    everything = json.dumps([e.__dict__ for e in registry.audit(limit=1000)], ensure_ascii=False)
    assert "Mustermann" not in everything and "lka-referral" not in json.dumps([e.__dict__ for e in entries])
    assert AuditTrail(store).verify(principal=DPO).intact
    # P-1 is not erased (nor is an erasure that keeps data: its consents and disclosures stay, so does their trail)
    [read] = [e for e in registry.audit(entity="P-1", limit=1000) if e.after == {"what": "dsar"}]
    assert read.salt is not None and not read.erased
    service.erase(principal=DPO, subject="P-1", today=date(2030, 2, 1))
    assert all(not e.erased for e in registry.audit(entity="P-1", limit=1000))


def test_an_export_of_named_subjects_is_a_read_of_each_that_goes_with_its_erasure(service, registry, store):
    assert [line["id"] for line in service.export(principal=DPO, subjects=["K-1", "P-1"])] == ["K-1", "P-1"]
    reads = [(e.id, e.actor, e.after) for e in registry.audit(limit=1000) if e.action == "read"]
    assert reads[-2:] == [("K-1", "alice", {"what": "export"}), ("P-1", "alice", {"what": "export"})]
    assert not [e for e in registry.audit(limit=1000) if "," in e.id]  # no entry names two subjects
    _, done = service.erase(principal=DPO, subject="K-1", today=on(service, date(2030, 2, 1)))
    assert done.audit_documents == 2  # the export's read and the erasure plan's
    assert [(e.action, e.after, e.erased) for e in registry.audit(entity="K-1", limit=1000)][:2] == [
        ("read", None, True), ("read", None, True)]
    assert [(e.after, e.erased) for e in registry.audit(entity="P-1", limit=1000)] == [({"what": "export"}, False)]
    assert AuditTrail(store).verify(principal=DPO).intact
    # near miss: the whole registry's export stays one read of "*" with the count
    assert len(list(service.export(principal=DPO))) == 1
    [whole] = [e for e in registry.audit(entity="*", limit=1000) if e.action == "read"][-1:]
    assert (whole.actor, whole.after, whole.seal) == ("alice", {"what": "export: 1 subjects"}, None)


def test_a_scratch_copy_audits_reads_of_subject_data_in_the_store_it_copies(registry, store):
    from graph.scratch import ScratchStore

    ScratchStore(store).log_accesses(actor="carol", subjects=["K-1", "P-1"], what="export")
    ScratchStore(store).log_access(actor="carol", subject="K-1", what="dsar")
    assert [(e.id, e.actor, e.after) for e in registry.audit(limit=1000) if e.action == "read"][-3:] == [
        ("K-1", "carol", {"what": "export"}), ("P-1", "carol", {"what": "export"}), ("K-1", "carol", {"what": "dsar"})]


def test_an_erasure_also_clears_lookups_by_its_keys_and_counts_documents_it_cannot_clear(
        service, registry, store, tmp_path, monkeypatch):
    with pytest.raises(NotFound):  # someone looked for X-2 by e-mail before the file with X-2 was loaded
        service.report(principal=DPO, email="x2@example.org")
    with monkeypatch.context() as earlier:  # a read written by the version before seals
        earlier.setattr(chain, "sealed", lambda *_: False)
        store.log_access(actor="carol", subject="X-2", what="dsar")
    path = tmp_path / "x2.jsonl"
    path.write_text(json.dumps({"id": "X-2", "kind": "claimant", "records": [{"system": "crm", "since": "2020-01-01"}],
                                "keys": {"email": "x2@example.org"}}) + "\n")
    service.load(path, principal=DPO)
    [lookup] = [e for e in registry.audit(limit=1000) if e.id.startswith("key:")]
    assert (lookup.after, lookup.erased) == ({"what": "dsar", "found": False}, False)
    _, done = service.erase(principal=DPO, subject="X-2", today=on(service, date(2040, 1, 1)))
    assert (done.audit_documents, done.audit_documents_kept) == (2, 1)  # the lookup by key, the erasure plan's read
    lookup, why = [e for e in registry.audit(limit=1000) if e.id.startswith("key:")]
    assert (lookup.after, lookup.erased, why.action, why.after) == (None, True, "erase", {
        "erased_with": "subject", "kept": [], "audit_documents": 1, "plan": "2040-01-01"})  # so verify knows why
    old, plan_read, proof = registry.audit(entity="X-2")
    assert (old.after, old.seal, plan_read.erased, proof.after["audit_documents_kept"]) == (
        {"what": "dsar"}, None, True, 1)
    assert AuditTrail(store).verify(principal=DPO).intact


def test_an_erasure_says_when_readers_kept_the_write_ahead_log_busy(service, store):
    if not isinstance(store, EmbeddedStore):
        _, done = service.erase(principal=DPO, subject="K-1", today=on(service, date(2030, 2, 1)))
        assert done.residue.startswith("Neo4j keeps transaction logs of the erased data until they rotate out")
        return
    store.busy_timeout = 0.2
    reader = sqlite3.connect(store.path)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM subject").fetchone()  # a reader of the version before the erasure
    _, done = service.erase(principal=DPO, subject="K-1", today=on(service, date(2030, 2, 1)))
    assert done.kept == () and done.residue == WAL_RESIDUE
    reader.rollback()
    reader.close()
    _, done = service.erase(principal=DPO, subject="P-1", today=date(2030, 2, 1))  # keeps data: no checkpoint
    assert done.residue is None
    with pytest.raises(sqlite3.IntegrityError, match="never changed, only erased"):
        with sqlite3.connect(store.path) as db:
            db.execute("UPDATE audit_private SET doc = '{}'")


def test_an_erased_subject_is_not_left_in_the_embedded_store_files(service, store):
    if not isinstance(store, EmbeddedStore):
        pytest.skip("SQLite's free pages and write-ahead log: Neo4j reuses deleted records as it writes (README)")
    service.disclose(principal=DPO, subject="K-1", flow="lka-referral", at=datetime(2026, 2, 1, tzinfo=timezone.utc),
                     reference="Strafanzeige Mustermann 123")
    files = [store.path, store.path.with_name(store.path.name + "-wal")]
    assert any(b"Mustermann 123" in path.read_bytes() for path in files)
    service.erase(principal=DPO, subject="K-1", today=on(service, date(2030, 2, 1)))
    assert not any(b"Mustermann 123" in path.read_bytes() for path in files if path.exists())


def test_an_erasure_is_not_carried_out_as_of_a_day_still_to_come(service, store):
    on(service, date(2026, 12, 1))
    # On 2031-01-10 P-1's crm data (P6Y from its collection on 2024-01-15) would be erasable; today it is not.
    ahead = service.erasure_plan(principal=DPO, subject="P-1", today=date(2031, 1, 10))  # a plan may look ahead
    assert [k.system for k in ahead.keep] == ["claims"]
    with pytest.raises(InvalidArgument, match=r"^today: 2031-01-10 is after today \(2026-12-01, UTC\); an erasure is "
                                              r"carried out as of today or an earlier day"):
        service.erase(principal=DPO, subject="P-1", today=date(2031, 1, 10))
    assert [r["system"] for r in store.subject("P-1").records] == ["claims", "crm"]  # nothing changed
    _, done = service.erase(principal=DPO, subject="P-1", today=date(2026, 12, 1))  # today itself is fine
    assert done.kept == ("claims", "crm")


def test_erasure_removes_lookup_keys_and_disclosures(service, store, tmp_path):
    path = tmp_path / "more.jsonl"
    path.write_text(json.dumps({"id": "X-1", "kind": "claimant", "records": [{"system": "crm", "since": "2020-01-01"}],
                                "keys": {"email": "x1@example.org"},
                                "disclosures": [{"flow": "lka-referral", "at": "2025-01-01T00:00:00Z"}]}) + "\n")
    service.load(path, principal=DPO)
    _, done = service.erase(principal=DPO, subject="X-1", today=on(service, date(2040, 1, 1)))
    assert (done.systems, done.kept, done.keys, done.disclosures) == (("crm",), (), 1, 1)
    with pytest.raises(NotFound, match="^email: no subject with that e-mail address$"):
        service.report(principal=DPO, email="x1@example.org")
    assert store.count_disclosures(["lka-referral"]) == {}


def test_subjects_are_listed_by_id_in_pages_and_exported_as_a_subject_file(service, registry, tmp_path):
    first, more = service.list(principal=DPO, limit=1)
    assert ([(s.id, s.kind) for s in first], more) == ([("K-1", "claimant")], True)
    assert [(s.id, more) for s in service.list(principal=DPO, after="K-1")[0]] == [("P-1", True)]
    assert service.list(principal=DPO, after="K-1")[1] is False
    assert service.total(principal=DPO) == 2
    assert service.list(principal=DPO, limit=0) == ([], True)  # a client asking only whether there are any
    assert service.list(principal=DPO, after="P-1", limit=0) == ([], False)
    for limit in (-1, 1001):
        with pytest.raises(InvalidArgument, match=rf"^first must be between 0 and 1000 \(got {limit}\)$"):
            service.list(principal=DPO, limit=limit)
    exported = list(service.export(principal=DPO))
    assert [(e["id"], e["kind"], e["records"]) for e in exported] == [
        (s["id"], s["kind"], s["records"]) for s in sorted(CASE_SUBJECTS, key=lambda s: s["id"])]
    assert exported[1]["disclosures"] == [{"flow": "fac", "at": "2025-03-01T08:00:00+00:00", "reference": "FAC-17"}]
    assert exported[0]["consents"] == [{"purpose": "marketing.newsletter", "status": "granted",
                                        "at": "2025-01-01T00:00:00+00:00", "expires": "2025-12-31T00:00:00+00:00"}]
    path = tmp_path / "back.jsonl"
    path.write_text("".join(json.dumps(doc) + "\n" for doc in exported))
    assert service.load(path, principal=DPO) == 2
    assert list(service.export(principal=DPO)) == exported
    reads = [(e.actor, e.after["what"]) for e in registry.audit(entity="*", limit=1000) if e.action == "read"]
    assert ("alice", "export: 2 subjects") in reads
    with pytest.raises(Forbidden):
        list(service.export(principal=Principal.of("bob", "steward")))
