"""The composition root: the only place that reads configuration and picks a storage backend.

`--store` (or `DSA_REGISTRY_STORE`) is a path to an SQLite file (default `registry.db` in the
working directory) or a Neo4j URI (`neo4j://`, `neo4j+s://`, `bolt://`, `bolt+s://` …).
"""

from __future__ import annotations

import os

from graph.store import GraphStore
from registry.service import Registry

DEFAULT_STORE = "registry.db"
NEO4J_SCHEMES = ("neo4j://", "neo4j+s://", "neo4j+ssc://", "bolt://", "bolt+s://", "bolt+ssc://")


def store_location(store: str | None = None) -> str:
    return store or os.environ.get("DSA_REGISTRY_STORE") or DEFAULT_STORE


def open_store(store: str | None = None) -> GraphStore:
    location = store_location(store)
    if location.startswith(NEO4J_SCHEMES):
        from graph.neo4j.store import Neo4jStore

        return Neo4jStore.from_uri(location)
    from graph.embedded import EmbeddedStore

    return EmbeddedStore(location)


def open_registry(store: str | None = None) -> Registry:
    return Registry(open_store(store))
