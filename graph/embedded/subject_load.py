"""Loading a subject file into the embedded store: staged first, then applied batch by batch.

A load runs on a connection of its own. It first appends the file's lines to a staging table in
that connection's temporary database (no journal): one row per line, its records, key hashes,
consents and disclosures kept as JSON, one statement per 20,000 lines (the rows as one JSON
array that `json_each` splits), in a thread of its own while the caller reads and validates the
next ones. That takes no lock on the store: readers and writers carry on, and an invalid line
(or anything else raised meanwhile) leaves the store untouched.

Then it applies `SUBJECT_BATCH` subjects per write transaction, each with one sorted
`INSERT … SELECT` per table, which takes the index entries, consents and disclosures out of the
staged JSON (`json_each`, `json_tree`): staging them as rows of their own cost twice as much.
B-trees fill in key order instead of at random places (at ten million subjects, the difference
between visiting each page once and once per row). Every subject is applied whole in one batch:
its row, its index entries, its consents and disclosures. Between batches other writers get
their turn, so they wait one batch at most. A file of one batch is one transaction; a larger one
is recorded as pending (a `setting` row of its own, `PENDING`) from its first batch to its last,
and audited when it starts applying and when it ends.

Ids in ascending order (as exports often are) come once each and need no sorting: a batch is a
range of lines. Otherwise the staged lines are indexed by id and a batch is a range of ids;
a subject that comes more than once gets the index entries of its last line (as stored).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor

from graph.auditlog import NewAuditEntry, audit_time
from graph.changes import encode
from graph.embedded import disclosures
from graph.store import IntegrityError, StoreBusy, StoreError
from graph.subjects import (ABANDONED, LOADED, LOADS_KEPT, SUBJECT_BATCH, EncodedSubject, PendingLoad, Progress,
                            SubjectRow, encoded_subject, keyed, loaded, partly_loaded)

_STAGING_ROWS = 20_000
_WAL_PAGES = 25_000
"""Pages (100 MB at 4 KiB) the WAL may grow to during a load before the load's connection copies
it back (SQLite's default: 1,000). Each batch scatters inserts over the lookup-key and record
indexes, so nearly every batch dirties thousands of pages; copying them back after every batch
wrote each page twice per batch. The load copies the rest back when it ends, so that the next
writer does not."""
_GAP = 0.02
"""Seconds a load pauses between batches, so that a waiting writer gets its turn: SQLite's busy handler
retries a waiting `BEGIN IMMEDIATE` every few milliseconds within each `_POLL`."""
PENDING = "subject-load"
"""The `setting` rows that record loads applying in batches (JSON of a `PendingLoad`): one per
load, `subject-load/` and the sequence number of the audit entry that it started, so that one
load's end does not clear another's mark (a store of an older version has at most one, keyed
`subject-load` alone). A load that ends clears the marks of the loads of the same file
(`_SAME_FILE`): it has applied it whole, which completes them."""
_PENDING_KEYS = "(key = ?1 OR (key >= ?1 || '/' AND key < ?1 || '0'))"
_SAME_FILE = ("value ->> 'source' = ?2 AND (?3 IS NULL OR value ->> 'digest' IS NULL OR value ->> 'digest' = ?3)")
"""A mark of a load of the file named ?2 whose content has the SHA-256 ?3 (where either is not known: by name;
`abandon_loads` gives none)."""

_STAGE = """
CREATE TEMP TABLE load_subject (seq INTEGER PRIMARY KEY, id TEXT, kind TEXT, records TEXT, keys TEXT, consents TEXT,
                                disclosures TEXT);
"""
_STAGE_BATCH = """
INSERT INTO load_subject SELECT ? + key, value ->> 'id', value ->> 'kind', value -> 'records', value -> 'key_hashes',
                                NULLIF(value -> 'consents', '[]'), NULLIF(value -> 'disclosures', '[]')
FROM json_each(?)"""
_BY_ID = "CREATE INDEX temp.load_subject_by_id ON load_subject (id, seq)"

# A batch is the lines `seq BETWEEN ?1 AND ?2` (ids ascending) or the subjects `id BETWEEN ?1 AND ?2`.
_LINES = {True: "seq BETWEEN ?1 AND ?2",
          False: "seq IN (SELECT seq FROM load_subject WHERE id BETWEEN ?1 AND ?2)"}
_IDS = {True: "SELECT id FROM load_subject WHERE seq BETWEEN ?1 AND ?2",
        False: "SELECT DISTINCT id FROM load_subject WHERE id BETWEEN ?1 AND ?2"}
_RANGE = {True: "SELECT (SELECT id FROM load_subject WHERE seq = ?1), (SELECT id FROM load_subject WHERE seq = ?2)",
          False: "SELECT MIN(id), MAX(id) FROM load_subject"}
"""The least and the greatest id of the staged lines (`LOADED`): when ids ascend, those of lines 1 and ?2."""
# Subjects loaded before lose their record and key index entries (not their consents).
_FORGET = (
    """DELETE FROM subject_system WHERE (system, subject) IN (
           SELECT r.value ->> 'system', s.id FROM ({ids}) b JOIN subject s USING (id), json_each(s.records) r)""",
    """DELETE FROM subject_key WHERE (hash, subject) IN (
           SELECT k.value, s.id FROM ({ids}) b JOIN subject s USING (id), json_each(s.keys) k)""",
)
_SUBJECTS = {True: "INSERT OR REPLACE INTO subject (id, kind, records, keys) "
                   "SELECT id, kind, records, keys FROM load_subject WHERE seq BETWEEN ?1 AND ?2",
             False: "INSERT OR REPLACE INTO subject (id, kind, records, keys) "
                    "SELECT id, kind, records, keys FROM load_subject WHERE id BETWEEN ?1 AND ?2 ORDER BY id, seq"}
# Lines of distinct subjects: their index entries as staged (a key hash that two subjects give goes to the
# later line). A subject that comes more than once: those of its last line, as stored.
_INDEX_STAGED = (
    "INSERT OR IGNORE INTO subject_system (system, subject) SELECT r.value, l.id "  # each record's `system`
    "FROM load_subject l, json_tree(l.records) r WHERE {lines} AND r.key = 'system' ORDER BY 1, 2",
    "INSERT OR REPLACE INTO subject_key (hash, subject) SELECT k.value, l.id "
    "FROM load_subject l, json_each(l.keys) k WHERE {lines} ORDER BY 1, l.seq",
)
_INDEX_STORED = (
    """INSERT OR IGNORE INTO subject_system (system, subject)
       SELECT r.value ->> 'system', s.id FROM ({ids}) b JOIN subject s USING (id), json_each(s.records) r ORDER BY 1, 2""",
    """INSERT OR REPLACE INTO subject_key (hash, subject)
       SELECT k.value, s.id FROM ({ids}) b JOIN subject s USING (id), json_each(s.keys) k ORDER BY 1""",
)
CONSENT_CONFLICT = (" ON CONFLICT (subject, at, purpose, status) DO UPDATE SET notice = excluded.notice, "
                    "channel = excluded.channel, expires = excluded.expires")
"""An event recorded again (same subject, time, purpose and status) takes the notice, channel and
expiry given last, as on Neo4j."""
_CONSENTS = ("INSERT INTO consent SELECT l.id, c.value ->> 'at', c.value ->> 'purpose', c.value ->> 'status', "
             "c.value ->> 'notice', c.value ->> 'channel', c.value ->> 'expires' "
             "FROM load_subject l, json_each(l.consents) c WHERE {lines} ORDER BY 1, 2, 3, 4, l.seq, c.key"
             + CONSENT_CONFLICT)


class SubjectLoad:
    """The subject load of `EmbeddedStore` (which provides `_connect`, `_writing`, `_audit`,
    `_setting`, `_set` and `_version_in`) and of its `SubjectTables` (`_check_named`)."""

    def write_subjects(self, rows: Iterable[SubjectRow | EncodedSubject], *, actor: str, source: str,
                       key_fingerprint: Callable[[], str | None] | None = None,
                       progress: Progress | None = None, checked_at: int | None = None,
                       file_digest: Callable[[], str | None] | None = None) -> int:
        db = self._staging_connection()
        try:
            db.executescript(_STAGE)
            count, ascending, keys = _stage(db, rows)
            if count == 0:
                with self._writing() as writer:
                    self._audit([NewAuditEntry(audit_time(), actor, "load", "subject-file", source,
                                               after=encode({"subjects": 0}))], writer)
                return 0
            distinct = count if ascending else _index_by_id(db)
            fingerprint = key_fingerprint() if key_fingerprint and keys else None
            digest = file_digest() if file_digest else None
            bounds = _batches(db, ascending, count)
        except sqlite3.Error as error:
            db.close()
            raise StoreError(f"nothing of {source} was loaded: {error} (SQLite stages loads in "
                             "SQLITE_TMPDIR, TMPDIR or /var/tmp)") from None
        except BaseException:
            db.close()
            raise
        try:
            self._apply(db, bounds, ascending, distinct == count, actor=actor, source=source, total=count,
                        digest=digest, fingerprint=fingerprint, progress=progress, checked_at=checked_at)
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")  # what `_WAL_PAGES` let grow, without waiting for readers
        finally:
            db.close()
        return count

    def abandon_loads(self, source: str, *, actor: str) -> int:
        with self._writing() as db:
            found = db.execute(f"DELETE FROM setting WHERE {_PENDING_KEYS} AND {_SAME_FILE} RETURNING key",
                               (PENDING, source, None)).fetchall()
            if found:
                self._audit([NewAuditEntry(audit_time(), actor, "abandon", "subject-file", source,
                                           after=encode({"loads": len(found)}))], db)
        return len(found)

    def pending_loads(self) -> tuple[PendingLoad, ...]:
        with self._reader() as db:
            found = db.execute(f"SELECT value FROM setting WHERE {_PENDING_KEYS}", (PENDING,)).fetchall()
        return tuple(sorted((PendingLoad(**json.loads(value)) for value, in found), key=lambda p: p.started))

    def _staging_connection(self) -> sqlite3.Connection:
        db = self._connect()
        db.execute("PRAGMA cache_size = -131072")  # 128 MiB while loading, for the store and for sorting
        db.execute("PRAGMA temp.cache_size = -65536")
        db.execute("PRAGMA threads = 2")  # sorts in two threads
        db.execute(f"PRAGMA wal_autocheckpoint = {_WAL_PAGES}")
        return db

    def _apply(self, db: sqlite3.Connection, bounds: list[tuple], ascending: bool, distinct: bool, *, actor: str,
               source: str, total: int, digest: str | None, fingerprint: str | None, progress: Progress | None,
               checked_at: int | None = None) -> None:
        ids, lines = _IDS[ascending], _LINES[ascending]
        index = tuple(s.format(lines=lines, ids=ids) for s in (_INDEX_STAGED if distinct else _INDEX_STORED))
        statements = ([s.format(ids=ids) for s in _FORGET], _SUBJECTS[ascending], index,
                      [s.format(lines=lines) for s in (_CONSENTS, disclosures.INSERT_STAGED)])
        pending = PendingLoad(source=source, subjects=total, applied=0, started=audit_time(), actor=actor,
                              digest=digest)
        done, started, mark = 0, None, None
        for number, bound in enumerate(bounds, 1):
            first, last = number == 1, number == len(bounds)
            if not first:
                time.sleep(_GAP)  # another writer's turn
            # A batch before the last is committed without waiting for the disk: a power loss may
            # take it back, to the batch before, which the pending load records (loading the file
            # again completes it). The last is committed as every write is, which makes the
            # batches before it durable too.
            db.execute(f"PRAGMA synchronous = {'FULL' if last else 'NORMAL'}")
            with self._failing(source, done, total), self._writing(db):
                if not first and self._setting(mark, db) is None:
                    raise IntegrityError(ABANDONED)
                if first:
                    self._claim_fingerprint(fingerprint, db)
                    if not last:
                        self._audit([NewAuditEntry(pending.started, actor, "load", "subject-file", source,
                                                   after=encode({"subjects": total, "state": "started"}))], db)
                        started = self._head_seq(db)
                        mark = f"{PENDING}/{started:012d}"
                if checked_at is None or self._version_in(db) != checked_at:  # the registry changed since it was checked
                    self._check_named(db, source, lines, bound)  # what the batch names is still there
                size = _apply_batch(db, statements, bound)
                done += size
                if last:  # this file is applied whole: no load of it is pending any more
                    db.execute(f"DELETE FROM setting WHERE {_PENDING_KEYS} AND {_SAME_FILE}", (PENDING, source, digest))
                    self._audit([NewAuditEntry(audit_time(), actor, "load", "subject-file", source,
                                               after=encode({"subjects": total}))], db)
                    self._keep_loaded(db, self._head_seq(db), _RANGE[ascending], (1, total) if ascending else ())
                else:
                    self._set(mark, json.dumps({**pending.__dict__, "applied": done}), db)
                    # What it has applied so far, under the entry that it started: a load killed
                    # later, then passed over by another load's end, is still seen to have changed it.
                    self._keep_loaded(db, started, *((_RANGE[True], (1, bound[1])) if ascending
                                                     else ("SELECT ?1, ?2", (bounds[0][0], bound[1]))))
            if progress:
                progress(done, total)

    def _head_seq(self, db: sqlite3.Connection) -> int:
        """The sequence number of the audit entry last appended (in `db`'s transaction)."""
        return int(self._setting("audit-head", db).split()[0])

    def _keep_loaded(self, db: sqlite3.Connection, seq: int, query: str, args: tuple) -> None:
        """Record a `LOADED` range, the first and last id that `query` gives (of subjects applied
        in this transaction or before), under the audit entry `seq` (that the load started, or
        ended), as `keep_derived` keeps any derived data, and forget all but the last `LOADS_KEPT`
        loads' ranges."""
        first, last = db.execute(query, args).fetchone()
        self._keep_derived(db, loaded(seq), json.dumps({"first": first, "last": last}).encode(), (first, last))
        older = ("SELECT name FROM derived WHERE name >= ?1 AND name < ?2 ORDER BY name DESC LIMIT -1 OFFSET ?3")
        for table in ("derived_subject", "derived"):  # the names first, while `older` still finds them
            db.execute(f"DELETE FROM {table} WHERE name IN ({older})", (LOADED, LOADED[:-1] + "!", LOADS_KEPT))

    @contextmanager
    def _failing(self, source: str, done: int, total: int) -> Iterator[None]:
        """A batch's failure (SQLite's errors as a `StoreError`, a refusal, a busy store) as one line
        that says how much of the file was applied before (`graph.subjects.partly_loaded`)."""
        try:
            yield
        except (IntegrityError, StoreBusy) as error:
            raise partly_loaded(error, source, done, total) from None
        except sqlite3.Error as error:
            if not done:
                raise StoreError(f"nothing of {source} was loaded: {error}") from None
            raise partly_loaded(StoreError(str(error)), source, done, total) from None

    def _claim_fingerprint(self, fingerprint: str | None, db: sqlite3.Connection) -> None:
        """Record the key's fingerprint if none is; refuse (roll back) if another one is."""
        if fingerprint is None:
            return
        recorded = self._setting("hmac-key-fingerprint", db)
        if recorded is None:
            self._set("hmac-key-fingerprint", fingerprint, db)
        elif recorded != fingerprint:
            raise StoreError(f"the lookup keys in this store were hashed with another secret (fingerprint "
                             f"{recorded[:12]}, this one {fingerprint[:12]}); nothing was loaded")


def _stage(db: sqlite3.Connection, rows: Iterable[SubjectRow | EncodedSubject]) -> tuple[int, bool, bool]:
    """Append `rows` to the staging table; return how many there were, whether their ids ascend
    and whether any carries key hashes. SQLite stages a batch in another thread (it lets go of
    the GIL while it works) while this one reads and validates the next. Rows are encoded one by
    one, so that they die young: a batch of live rows costs the cyclic collector dearly."""
    count, ids, ascending, keys = 0, [""], True, False
    with ThreadPoolExecutor(1, thread_name_prefix="subject-staging") as stager:
        staged = None
        iterator = iter(rows)
        while True:
            batch, ids = [], ids[-1:]
            for row in itertools.islice(iterator, _STAGING_ROWS):
                batch.append(encoded_subject(row))
                ids.append(row.id)
                if not keys:
                    keys = keyed(row)
            if not batch:
                break
            ascending = ascending and all(a < b for a, b in itertools.pairwise(ids))
            text = (b"[" + b",".join(batch) + b"]").decode()
            if staged:
                staged.result()
            staged = stager.submit(db.execute, _STAGE_BATCH, (count + 1, text))
            count += len(batch)
        if staged:
            staged.result()
    return count, ascending, keys


def _index_by_id(db: sqlite3.Connection) -> int:
    """Index the staged lines by id; return how many distinct subjects they hold."""
    db.execute(_BY_ID)
    return db.execute("SELECT COUNT(DISTINCT id) FROM load_subject").fetchone()[0]


def _batches(db: sqlite3.Connection, ascending: bool, count: int) -> list[tuple]:
    """The batches' bounds (inclusive): line numbers when ids ascend, else ids, `SUBJECT_BATCH` subjects each."""
    if ascending:
        return [(lo, min(lo + SUBJECT_BATCH - 1, count)) for lo in range(1, count + 1, SUBJECT_BATCH)]
    bounds, low, previous = [], None, None
    for number, (id_,) in enumerate(db.execute("SELECT DISTINCT id FROM load_subject ORDER BY id")):
        if number % SUBJECT_BATCH == 0:
            if low is not None:
                bounds.append((low, previous))
            low = id_
        previous = id_
    bounds.append((low, previous))
    return bounds


def _apply_batch(db: sqlite3.Connection, statements: tuple, bound: tuple) -> int:
    """Apply one batch inside the caller's transaction; return how many subjects it held."""
    forget, subjects, index, history = statements
    if db.execute("SELECT EXISTS (SELECT 1 FROM subject)").fetchone()[0]:
        for statement in forget:
            db.execute(statement, bound)
    size = db.execute(subjects, bound).rowcount
    for statement in (*index, *history):
        db.execute(statement, bound)
    return size
