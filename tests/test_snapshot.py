"""The snapshot's adjacency lists, which the walks read; and what the stores read again after a
write: only the documents whose text changed are decoded again (`graph.decoded`)."""

from graph.snapshot import Snapshot
from graph.store import Stored


def _snapshot() -> Snapshot:
    docs = [("system", {"id": "crm"}), ("system", {"id": "claims"}), ("system", {"id": "idle"}),
            ("party", {"id": "re"}),
            ("flow", {"id": "f2", "from": "crm", "to": "claims", "categories": ["contact"], "purpose": "p"}),
            ("flow", {"id": "f1", "from": "crm", "to": "claims", "categories": ["health"], "purpose": "p"}),
            ("flow", {"id": "f3", "from": "claims", "to": "re", "categories": ["health"], "purpose": "p"}),
            ("flow", {"id": "f0", "from": "claims", "to": "claims", "categories": ["health"], "purpose": "p"})]
    return Snapshot({doc["id"]: Stored(type_, doc) for type_, doc in docs})


def test_each_node_lists_its_flows_in_and_out_in_id_order():
    snap = _snapshot()
    assert {n: [f["id"] for f in flows] for n, flows in snap.out_flows.items()} == {
        "crm": ["f1", "f2"], "claims": ["f0", "f3"]}
    assert {n: [f["id"] for f in flows] for n, flows in snap.in_flows.items()} == {
        "claims": ["f0", "f1", "f2"], "re": ["f3"]}
    assert "idle" not in snap.out_flows and "idle" not in snap.in_flows



# --- the embedded store's snapshot after a write: only what changed is decoded again ---------

def _embedded(path):
    from graph.embedded import EmbeddedStore
    from registry.service import Registry
    from tests.graphs import LINEAGE

    registry = Registry(EmbeddedStore(path))
    registry.load([("lineage.yaml", LINEAGE)], actor="alice")
    return registry


def _contents(snap: Snapshot) -> dict:
    """Everything a snapshot indexes, by value."""
    return {"entities": {id_: (s.type, s.doc) for id_, s in snap.entities.items()},
            "by_type": dict(snap.by_type), "parent": snap.parent, "children": dict(snap.children),
            "declared": dict(snap.declared), "carried": dict(snap.carried),
            "out": dict(snap.out_flows), "in": dict(snap.in_flows), "conditional": snap.conditional}


def _fresh(path) -> Snapshot:
    from graph.embedded import EmbeddedStore

    store = EmbeddedStore(path)
    try:
        return store.snapshot()
    finally:
        store.close()


def test_after_a_write_the_unchanged_documents_are_the_previous_snapshots_and_the_whole_matches_a_fresh_one(tmp_path):
    registry = _embedded(tmp_path / "r.db")
    before = registry.store.snapshot()
    crm = {**before.entities["crm"].doc, "name": "CRM (renamed)"}
    registry.load_data({"systems": [crm]}, source="rename.yaml", actor="alice")
    after = registry.store.snapshot()
    assert after is not before
    assert after.entities["crm"].doc["name"] == "CRM (renamed)"
    assert before.entities["crm"].doc["name"] == "CRM"  # the old snapshot is untouched
    shared = {id_ for id_, s in after.entities.items() if s.doc is before.entities[id_].doc}
    assert shared == set(before.entities) - {"crm"}
    assert _contents(after) == _contents(_fresh(tmp_path / "r.db"))
    assert [d["name"] for d in after.by_type["system"] if d["id"] == "crm"] == ["CRM (renamed)"]


def test_a_deleted_flow_leaves_the_next_snapshot_and_its_indexes(tmp_path):
    registry = _embedded(tmp_path / "r.db")
    before = registry.store.snapshot()
    assert [f["id"] for f in before.in_flows["re"]] == ["f2", "f3"]
    registry.delete("flow", "f2", actor="alice")
    after = registry.store.snapshot()
    assert "f2" not in after.entities
    assert [f["id"] for f in after.in_flows["re"]] == ["f3"]
    assert "f2" not in [f["id"] for f in after.out_flows["dwh"]]
    assert "f2" not in [f["id"] for f in after.carried["health.diagnosis"]]
    assert _contents(after) == _contents(_fresh(tmp_path / "r.db"))
    assert all(after.entities[id_].doc is s.doc for id_, s in before.entities.items() if id_ != "f2")


def test_another_process_write_is_decoded_and_the_rest_is_shared(tmp_path):
    server = _embedded(tmp_path / "r.db")
    before = server.store.snapshot()
    cli = _embedded(tmp_path / "r.db")  # loads the same bundle again: no change
    assert server.store.snapshot() is before
    cli.load_data({"parties": [{**before.entities["re"].doc, "country": "CH"}]}, source="re.yaml", actor="cli")
    after = server.store.snapshot()
    assert after.entities["re"].doc["country"] == "CH"
    assert {id_ for id_, s in after.entities.items() if s.doc is not before.entities[id_].doc} == {"re"}
    assert _contents(after) == _contents(_fresh(tmp_path / "r.db"))


def test_a_replaced_snapshot_is_freed_without_the_cycle_collector(tmp_path):
    """The rebuild skips the full collection (`graph.embedded.rebuild`): that is only sound while
    a snapshot, with the answers it keeps, holds no reference cycle."""
    import gc
    import weakref
    from datetime import date

    from registry import compliance

    registry = _embedded(tmp_path / "r.db")
    gc.collect()
    gc.disable()
    try:
        snap = registry.store.snapshot()
        registry.holders("health", as_of=date(2026, 11, 25))
        registry.holdings("re", as_of=date(2026, 11, 25))
        registry.lineage("crm")
        registry.lineage(None)
        compliance.findings(registry, as_of=date(2026, 11, 25))
        assert snap._answers  # it keeps answers, and they go with it
        gone = weakref.ref(snap)
        del snap
        registry.load_data({"systems": [{**registry.store.snapshot().entities["dwh"].doc, "owner": "BI"}]},
                           source="dwh.yaml", actor="alice")
        registry.store.snapshot()
        assert gone() is None
    finally:
        gc.enable()


def test_after_a_write_a_list_shares_the_unchanged_documents_and_holds_the_changed_ones(registry):
    from tests.graphs import LINEAGE

    registry.load([("lineage.yaml", LINEAGE)], actor="alice")
    systems, flows = registry.store.list("system"), registry.store.list("flow")
    crm = next(doc for doc in systems if doc["id"] == "crm")
    registry.load_data({"systems": [{**crm, "name": "CRM (renamed)"}]}, source="rename.yaml", actor="alice")
    registry.delete("flow", "f2", actor="alice")
    after = registry.store.list("system")
    assert [doc["name"] for doc in after] == ["Actuarial models", "Claims", "CRM (renamed)", "Data warehouse"]
    assert [a is b for a, b in zip(after, systems)] == [True, True, False, True]
    assert crm["name"] == "CRM"  # what was read before the write is unchanged
    flows_after = registry.store.list("flow")
    assert [doc["id"] for doc in flows_after] == [doc["id"] for doc in flows if doc["id"] != "f2"]
    assert all(a is b for a, b in zip(flows_after, (doc for doc in flows if doc["id"] != "f2")))


def test_answering_every_kind_of_question_changes_no_stored_document(tmp_path):
    """Documents are shared by the snapshots of successive versions (`graph.decoded`), so one
    changed in place by a question would stay changed: each must still equal its stored JSON."""
    import json
    import sqlite3
    from datetime import date, datetime, timezone

    from graph.embedded import EmbeddedStore
    from registry import compliance, exports
    from registry.auth.roles import Principal
    from registry.cli import DEMO
    from registry.compliance.settings import Settings
    from registry.service import Registry
    from registry.subjects.demo import load_demo_subjects
    from registry.subjects.keys import KeyHasher
    from registry.subjects.service import SubjectService

    registry = Registry(EmbeddedStore(tmp_path / "r.db"))
    registry.load([("demo", DEMO.read_text())], actor="test")
    service, dpo = SubjectService(registry, KeyHasher(None)), Principal.of("test", "dpo")
    load_demo_subjects(service, dpo)
    day, countries = date(2026, 11, 25), Settings.packaged().countries
    snap = registry.store.snapshot()
    for category in snap.by_type["category"]:
        registry.holders(category["id"], as_of=day)
    for holder in snap.by_type["system"] + snap.by_type["party"]:
        registry.holdings(holder["id"], as_of=day)
        registry.lineage(holder["id"], as_of=day, include_proposed=True)
    registry.lineage(None, as_of=day)
    for format_ in exports.FORMATS:
        exports.export(registry, format_, countries, as_of=day)
    compliance.findings(registry, as_of=day)
    compliance.ropa(registry, on=day)
    compliance.breach_impact(registry, systems=["claims"], detected_at=datetime(2026, 11, 25, tzinfo=timezone.utc))
    for agreement in snap.by_type["agreement"]:
        compliance.impact(registry, agreement=agreement["id"], as_of=day)
    report = service.report(principal=dpo, subject="C-1", as_of=day)
    assert report.holdings
    service.erasure_plan(principal=dpo, subject="C-1", today=day)
    assert registry.store.snapshot() is snap
    stored = sqlite3.connect(tmp_path / "r.db").execute("SELECT id, doc FROM entity").fetchall()
    assert len(stored) == len(snap.entities)
    assert all(snap.entities[id_].doc == json.loads(text) for id_, text in stored)
