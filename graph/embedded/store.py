"""The embedded backend: SQLite on local disk as the system of record, a snapshot in memory for queries.

One file holds the documents, the audit log and a version counter. Every write runs in one
`BEGIN IMMEDIATE` transaction and bumps the counter; every read first compares the counter
with the one its in-memory `Snapshot` was built from and rebuilds on a difference, so several
processes sharing a file (a server and a CLI `load`) see each other's commits at their next
request. WAL mode lets readers carry on while one process writes; `synchronous=FULL` makes a
commit survive a crash of the machine, not only of the process.

The file holds personal data and key hashes: it is created readable by its owner only (0600),
and SQLite gives its WAL and shared-memory files the same mode. The audit log is chained
(`graph.audit`); triggers refuse to update or delete its rows, and `audit verify` notices if
someone removes them and tampers anyway. A log written before the chain existed is sealed
(chained as it stands) the first time the store is opened.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import ContextManager
from pathlib import Path

from graph.audit import GENESIS, last_change, link, stored
from graph.changes import encode, forced_entries, plan
from graph.embedded.disclosures import DisclosureTable
from graph.embedded.erasure import ErasureTables
from graph.embedded.rebuild import Rebuild
from graph.embedded.subjects import SCHEMA as SUBJECT_SCHEMA
from graph.embedded.subjects import SubjectTables, upgrade
from graph.embedded.tokens import SCHEMA as TOKEN_SCHEMA
from graph.embedded.tokens import TokenTable
from graph.pins import Pins
from graph.snapshot import Snapshot
from graph.traversal import SnapshotReads
from graph.auditlog import AuditEntry, AuditHead, AuditQuery, NewAuditEntry, audit_time
from graph.store import Check, Doc, StoreBusy, StoreError, Stored, WriteResult

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
    after  TEXT,
    prev   TEXT,
    hash   TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_entity ON audit (entity, seq);
CREATE TABLE IF NOT EXISTS audit_private (
    seq  INTEGER PRIMARY KEY,
    salt TEXT NOT NULL,
    doc  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS setting (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS derived (name TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS derived_subject (name TEXT NOT NULL, subject TEXT NOT NULL, PRIMARY KEY (name, subject))
    WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS derived_by_subject ON derived_subject (subject);
"""
_CHAINED = """
CREATE INDEX IF NOT EXISTS audit_by_actor ON audit (actor, seq);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_private_no_update BEFORE UPDATE ON audit_private
BEGIN SELECT RAISE(ABORT, 'an audit document is never changed, only erased with its subject'); END;
"""
_COLUMNS = "seq, at, actor, action, type, entity, before, after, prev, hash"
_SELECTED = ", ".join(f"audit.{column}" for column in _COLUMNS.split(", "))
_POLL = 0.05
"""Seconds SQLite itself waits for a busy store before `EmbeddedStore._writing` tries again."""


class EmbeddedStore(SubjectTables, DisclosureTable, ErasureTables, TokenTable, SnapshotReads):
    """`busy_timeout`: how long a write waits for another process's (or thread's) write to end,
    in seconds, before it gives up with `StoreBusy`."""

    def __init__(self, path: str | Path, busy_timeout: float = 10.0):
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        try:
            _create_private(self.path)
            self._db = self._connect()
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")  # a new file: wait for its creator
            self._db.executescript(_SCHEMA + SUBJECT_SCHEMA + TOKEN_SCHEMA)  # no writes once the tables are there
            upgrade(self._db)
            if self._db.execute("SELECT NOT EXISTS (SELECT 1 FROM meta WHERE key = 'version')").fetchone()[0]:
                self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('version', 0)")
            self._seal_legacy_log()
            self._db.executescript(_CHAINED)
            self._db.execute(f"PRAGMA busy_timeout = {int(_POLL * 1000)}")
            self._reads = self._connect()
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the store {self.path}: {error}") from None
        except OSError as error:
            raise StoreError(f"cannot open the store {self.path}: {error.strerror}") from None
        self._lock = threading.RLock()
        """Serialises this process's writers on `_db`."""
        self._read_lock = threading.Lock()
        """Serialises use of `_reads`, the connection reads go through: never held while waiting for a write."""
        self._snapshot_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._snapshot_version = -1
        self._rebuild = Rebuild()
        self._pins = Pins()

    def _connect(self) -> sqlite3.Connection:
        """A connection of its own to the store: writers, readers and each subject load have one, so
        that in WAL mode reads never wait for a write. SQLite's own wait for a busy store is kept
        short (`_POLL`): `_writing` retries until `busy_timeout`, often enough to get in between
        the batches of a subject load."""
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=_POLL)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA secure_delete=ON")  # deleted data is overwritten, not left in free space (erasure)
        return db

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        with self._read_lock:
            yield self._reads

    @contextmanager
    def _writing(self, db: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """A write transaction (`BEGIN IMMEDIATE`) on `db` (default the store's writer connection),
        committed at the end and rolled back on any exception. Raises `StoreBusy` when another
        write holds the store for longer than `busy_timeout`."""
        own = db is None
        db = self._db if own else db
        deadline = time.monotonic() + self.busy_timeout
        if own and not self._lock.acquire(timeout=self.busy_timeout):
            raise StoreBusy(self.busy_timeout)
        try:
            while True:
                try:
                    db.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as error:
                    if "locked" not in str(error) and "busy" not in str(error):
                        raise
                    if time.monotonic() >= deadline:
                        raise StoreBusy(self.busy_timeout) from None
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLite may have rolled back already (a full disk)
                    db.execute("ROLLBACK")
                raise
        finally:
            if own:
                self._lock.release()

    def version(self) -> int:
        pin = self._pins.current()
        if pin is not None and pin.known:
            return pin.number
        number = self._stored_version()
        if pin is not None:
            self._pins.learn(number, number)
        return number

    def _stored_version(self) -> int:
        with self._reader() as db:
            return self._version_in(db)

    def pinned(self) -> ContextManager[None]:
        """`GraphStore.pinned`: the version is read once per scope (a query on the reads'
        connection, under its lock, each time otherwise: a DSAR asked it about fifteen times).
        Once the scope has read the snapshot, its version is the snapshot's: what it reads."""
        return self._pins.scope()

    @staticmethod
    def _version_in(db: sqlite3.Connection) -> int:
        """The registry's version as `db` sees it (inside its transaction, if it is in one)."""
        return db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0]

    def snapshot(self) -> Snapshot:
        """The in-memory graph as of the latest commit of any process."""
        with self._snapshot_lock:
            pin = self._pins.current()
            if pin is not None and pin.known and self._snapshot is not None and pin.number == self._snapshot_version:
                return self._snapshot
            version = self._stored_version()
            if self._snapshot is None or version != self._snapshot_version:
                with self._reader() as db:
                    db.execute("BEGIN")  # the version and the documents from one state
                    try:
                        version = self._version_in(db)
                        rows = db.execute("SELECT type, doc FROM entity").fetchall()
                    finally:
                        db.execute("COMMIT")
                self._snapshot, self._snapshot_version = self._rebuild.snapshot(rows), version
            if pin is not None:  # the scope reads this snapshot: its version is the scope's from now on
                pin.number, pin.known = self._snapshot_version, True
            return self._snapshot

    def write(self, upserts: list[Stored], deletes: list[str], *, actor: str,
              check: Check | None = None) -> WriteResult:
        now = audit_time()
        with self._writing() as db:
            current = {row[0]: (row[1], row[2]) for row in db.execute("SELECT id, type, doc FROM entity")}
            checked = check(_View(self, current)) if check else None
            if checked and checked.deletes is not None:
                deletes = checked.deletes
            planned = plan(upserts, deletes, current)
            db.executemany("INSERT OR REPLACE INTO entity (id, type, doc) VALUES (?, ?, ?)",
                           [(c.id, c.type, c.after) for c in planned.changes if c.after is not None])
            db.executemany("DELETE FROM entity WHERE id = ?",
                           [(c.id,) for c in planned.changes if c.after is None])
            if planned.changes:
                self._audit([NewAuditEntry(now, actor, c.action, c.type, c.id, *c.audited)
                             for c in planned.changes] + forced_entries(checked, current, now, actor))
                db.execute("UPDATE meta SET value = value + 1 WHERE key = 'version'")
        self._pins.drop()  # a pinned scope's next read looks again
        return planned.result

    def _audit(self, entries: list[NewAuditEntry], db: sqlite3.Connection | None = None) -> None:
        """Append `entries` to the chain, inside the caller's transaction (on `db`, default the writer)."""
        db = db or self._db
        rows, head = link(self._head(db) or AuditHead(0, GENESIS), entries)
        db.executemany(f"INSERT INTO audit ({_COLUMNS}) VALUES (:seq, :at, :actor, :action, :type, :entity,"
                       " :before, :after, :prev, :hash)", rows)
        db.executemany("INSERT INTO audit_private (seq, salt, doc) VALUES (:seq, :salt, :private)",
                       [row for row in rows if row["salt"] is not None])
        self._set("audit-head", f"{head.seq} {head.hash}", db)
        if (changed := last_change(rows)) is not None:
            self._set("last-change", str(changed), db)

    def _in_transaction(self, work) -> None:
        """Run `work()` in a write transaction of its own."""
        with self._writing():
            work()

    def _head(self, db: sqlite3.Connection | None = None) -> AuditHead | None:
        found = self._setting("audit-head", db)
        if found is None:
            return None
        seq, digest = found.split()
        return AuditHead(int(seq), digest)

    def _setting(self, key: str, db: sqlite3.Connection | None = None) -> str | None:
        found = (db or self._db).execute("SELECT value FROM setting WHERE key = ?", (key,)).fetchone()
        return found and found[0]

    def _set(self, key: str, value: str | None, db: sqlite3.Connection | None = None) -> None:
        if value is None:
            (db or self._db).execute("DELETE FROM setting WHERE key = ?", (key,))
        else:
            (db or self._db).execute("INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)", (key, value))

    def derived(self, name: str) -> bytes | None:
        with self._reader() as db:
            found = db.execute("SELECT data FROM derived WHERE name = ?", (name,)).fetchone()
        return found and found[0]

    def keep_derived(self, name: str, data: bytes, subjects: Iterable[str] = ()) -> None:
        try:
            with self._writing() as db:
                self._keep_derived(db, name, data, subjects)
        except sqlite3.Error as error:  # a read-only file, a full disk
            raise StoreError(f"cannot keep {name} in the store {self.path}: {error}") from None

    @staticmethod
    def _keep_derived(db: sqlite3.Connection, name: str, data: bytes, subjects: Iterable[str]) -> None:
        """`keep_derived` inside the caller's write transaction on `db`."""
        named = sorted(set(subjects))
        db.execute("DELETE FROM derived WHERE name = ?", (name,))
        db.execute("DELETE FROM derived_subject WHERE name = ?", (name,))
        if db.execute("SELECT count(*) FROM subject WHERE id IN (SELECT value FROM json_each(?))",
                      (json.dumps(named),)).fetchone()[0] < len(named):
            return  # one was erased since it was read: keep nothing that names it
        db.executemany("INSERT INTO derived_subject (name, subject) VALUES (?, ?)", [(name, s) for s in named])
        db.execute("INSERT INTO derived (name, data) VALUES (?, ?)", (name, data))

    def audit(self, query: AuditQuery) -> list[AuditEntry]:
        where, args = _audit_where(query)
        order = "DESC" if query.newest_first else ""
        with self._reader() as db:
            rows = db.execute(f"SELECT {_SELECTED}, p.salt, p.doc FROM audit LEFT JOIN audit_private p USING (seq) "
                              f"WHERE {where} ORDER BY audit.seq {order} LIMIT ?", (*args, query.limit)).fetchall()
        return [stored(*row) for row in rows]

    def count_audit(self, query: AuditQuery) -> int:
        where, args = _audit_where(query)
        with self._reader() as db:
            return db.execute(f"SELECT count(*) FROM audit WHERE {where}", args).fetchone()[0]

    def audit_head(self) -> AuditHead | None:
        with self._reader() as db:
            return self._head(db)

    def last_change(self) -> int:
        with self._reader() as db:
            found = self._setting("last-change", db)
            if found is None:  # a log written before the mark was kept: its head
                head = self._head(db)
                return head.seq if head is not None else 0
            return int(found)

    def key_fingerprint(self) -> str | None:
        with self._reader() as db:
            return self._setting("hmac-key-fingerprint", db)

    def _seal_legacy_log(self) -> None:
        """Chain the entries of a log written before the chain existed (canonical JSON for their
        documents), once: from then on, changes to them are noticed."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(audit)")}
        if "hash" in columns and self._db.execute("SELECT NOT EXISTS (SELECT 1 FROM audit WHERE hash IS NULL)"
                                                  ).fetchone()[0]:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for column in ("prev", "hash"):
                if column not in columns:
                    self._db.execute(f"ALTER TABLE audit ADD COLUMN {column} TEXT")
            legacy = self._db.execute("SELECT seq, at, actor, action, type, entity, before, after FROM audit "
                                      "WHERE hash IS NULL ORDER BY seq").fetchall()
            self._db.execute("DELETE FROM audit WHERE hash IS NULL")
            canonical = [NewAuditEntry(at, actor, action, type_, entity, _canonical(before), _canonical(after))
                         for _, at, actor, action, type_, entity, before, after in legacy]
            self._audit(canonical)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock, self._read_lock:
            self._db.close()
            self._reads.close()


class _View:
    """The registry inside an embedded write transaction (`graph.store.RegistryView`): the rows
    the transaction read, and the subject tables."""

    def __init__(self, store: EmbeddedStore, current: dict[str, tuple[str, str]]):
        self._store, self._current = store, current

    def types_by_id(self) -> dict[str, str]:
        return {id_: type_ for id_, (type_, _) in self._current.items()}

    def list(self, type: str) -> list[Doc]:
        return [json.loads(doc) for type_, doc in self._current.values() if type_ == type]

    def referring(self, ids) -> list[Stored]:
        needles = [encode(id_) for id_ in ids]  # an id as it appears quoted in canonical JSON
        many = len(needles) > 16  # then reading them all is cheaper than searching for each
        return [Stored(type_, json.loads(doc)) for type_, doc in self._current.values()
                if many or any(needle in doc for needle in needles)]

    def subject_references(self, ids) -> dict[str, dict[str, int]]:
        types = self.types_by_id()
        return self._store._subject_references({id_: types[id_] for id_ in ids if id_ in types})


def _canonical(text: str | None) -> str | None:
    return encode(json.loads(text)) if text else None


def _create_private(path: Path) -> None:
    """Create the store file readable and writable by its owner only, unless it exists. Raises
    `StoreError` for `:memory:`: readers, writers and loads each need a connection to the same file."""
    if str(path) == ":memory:":
        raise StoreError("an embedded store is a file (readers and writers open it each), not ':memory:'")
    if path.exists():
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


def _audit_where(query: AuditQuery) -> tuple[str, list]:
    """The SQL condition and its arguments for the filters of `query` (its limit and order aside)."""
    where, args = ["1"], []
    for condition, value in (("entity = ?", query.entity), ("actor = ?", query.actor), ("at >= ?", query.since),
                             ("at < ?", query.until), ("audit.seq < ?", query.before),
                             ("audit.seq > ?", query.after)):
        if value is not None:
            where.append(condition)
            args.append(value)
    if query.exclude_types:
        where.append(f"type NOT IN ({','.join('?' * len(query.exclude_types))})")
        args += sorted(query.exclude_types)
    if query.exclude_actions:
        where.append(f"action NOT IN ({','.join('?' * len(query.exclude_actions))})")
        args += sorted(query.exclude_actions)
    return " AND ".join(where), args
