"""Reads in a pinned scope (`GraphStore.pinned`): a service call (a DSAR, holders) reads the
registry's version once and serves what the store keeps at that version without asking again.
The answers still follow every write: one made in the scope, and one made through another store
object on the same Neo4j server (another API worker, the CLI) before the call. On Neo4j a repeated
DSAR or holders answer costs only the statements it must run (counted, not timed)."""

from __future__ import annotations

import json
import neo4j
import pytest

from graph.embedded import EmbeddedStore
from graph.neo4j.store import Neo4jStore
from registry.audit import AuditTrail
from registry.auth.roles import Principal
from registry.compliance import findings
from registry.service import Registry
from registry.subjects.keys import KeyHasher
from registry.subjects.service import SubjectService
from tests.neo4j_server import credentials
from tests.subject_graphs import SUBJECT, bundles

DPO = Principal.of("alice", "dpo")
SECRET = b"test-secret-test-secret-test-secret"


def _service(registry: Registry, tmp_path) -> SubjectService:
    registry.load(bundles(), actor="test")
    service = SubjectService(registry, KeyHasher(SECRET))
    path = tmp_path / "subjects.jsonl"
    path.write_text(json.dumps(SUBJECT) + "\n")
    assert service.load(path, principal=DPO) == 1
    return service


@pytest.fixture
def service(registry, tmp_path) -> SubjectService:
    return _service(registry, tmp_path)


@pytest.fixture
def neo4j_service(neo4j_store, tmp_path) -> SubjectService:
    return _service(Registry(neo4j_store), tmp_path)


@pytest.fixture
def other(neo4j_uri) -> Registry:
    """The registry through a second store object on the same server."""
    store = Neo4jStore.from_uri(neo4j_uri, **credentials())
    yield Registry(store)
    store.close()


def recipients(report) -> list[tuple[str, str]]:
    return [(r.party, r.flow) for r in report.recipients]


def holders(registry: Registry, category: str) -> list[tuple[str, str, str]]:
    return [(view.holding.holder, view.entity(view.holding.holder).doc["name"], view.holding.flow or "")
            for view in registry.holders(category)]


def _suspended(registry: Registry, flow: str) -> dict:
    return {**registry.entity(flow, "flow").doc, "status": "suspended"}


def test_a_registry_write_inside_a_pinned_scope_is_seen_by_the_next_read_in_it(service):
    registry = service.registry
    with registry.store.pinned():
        assert ("re", "f3") in recipients(service.report(principal=DPO, subject="C-1"))
        registry.upsert("flow", _suspended(registry, "f3"), actor="test")
        assert ("re", "f3") not in recipients(service.report(principal=DPO, subject="C-1"))
        with registry.store.pinned():  # an inner scope keeps the outer one's pin
            assert registry.store.version() == registry.store.version()


def test_pinned_scopes_nest_and_end(registry):
    registry.load(bundles(), actor="test")
    with registry.store.pinned():
        with registry.store.pinned():
            before = holders(registry, "contact")
        assert holders(registry, "contact") == before
    registry.upsert("system", {**registry.entity("crm", "system").doc, "name": "CRM 2"}, actor="test")
    assert ("crm", "CRM 2", "") in holders(registry, "contact")


def test_a_dsar_follows_a_registry_write_made_through_another_store(neo4j_service, other):
    assert ("re", "f3") in recipients(neo4j_service.report(principal=DPO, subject="C-1"))
    assert ("re", "f3") in recipients(neo4j_service.report(principal=DPO, subject="C-1"))  # kept now
    other.upsert("flow", _suspended(other, "f3"), actor="worker-2")
    assert ("re", "f3") not in recipients(neo4j_service.report(principal=DPO, subject="C-1"))


def test_holders_follow_a_registry_write_made_through_another_store(neo4j_service, other):
    registry = neo4j_service.registry
    assert ("crm", "CRM", "") in holders(registry, "contact")
    assert holders(registry, "contact") == holders(registry, "contact")  # the second from what is kept
    other.upsert("system", {**other.entity("crm", "system").doc, "name": "CRM 2"}, actor="worker-2")
    assert ("crm", "CRM 2", "") in holders(registry, "contact")
    assert ("crm", "CRM", "") not in holders(registry, "contact")


@pytest.fixture
def statements(monkeypatch) -> list[str]:
    """The Cypher statements sent from now on (auto-commit reads and those of write transactions)."""
    sent: list[str] = []
    session_run, tx_run = neo4j.Session.run, neo4j.ManagedTransaction.run

    def counted_session(self, query, *args, **kwargs):
        sent.append(query)
        return session_run(self, query, *args, **kwargs)

    def counted_tx(self, query, *args, **kwargs):
        sent.append(query)
        return tx_run(self, query, *args, **kwargs)

    monkeypatch.setattr(neo4j.Session, "run", counted_session)
    monkeypatch.setattr(neo4j.ManagedTransaction, "run", counted_tx)
    return sent


def test_a_repeated_dsar_reads_the_subject_and_writes_its_audit_entry_only(neo4j_service, statements):
    neo4j_service.report(principal=DPO, subject="C-1")
    statements.clear()
    neo4j_service.report(principal=DPO, subject="C-1")
    assert len(statements) == 2  # the subject (with the version and the audit head), the audit entry


def test_dsar_audit_entries_stay_chained_when_other_writers_move_the_head_between_them(neo4j_service, other):
    """The entry of a lookup is chained to the head its subject read saw; when another store
    writes in between (a registry change, another lookup), it goes in under the lock instead."""
    store = neo4j_service.store
    other_service = SubjectService(other, KeyHasher(SECRET))
    for i in range(3):
        store.log_access(actor="alice", subject="C-1", what="dsar")
        neo4j_service.report(principal=DPO, subject="C-1")
        other_service.report(principal=DPO, subject="C-1")  # moves the head the first store saw
        other.upsert("system", {**other.entity("crm", "system").doc, "name": f"CRM {i}"}, actor="worker-2")
        store.log_access(actor="alice", subject="C-1", what="dsar")  # after a head it has not seen
    trail = AuditTrail(store)
    found = trail.verify(principal=Principal.of("os:auditor", "auditor"))
    entries = neo4j_service.registry.audit(limit=1000)
    assert found.intact and found.entries == len(entries)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    reads = [e for e in entries if e.action == "read"]
    assert [(e.actor, e.id) for e in reads] == [("alice", "C-1")] * 12


def test_a_repeated_holders_answer_is_one_statement(neo4j_service, statements):
    holders(neo4j_service.registry, "contact")
    statements.clear()
    holders(neo4j_service.registry, "contact")
    assert len(statements) == 1  # the version (the category, answer and documents are kept)


def test_a_repeated_dsar_by_email_finds_and_reads_the_subject_in_one_statement(neo4j_service, statements):
    email = SUBJECT["keys"]["email"]
    assert neo4j_service.report(principal=DPO, email=email).subject.id == "C-1"
    statements.clear()
    report = neo4j_service.report(principal=DPO, email=email.strip().lower())
    assert report.subject.id == "C-1" and ("re", "f3") in recipients(report)
    # the lookup-key fingerprint (the secret is the store's), the subject by its key (with the
    # version and the audit head), the audit entry
    assert len(statements) == 3


# --- the embedded store: the version is a query on the reads' connection, asked once per scope ----

@pytest.fixture
def embedded_service(tmp_path) -> SubjectService:
    return _service(Registry(EmbeddedStore(tmp_path / "registry.db")), tmp_path)


@pytest.fixture
def embedded_other(embedded_service) -> Registry:
    """The registry through a second store object on the same file (another API worker, the CLI)."""
    store = EmbeddedStore(embedded_service.registry.store.path)
    yield Registry(store)
    store.close()


def test_an_embedded_dsar_follows_a_registry_write_made_through_another_store(embedded_service, embedded_other):
    assert ("re", "f3") in recipients(embedded_service.report(principal=DPO, subject="C-1"))
    embedded_other.upsert("flow", _suspended(embedded_other, "f3"), actor="worker-2")
    assert ("re", "f3") not in recipients(embedded_service.report(principal=DPO, subject="C-1"))
    assert ("crm", "CRM", "") in holders(embedded_service.registry, "contact")
    embedded_other.upsert("system", {**embedded_other.entity("crm", "system").doc, "name": "CRM 2"}, actor="w")
    assert ("crm", "CRM 2", "") in holders(embedded_service.registry, "contact")


def test_an_embedded_dsar_reads_the_registry_version_once(embedded_service):
    store, asked = embedded_service.registry.store, []
    embedded_service.report(principal=DPO, subject="C-1")
    store._reads.set_trace_callback(lambda sql: asked.append(sql) if "FROM meta" in sql else None)
    try:
        embedded_service.report(principal=DPO, subject="C-1")
    finally:
        store._reads.set_trace_callback(None)
    assert len(asked) == 1


def test_an_embedded_scope_reports_the_version_of_what_it_reads(embedded_service, embedded_other):
    """A write committed during a scope, whose snapshot another thread has already taken: the
    scope may read it, and then its version is that one (what it keeps per version is right)."""
    import threading

    store, registry = embedded_service.registry.store, embedded_service.registry
    with store.pinned():
        before = store.version()
        assert registry.entity("crm", "system").doc["name"] == "CRM"
        embedded_other.upsert("system", {**embedded_other.entity("crm", "system").doc, "name": "CRM 2"}, actor="w")
        reader = threading.Thread(target=store.snapshot)  # another request, outside any scope
        reader.start()
        reader.join()
        assert store.version() == before  # pinned: not asked again
        name = registry.entity("crm", "system").doc["name"]
        assert (name, store.version()) in {("CRM", before), ("CRM 2", before + 1)}
    assert registry.entity("crm", "system").doc["name"] == "CRM 2" and store.version() == before + 1


def test_documents_and_findings_kept_per_version_follow_a_write_through_another_store(neo4j_service, other):
    """Neo4j keeps the documents it lists at each version (so that the facts derived from them are
    reused): a write through another store object is seen by the next list and the next findings."""
    registry = neo4j_service.registry
    before = {f.entity_id for f in findings(registry)}
    assert "f3" in {doc["id"] for doc in registry.list("flow")} and registry.list("flow") == registry.list("flow")
    other.upsert("flow", {**other.entity("f3", "flow").doc, "legal_basis": None, "agreement": None}, actor="other")
    assert registry.entity("f3", "flow").doc.get("legal_basis") is None
    assert [doc.get("legal_basis") for doc in registry.list("flow") if doc["id"] == "f3"] == [None]
    assert "f3" in {f.entity_id for f in findings(registry) if f.rule == "missing-legal-basis"} - before


def test_listing_documents_at_a_new_version_reads_them_and_the_version_only(neo4j_service, statements):
    """A list is kept per version; at a version it has not read it asks for the version, the
    documents and the version again (a write in between is noticed), not the traversal's facts."""
    registry = neo4j_service.registry
    registry.upsert("system", {**registry.entity("crm", "system").doc, "name": "CRM 3"}, actor="alice")
    statements.clear()
    assert "crm" in {doc["id"] for doc in registry.list("system")}
    assert len(statements) == 3
    statements.clear()
    registry.list("system")
    assert len(statements) == 1  # the version


def _asked(name: str):
    from datetime import datetime, timezone

    from registry import compliance, exports
    from registry.compliance.settings import Settings

    countries = Settings.packaged().countries
    return {
        "findings": lambda registry: findings(registry),
        "ropa": lambda registry: compliance.ropa(registry),
        "impact": lambda registry: compliance.impact(registry, system="crm"),
        "breach": lambda registry: compliance.breach_impact(
            registry, systems=["crm"], detected_at=datetime(2026, 11, 25, tzinfo=timezone.utc)),
        "export": lambda registry: exports.export(registry, "graphml", countries),
    }[name]


@pytest.mark.parametrize("name", ["findings", "ropa", "impact", "breach", "export"])
def test_a_compliance_question_or_export_asks_for_the_registry_version_once(neo4j_service, statements, name):
    """They read the registry in one pinned scope (`registry.service.one_version`): the facts'
    eight lists, the entities and the walks do not each ask for the version."""
    ask = _asked(name)
    first = ask(neo4j_service.registry)
    statements.clear()
    again = ask(neo4j_service.registry)
    versions = [s for s in statements if "m.version" in s and "RegistryMeta" in s]
    assert len(versions) == 1, statements
    if name == "findings":
        assert again == first and len(statements) == 1  # the rest is kept at the version
