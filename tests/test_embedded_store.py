"""The embedded store as system of record: data survives restarts and crashes, and processes
sharing one file see each other's commits at their next request."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from graph.embedded import EmbeddedStore
from graph.store import StoreError
from graph.subjects import SUBJECT_BATCH, SubjectRow
from registry.service import Registry
from tests.graphs import LINEAGE

ROOT = Path(__file__).resolve().parent.parent


def open_registry(path) -> Registry:
    return Registry(EmbeddedStore(path))


def kill_mid_transaction(script: str, db: Path) -> None:
    """Run `script` in a process of its own and SIGKILL it once its transaction has written 4 MB
    to the store's WAL, before it commits (it prints "committed" when it has)."""
    wal = Path(f"{db}-wal")
    baseline = wal.stat().st_size if wal.exists() else 0
    with subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True) as child:
        deadline = time.monotonic() + 120
        while (wal.stat().st_size if wal.exists() else 0) < baseline + 4_000_000:
            assert child.poll() is None, "the write finished before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
        assert "committed" not in child.stdout.read()


def test_data_survives_a_restart(tmp_path):
    first = open_registry(tmp_path / "r.db")
    first.load([("lineage.yaml", LINEAGE)], actor="alice")
    exported, audit = first.export(), first.audit(limit=1000)
    first.store.close()
    again = open_registry(tmp_path / "r.db")
    assert again.export() == exported
    assert again.audit(limit=1000) == audit


def test_a_second_process_sees_committed_changes_at_its_next_request(tmp_path):
    server, cli = open_registry(tmp_path / "r.db"), open_registry(tmp_path / "r.db")
    assert server.list("system") == []
    cli.load([("lineage.yaml", LINEAGE)], actor="cli")
    assert [d["id"] for d in server.list("system")] == ["actuarial", "claims", "crm", "dwh"]
    assert [v.holding.flow for v in server.holdings("re")] == ["f3", "f2"]
    cli.delete("flow", "f2", actor="cli")
    assert [v.holding.flow for v in server.holdings("re")] == ["f3"]


def test_a_process_killed_during_a_large_import_leaves_the_previous_state(tmp_path):
    db = tmp_path / "r.db"
    registry = open_registry(db)
    registry.load([("lineage.yaml", LINEAGE)], actor="alice")
    exported, audit = registry.export(), registry.audit(limit=1000)
    registry.store.close()

    script = textwrap.dedent(f"""
        from graph.embedded import EmbeddedStore
        from registry.service import Registry
        registry = Registry(EmbeddedStore({str(db)!r}))
        flows = [{{"id": f"bulk-{{i}}", "name": "Bulk flow " + "x" * 200, "from": "crm", "to": "dwh",
                  "categories": ["contact"], "purpose": "analytics"}} for i in range(60_000)]
        registry.load_data({{"flows": flows}}, source="bulk", actor="bulk")
        print("committed", flush=True)
    """)
    kill_mid_transaction(script, db)

    again = open_registry(db)
    assert again.export() == exported
    assert again.audit(limit=1000) == audit
    again.load([("lineage.yaml", LINEAGE)], actor="alice")  # and the store still takes writes


def test_a_process_killed_while_applying_a_subject_file_leaves_whole_batches_and_says_so(tmp_path):
    db = tmp_path / "r.db"
    registry = open_registry(db)
    registry.load([("lineage.yaml", LINEAGE)], actor="alice")
    registry.store.write_subjects([SubjectRow("C-1", "insured", [{"system": "crm"}], [], ["h1"])], actor="a", source="a")
    registry.store.close()

    script = textwrap.dedent(f"""
        from graph.embedded import EmbeddedStore
        from graph.subjects import SubjectRow
        store = EmbeddedStore({str(db)!r})
        rows = (SubjectRow(f"S-{{i:06d}}", "insured", [{{"system": "crm"}}, {{"system": "claims", "source": "broker"}}],
                           [], [f"{{i:064x}}", f"{{i:0100x}}"]) for i in range(300_000))
        store.write_subjects(rows, actor="bulk", source="bulk")
        print("committed", flush=True)
    """)
    kill_mid_transaction(script, db)

    again = EmbeddedStore(db)
    [pending] = again.pending_loads() or [None]  # killed before its first batch committed: none
    applied = pending.applied if pending else 0
    assert pending is None or (pending.source, pending.subjects) == ("bulk", 300_000)
    assert applied % SUBJECT_BATCH == 0  # whole batches: every subject with its index entries and keys
    assert again.count_subjects(["crm"]) == 1 + applied and again.count_subjects(["claims"]) == applied
    assert again.subject_by_key("h1") == "C-1" and again.subject_by_key(f"{applied:064x}") is None
    assert (again.subject(f"S-{applied - 1:06d}") is not None) == bool(applied)
    assert again.subject(f"S-{applied:06d}") is None
    rows = (SubjectRow(f"S-{i:06d}", "insured", [{"system": "crm"}, {"system": "claims", "source": "broker"}],
                       [], [f"{i:064x}"]) for i in range(300_000))
    again.write_subjects(rows, actor="bulk", source="bulk")  # loading it again completes it
    assert again.pending_loads() == () and again.count_subjects(["claims"]) == 300_000


def test_a_load_that_runs_out_of_temporary_space_says_so_and_changes_nothing(tmp_path):
    store = EmbeddedStore(tmp_path / "r.db")
    Registry(store).load([("lineage.yaml", LINEAGE)], actor="alice")
    store.write_subjects([SubjectRow("C-1", "insured", [{"system": "crm"}], [], ["h1"])], actor="a", source="a")
    staging = store._staging_connection

    def full():  # the load's own connection stages in a temporary database that fills up, as a full disk would
        db = staging()
        db.execute("PRAGMA temp.max_page_count = 20")
        return db

    store._staging_connection = full
    rows = (SubjectRow(f"S-{i:06d}", "insured", [{"system": "claims"}], [], []) for i in range(50_000))
    with pytest.raises(StoreError, match=r"nothing of big.jsonl was loaded: database or disk is full \(SQLite stages"):
        store.write_subjects(rows, actor="a", source="big.jsonl")
    assert store.count_subjects(["crm", "claims"]) == 1 and store.subject_by_key("h1") == "C-1"
