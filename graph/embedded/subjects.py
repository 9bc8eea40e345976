"""Data subjects in the embedded store: SQLite tables beside the registry, never in memory.

`subject` holds one row per subject (kind, records and key hashes as JSON); `subject_system`
indexes subjects by the systems that hold them (for counts and lists), `subject_key` maps
lookup-key hashes to subjects, and `consent` keeps every consent event (`disclosure`, in
`graph.embedded.disclosures`, every disclosure). All are WITHOUT ROWID tables keyed for the
lookups they serve, so a DSAR is a handful of index probes at any size.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable

import orjson

from graph.auditlog import NewAuditEntry, audit_time
from graph.changes import encode
from graph.embedded import disclosures
from graph.embedded.subject_load import CONSENT_CONFLICT, SubjectLoad
from graph.store import Doc, IntegrityError
from graph.subjects import SUBJECT_REFERENCES, Concerned, ConsentGroup, SubjectRow, missing_message

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


_CONSENT_FIELDS = ("at", "purpose", "status", "notice", "channel", "expires")

_IDS = "SELECT value FROM json_each(?)"
_CONCERNED = """
SELECT subject FROM subject_system WHERE system IN (SELECT value FROM json_each(?1))
UNION
SELECT r.subject FROM json_each(?2) p JOIN subject_system r ON r.system = p.value ->> 0
                 JOIN subject s ON s.id = r.subject AND s.kind = p.value ->> 1
UNION
SELECT subject FROM disclosure WHERE flow IN (SELECT value FROM json_each(?3)) AND (?4 IS NULL OR at <= ?4)
"""
"""The subjects a `Concerned` describes (?1 systems for every kind, ?2 [system, kind] pairs, ?3
flows, ?4 until), each once."""


def _concerned(concerned: Concerned) -> tuple[str, str, str, str | None]:
    every, pairs, flows = concerned.parts()
    return json.dumps(every), json.dumps(pairs), json.dumps(flows), concerned.until


_GROUPS = """
SELECT {id}s.kind, (SELECT group_concat(r.value ->> 'system', char(31)) FROM json_each(s.records) r),
       (SELECT json_group_array(json_array(flow, at)) FROM (SELECT flow, at FROM disclosure d
                                                            WHERE d.subject = s.id ORDER BY 1, 2)),
       w.events
FROM (SELECT subject, json_group_array(json_array(at, purpose, status, expires)) AS events FROM consent
      WHERE purpose IN (SELECT value FROM json_each(:purposes)){run} GROUP BY subject
      HAVING :every OR MAX(status = 'withdrawn' OR expires IS NOT NULL)) w
JOIN subject s ON s.id = w.subject{order}"""
"""Per subject with a consent event for the purposes :purposes (with :every false, only those with
a withdrawal or an `expires` among those events) within `{run}` (`_RUN`: a range of the consent
table's key): its kind, its records' systems (as recorded, joined by U+001F), its
disclosures and those events (JSON; the consent table's key orders them by `at`, purpose and
status), after its id with `{id}` "s.id, " and by it with `{order}` " ORDER BY s.id" (`consent_runs`).
`consent_groups` counts alike rows and decodes each kind of row once: SQLite's own
`GROUP BY` over these texts, or sorted systems per subject, cost twice as much."""
_RUN = {(False, False): "", (True, False): " AND subject > :after", (False, True): " AND subject <= :through",
        (True, True): " AND subject > :after AND subject <= :through"}
"""`_GROUPS`' run of subjects, by which of its bounds (:after, :through) it has: only bounds written
out let SQLite range over the key (`:after IS NULL OR …` reads the whole table for every run)."""
_REFERENCES = {  # kind (`graph.subjects.SUBJECT_REFERENCES`) -> (id, subjects) for the ids given as a JSON array
    "records": f"SELECT system, COUNT(*) FROM subject_system WHERE system IN ({_IDS}) GROUP BY 1",
    "record categories": "SELECT c.value, COUNT(DISTINCT s.id) FROM subject s, json_each(s.records) r, "
                         f"json_each(r.value, '$.categories') c WHERE c.value IN ({_IDS}) GROUP BY 1",
    "record sources": "SELECT r.value ->> 'source', COUNT(DISTINCT s.id) FROM subject s, json_each(s.records) r "
                      f"WHERE r.value ->> 'source' IN ({_IDS}) GROUP BY 1",
    "consents": f"SELECT purpose, COUNT(DISTINCT subject) FROM consent WHERE purpose IN ({_IDS}) GROUP BY 1",
    "kind": f"SELECT kind, COUNT(*) FROM subject WHERE kind IN ({_IDS}) GROUP BY 1",
    "disclosures": f"SELECT flow, COUNT(DISTINCT subject) FROM disclosure WHERE flow IN ({_IDS}) GROUP BY 1",
}
# What one batch of a staged load (`{lines}`: `graph.embedded.subject_load`, bounds ?1 and ?2) names that the
# registry lacks, by kind of reference (a few, for the message). Each distinct id is one probe of the entity
# table's primary key: a scan of `entity` by type would read every document, for every batch.
_UNKNOWN = {kind: f"SELECT named FROM ({distinct}) "
                  "WHERE NOT EXISTS (SELECT 1 FROM entity WHERE id = named AND type = ?3) ORDER BY 1"
            for kind, distinct in {
    "records": "SELECT DISTINCT r.value ->> 'system' AS named FROM load_subject l, json_each(l.records) r WHERE {lines}",
    "record categories": "SELECT DISTINCT c.value AS named FROM load_subject, json_each(records) r, "
                         "json_each(r.value, '$.categories') c WHERE {lines}",
    "record sources": "SELECT DISTINCT r.value ->> 'source' AS named FROM load_subject, json_each(records) r "
                      "WHERE {lines} AND r.value ->> 'source' IS NOT NULL",
    "consents": "SELECT DISTINCT c.value ->> 'purpose' AS named FROM load_subject l, json_each(l.consents) c "
                "WHERE {lines}",
    "kind": "SELECT DISTINCT kind AS named FROM load_subject WHERE {lines}",
    "disclosures": "SELECT DISTINCT d.value ->> 'flow' AS named FROM load_subject l, json_each(l.disclosures) d "
                   "WHERE {lines}",
}.items()}


class _Decoder:
    """Makes `ConsentGroup`s of `_GROUPS`' rows, each kind of row decoded once however many runs
    it comes in: rows that differ only in the order of their systems share one group (`alike`)."""

    def __init__(self) -> None:
        self.rows: dict[tuple, ConsentGroup] = {}
        self.groups: dict[tuple, ConsentGroup] = {}

    def group(self, row: tuple) -> ConsentGroup:
        """The group of a row (kind, systems, disclosed, events as read), with no subjects counted."""
        found = self.rows.get(row)
        if found is None:
            kind, systems, disclosed, events = row
            parts = (kind, tuple(sorted(set(systems.split("\x1f"))) if systems else ()), disclosed, events)
            found = self.groups.get(parts)
            if found is None:
                found = self.groups[parts] = ConsentGroup.of(kind, parts[1], orjson.loads(disclosed),
                                                             orjson.loads(events), 0, alike=parts)
            self.rows[row] = found
        return found

    def counted(self, alike: Counter) -> list[tuple[ConsentGroup, int]]:
        """Rows counted alike as (group, subjects) pairs; a group may come twice (its systems in two orders)."""
        return [(self.group(row), count) for row, count in alike.items()]


class SubjectTables(SubjectLoad):
    """The subject half of `EmbeddedStore` (which provides `_db`, `_reader`, `_audit` and `_in_transaction`;
    loads come from `graph.embedded.subject_load`)."""

    def _check_named(self, db: sqlite3.Connection, source: str, lines: str, bound: tuple) -> None:
        """Refuse a batch of a staged load (on the load's connection `db`, in its write transaction;
        `lines` selects the batch's lines by `bound`) that names an entity the registry no longer has:
        it was checked before, and a writer may have deleted it since (`IntegrityError`)."""
        for kind, type_ in SUBJECT_REFERENCES.items():
            if kind == "kind" and not db.execute("SELECT EXISTS (SELECT 1 FROM entity WHERE type = ?)",
                                                  (type_,)).fetchone()[0]:
                continue  # a registry without subject categories takes the legacy kinds
            query = _UNKNOWN[kind].format(lines=lines) + " LIMIT 6"
            missing = [row[0] for row in db.execute(query, (*bound, type_))]
            if missing:
                raise IntegrityError(missing_message(source, kind, type_, missing))

    def _require(self, id_: str, type_: str) -> None:
        """Refuse (`IntegrityError`) an event naming an entity the registry does not have, inside
        the caller's write transaction."""
        if self._db.execute("SELECT type FROM entity WHERE id = ?", (id_,)).fetchone() != (type_,):
            raise IntegrityError(f"unknown {type_} {id_!r}: nothing was recorded")

    def _require_subject(self, id_: str) -> None:
        """Refuse (`IntegrityError`) an event for a subject the store does not hold (erased by another
        writer since the caller looked it up), inside the caller's write transaction."""
        if self._db.execute("SELECT 1 FROM subject WHERE id = ?", (id_,)).fetchone() is None:
            raise IntegrityError(f"unknown data subject {id_!r} (erased meanwhile?): nothing was recorded")

    def _subject_references(self, typed: dict[str, str], db: sqlite3.Connection | None = None) -> dict[str, dict[str, int]]:
        """`RegistryView.subject_references` for ids with their types, on `db` (default the writer,
        inside the caller's transaction)."""
        db = db or self._db
        found: dict[str, dict[str, int]] = {}
        for kind, type_ in SUBJECT_REFERENCES.items():
            ids = sorted(id_ for id_, t in typed.items() if t == type_)
            if ids:
                for id_, count in db.execute(_REFERENCES[kind], (json.dumps(ids),)):
                    found.setdefault(id_, {})[kind] = count
        return found

    def subject_references(self, typed: dict[str, str]) -> dict[str, dict[str, int]]:
        with self._reader() as db:
            return self._subject_references(typed, db)

    def subject(self, id: str) -> SubjectRow | None:
        with self._reader() as db:
            db.execute("BEGIN")  # the row, its consents and its disclosures from one state
            try:
                found = db.execute("SELECT kind, records FROM subject WHERE id = ?", (id,)).fetchone()
                if found is None:
                    return None
                consents = db.execute("SELECT at, purpose, status, notice, channel, expires FROM consent "
                                      "WHERE subject = ? ORDER BY at, purpose, status", (id,)).fetchall()
                disclosed = self.disclosures_of(id, db)
            finally:
                db.execute("COMMIT")
        return SubjectRow(id=id, kind=found[0], records=json.loads(found[1]),
                          consents=[{f: v for f, v in zip(_CONSENT_FIELDS, row) if v is not None} for row in consents],
                          disclosures=disclosed)

    def subject_by_key(self, key_hash: str) -> str | None:
        with self._reader() as db:
            found = db.execute("SELECT subject FROM subject_key WHERE hash = ?", (key_hash,)).fetchone()
        return found and found[0]

    def add_consent(self, id: str, event: Doc, *, actor: str) -> None:
        def work() -> None:
            self._require_subject(id)
            self._require(event["purpose"], "purpose")
            self._db.execute("INSERT INTO consent (subject, at, purpose, status, notice, channel, expires) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)" + CONSENT_CONFLICT, (id, *(event.get(f) for f in _CONSENT_FIELDS)))
            self._audit([NewAuditEntry(audit_time(), actor, "update", "consent", id, after=encode(event))])

        self._in_transaction(work)

    def count_subjects(self, systems: Iterable[str]) -> int:
        systems = sorted(set(systems))
        if not systems:
            return 0
        marks = ",".join("?" * len(systems))
        with self._reader() as db:
            return db.execute(f"SELECT COUNT(DISTINCT subject) FROM subject_system WHERE system IN ({marks})",
                                    systems).fetchone()[0]

    def count_consenting(self, purposes: Iterable[str]) -> int:
        with self._reader() as db:
            return db.execute("SELECT COUNT(DISTINCT subject) FROM consent WHERE purpose IN "
                                    "(SELECT value FROM json_each(?))", (json.dumps(sorted(set(purposes))),)).fetchone()[0]

    def consent_groups(self, purposes: Iterable[str], *, every: bool = True,
                       run: tuple[str | None, str | None] = (None, None)) -> list[ConsentGroup]:
        with self._reader() as db:
            query = _GROUPS.format(run=_RUN[run[0] is not None, run[1] is not None], id="", order="")
            alike = Counter(db.execute(query, {"purposes": json.dumps(sorted(set(purposes))), "every": int(every),
                                               "after": run[0], "through": run[1]}))
        found: dict[tuple, ConsentGroup] = {}
        subjects: dict[tuple, int] = Counter()
        for group, count in _Decoder().counted(alike):
            found[group.alike] = group
            subjects[group.alike] += count
        return [found[key]._replace(subjects=count) for key, count in subjects.items()]

    def consent_runs(self, purposes: Iterable[str], *, every: bool = True, size: int
                     ) -> tuple[list[str], list[list[tuple[ConsentGroup, int]]]]:
        """One read of every subject in id order, counted run by run; each kind of row decoded once."""
        bounds, runs, alike = [], [], Counter()
        query = _GROUPS.format(run="", id="s.id, ", order=" ORDER BY s.id")
        with self._reader() as db:
            rows = db.execute(query, {"purposes": json.dumps(sorted(set(purposes))), "every": int(every)})
            for number, row in enumerate(rows, 1):
                alike[row[1:]] += 1
                if number % size == 0:
                    bounds.append(row[0])
                    runs.append(alike)
                    alike = Counter()
        runs.append(alike)
        decoder = _Decoder()
        return bounds, [decoder.counted(run) for run in runs]

    def subject_ids(self, systems: Iterable[str], limit: int) -> list[str]:
        systems = sorted(set(systems))
        marks = ",".join("?" * len(systems))
        with self._reader() as db:
            rows = db.execute(f"SELECT DISTINCT subject FROM subject_system WHERE system IN ({marks}) "
                                    "ORDER BY subject LIMIT ?", (*systems, limit)).fetchall()
        return [row[0] for row in rows]

    def count_concerned(self, concerned: Concerned) -> int:
        with self._reader() as db:
            return db.execute(f"SELECT COUNT(*) FROM ({_CONCERNED})", _concerned(concerned)).fetchone()[0]

    def concerned_ids(self, concerned: Concerned, limit: int) -> list[str]:
        with self._reader() as db:
            rows = db.execute(f"SELECT subject FROM ({_CONCERNED}) ORDER BY subject LIMIT ?5",
                              (*_concerned(concerned), limit)).fetchall()
        return [row[0] for row in rows]

    def log_access(self, *, actor: str, subject: str, what: str, found: bool = True) -> None:
        read = {"what": what} if found else {"what": what, "found": False}
        self._in_transaction(lambda: self._audit([NewAuditEntry(audit_time(), actor, "read", "subject", subject,
                                                                after=encode(read))]))

    def log_accesses(self, *, actor: str, subjects: list[str], what: str) -> None:
        at, read = audit_time(), encode({"what": what})
        self._in_transaction(lambda: self._audit([NewAuditEntry(at, actor, "read", "subject", subject, after=read)
                                                  for subject in subjects]))

    def list_subjects(self, *, after: str | None, limit: int, systems: Iterable[str] | None = None) -> list[SubjectRow]:
        if systems is None:
            query, args = "SELECT id, kind, records FROM subject WHERE id > ? ORDER BY id LIMIT ?", (after or "", limit)
        else:
            query = ("SELECT id, kind, records FROM subject WHERE id IN (SELECT DISTINCT subject FROM subject_system "
                     "WHERE system IN (SELECT value FROM json_each(?)) AND subject > ? ORDER BY subject LIMIT ?) "
                     "ORDER BY id")
            args = (json.dumps(sorted(set(systems))), after or "", limit)
        with self._reader() as db:
            rows = db.execute(query, args).fetchall()
        return [SubjectRow(id=id_, kind=kind, records=json.loads(records), consents=[]) for id_, kind, records in rows]

    def subject_total(self) -> int:
        with self._reader() as db:
            return db.execute("SELECT COUNT(*) FROM subject").fetchone()[0]
