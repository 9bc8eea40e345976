"""Subject loads on every backend: read and validated before anything is written, applied in
batches while reads and other writes go on, resumable when stopped half-way, and a write that
waits too long for another says so (`StoreBusy`, exit code 75)."""

import json
import sqlite3
import threading
import time

import pytest

from graph.auditlog import AuditQuery
from graph.embedded import EmbeddedStore
from graph.store import StoreBusy
from graph.subjects import SUBJECT_BATCH, PendingLoad
from registry.auth.roles import Principal
from registry.errors import InvalidArgument
from registry.service import Registry
from registry.subjects.keys import KeyHasher
from registry.subjects.model import SubjectsInvalid
from registry.subjects.service import SubjectService
from tests.subject_graphs import SUBJECT, bundles

DPO = Principal.of("alice", "dpo")
SECRET = b"test-secret-test-secret-test-secret"


@pytest.fixture
def service(registry, tmp_path):
    registry.load(bundles(), actor="test")
    service = SubjectService(registry, KeyHasher(SECRET))
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(SUBJECT) + "\n")
    service.load(path, principal=DPO)
    return service


def subject_file(tmp_path, count: int, name: str = "many.jsonl", system: str = "claims"):
    path = tmp_path / name
    path.write_text("".join(json.dumps({"id": f"B-{i:06d}", "kind": "insured", "records": [{"system": system}],
                                        "consents": [{"purpose": "marketing", "status": "granted",
                                                      "at": "2025-01-01T00:00:00Z"}],
                                        "keys": {"email": f"b{i}@example.org"}}) + "\n" for i in range(count)))
    return path


def embedded_registry(path, busy_timeout: float) -> Registry:
    """The test bundles' registry on an embedded store at `path` whose writes wait `busy_timeout` s for another."""
    registry = Registry(EmbeddedStore(path, busy_timeout=busy_timeout))
    registry.load(bundles(), actor="test")
    return registry


def loads(store, source):
    return [e.after for e in store.audit(AuditQuery(entity=source, limit=100))]


class Stop(Exception):
    pass


def test_a_large_file_applies_in_batches_with_progress_and_two_audit_entries(service, store, tmp_path):
    count = 2 * SUBJECT_BATCH + 500
    path = subject_file(tmp_path, count)
    applied, read = [], []
    assert service.load(path, principal=DPO, applied=lambda *a: applied.append(a), read=lambda *a: read.append(a)) == count
    assert applied == [(SUBJECT_BATCH, count), (2 * SUBJECT_BATCH, count), (count, count)]
    assert read[-1] == (path.stat().st_size, path.stat().st_size) and len(read) == count // 10_000 + 1
    assert loads(store, "many.jsonl") == [{"subjects": count, "state": "started"}, {"subjects": count}]
    assert store.pending_load() is None
    assert store.count_subjects(["claims"]) == count + 1 and store.count_consenting(["marketing"]) == count + 1
    assert service.find(principal=DPO, email=f"b{count - 1}@example.org").id == f"B-{count - 1:06d}"


def test_a_file_of_one_batch_is_one_transaction_and_one_audit_entry(service, store, tmp_path):
    path = subject_file(tmp_path, 3)
    assert service.load(path, principal=DPO) == 3
    assert loads(store, "many.jsonl") == [{"subjects": 3}]
    assert store.pending_load() is None


def test_a_load_stopped_between_batches_is_recorded_and_loading_the_file_again_completes_it(service, store, tmp_path):
    count = SUBJECT_BATCH + 10
    path = subject_file(tmp_path, count)

    def stop(done, total):
        raise Stop  # as if the process died right after the first batch committed

    with pytest.raises(Stop):
        service.load(path, principal=DPO, applied=stop)
    pending = store.pending_load()
    assert isinstance(pending, PendingLoad)
    assert (pending.source, pending.subjects, pending.applied, pending.actor) == ("many.jsonl", count, SUBJECT_BATCH, "alice")
    assert store.count_subjects(["claims"]) == SUBJECT_BATCH + 1  # each applied subject whole, with its index
    assert store.subject_by_key(KeyHasher(SECRET).hash("email", "b0@example.org")) == "B-000000"
    assert loads(store, "many.jsonl") == [{"subjects": count, "state": "started"}]

    assert service.load(path, principal=DPO) == count  # a load is idempotent: again completes it
    assert store.pending_load() is None
    assert store.count_subjects(["claims"]) == count + 1
    assert len(store.subject("B-000000").consents) == 1  # the same event once, not twice


def test_no_subject_is_erased_while_a_load_is_pending_for_finishing_it_would_bring_the_subject_back(
        service, store, tmp_path):
    count = SUBJECT_BATCH + 10
    path = subject_file(tmp_path, count, system="crm")  # nothing there must be kept (Art. 17(3))

    def stop(done, total):
        raise Stop

    with pytest.raises(Stop):
        service.load(path, principal=DPO, applied=stop)
    pending = store.pending_load()
    for subject in ("B-000000", "C-1"):  # one the pending file holds, one it does not: the store cannot tell
        with pytest.raises(InvalidArgument) as refused:
            service.erase(principal=DPO, subject=subject)
        assert str(refused.value) == (
            f"subject {subject!r} cannot be erased while a subject load is pending: the load of many.jsonl by alice "
            f"(started {pending.started}) stopped after 10,000 of 10,010 subjects, and finishing it would re-create "
            "erased subjects; load many.jsonl again to finish it, then erase")
    assert store.subject("B-000000") is not None and store.subject("C-1") is not None  # nothing changed
    assert store.pending_load() == pending

    assert service.load(path, principal=DPO) == count
    _plan, done = service.erase(principal=DPO, subject="B-000000")  # once the load is finished, erasure goes on
    assert (done.systems, done.kept, done.consents, done.keys) == (("crm",), (), 1, 1)
    assert store.subject("B-000000") is None and store.pending_load() is None


def test_a_batch_naming_a_system_deleted_since_the_load_began_is_refused_and_says_how_much_was_loaded(
        service, registry, store, tmp_path):
    registry.upsert("system", {"id": "archive", "name": "Archive", "country": "DE"}, actor="test")
    path = subject_file(tmp_path, SUBJECT_BATCH)  # one batch in claims, then one subject in the archive
    with path.open("a") as file:
        file.write(json.dumps({"id": "B-Z", "kind": "insured", "records": [{"system": "archive"}]}) + "\n")

    def meanwhile(done, total):  # between the batches another writer deletes the archive, which nothing names yet
        if done < total:
            registry.delete("system", "archive", actor="steward")

    with pytest.raises(InvalidArgument, match=rf"^{SUBJECT_BATCH:,} of the {SUBJECT_BATCH + 1:,} subjects of "
                                              r"many.jsonl were loaded, then the rest was refused: its records "
                                              r"name system ids the registry does not have .*'archive'"):
        service.load(path, principal=DPO, applied=meanwhile)
    assert store.get_many(["archive"]) == {} and store.subject("B-Z") is None  # no record in a deleted system
    assert store.count_subjects(["claims"]) == SUBJECT_BATCH + 1
    assert store.pending_load().applied == SUBJECT_BATCH


def test_a_system_that_a_loaded_batch_records_in_cannot_be_deleted_before_the_load_ends(service, registry, store,
                                                                                          tmp_path):
    registry.upsert("system", {"id": "archive", "name": "Archive", "country": "DE"}, actor="test")
    path = subject_file(tmp_path, SUBJECT_BATCH + 1, system="archive")
    refusals = []

    def meanwhile(done, total):
        if done < total:
            with pytest.raises(InvalidArgument) as refused:
                registry.delete("system", "archive", actor="steward")
            refusals.append(str(refused.value))

    assert service.load(path, principal=DPO, applied=meanwhile) == SUBJECT_BATCH + 1
    assert refusals == [f"system 'archive' cannot be deleted: still referenced by the records of {SUBJECT_BATCH} "
                        "data subject(s) (force deletes it anyway, keeping the subject data, audited)"]
    assert store.count_subjects(["archive"]) == SUBJECT_BATCH + 1


def test_an_invalid_line_after_many_batches_changes_nothing(service, store, tmp_path):
    path = subject_file(tmp_path, SUBJECT_BATCH * 2)
    with path.open("a") as file:
        file.write(json.dumps({"id": "B-X", "kind": "insured", "records": [{"system": "nowhere"}]}) + "\n")
    before = store.audit(AuditQuery(limit=1000))
    with pytest.raises(SubjectsInvalid):
        service.load(path, principal=DPO, applied=lambda *a: pytest.fail("nothing may be applied"))
    assert store.count_subjects(["claims"]) == 1 and store.pending_load() is None
    assert store.audit(AuditQuery(limit=1000)) == before


def test_reads_and_writes_go_on_while_a_file_is_read_and_validated(service, store, tmp_path):
    """The old load held the store's lock while it parsed: a DSAR or a consent in another thread waited."""
    answered = []

    def others():
        answered.append(service.report(principal=DPO, subject="C-1").subject.id)
        service.set_consent(principal=DPO, subject="C-1", purpose="marketing", status="granted")
        answered.append(store.subject("C-1").consents[-1]["status"])

    class Lines:
        """Subject lines that, half-way, let another thread ask and write, and wait for it."""

        def __iter__(self):
            yield 1, json.dumps({"id": "C-2", "kind": "prospect"})
            worker = threading.Thread(target=others)
            worker.start()
            worker.join(timeout=30)
            assert not worker.is_alive(), "a DSAR or a consent waited for the load"
            yield 2, json.dumps({"id": "C-3", "kind": "prospect"})

    from registry.subjects import model
    checker = model.Checker("lines", store.types_by_id(), KeyHasher(SECRET))
    assert store.write_subjects(model.rows(Lines(), checker), actor="bulk", source="lines") == 2
    assert answered == ["C-1", "granted"]


def test_a_write_that_waits_too_long_for_another_says_busy(tmp_path):
    path = tmp_path / "r.db"
    registry = embedded_registry(path, busy_timeout=0.3)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing
    try:
        with pytest.raises(StoreBusy, match=r"^busy: another write is in progress \(waited 0.3 s\); nothing was "
                                            r"changed, retry$"):
            registry.upsert("purpose", {"id": "p-new", "name": "New"}, actor="test")
        assert [d["id"] for d in registry.list("system")]  # reads go on
    finally:
        other.execute("ROLLBACK")
    registry.upsert("purpose", {"id": "p-new", "name": "New"}, actor="test")  # and once it is done, it goes
    assert registry.entity("p-new").doc["name"] == "New"


def test_another_writer_gets_in_between_the_batches_of_a_load(tmp_path):
    path = tmp_path / "r.db"
    registry = embedded_registry(path, busy_timeout=5)
    service = SubjectService(registry, KeyHasher(SECRET))
    writer = EmbeddedStore(path, busy_timeout=5)  # another process's connection, as a server has
    written, before_the_end = [], []

    def first_batch(done, total):
        if done == total:
            before_the_end.append(bool(written))
        if done == SUBJECT_BATCH:
            thread = threading.Thread(target=lambda: written.append(
                Registry(writer).upsert("purpose", {"id": "p-during", "name": "During"}, actor="other")))
            thread.start()
            time.sleep(0.2)  # the load goes on with its next batch while the other writer waits its turn

    service.load(subject_file(tmp_path, 4 * SUBJECT_BATCH), principal=DPO, applied=first_batch)
    assert before_the_end == [True]  # the other write went in between two batches, not after the load
    assert registry.entity("p-during").doc["name"] == "During"


def test_over_graphql_a_write_kept_waiting_is_the_error_busy_and_changes_nothing(tmp_path):
    import asyncio

    from registry.api.context import Context
    from registry.api.schema import schema

    path = tmp_path / "r.db"
    registry = embedded_registry(path, busy_timeout=0.3)
    service = SubjectService(registry, KeyHasher(SECRET))
    (tmp_path / "one.jsonl").write_text(json.dumps(SUBJECT) + "\n")
    service.load(tmp_path / "one.jsonl", principal=DPO)
    before = registry.store.subject("C-1").consents
    context = Context(registry=registry, principal=DPO, subjects=service)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing
    try:
        result = asyncio.run(schema.execute('mutation { withdrawConsent(subject: "C-1", purpose: "wellness") { id } }',
                                            context_value=context))
    finally:
        other.execute("ROLLBACK")
    [error] = result.errors
    assert (error.message, error.extensions["code"]) == (
        "busy: another write is in progress (waited 0.3 s); nothing was changed, retry", "BUSY")
    assert registry.store.subject("C-1").consents == before
