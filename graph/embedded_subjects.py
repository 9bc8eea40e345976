"""Data subjects in the embedded store: SQLite tables beside the registry, never in memory.

`subject` holds one row per subject (kind, records and key hashes as JSON); `subject_system`
indexes subjects by the systems that hold them (for counts and lists), `subject_key` maps
lookup-key hashes to subjects, and `consent` keeps every consent event. All are WITHOUT ROWID
tables keyed for the lookups they serve, so a DSAR is a handful of index probes at any size.
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
from collections.abc import Iterable, Iterator

import orjson

from graph.store import Doc, SubjectRow, audit_time

SCHEMA = """
CREATE TABLE IF NOT EXISTS subject (
    id      TEXT PRIMARY KEY,
    kind    TEXT NOT NULL,
    records TEXT NOT NULL,
    keys    TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS subject_system (
    system  TEXT NOT NULL,
    subject TEXT NOT NULL,
    PRIMARY KEY (system, subject)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS subject_key (
    hash    TEXT PRIMARY KEY,
    subject TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS consent (
    subject TEXT NOT NULL,
    at      TEXT NOT NULL,
    purpose TEXT NOT NULL,
    status  TEXT NOT NULL,
    notice  TEXT,
    channel TEXT,
    PRIMARY KEY (subject, at, purpose, status)
) WITHOUT ROWID;
"""

_BATCH = 20_000
_CONSENT_FIELDS = ("at", "purpose", "status", "notice", "channel")


def prefetched(rows: Iterable[SubjectRow], depth: int = 4) -> Iterator[SubjectRow]:
    """`rows`, produced in a background thread a few batches ahead: validating the next batch
    overlaps with SQLite writing this one (sqlite3 releases the GIL while it works). An
    exception in `rows` is raised here, after the rows before it; if the consumer stops early,
    the producer stops too."""
    batches: queue.Queue = queue.Queue(maxsize=depth)
    stopped = threading.Event()
    done = object()

    def hand_over(item) -> None:
        while not stopped.is_set():
            try:
                return batches.put(item, timeout=0.1)
            except queue.Full:
                continue

    def produce() -> None:
        batch: list[SubjectRow] = []
        try:
            for row in rows:
                batch.append(row)
                if len(batch) == _BATCH:
                    hand_over(batch)
                    batch = []
                if stopped.is_set():
                    return
            hand_over(batch)
            hand_over(done)
        except BaseException as error:  # handed to the consumer, which re-raises it
            hand_over(batch)
            hand_over(error)

    producer = threading.Thread(target=produce, name="subject-rows", daemon=True)
    producer.start()
    try:
        while (item := batches.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield from item
    finally:
        stopped.set()
        producer.join()


class SubjectTables:
    """The subject half of `EmbeddedStore` (which provides `_db`, `_lock` and `_audit`)."""

    def write_subjects(self, rows: Iterable[SubjectRow], *, actor: str, source: str) -> int:
        count = 0
        with self._lock:
            db = self._db
            db.execute("PRAGMA cache_size = -262144")  # 256 MiB while loading: fewer page spills
            db.execute("BEGIN IMMEDIATE")
            try:
                iterator = prefetched(rows)
                while batch := list(itertools.islice(iterator, _BATCH)):
                    self._write_batch(batch)
                    count += len(batch)
                self._audit([(audit_time(), actor, "load", "subject-file", source, None, json.dumps({"subjects": count}))])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            finally:
                db.execute("PRAGMA cache_size = -2000")
        return count

    def _write_batch(self, batch: list[SubjectRow]) -> None:
        db = self._db
        ids = json.dumps([row.id for row in batch])
        for id_, records, keys in db.execute("SELECT id, records, keys FROM subject "
                                             "WHERE id IN (SELECT value FROM json_each(?))", (ids,)).fetchall():
            db.executemany("DELETE FROM subject_system WHERE system = ? AND subject = ?",
                           [(r["system"], id_) for r in json.loads(records)])
            db.executemany("DELETE FROM subject_key WHERE hash = ?", [(h,) for h in json.loads(keys)])
        db.executemany("INSERT OR REPLACE INTO subject (id, kind, records, keys) VALUES (?, ?, ?, ?)",
                       [(r.id, r.kind, orjson.dumps(r.records).decode(), orjson.dumps(r.key_hashes).decode())
                        for r in batch])
        # Sorted, so that consecutive inserts land on the same index pages.
        db.executemany("INSERT OR IGNORE INTO subject_system (system, subject) VALUES (?, ?)",
                       sorted((record["system"], r.id) for r in batch for record in r.records))
        db.executemany("INSERT OR REPLACE INTO subject_key (hash, subject) VALUES (?, ?)",
                       sorted((h, r.id) for r in batch for h in r.key_hashes))
        db.executemany("INSERT OR IGNORE INTO consent (subject, at, purpose, status, notice, channel) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       [(r.id, *(c.get(f) for f in _CONSENT_FIELDS)) for r in batch for c in r.consents])

    def subject(self, id: str) -> SubjectRow | None:
        with self._lock:
            found = self._db.execute("SELECT kind, records FROM subject WHERE id = ?", (id,)).fetchone()
            if found is None:
                return None
            consents = self._db.execute("SELECT at, purpose, status, notice, channel FROM consent "
                                        "WHERE subject = ? ORDER BY at, purpose, status", (id,)).fetchall()
        return SubjectRow(id=id, kind=found[0], records=json.loads(found[1]),
                          consents=[{f: v for f, v in zip(_CONSENT_FIELDS, row) if v is not None} for row in consents])

    def subject_by_key(self, key_hash: str) -> str | None:
        with self._lock:
            found = self._db.execute("SELECT subject FROM subject_key WHERE hash = ?", (key_hash,)).fetchone()
        return found and found[0]

    def add_consent(self, id: str, event: Doc, *, actor: str) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT OR IGNORE INTO consent (subject, at, purpose, status, notice, channel) "
                                 "VALUES (?, ?, ?, ?, ?, ?)", (id, *(event.get(f) for f in _CONSENT_FIELDS)))
                self._audit([(audit_time(), actor, "update", "consent", id, None, json.dumps(event))])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def count_subjects(self, systems: Iterable[str]) -> int:
        systems = sorted(set(systems))
        if not systems:
            return 0
        marks = ",".join("?" * len(systems))
        with self._lock:
            return self._db.execute(f"SELECT COUNT(DISTINCT subject) FROM subject_system WHERE system IN ({marks})",
                                    systems).fetchone()[0]

    def count_withdrawn(self, system: str, purposes: Iterable[str]) -> int:
        with self._lock:
            return self._db.execute("""
                SELECT COUNT(DISTINCT c.subject) FROM subject_system s JOIN consent c ON c.subject = s.subject
                WHERE s.system = ? AND c.status = 'withdrawn' AND c.purpose IN (SELECT value FROM json_each(?))
                  AND NOT EXISTS (SELECT 1 FROM consent later WHERE later.subject = c.subject
                                  AND later.purpose = c.purpose AND later.at > c.at)""",
                                    (system, json.dumps(sorted(set(purposes))))).fetchone()[0]

    def subject_ids(self, systems: Iterable[str], limit: int) -> list[str]:
        systems = sorted(set(systems))
        marks = ",".join("?" * len(systems))
        with self._lock:
            rows = self._db.execute(f"SELECT DISTINCT subject FROM subject_system WHERE system IN ({marks}) "
                                    "ORDER BY subject LIMIT ?", (*systems, limit)).fetchall()
        return [row[0] for row in rows]

    def log_access(self, *, actor: str, subject: str, what: str) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._audit([(audit_time(), actor, "read", "subject", subject, None, json.dumps({"what": what}))])
            self._db.execute("COMMIT")
