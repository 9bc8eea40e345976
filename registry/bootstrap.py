"""The composition root: the only place that turns settings into a store and a registry.

`Settings.store` (`--store`, or `DSA_REGISTRY_STORE`) is a path to an SQLite file (default
`registry.db` in the working directory) or a Neo4j URI (`neo4j://`, `neo4j+s://`, `bolt://`,
`bolt+s://` …), with the Neo4j credentials from the settings where the URI has none.
"""

from __future__ import annotations

from pathlib import Path

from graph.store import GraphStore
from registry.service import Registry
from registry.settings import Settings

NEO4J_SCHEMES = ("neo4j://", "neo4j+s://", "neo4j+ssc://", "bolt://", "bolt+s://", "bolt+ssc://")


def open_store(settings: Settings) -> GraphStore:
    location = settings.store
    if location.startswith(NEO4J_SCHEMES):
        from graph.neo4j import Neo4jStore

        password = settings.neo4j_password.get_secret_value() if settings.neo4j_password else None
        return Neo4jStore.from_uri(location, user=settings.neo4j_user, password=password,
                                   database=settings.neo4j_database, busy_timeout=settings.busy_timeout)
    from graph.embedded import EmbeddedStore

    return EmbeddedStore(location, busy_timeout=settings.busy_timeout)


def store_exists(settings: Settings) -> bool:
    """Whether the configured store is there already: an SQLite file that exists, or any Neo4j
    URI (a server is asked only when the store is opened)."""
    return settings.store.startswith(NEO4J_SCHEMES) or Path(settings.store).exists()


def open_registry(settings: Settings) -> Registry:
    return Registry(open_store(settings))


def scratch_registry(base: GraphStore | None = None) -> Registry:
    """A registry on a scratch copy of `base` (or on nothing) in memory: writes change the copy
    only, subject data is read from `base` (see `graph.scratch`)."""
    from graph.scratch import ScratchStore

    return Registry(ScratchStore(base))
