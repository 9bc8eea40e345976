"""The snapshot's adjacency lists, which the walks read."""

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

