"""Data subjects in the embedded store: SQLite tables beside the registry, never in memory.

`subject` holds one row per subject (kind, records and key hashes as JSON); `subject_system`
indexes subjects by the systems that hold them (for counts and lists), `subject_key` maps
lookup-key hashes to subjects, and `consent` keeps every consent event (`disclosure`, in
`graph.embedded.disclosures`, every disclosure). All are WITHOUT ROWID tables keyed for the
lookups they serve, so a DSAR is a handful of index probes at any size.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import orjson

from graph.changes import encode
from graph.embedded import disclosures
from graph.store import (SUBJECT_REFERENCES, Doc, IntegrityError, NewAuditEntry, StoreError, SubjectRow, audit_time,
                         missing_message)

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
    expires TEXT,
    PRIMARY KEY (subject, at, purpose, status)
) WITHOUT ROWID;
""" + disclosures.SCHEMA


def upgrade(db: sqlite3.Connection) -> None:
    """Add what earlier versions' tables lack: a consent's `expires`."""
    if "expires" not in {row[1] for row in db.execute("PRAGMA table_info(consent)")}:
        db.execute("ALTER TABLE consent ADD COLUMN expires TEXT")


_BATCH = 20_000
_CONSENT_FIELDS = ("at", "purpose", "status", "notice", "channel", "expires")

# A load first appends the file's subjects, their record and key index entries and their consents
# to staging tables in the connection's temporary database (no index, no journal; one statement
# per batch, the batch as JSON, in a thread of its own). Only once the whole file is in does it
# touch the store, in the same transaction, with one sorted INSERT … SELECT per table: B-trees
# then fill in key order instead of at random places, which at ten million subjects is the
# difference between visiting each page once and once per row.
_STAGE = """
CREATE TEMP TABLE load_subject (seq INTEGER PRIMARY KEY, id TEXT, kind TEXT, records TEXT, keys TEXT);
CREATE TEMP TABLE load_system (system TEXT, subject TEXT);
CREATE TEMP TABLE load_key (hash TEXT, subject TEXT);
CREATE TEMP TABLE load_consent (subject TEXT, at TEXT, purpose TEXT, status TEXT, notice TEXT, channel TEXT,
                                expires TEXT);
CREATE TEMP TABLE load_id (id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TEMP VIEW load (id, kind, records, keys, consents, disclosures) AS SELECT NULL, NULL, NULL, NULL, NULL, NULL;
CREATE TEMP TRIGGER load_rows INSTEAD OF INSERT ON load BEGIN
    INSERT INTO load_subject (id, kind, records, keys) VALUES (NEW.id, NEW.kind, NEW.records, NEW.keys);
    INSERT INTO load_system SELECT value ->> 'system', NEW.id FROM json_each(NEW.records);
    INSERT INTO load_key SELECT value, NEW.id FROM json_each(NEW.keys);
    INSERT INTO load_consent SELECT NEW.id, value ->> 'at', value ->> 'purpose', value ->> 'status', value ->> 'notice',
                                    value ->> 'channel', value ->> 'expires' FROM json_each(NEW.consents);
END;
""" + disclosures.STAGE
_UNSTAGE = "DROP VIEW IF EXISTS temp.load;" + "".join(
    f"DROP TABLE IF EXISTS temp.{table};" for table in ("load_subject", "load_system", "load_key", "load_consent", "load_id")
) + disclosures.UNSTAGE
_STAGE_BATCH = """
INSERT INTO load SELECT value ->> 'id', value ->> 'kind', value -> 'records', value -> 'key_hashes', value -> 'consents',
                        value -> 'disclosures'
FROM json_each(?)"""
# Subjects loaded before lose their record and key index entries (not their consents).
_FORGET = (
    """DELETE FROM subject_system WHERE (system, subject) IN (
           SELECT r.value ->> 'system', s.id FROM load_id JOIN subject s USING (id), json_each(s.records) r)""",
    """DELETE FROM subject_key WHERE hash IN (
           SELECT k.value FROM load_id JOIN subject s USING (id), json_each(s.keys) k)""",
)
_INDEX_STAGED = (
    "INSERT OR IGNORE INTO subject_system (system, subject) SELECT system, subject FROM load_system ORDER BY 1, 2",
    "INSERT OR REPLACE INTO subject_key (hash, subject) SELECT hash, subject FROM load_key ORDER BY 1",
)
# When a subject comes more than once in a file its last line wins, so its index entries come
# from the rows as stored.
_INDEX_STORED = (
    """INSERT OR IGNORE INTO subject_system (system, subject)
       SELECT r.value ->> 'system', s.id FROM load_id JOIN subject s USING (id), json_each(s.records) r ORDER BY 1, 2""",
    """INSERT OR REPLACE INTO subject_key (hash, subject)
       SELECT k.value, s.id FROM load_id JOIN subject s USING (id), json_each(s.keys) k ORDER BY 1""",
)


_IDS = "SELECT value FROM json_each(?)"
_REFERENCES = {  # kind (`graph.store.SUBJECT_REFERENCES`) -> (id, subjects) for the ids given as a JSON array
    "records": f"SELECT system, COUNT(*) FROM subject_system WHERE system IN ({_IDS}) GROUP BY 1",
    "record categories": "SELECT c.value, COUNT(DISTINCT s.id) FROM subject s, json_each(s.records) r, "
                         f"json_each(r.value, '$.categories') c WHERE c.value IN ({_IDS}) GROUP BY 1",
    "record sources": "SELECT r.value ->> 'source', COUNT(DISTINCT s.id) FROM subject s, json_each(s.records) r "
                      f"WHERE r.value ->> 'source' IN ({_IDS}) GROUP BY 1",
    "consents": f"SELECT purpose, COUNT(DISTINCT subject) FROM consent WHERE purpose IN ({_IDS}) GROUP BY 1",
    "kind": f"SELECT kind, COUNT(*) FROM subject WHERE kind IN ({_IDS}) GROUP BY 1",
    "disclosures": f"SELECT flow, COUNT(DISTINCT subject) FROM disclosure WHERE flow IN ({_IDS}) GROUP BY 1",
}
# What a staged load names that the registry lacks, by kind of reference (a few, for the message).
_KNOWN = "NOT IN (SELECT id FROM entity WHERE type = ?)"
_UNKNOWN = {
    "records": f"SELECT DISTINCT system FROM load_system WHERE system {_KNOWN}",
    "record categories": "SELECT DISTINCT c.value FROM load_subject, json_each(records) r, "
                         f"json_each(r.value, '$.categories') c WHERE c.value {_KNOWN}",
    "record sources": "SELECT DISTINCT r.value ->> 'source' FROM load_subject, json_each(records) r "
                      f"WHERE r.value ->> 'source' IS NOT NULL AND r.value ->> 'source' {_KNOWN}",
    "consents": f"SELECT DISTINCT purpose FROM load_consent WHERE purpose {_KNOWN}",
    "kind": f"SELECT DISTINCT kind FROM load_subject WHERE kind {_KNOWN}",
    "disclosures": f"SELECT DISTINCT flow FROM load_disclosure WHERE flow {_KNOWN}",
}


class SubjectTables:
    """The subject half of `EmbeddedStore` (which provides `_db`, `_lock`, `_audit`, `_in_transaction`,
    `_setting` and `_set`)."""

    def write_subjects(self, rows: Iterable[SubjectRow], *, actor: str, source: str,
                       key_fingerprint: Callable[[], str | None] | None = None) -> int:
        with self._lock:
            db = self._db
            db.execute("PRAGMA cache_size = -131072")  # 128 MiB while loading, for the store and for sorting
            db.execute("PRAGMA temp.cache_size = -65536")
            db.execute("PRAGMA threads = 2")  # sorts in two threads
            db.executescript(_UNSTAGE + _STAGE)
            db.execute("BEGIN IMMEDIATE")
            try:
                count, ascending = self._stage(rows)
                again = db.execute("SELECT EXISTS (SELECT 1 FROM subject)").fetchone()[0]
                distinct = count  # ids in ascending order come once each
                if again or not ascending:
                    db.execute("INSERT OR IGNORE INTO load_id SELECT id FROM load_subject ORDER BY id")
                    distinct = db.execute("SELECT changes()").fetchone()[0]
                self._check_named(source)
                for statement in _FORGET if again else ():
                    db.execute(statement)
                # The last line of a subject wins; ids in ascending order (as exports often are) need no sort.
                db.execute("INSERT OR REPLACE INTO subject (id, kind, records, keys) "
                           "SELECT id, kind, records, keys FROM load_subject" + ("" if ascending else " ORDER BY id, seq"))
                for statement in _INDEX_STAGED if distinct == count else _INDEX_STORED:
                    db.execute(statement)
                db.execute("INSERT OR IGNORE INTO consent SELECT * FROM load_consent ORDER BY 1, 2, 3, 4")
                db.execute(disclosures.INSERT_STAGED)
                if db.execute("SELECT EXISTS (SELECT 1 FROM load_key)").fetchone()[0]:
                    self._claim_fingerprint(key_fingerprint() if key_fingerprint else None)
                self._audit([NewAuditEntry(audit_time(), actor, "load", "subject-file", source,
                                           after=encode({"subjects": count}))])
                db.execute("COMMIT")
            except BaseException as error:
                if db.in_transaction:  # SQLite may have rolled back already (a full disk)
                    db.execute("ROLLBACK")
                if isinstance(error, sqlite3.Error):
                    raise StoreError(f"nothing of {source} was loaded: {error} (SQLite stages loads in "
                                     "SQLITE_TMPDIR, TMPDIR or /var/tmp)") from None
                raise
            finally:
                db.executescript(_UNSTAGE)
                db.execute("PRAGMA cache_size = -2000")
                db.execute("PRAGMA temp.cache_size = -2000")
                db.execute("PRAGMA threads = 0")
        return count

    def _check_named(self, source: str) -> None:
        """Refuse a staged load that names an entity the registry no longer has: it was checked
        before the transaction, and a writer may have deleted it since (`IntegrityError`)."""
        db = self._db
        for kind, type_ in SUBJECT_REFERENCES.items():
            if kind == "kind" and not db.execute("SELECT EXISTS (SELECT 1 FROM entity WHERE type = ?)",
                                                  (type_,)).fetchone()[0]:
                continue  # a registry without subject categories takes the legacy kinds
            missing = sorted(row[0] for row in db.execute(_UNKNOWN[kind] + " LIMIT 6", (type_,)))
            if missing:
                raise IntegrityError(missing_message(source, kind, type_, missing))

    def _require(self, id_: str, type_: str) -> None:
        """Refuse (`IntegrityError`) an event naming an entity the registry does not have, inside
        the caller's write transaction."""
        if self._db.execute("SELECT type FROM entity WHERE id = ?", (id_,)).fetchone() != (type_,):
            raise IntegrityError(f"unknown {type_} {id_!r}: nothing was recorded")

    def _subject_references(self, typed: dict[str, str]) -> dict[str, dict[str, int]]:
        """`RegistryView.subject_references` for ids with their types, inside the caller's transaction."""
        found: dict[str, dict[str, int]] = {}
        for kind, type_ in SUBJECT_REFERENCES.items():
            ids = sorted(id_ for id_, t in typed.items() if t == type_)
            if ids:
                for id_, count in self._db.execute(_REFERENCES[kind], (json.dumps(ids),)):
                    found.setdefault(id_, {})[kind] = count
        return found

    def _claim_fingerprint(self, fingerprint: str | None) -> None:
        """Record the key's fingerprint if none is; refuse (roll back) if another one is."""
        if fingerprint is None:
            return
        recorded = self._setting("hmac-key-fingerprint")
        if recorded is None:
            self._set("hmac-key-fingerprint", fingerprint)
        elif recorded != fingerprint:
            raise StoreError(f"the lookup keys in this store were hashed with another secret (fingerprint "
                             f"{recorded[:12]}, this one {fingerprint[:12]}); nothing was loaded")

    def _stage(self, rows: Iterable[SubjectRow]) -> tuple[int, bool]:
        """Append `rows` to the staging tables; return how many there were and whether their ids
        ascend. SQLite stages a batch in another thread (it lets go of the GIL while it works)
        while this one reads and validates the next. Rows are encoded one by one, so that they
        die young: a batch of live rows costs the cyclic collector dearly."""
        count, ids, ascending = 0, [""], True
        with ThreadPoolExecutor(1, thread_name_prefix="subject-staging") as stager:
            staged = None
            iterator = iter(rows)
            while True:
                batch, ids = [], ids[-1:]
                for row in itertools.islice(iterator, _BATCH):
                    batch.append(orjson.dumps(row))
                    ids.append(row.id)
                if not batch:
                    break
                ascending = ascending and all(a < b for a, b in itertools.pairwise(ids))
                text = (b"[" + b",".join(batch) + b"]").decode()
                if staged:
                    staged.result()
                staged = stager.submit(self._db.execute, _STAGE_BATCH, (text,))
                count += len(batch)
            if staged:
                staged.result()
        return count, ascending

    def subject(self, id: str) -> SubjectRow | None:
        with self._lock:
            found = self._db.execute("SELECT kind, records FROM subject WHERE id = ?", (id,)).fetchone()
            if found is None:
                return None
            consents = self._db.execute("SELECT at, purpose, status, notice, channel, expires FROM consent "
                                        "WHERE subject = ? ORDER BY at, purpose, status", (id,)).fetchall()
            disclosed = self.disclosures_of(id)
        return SubjectRow(id=id, kind=found[0], records=json.loads(found[1]),
                          consents=[{f: v for f, v in zip(_CONSENT_FIELDS, row) if v is not None} for row in consents],
                          disclosures=disclosed)

    def subject_by_key(self, key_hash: str) -> str | None:
        with self._lock:
            found = self._db.execute("SELECT subject FROM subject_key WHERE hash = ?", (key_hash,)).fetchone()
        return found and found[0]

    def add_consent(self, id: str, event: Doc, *, actor: str) -> None:
        def work() -> None:
            self._require(event["purpose"], "purpose")
            self._db.execute("INSERT OR IGNORE INTO consent (subject, at, purpose, status, notice, channel, expires) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", (id, *(event.get(f) for f in _CONSENT_FIELDS)))
            self._audit([NewAuditEntry(audit_time(), actor, "update", "consent", id, after=encode(event))])

        self._in_transaction(work)

    def count_subjects(self, systems: Iterable[str]) -> int:
        systems = sorted(set(systems))
        if not systems:
            return 0
        marks = ",".join("?" * len(systems))
        with self._lock:
            return self._db.execute(f"SELECT COUNT(DISTINCT subject) FROM subject_system WHERE system IN ({marks})",
                                    systems).fetchone()[0]

    def count_consenting(self, purposes: Iterable[str]) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(DISTINCT subject) FROM consent WHERE purpose IN "
                                    "(SELECT value FROM json_each(?))", (json.dumps(sorted(set(purposes))),)).fetchone()[0]

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

    def log_access(self, *, actor: str, subject: str, what: str, found: bool = True) -> None:
        read = {"what": what} if found else {"what": what, "found": False}
        self._in_transaction(lambda: self._audit([NewAuditEntry(audit_time(), actor, "read", "subject", subject,
                                                                after=encode(read))]))

    def list_subjects(self, *, after: str | None, limit: int, systems: Iterable[str] | None = None) -> list[SubjectRow]:
        if systems is None:
            query, args = "SELECT id, kind, records FROM subject WHERE id > ? ORDER BY id LIMIT ?", (after or "", limit)
        else:
            query = ("SELECT id, kind, records FROM subject WHERE id IN (SELECT DISTINCT subject FROM subject_system "
                     "WHERE system IN (SELECT value FROM json_each(?)) AND subject > ? ORDER BY subject LIMIT ?) "
                     "ORDER BY id")
            args = (json.dumps(sorted(set(systems))), after or "", limit)
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [SubjectRow(id=id_, kind=kind, records=json.loads(records), consents=[]) for id_, kind, records in rows]

    def subject_total(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM subject").fetchone()[0]
