"""The audit log is append-only and hash-chained on every backend: `audit verify` finds the first
entry that was edited, deleted or moved, directly in SQLite or in Neo4j."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from graph import audit as chain
from graph.auditlog import AuditHead, AuditQuery
from graph.embedded import EmbeddedStore
from registry.audit import AuditTrail, parse_anchor
from registry.auth.roles import Forbidden, Principal
from registry.errors import InvalidArgument
from registry.service import Registry
from tests.graphs import LINEAGE
from tests.test_neo4j_backend import cypher

AUDITOR = Principal.of("os:auditor", "auditor")


@pytest.fixture
def trail(registry) -> AuditTrail:
    registry.load([("lineage.yaml", LINEAGE)], actor="alice")
    registry.delete("flow", "f6", actor="bob")
    registry.store.log_access(actor="carol", subject="C-1", what="dsar")
    return AuditTrail(registry.store)


def verdict(trail: AuditTrail, anchor=None):
    return trail.verify(principal=AUDITOR, anchor=anchor)


@pytest.fixture
def tamper(store, request):
    """Change the log behind the registry's back, as someone with access to the store would (in SQLite,
    dropping the triggers that refuse it first)."""

    def change(sql: str, cypher_query: str) -> None:
        if isinstance(store, EmbeddedStore):
            with sqlite3.connect(store.path) as db:
                db.executescript("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;" + sql)
        else:
            cypher(request.getfixturevalue("neo4j_uri"), cypher_query)

    return change


def test_an_untouched_log_is_intact_numbered_without_gaps_and_chained(trail, registry):
    found = verdict(trail)
    assert found.intact and found.entries == 27 + 22 + 2
    entries = registry.audit(limit=1000)
    assert [e.seq for e in entries] == list(range(1, 52))
    assert entries[0].prev == chain.GENESIS
    assert all(later.prev == earlier.hash for earlier, later in zip(entries, entries[1:]))
    assert found.head == AuditHead(51, entries[-1].hash)


@pytest.mark.parametrize("change, sql, query, seq, reason", [
    ("edited actor", "UPDATE audit SET actor = 'mallory' WHERE seq = 40",
     "MATCH (e:AuditEntry {seq: 40}) SET e.actor = 'mallory'", 40, "edited"),
    ("reordered times", "UPDATE audit SET at = '2020-01-01T00:00:00.000000+00:00' WHERE seq = 45",
     "MATCH (e:AuditEntry {seq: 45}) SET e.at = '2020-01-01T00:00:00.000000+00:00'", 45, "edited"),
    ("edited document", "UPDATE audit SET after = replace(after, 'Reinsurer', 'Nobody') WHERE entity = 're'",
     "MATCH (e:AuditEntry {entity: 're'}) SET e.after = replace(e.after, 'Reinsurer', 'Nobody')", None, "edited"),
    ("deleted", "DELETE FROM audit WHERE seq = 33", "MATCH (e:AuditEntry {seq: 33}) DELETE e", 34,
     "entry 33 is missing"),
    ("swapped", "UPDATE audit SET seq = -1 WHERE seq = 30; UPDATE audit SET seq = 30 WHERE seq = 31; "
                "UPDATE audit SET seq = 31 WHERE seq = -1;",
     "MATCH (a:AuditEntry {seq: 30}), (b:AuditEntry {seq: 31}) SET a.seq = -1 SET b.seq = 30 SET a.seq = 31",
     30, "moved"),
    ("last deleted", "DELETE FROM audit WHERE seq = 51", "MATCH (e:AuditEntry {seq: 51}) DELETE e", 51,
     "entries at the end were deleted"),
    ("edited sealed document", "DROP TRIGGER audit_private_no_update; "
                               "UPDATE audit_private SET doc = replace(doc, 'dsar', 'list') WHERE seq = 51",
     "MATCH (e:AuditEntry {seq: 51}) SET e.private = replace(e.private, 'dsar', 'list')", 51,
     "its document no longer matches its seal: the document was edited"),
    ("sealed document deleted", "DELETE FROM audit_private WHERE seq = 51",
     "MATCH (e:AuditEntry {seq: 51}) REMOVE e.private, e.salt", 51,
     "its document is gone, but no later entry records that its subject was erased"),
    ("seal replaced", "UPDATE audit SET after = replace(after, substr(after, 12, 8), '00000000') WHERE seq = 51",
     "MATCH (e:AuditEntry {seq: 51}) SET e.after = substring(e.after, 0, 11) + '00000000' + substring(e.after, 19)",
     51, "its contents no longer match its hash: the entry was edited"),
    ("sealed document emptied", "DROP TRIGGER audit_private_no_update; UPDATE audit_private SET doc = '' WHERE seq = 51",
     "MATCH (e:AuditEntry {seq: 51}) REMOVE e.private", 51,
     "its document is gone but its salt is still there: the document was deleted"),
    ("sealed document nulled", "DROP TRIGGER audit_private_no_update; UPDATE audit_private SET doc = 'null' "
                               "WHERE seq = 51",
     "MATCH (e:AuditEntry {seq: 51}) SET e.private = 'null'", 51,
     "its document is gone but its salt is still there: the document was deleted"),
    ("salt deleted", "DROP TRIGGER audit_private_no_update; UPDATE audit_private SET salt = '' WHERE seq = 51",
     "MATCH (e:AuditEntry {seq: 51}) SET e.salt = ''", 51, "its document no longer matches its seal"),
])
def test_tampering_is_found_at_the_first_broken_entry(trail, tamper, registry, change, sql, query, seq, reason):
    expected = seq or next(e.seq for e in registry.audit(limit=1000) if e.id == "re")
    tamper(sql, query)
    found = verdict(trail)
    assert not found.intact, change
    assert found.broken.seq == expected and reason in found.broken.reason, (change, str(found.broken))


def test_an_entry_about_one_subject_holds_a_salted_seal_of_its_document_in_the_chain(trail, registry):
    *_, read = registry.audit(limit=1000)
    assert (read.seq, read.id, read.after, read.erased) == (51, "C-1", {"what": "dsar"}, False)
    assert len(read.salt) == 32 and read.seal == chain.seal(read.salt, '{"what":"dsar"}')
    assert read.hash == chain.entry_hash(51, read.at, "carol", "read", "subject", "C-1", None,
                                         '{"sealed":"' + read.seal + '"}', read.prev)
    other = registry.store.audit(AuditQuery(entity="re", limit=10))[0]  # a registry change: its document in the chain
    assert (other.seal, other.salt, other.after["id"]) == (None, None, "re")
    registry.store.log_access(actor="carol", subject="C-1", what="dsar")
    again = registry.audit(limit=1000)[-1]
    assert again.after == read.after and again.salt != read.salt and again.seal != read.seal  # guesses cannot be matched


def test_entries_about_a_subject_written_before_seals_existed_still_verify(registry, monkeypatch):
    with monkeypatch.context() as earlier:  # the previous version: every document in the chain
        earlier.setattr(chain, "sealed", lambda *_: False)
        registry.store.log_access(actor="carol", subject="C-1", what="dsar")
    registry.store.log_access(actor="carol", subject="C-1", what="dsar")
    old, new = registry.audit(entity="C-1")
    assert (old.after, old.seal, new.after, new.seal is not None) == ({"what": "dsar"}, None, {"what": "dsar"}, True)
    assert verdict(AuditTrail(registry.store)).intact


def test_the_embedded_log_refuses_updates_and_deletes_itself(tmp_path):
    """(Neo4j Community has no triggers: there the chain alone finds the tampering, above.)"""
    store = EmbeddedStore(tmp_path / "r.db")
    Registry(store).load([("lineage.yaml", LINEAGE)], actor="alice")
    with sqlite3.connect(store.path) as db:
        for statement in ("UPDATE audit SET actor = 'x'", "DELETE FROM audit"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(statement)
    assert verdict(AuditTrail(store)).intact
    store.close()


def test_a_rewritten_chain_is_caught_by_an_anchor_recorded_earlier(trail, store, registry):
    anchor = parse_anchor(f"{verdict(trail).head.seq}:{verdict(trail).head.hash}")
    registry.load([("more.yaml", "purposes:\n  - {id: pricing, name: Pricing}\n")], actor="dave")
    assert verdict(trail, anchor).intact
    forged = AuditHead(anchor.seq, "f" * 64)
    assert "not the anchor's" in verdict(trail, forged).broken.reason
    assert "gone" in verdict(trail, AuditHead(10_000, "0" * 64)).broken.reason
    with pytest.raises(InvalidArgument, match="SEQ:HASH"):
        parse_anchor("51-abc")


def test_a_log_from_before_the_chain_is_sealed_when_the_store_is_opened(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # the schema and rows of the previous version
        db.executescript("""
            CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL,
                                action TEXT NOT NULL, type TEXT NOT NULL, entity TEXT NOT NULL, before TEXT, after TEXT);
            INSERT INTO audit (at, actor, action, type, entity, before, after) VALUES
                ('2025-01-01T00:00:00.000000+00:00', 'api', 'create', 'purpose', 'p', NULL, '{"id":"p","name":"P"}'),
                ('2025-01-02T00:00:00.000000+00:00', 'bob', 'load', 'subject-file', 's.jsonl', NULL, '{"subjects": 2}');
        """)
    store = EmbeddedStore(path)
    trail = AuditTrail(store)
    assert verdict(trail).intact and verdict(trail).entries == 2
    [_, load] = store.audit(AuditQuery(limit=1000))
    assert load.after == {"subjects": 2} and load.prev != chain.GENESIS
    store.close()


def test_audit_log_pages_newest_first_filters_and_hides_subject_entries_without_the_permission(trail):
    everything = trail.page(principal=AUDITOR, first=1000).items
    assert [e.seq for e in everything] == list(range(51, 0, -1))
    first = trail.page(principal=AUDITOR, first=20)
    second = trail.page(principal=AUDITOR, first=20, after=first.end_cursor)
    third = trail.page(principal=AUDITOR, first=20, after=second.end_cursor)
    assert [e.seq for e in first.items + second.items + third.items] == [e.seq for e in everything]
    assert (first.has_next, third.has_next) == (True, False)
    steward = Principal.of("token:s", "steward")
    assert "C-1" not in {e.id for e in trail.page(principal=steward, first=1000).items}
    assert trail.page(principal=steward, entity="C-1").items == []
    assert [e.id for e in trail.page(principal=AUDITOR, entity="C-1").items] == ["C-1"]
    assert {e.action for e in trail.page(principal=AUDITOR, actor="bob").items} == {"delete"}
    now = datetime.now(timezone.utc)
    assert trail.page(principal=AUDITOR, since=now + timedelta(minutes=1)).items == []
    assert len(trail.page(principal=AUDITOR, since=now - timedelta(hours=1), until=now + timedelta(minutes=1),
                          first=1000).items) == 51
    with pytest.raises(Forbidden):
        trail.page(principal=Principal.of("token:v", "viewer"))
    with pytest.raises(InvalidArgument, match="UTC offset"):
        trail.page(principal=AUDITOR, since=datetime(2026, 1, 1))
    with pytest.raises(InvalidArgument, match="cursor"):
        trail.page(principal=AUDITOR, after="nonsense")
