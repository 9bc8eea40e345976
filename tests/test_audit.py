"""Every change appends to the audit log: who, when, what, before and after. On every backend."""

from datetime import datetime, timezone

import pytest

from registry.errors import InvalidArgument, NotFound
from registry.service import SYSTEM_ACTOR
from tests.graphs import LINEAGE


def test_built_in_legal_bases_are_installed_once_by_the_registry(registry):
    entries = registry.audit(limit=1000)
    assert len(entries) == 27
    assert {(e.actor, e.action, e.type) for e in entries} == {(SYSTEM_ACTOR, "create", "legal-basis")}


def test_each_created_entity_is_audited_with_actor_time_and_document(registry):
    since = registry.audit(limit=1000)[-1].seq
    before = datetime.now(timezone.utc)
    registry.load([("lineage.yaml", LINEAGE)], actor="alice")
    entries = registry.audit(since=since, limit=1000)
    assert len(entries) == 22
    assert {(e.actor, e.action) for e in entries} == {("alice", "create")}
    assert [e.seq for e in entries] == sorted({e.seq for e in entries})
    flow = next(e for e in entries if e.id == "f2")
    assert (flow.type, flow.before) == ("flow", None)
    assert flow.after["to"] == "re" and flow.after["agreement"] == "treaty"
    assert datetime.fromisoformat(flow.at) >= before.replace(microsecond=0)


def test_updates_record_before_and_after_and_unchanged_entities_are_not_audited(registry):
    registry.load([("lineage.yaml", LINEAGE)], actor="alice")
    since = registry.audit(limit=1000)[-1].seq
    registry.load([("u.yaml", LINEAGE.replace("name: Data warehouse", "name: Enterprise data warehouse"))], actor="bob")
    [entry] = registry.audit(since=since)
    assert (entry.actor, entry.action, entry.id) == ("bob", "update", "dwh")
    assert (entry.before["name"], entry.after["name"]) == ("Data warehouse", "Enterprise data warehouse")


def test_deletes_are_audited_and_refused_while_referenced(registry):
    registry.load([("lineage.yaml", LINEAGE)], actor="alice")
    with pytest.raises(InvalidArgument, match=r"agreement 'treaty' cannot be deleted: still referenced by "
                                              r"flow 'f2' \(agreement\), flow 'f3' \(agreement\)"):
        registry.delete("agreement", "treaty", actor="carol")
    since = registry.audit(limit=1000)[-1].seq
    registry.delete("flow", "f2", actor="carol")
    [entry] = registry.audit(since=since)
    assert (entry.actor, entry.action, entry.id, entry.after) == ("carol", "delete", "f2", None)
    assert entry.before["from"] == "dwh"
    assert [e.action for e in registry.audit(entity="f2")] == ["create", "delete"]


def test_deleting_requires_the_right_type_and_protects_built_ins(registry):
    registry.load([("lineage.yaml", LINEAGE)], actor="alice")
    with pytest.raises(NotFound):
        registry.delete("system", "re", actor="carol")
    with pytest.raises(InvalidArgument, match="built-in"):
        registry.delete("legal-basis", "gdpr-6-1-a", actor="carol")


def test_replace_audits_every_deletion(registry):
    registry.load([("lineage.yaml", LINEAGE)], actor="alice")
    since = registry.audit(limit=1000)[-1].seq
    registry.load([("empty.yaml", "")], actor="dave", replace=True)
    entries = registry.audit(since=since, limit=1000)
    assert len(entries) == 22 and {(e.actor, e.action) for e in entries} == {("dave", "delete")}


def test_upserting_one_entity_is_validated_and_audited(registry):
    registry.load([("lineage.yaml", LINEAGE)], actor="alice")
    stored = registry.upsert("party", {"id": "tpa", "name": "ClaimsCo", "kind": "tpa", "country": "GB",
                                       "role": "processor"}, actor="erin")
    assert stored.doc["country"] == "GB"
    assert registry.audit(entity="tpa")[0].actor == "erin"


def test_audit_queries_leave_out_the_types_and_actions_asked_for(registry):
    from graph.auditlog import AuditQuery

    store = registry.store
    since = registry.audit(limit=1000)[-1].seq
    registry.load([("lineage.yaml", LINEAGE)], actor="alice")
    store.log_access(actor="dpo", subject="S-1", what="dsar")
    store.log_accesses(actor="dpo", subjects=["S-2", "S-3"], what="export")

    def found(**query):
        return [(e.action, e.type, e.id) for e in store.audit(AuditQuery(after=since, limit=1000, **query))]

    everything = found()
    reads = [("read", "subject", "S-1"), ("read", "subject", "S-2"), ("read", "subject", "S-3")]
    assert len(everything) == 25 and everything[-3:] == reads
    assert found(exclude_actions=frozenset({"read"})) == everything[:-3]
    assert found(exclude_types=frozenset({"subject"})) == everything[:-3]
    assert found(exclude_actions=frozenset({"create"})) == reads
    assert found(exclude_actions=frozenset({"read", "create"})) == []
    assert store.count_audit(AuditQuery(after=since, exclude_actions=frozenset({"create"}))) == 3
