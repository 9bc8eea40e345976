"""The embedded backend: SQLite on local disk as the system of record, a snapshot in memory for queries."""

from graph.embedded.store import EmbeddedStore

__all__ = ["EmbeddedStore"]
