"""The store file is the boundary: the store, its WAL and shared-memory files and every file the CLI
writes with personal data are created readable by their owner only (0600), whatever the umask."""

from __future__ import annotations

import json
import os
import stat

import pytest

from graph.embedded import EmbeddedStore
from registry.service import Registry
from tests.graphs import LINEAGE
from tests.subject_graphs import SUBJECT, bundles
from tests.test_cli import cli


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def permissive_umask():
    previous = os.umask(0o022)  # what most systems start with: new files 0644
    yield
    os.umask(previous)


def test_the_store_and_its_wal_and_shm_are_private(tmp_path, permissive_umask):
    store = EmbeddedStore(tmp_path / "r.db")
    Registry(store).load([("lineage.yaml", LINEAGE)], actor="test")
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["r.db", "r.db-shm", "r.db-wal"]
    assert {name: mode(tmp_path / name) for name in files} == dict.fromkeys(files, 0o600)
    store.close()


def test_an_existing_store_keeps_the_mode_its_owner_chose(tmp_path, permissive_umask):
    EmbeddedStore(tmp_path / "r.db").close()
    os.chmod(tmp_path / "r.db", 0o640)  # e.g. shared with a reporting group on purpose
    EmbeddedStore(tmp_path / "r.db").close()
    assert mode(tmp_path / "r.db") == 0o640


def test_documents_the_cli_writes_are_private(tmp_path):
    for name, text in bundles():
        (tmp_path / name).write_text(text)
    cli("load", "extra.yaml", "lineage.yaml", cwd=tmp_path)
    env = {"DSA_REGISTRY_HMAC_KEY": "k" * 32, "DSA_REGISTRY_CONTROLLER": "Aurora Mutual"}
    (tmp_path / "s.jsonl").write_text(json.dumps(SUBJECT) + "\n")
    cli("subjects", "load", "s.jsonl", cwd=tmp_path, env=env)
    (tmp_path / "old.html").write_text("an older report")
    os.chmod(tmp_path / "old.html", 0o644)
    outputs = {"c1.json": ("dsar", "C-1", "-o", "c1.json"), "old.html": ("dsar", "C-1", "--format", "html", "-o", "old.html"),
               "c1.md": ("dsar", "C-1", "--format", "markdown", "-o", "c1.md"), "bundle.yaml": ("export", "-o", "bundle.yaml"),
               "ropa.csv": ("export", "--format", "ropa-csv", "-o", "ropa.csv"),
               "subjects.jsonl": ("subjects", "export", "-o", "subjects.jsonl")}
    for name, args in outputs.items():
        assert cli(*args, cwd=tmp_path, env=env).returncode == 0, name
        assert mode(tmp_path / name) == 0o600, name
    assert "C-1" in (tmp_path / "old.html").read_text()
    nowhere = cli("export", "-o", "no/such/dir/out.yaml", cwd=tmp_path)
    assert nowhere.returncode == 1 and "Traceback" not in nowhere.stderr and "no/such/dir/out.yaml" in nowhere.stderr
