"""The store file is the boundary: the store, its WAL and shared-memory files and every file the CLI
writes with personal data are created readable by their owner only (0600), whatever the umask."""

from __future__ import annotations

import json
import os
import stat

import click
import pytest

from graph.embedded import EmbeddedStore
from registry.cli.base import private_file
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


@pytest.fixture
def subjects_dir(tmp_path):
    for name, text in bundles():
        (tmp_path / name).write_text(text)
    cli("load", "extra.yaml", "lineage.yaml", cwd=tmp_path)
    (tmp_path / "s.jsonl").write_text(json.dumps(SUBJECT) + "\n")
    assert cli("subjects", "load", "s.jsonl", cwd=tmp_path, env=SUBJECT_ENV).returncode == 0
    return tmp_path


SUBJECT_ENV = {"DSA_REGISTRY_HMAC_KEY": "k" * 32, "DSA_REGISTRY_CONTROLLER": "Aurora Mutual"}
PRECIOUS = b"precious backup\n"


def test_a_refused_command_leaves_an_existing_output_file_as_it_was(subjects_dir, permissive_umask):
    for name in ("backup.jsonl", "c1.html"):
        (subjects_dir / name).write_bytes(PRECIOUS)
        os.chmod(subjects_dir / name, 0o644)
    viewer = {**SUBJECT_ENV, "DSA_REGISTRY_ROLES": "viewer"}
    refusals = [(("subjects", "export", "--output", "backup.jsonl"), viewer, "lacks the 'subject-data:read' permission"),
                (("subjects", "export", "C-1", "NOBODY", "-o", "backup.jsonl"), SUBJECT_ENV, "unknown subject 'NOBODY'"),
                (("dsar", "C-1", "--format", "html", "-o", "c1.html"), viewer, "lacks the 'subject-data:read' permission"),
                (("dsar", "NOBODY", "--format", "html", "-o", "c1.html"), SUBJECT_ENV, "unknown subject 'NOBODY'")]
    for args, env, reason in refusals:
        result = cli(*args, cwd=subjects_dir, env=env)
        assert (result.returncode, result.stderr.count("\n")) == (2, 1), args
        assert reason in result.stderr, args
    for name in ("backup.jsonl", "c1.html"):
        assert (subjects_dir / name).read_bytes() == PRECIOUS and mode(subjects_dir / name) == 0o644, name
    assert not [p.name for p in subjects_dir.iterdir() if p.name.startswith(".")]  # no temporary file left behind


def test_a_command_that_succeeds_replaces_the_output_file_whole_and_private(subjects_dir, permissive_umask):
    for name in ("backup.jsonl", "c1.html"):
        (subjects_dir / name).write_bytes(PRECIOUS)
        os.chmod(subjects_dir / name, 0o644)
    os.symlink("backup.jsonl", subjects_dir / "latest.jsonl")
    assert cli("subjects", "export", "--output", "latest.jsonl", cwd=subjects_dir, env=SUBJECT_ENV).returncode == 0
    assert os.readlink(subjects_dir / "latest.jsonl") == "backup.jsonl"  # the link still names the file it named
    [line] = (subjects_dir / "backup.jsonl").read_text().splitlines()
    assert json.loads(line)["id"] == "C-1" and mode(subjects_dir / "backup.jsonl") == 0o600
    assert cli("dsar", "C-1", "--format", "html", "-o", "c1.html", cwd=subjects_dir, env=SUBJECT_ENV).returncode == 0
    assert "<title>" in (subjects_dir / "c1.html").read_text() and mode(subjects_dir / "c1.html") == 0o600
    assert not [p.name for p in subjects_dir.iterdir() if p.name.startswith(".")]


def test_an_output_that_fails_half_way_changes_nothing(tmp_path, permissive_umask):
    target = tmp_path / "ropa.csv"
    target.write_bytes(PRECIOUS)
    with pytest.raises(RuntimeError), private_file(target) as file:
        file.write("half a document\n" * 10_000)
        raise RuntimeError("the store went away")
    assert target.read_bytes() == PRECIOUS and os.listdir(tmp_path) == ["ropa.csv"]
    with pytest.raises(RuntimeError), private_file(tmp_path / "new.csv") as file:
        file.write("half")
        raise RuntimeError("the store went away")
    assert os.listdir(tmp_path) == ["ropa.csv"]  # no empty or partial new file either
    with pytest.raises(RuntimeError), private_file(tmp_path / "key", exclusive=True) as file:
        file.write("half a key")
        raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == ["ropa.csv"]
    with pytest.raises(click.FileError, match="it exists already"), private_file(target, exclusive=True):
        pass
    assert target.read_bytes() == PRECIOUS
