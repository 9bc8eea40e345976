"""A registry served over HTTP for the authorisation and fuzzing tests: the lineage registry with
subjects (C-1 …), an API token per role, and a TestClient on the app built from settings."""

from __future__ import annotations

import json
from contextlib import contextmanager

from starlette.testclient import TestClient

from graph.embedded import EmbeddedStore
from registry.api.app import create_app
from registry.auth.roles import ROLES, Principal
from registry.service import Registry
from registry.settings import Settings
from registry.subjects.keys import KeyHasher
from registry.subjects.service import SubjectService
from tests.auth import issue
from tests.subject_graphs import SUBJECT, bundles

SECRET = "served-secret-served-secret-served-secret"


@contextmanager
def served(tmp_path, **settings):
    """(client, {role: token}) on a fresh store; `settings` override the defaults (by field name)."""
    path = tmp_path / "served.db"
    registry = Registry(EmbeddedStore(path))
    registry.load(bundles(), actor="test")
    subjects = tmp_path / "subjects.jsonl"
    subjects.write_text(json.dumps(SUBJECT) + "\n" + json.dumps({**SUBJECT, "id": "C-2", "keys": {}}) + "\n")
    SubjectService(registry, KeyHasher(SECRET.encode())).load(subjects, principal=Principal.of("os:test", "admin"))
    tokens = {role: issue(registry.store, role) for role in ROLES}
    registry.store.close()
    settings = {"controller": "Aurora Mutual Insurance SE, Cologne, privacy@aurora.example", **settings}
    app = create_app(Settings.load(store=str(path), hmac_key=SECRET, **settings))
    with TestClient(app) as client:
        yield client, tokens
