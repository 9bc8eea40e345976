"""Subject loads on every backend: read and validated before anything is written, applied in
batches while reads and other writes go on, resumable when stopped half-way, and a write that
waits too long for another says so (`StoreBusy`, exit code 75)."""

import dataclasses
import hashlib
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
from registry.errors import InvalidArgument, NotFound
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
    assert store.pending_loads() == ()
    assert store.count_subjects(["claims"]) == count + 1 and store.count_consenting(["marketing"]) == count + 1
    assert service.find(principal=DPO, email=f"b{count - 1}@example.org").id == f"B-{count - 1:06d}"


def test_a_file_of_one_batch_is_one_transaction_and_one_audit_entry(service, store, tmp_path):
    path = subject_file(tmp_path, 3)
    assert service.load(path, principal=DPO) == 3
    assert loads(store, "many.jsonl") == [{"subjects": 3}]
    assert store.pending_loads() == ()


def test_a_load_stopped_between_batches_is_recorded_and_loading_the_file_again_completes_it(service, store, tmp_path):
    count = SUBJECT_BATCH + 10
    path = subject_file(tmp_path, count)

    def stop(done, total):
        raise Stop  # as if the process died right after the first batch committed

    with pytest.raises(Stop):
        service.load(path, principal=DPO, applied=stop)
    [pending] = store.pending_loads()
    assert isinstance(pending, PendingLoad)
    assert (pending.source, pending.subjects, pending.applied, pending.actor) == ("many.jsonl", count, SUBJECT_BATCH, "alice")
    assert store.count_subjects(["claims"]) == SUBJECT_BATCH + 1  # each applied subject whole, with its index
    assert store.subject_by_key(KeyHasher(SECRET).hash("email", "b0@example.org")) == "B-000000"
    assert loads(store, "many.jsonl") == [{"subjects": count, "state": "started"}]

    assert service.load(path, principal=DPO) == count  # a load is idempotent: again completes it
    assert store.pending_loads() == ()
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
    [pending] = store.pending_loads()
    for subject in ("B-000000", "C-1"):  # one the pending file holds, one it does not: the store cannot tell
        with pytest.raises(InvalidArgument) as refused:
            service.erase(principal=DPO, subject=subject)
        assert str(refused.value) == (
            f"subject {subject!r} cannot be erased while a subject load is pending: the load of many.jsonl by alice "
            f"(started {pending.started}) stopped after 10,000 of 10,010 subjects, and finishing it would re-create "
            "erased subjects; load many.jsonl again to finish it, then erase")
    assert store.subject("B-000000") is not None and store.subject("C-1") is not None  # nothing changed
    assert store.pending_loads() == (pending,)

    assert service.load(path, principal=DPO) == count
    _plan, done = service.erase(principal=DPO, subject="B-000000")  # once the load is finished, erasure goes on
    assert (done.systems, done.kept, done.consents, done.keys) == (("crm",), (), 1, 1)
    assert store.subject("B-000000") is None and store.pending_loads() == ()


def test_each_load_keeps_its_own_pending_mark_and_a_load_that_ends_clears_only_those_of_its_file(
        service, store, tmp_path, monkeypatch):
    """One load's end cleared every pending mark: a load killed half-way was then forgotten, and an
    erasure went ahead that loading its file again would undo (GDPR Art. 17)."""
    for module in ("graph.embedded.subject_load", "graph.neo4j.subject_load"):
        monkeypatch.setattr(f"{module}.SUBJECT_BATCH", 5)
    big, small = subject_file(tmp_path, 12), subject_file(tmp_path, 3, name="small.jsonl")
    other = subject_file(tmp_path, 8, name="other.jsonl", system="crm")
    seen = []

    def small_loaded_meanwhile(done, total):  # while the big file applies, the small one loads whole
        assert service.load(small, principal=DPO) == 3
        seen.append(store.pending_loads())
        raise Stop  # then the big file's load dies

    def stop(done, total):
        raise Stop

    with pytest.raises(Stop):
        service.load(big, principal=DPO, applied=small_loaded_meanwhile)
    [first] = seen[0]
    assert (first.source, first.subjects, first.applied) == ("many.jsonl", 12, 5)
    assert store.pending_loads() == (first,)
    with pytest.raises(Stop):
        service.load(big, principal=DPO, applied=stop)  # killed again: a second mark for the same file
    with pytest.raises(Stop):
        service.load(other, principal=DPO, applied=stop)
    assert [(p.source, p.applied) for p in store.pending_loads()] == [("many.jsonl", 5), ("many.jsonl", 5),
                                                                       ("other.jsonl", 5)]
    with pytest.raises(InvalidArgument) as refused:
        service.erase(principal=DPO, subject="C-1")
    assert str(refused.value) == (
        f"subject 'C-1' cannot be erased while a subject load is pending: the load of many.jsonl by alice (started "
        f"{first.started}) stopped after 5 of 12 subjects (and 2 more load(s) pending), and finishing it would "
        "re-create erased subjects; load many.jsonl again to finish it, then erase")

    assert service.load(small, principal=DPO) == 3  # a near miss: a file none of them loads
    assert len(store.pending_loads()) == 3
    assert service.load(big, principal=DPO) == 12  # completes both loads of many.jsonl, not other.jsonl's
    [left] = store.pending_loads()
    assert (left.source, left.applied) == ("other.jsonl", 5)
    with pytest.raises(InvalidArgument, match="^subject 'B-000011' cannot be erased .* the load of other.jsonl "):
        service.erase(principal=DPO, subject="B-000011")
    assert service.load(other, principal=DPO) == 8
    assert store.pending_loads() == ()
    _plan, done = service.erase(principal=DPO, subject="B-000007")  # once every load is finished
    assert done.systems == ("crm",) and store.subject("B-000007") is None  # records replaced by other.jsonl's


def test_only_the_same_file_completes_a_pending_load_and_an_abandoned_one_is_audited(
        service, store, tmp_path, monkeypatch):
    """A file that bears the name of a pending load's but not its content (the next day's export
    in another folder), or holds nothing, completes nothing; the same content from anywhere does.
    A load whose file will not come again is abandoned, audited, and erasure goes on."""
    for module in ("graph.embedded.subject_load", "graph.neo4j.subject_load"):
        monkeypatch.setattr(f"{module}.SUBJECT_BATCH", 5)
    big = subject_file(tmp_path, 12)

    def stop(done, total):
        raise Stop

    with pytest.raises(Stop):
        service.load(big, principal=DPO, applied=stop)
    [pending] = store.pending_loads()
    assert pending.digest == hashlib.sha256(big.read_bytes()).hexdigest()
    (tmp_path / "next").mkdir()
    assert service.load(subject_file(tmp_path / "next", 11), principal=DPO) == 11  # many.jsonl, another content
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "many.jsonl").write_text("")
    assert service.load(tmp_path / "empty" / "many.jsonl", principal=DPO) == 0
    assert store.pending_loads() == (pending,)
    (tmp_path / "copy").mkdir()
    copy = tmp_path / "copy" / "many.jsonl"
    copy.write_bytes(big.read_bytes())
    assert service.load(copy, principal=DPO) == 12  # the same file, copied elsewhere
    assert store.pending_loads() == ()

    with pytest.raises(Stop):
        service.load(big, principal=DPO, applied=stop)
    with pytest.raises(NotFound, match=r"^source: no load of 'other.jsonl' is pending \(pending: many.jsonl\)$"):
        service.abandon_loads("other.jsonl", principal=DPO)
    assert service.abandon_loads("many.jsonl", principal=DPO) == 1
    assert store.pending_loads() == ()
    [entry] = store.audit(AuditQuery(entity="many.jsonl", limit=1, newest_first=True))
    assert (entry.action, entry.type, entry.actor, entry.after) == ("abandon", "subject-file", "alice", {"loads": 1})
    assert store.count_subjects(["claims"]) == 13  # what its batches applied stays (with C-1)
    service.erase(principal=DPO, subject="B-000000")
    with pytest.raises(NotFound):
        service.abandon_loads("many.jsonl", principal=DPO)


def test_a_load_whose_pending_record_is_abandoned_while_it_runs_stops_before_its_next_batch(
        service, store, tmp_path, monkeypatch):
    """Abandoning a load that is still applying lets erasures go ahead: its next batch would write
    an erased subject back, so it stops, and the erased subject stays erased."""
    for module in ("graph.embedded.subject_load", "graph.neo4j.subject_load"):
        monkeypatch.setattr(f"{module}.SUBJECT_BATCH", 5)
    path = subject_file(tmp_path, 12, system="crm")
    assert service.load(path, principal=DPO) == 12  # loaded once; loaded again below

    def abandoned_meanwhile(done, total):
        if done == 5:
            assert service.abandon_loads("many.jsonl", principal=DPO) == 1
            service.erase(principal=DPO, subject="B-000011")  # in the file's last batch

    with pytest.raises(InvalidArgument) as stopped:
        service.load(path, principal=DPO, applied=abandoned_meanwhile)
    assert str(stopped.value) == (
        "5 of the 12 subjects of many.jsonl were loaded, then the rest was refused: its pending record was cleared "
        "meanwhile (subjects abandon-load, or another load of the same file completed it): erasures may have "
        "followed, so it stops")
    assert store.subject("B-000011") is None and store.pending_loads() == ()


def test_a_subject_file_read_from_a_pipe_loads_whole_and_its_digest_is_of_what_was_read(
        service, store, tmp_path, monkeypatch):
    """The digest is of the bytes the load read: a pipe can be read once only."""
    import os
    import threading

    for module in ("graph.embedded.subject_load", "graph.neo4j.subject_load"):
        monkeypatch.setattr(f"{module}.SUBJECT_BATCH", 5)
    text = subject_file(tmp_path, 12).read_bytes()
    fifo = tmp_path / "many.jsonl.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(text,))
    writer.start()

    def stop(done, total):
        raise Stop

    with pytest.raises(Stop):
        service.load(fifo, principal=DPO, applied=stop)
    writer.join()
    [pending] = store.pending_loads()
    assert (pending.subjects, pending.digest) == (12, hashlib.sha256(text).hexdigest())


def test_a_pending_mark_kept_by_an_older_version_still_refuses_erasure_until_its_file_is_loaded(
        service, store, tmp_path):
    """A store written by the version that kept one mark for every load (`setting` row
    `subject-load`; Neo4j: the meta node's `subject_load`) keeps its killed load pending."""
    legacy = PendingLoad(source="many.jsonl", subjects=12, applied=5, started="2026-11-30T09:00:00.000000Z",
                         actor="bob")
    text = json.dumps(dataclasses.asdict(legacy))
    if isinstance(store, EmbeddedStore):
        with sqlite3.connect(store.path) as db:
            db.execute("INSERT INTO setting (key, value) VALUES ('subject-load', ?)", (text,))
    else:
        with store._session() as session:
            session.run("MATCH (m:RegistryMeta {key: 'registry'}) SET m.subject_load = $text", text=text).consume()
    assert store.pending_loads() == (legacy,)
    with pytest.raises(InvalidArgument, match="^subject 'C-1' cannot be erased .* the load of many.jsonl by bob "):
        service.erase(principal=DPO, subject="C-1")
    assert service.load(subject_file(tmp_path, 3, name="small.jsonl"), principal=DPO) == 3  # another file's
    assert store.pending_loads() == (legacy,)
    assert service.load(subject_file(tmp_path, 12), principal=DPO) == 12
    assert store.pending_loads() == ()


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
    assert store.pending_loads()[0].applied == SUBJECT_BATCH


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
    assert store.count_subjects(["claims"]) == 1 and store.pending_loads() == ()
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
