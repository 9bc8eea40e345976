"""Lookup keys you can trust: the store records which secret its keys were hashed with, a different
secret is refused (never a false "no subject"), short secrets are refused, and commands that need no
secret never read it."""

from __future__ import annotations

import json
import os
import stat

import pytest

from graph.store import StoreError
from registry.auth.roles import Principal
from registry.settings import Settings, SettingsError
from registry.subjects.keys import KeyHasher, KeyMismatch
from registry.subjects.service import SubjectService
from tests.subject_graphs import SUBJECT, bundles
from tests.test_cli import cli

A, B = b"a" * 32, b"b" * 32
DPO = Principal.of("os:dpo", "dpo")


@pytest.fixture
def loaded(registry, tmp_path):
    registry.load(bundles(), actor="test")
    path = tmp_path / "subjects.jsonl"
    path.write_text(json.dumps(SUBJECT) + "\n")
    SubjectService(registry, KeyHasher(A)).load(path, principal=DPO)
    return registry, path


def test_a_lookup_with_another_secret_is_refused_not_answered_with_no_subject(loaded):
    registry, path = loaded
    assert SubjectService(registry, KeyHasher(A)).find(principal=DPO, email="c1@example.org").id == "C-1"
    other = SubjectService(registry, KeyHasher(B))
    with pytest.raises(KeyMismatch, match=r"not the one this store's keys were hashed with \(fingerprint "):
        other.find(principal=DPO, email="c1@example.org")
    with pytest.raises(KeyMismatch):
        other.load(path, principal=DPO)
    with pytest.raises(KeyMismatch):
        other.check_key()
    assert other.find(principal=DPO, subject="C-1").id == "C-1"  # by id, no secret is needed
    assert registry.store.key_fingerprint() == KeyHasher(A).fingerprint != KeyHasher(B).fingerprint


def test_the_store_itself_refuses_keys_hashed_with_another_secret(loaded):
    registry, _ = loaded
    row = registry.store.subject("C-1")
    before = registry.audit(limit=1000)
    changed = type(row)(id="C-9", kind="claimant", records=[], consents=[], key_hashes=["ab" * 32])
    with pytest.raises(StoreError, match="hashed with another secret"):
        registry.store.write_subjects([changed], actor="x", source="race.jsonl",
                                      key_fingerprint=lambda: KeyHasher(B).fingerprint)
    assert registry.store.subject("C-9") is None and registry.audit(limit=1000) == before


def test_files_without_keys_need_no_secret_and_the_first_keys_record_the_fingerprint(registry, tmp_path):
    registry.load(bundles(), actor="test")
    path = tmp_path / "plain.jsonl"
    path.write_text(json.dumps({**SUBJECT, "keys": {}}) + "\n")
    unreadable = Settings.load(hmac_key_file=tmp_path / "missing.key").key_hasher()
    SubjectService(registry, unreadable).load(path, principal=DPO)  # the key file is never opened
    assert registry.store.key_fingerprint() is None
    with pytest.raises(SettingsError, match="^DSA_REGISTRY_HMAC_KEY_FILE: cannot read .*missing.key: No such file"):
        SubjectService(registry, unreadable).find(principal=DPO, email="c1@example.org")


@pytest.mark.parametrize("settings, message", [
    ({"hmac_key": "x"}, "DSA_REGISTRY_HMAC_KEY: the secret is 1 byte(s) long; it needs at least 32"),
    ({"hmac_key": "short-but-not-32"}, "DSA_REGISTRY_HMAC_KEY: the secret is 16 byte(s) long"),
    ({"hmac_key": "a" * 32, "hmac_key_file": "k"}, "DSA_REGISTRY_HMAC_KEY_FILE: set it or DSA_REGISTRY_HMAC_KEY, not both"),
])
def test_unusable_secrets_are_refused_in_one_line_when_first_needed(settings, message):
    loaded = Settings.load(**settings)  # commands that hash nothing are not stopped
    with pytest.raises(SettingsError) as refused:
        loaded.key_hasher().hash("email", "a@example.org")
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)
    assert Settings.load(hmac_key="a" * 32).key_hasher().fingerprint


def test_keys_generate_writes_a_private_random_secret_and_never_replaces_one(tmp_path):
    made = cli("keys", "generate", "lookup.key", cwd=tmp_path)
    assert made.returncode == 0 and "lookup.key" in made.stdout
    key = tmp_path / "lookup.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    text = key.read_text()
    assert len(text.strip()) == 64 and int(text, 16) > 0
    again = cli("keys", "generate", "lookup.key", cwd=tmp_path)
    assert again.returncode == 1 and "exists already" in again.stderr and key.read_text() == text
    assert not (tmp_path / "registry.db").exists()  # no store was opened for it
    other = cli("keys", "generate", "other.key", cwd=tmp_path)
    assert other.returncode == 0 and (tmp_path / "other.key").read_text() != text


def test_the_cli_reads_the_secret_only_for_lookups_by_key_and_names_a_mismatch(tmp_path):
    for name, text in bundles():
        (tmp_path / name).write_text(text)
    cli("load", "extra.yaml", "lineage.yaml", cwd=tmp_path)
    cli("keys", "generate", "a.key", cwd=tmp_path)
    cli("keys", "generate", "b.key", cwd=tmp_path)
    (tmp_path / "s.jsonl").write_text(json.dumps(SUBJECT) + "\n")
    a, b = {"DSA_REGISTRY_HMAC_KEY_FILE": "a.key"}, {"DSA_REGISTRY_HMAC_KEY_FILE": "b.key"}
    assert cli("subjects", "load", "s.jsonl", cwd=tmp_path, env=a).returncode == 0
    missing = {"DSA_REGISTRY_HMAC_KEY_FILE": "nowhere.key"}
    assert cli("dsar", "C-1", cwd=tmp_path, env=missing).returncode == 0
    assert cli("export", cwd=tmp_path, env=missing).returncode == 0
    failed = cli("dsar", "--email", "c1@example.org", cwd=tmp_path, env=missing)
    assert (failed.returncode, failed.stderr) == (2, "error: DSA_REGISTRY_HMAC_KEY_FILE: cannot read nowhere.key: "
                                                     "No such file or directory\n")
    wrong = cli("dsar", "--email", "c1@example.org", cwd=tmp_path, env=b)
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: the lookup-key secret is not the one")
    assert "no subject" not in wrong.stderr and len(wrong.stderr.splitlines()) == 1
    assert json.loads(cli("dsar", "--email", "c1@example.org", cwd=tmp_path, env=a).stdout)["subject"]["id"] == "C-1"
    assert os.environ.get("DSA_REGISTRY_HMAC_KEY") is None
