"""The Neo4j backend: the registry as a property graph (see `graph.neo4j.store` for the model)."""

from graph.neo4j.store import Neo4jStore

__all__ = ["Neo4jStore"]
