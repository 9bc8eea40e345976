"""The embedded backend: SQLite on local disk as the system of record, networkx in memory for queries.

One file holds the documents, the audit log and a version counter. Every write runs in one
`BEGIN IMMEDIATE` transaction and bumps the counter; every read first compares the counter
with the one its in-memory `Snapshot` was built from and rebuilds on a difference, so several
processes sharing a file (a server and a CLI `load`) see each other's commits at their next
request. WAL mode lets readers carry on while one process writes; `synchronous=FULL` makes a
commit survive a crash of the machine, not only of the process.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import threading
from datetime import date
from pathlib import Path
from typing import Iterable

from graph import traversal
from graph.changes import plan
from graph.embedded.subjects import SCHEMA as SUBJECT_SCHEMA
from graph.embedded.subjects import SubjectTables
from graph.snapshot import Snapshot
from graph.store import AuditEntry, audit_time, Direction, Doc, Holding, Lineage, StoreError, Stored, WriteResult

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entity (
    id   TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    doc  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    type   TEXT NOT NULL,
    entity TEXT NOT NULL,
    before TEXT,
    after  TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_entity ON audit (entity, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('version', 0);
"""


class EmbeddedStore(SubjectTables):
    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA + SUBJECT_SCHEMA)
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the store {self.path}: {error}") from None
        self._lock = threading.RLock()
        self._snapshot: Snapshot | None = None
        self._snapshot_version = -1

    def version(self) -> int:
        with self._lock:
            return self._db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0]

    def snapshot(self) -> Snapshot:
        """The in-memory graph as of the latest commit of any process."""
        with self._lock:
            version = self.version()
            if self._snapshot is None or version != self._snapshot_version:
                rows = self._db.execute("SELECT type, doc FROM entity").fetchall()
                entities = {}
                for type_, text in rows:
                    doc = json.loads(text)
                    entities[doc["id"]] = Stored(type_, doc)
                # The snapshot is large and never changes: keep it out of the cyclic collector's
                # scans, which otherwise add tens of milliseconds to random requests. Unfreeze
                # first, so that the replaced snapshot (networkx graphs hold cycles) is collected.
                gc.unfreeze()
                self._snapshot, self._snapshot_version = Snapshot(entities), version
                gc.collect()
                gc.freeze()
            return self._snapshot

    def get_many(self, ids: Iterable[str]) -> dict[str, Stored]:
        entities = self.snapshot().entities
        return {id_: entities[id_] for id_ in ids if id_ in entities}

    def list(self, type: str) -> list[Doc]:
        return list(self.snapshot().by_type.get(type, ()))

    def types_by_id(self) -> dict[str, str]:
        return {id_: stored.type for id_, stored in self.snapshot().entities.items()}

    def write(self, upserts: list[Stored], deletes: list[str], *, actor: str) -> WriteResult:
        now = audit_time()
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                current = {row[0]: (row[1], row[2]) for row in db.execute("SELECT id, type, doc FROM entity")}
                planned = plan(upserts, deletes, current)
                db.executemany("INSERT OR REPLACE INTO entity (id, type, doc) VALUES (?, ?, ?)",
                               [(c.id, c.type, c.after) for c in planned.changes if c.after is not None])
                db.executemany("DELETE FROM entity WHERE id = ?",
                               [(c.id,) for c in planned.changes if c.after is None])
                if planned.changes:
                    self._audit([(now, actor, c.action, c.type, c.id, c.before, c.after) for c in planned.changes])
                    db.execute("UPDATE meta SET value = value + 1 WHERE key = 'version'")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return planned.result

    def _audit(self, entries: list[tuple]) -> None:
        """Append (at, actor, action, type, entity, before, after) rows, inside the caller's transaction."""
        self._db.executemany("INSERT INTO audit (at, actor, action, type, entity, before, after)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?)", entries)

    def audit(self, *, entity: str | None = None, since: int = 0, limit: int = 100) -> list[AuditEntry]:
        sql = "SELECT seq, at, actor, action, type, entity, before, after FROM audit WHERE seq > ?"
        args: list = [since]
        if entity is not None:
            sql += " AND entity = ?"
            args.append(entity)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq LIMIT ?", (*args, limit)).fetchall()
        return [AuditEntry(seq, at, actor, action, type_, id_,
                           json.loads(before) if before else None, json.loads(after) if after else None)
                for seq, at, actor, action, type_, id_, before, after in rows]

    def holders(self, category: str, include_descendants: bool = True, as_of: date | None = None) -> list[Holding]:
        return traversal.holders(self.snapshot(), category, include_descendants, as_of)

    def holdings(self, holder: str, as_of: date | None = None) -> list[Holding]:
        return traversal.holdings(self.snapshot(), holder, as_of)

    def lineage(self, start: str, direction: Direction, depth: int | None, categories: list[str] | None,
                as_of: date | None = None, include_proposed: bool = False) -> Lineage:
        return traversal.lineage(self.snapshot(), start, direction, depth, categories, as_of, include_proposed)

    def close(self) -> None:
        with self._lock:
            self._db.close()
