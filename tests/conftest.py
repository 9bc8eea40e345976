"""Fixtures: a fresh store per test, on every backend.

`store` is parametrised over backends: `embedded` (SQLite in a temporary directory) always,
and `neo4j` against the server from `tests/neo4j_server.py` (started once per session by
`scripts/neo4j-test-server`, or the one `NEO4J_URI` names), reset before each test.
Tests that use `registry` or `store` therefore run once per backend: the contract suite.
"""

from __future__ import annotations

import pytest

from graph.embedded import EmbeddedStore
from registry.service import Registry

pytest_plugins = ["tests.neo4j_server", "tests.browser"]

BACKENDS = ["embedded", "neo4j"]


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    if request.param == "embedded":
        backend = EmbeddedStore(tmp_path / "registry.db")
    else:
        backend = request.getfixturevalue("neo4j_store")
    yield backend
    backend.close()


@pytest.fixture
def registry(store) -> Registry:
    return Registry(store)
