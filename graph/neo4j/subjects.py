"""Data subjects in the Neo4j backend: indexed nodes beside the registry graph.

    (:Subject {id, kind, records})-[:RECORDED_IN]->(:System)
    (:SubjectKey {hash})-[:IDENTIFIES]->(:Subject)
    (:Subject)-[:CONSENT {status, at, notice, channel, expires}]->(:Purpose)
    (:Subject)-[:DISCLOSED {at, reference}]->(:Flow)      (graph.neo4j.disclosures)

`records` keeps the subject's records as JSON (what a DSAR starts from); the relationships
make "whose data is in this system" and "who withdrew marketing consent" one hop. Subjects are
not `Entity` nodes and do not change the registry's version.

Loading a subject file: `graph.neo4j.subject_load`.

A system or purpose deleted with `force` while subjects refer to it stays as a bare `Entity {id}`
placeholder, which keeps their records and consent history (reads match `:Entity`, writes the
live label).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import neo4j
from neo4j.exceptions import DriverError, Neo4jError

from graph.auditlog import AuditHead, NewAuditEntry, audit_time
from graph.changes import encode
from graph.neo4j import audit
from graph.neo4j.answers import version_of
from graph.store import Doc, IntegrityError
from graph.subjects import SUBJECT_REFERENCES, Concerned, ConsentGroup, PendingLoad, SubjectRow

SUBJECT_SCHEMA = (
    "CREATE CONSTRAINT subject_id IF NOT EXISTS FOR (s:Subject) REQUIRE s.id IS UNIQUE",
    "CREATE CONSTRAINT subject_key_hash IF NOT EXISTS FOR (k:SubjectKey) REQUIRE k.hash IS UNIQUE",
    "CREATE CONSTRAINT derived_data_name IF NOT EXISTS FOR (d:DerivedData) REQUIRE d.name IS UNIQUE",
    "CREATE CONSTRAINT pending_load_entry IF NOT EXISTS FOR (p:PendingLoad) REQUIRE p.entry IS UNIQUE",
)

_CONSENTS = """
UNWIND $rows AS row
MATCH (s:Subject {id: row.subject}), (p:Purpose {id: row.purpose})
MERGE (s)-[c:CONSENT {at: row.at, status: row.status}]->(p)
SET c.notice = row.notice, c.channel = row.channel, c.expires = row.expires
"""
_SUBJECT = """
MATCH (s:Subject {id: $id})
CALL (s) {
  OPTIONAL MATCH (s)-[c:CONSENT]->(p:Entity)
  WITH c, p ORDER BY c.at, p.id, c.status
  RETURN [x IN collect(CASE WHEN c IS NULL THEN NULL ELSE {at: c.at, purpose: p.id, status: c.status,
          notice: c.notice, channel: c.channel, expires: c.expires} END) WHERE x IS NOT NULL] AS consents
}
CALL (s) {
  OPTIONAL MATCH (s)-[d:DISCLOSED]->(f:Entity)
  WITH d, f ORDER BY d.at, f.id
  RETURN [x IN collect(CASE WHEN d IS NULL THEN NULL ELSE {flow: f.id, at: d.at, reference: d.reference} END)
          WHERE x IS NOT NULL] AS disclosures
}
OPTIONAL MATCH (m:RegistryMeta {key: 'registry'})
RETURN s.id AS id, s.kind AS kind, s.records AS records, consents, disclosures,
       coalesce(m.version, 0) AS version, m.epoch AS epoch, m.seq AS seq, m.head AS head
"""
"""A subject with its consents and disclosures, the registry's version (which a `pinned` scope's
first read pins: a DSAR then reads the registry facts it keeps without asking again) and the
audit log's head (which the audit entry of the lookup is chained to, `log_access`)."""
_SUBJECT_BY_KEY = _SUBJECT.replace("MATCH (s:Subject {id: $id})", "MATCH (:SubjectKey {hash: $hash})-[:IDENTIFIES]->(s:Subject)", 1)
"""`_SUBJECT` for the subject a lookup key identifies (in a `pinned` scope: a lookup by e-mail in one round trip)."""
_LIST = """
MATCH (s:Subject) WHERE s.id > $after
RETURN s.id AS id, s.kind AS kind, s.records AS records ORDER BY s.id LIMIT $limit
"""
_LIST_IN = """
MATCH (s:Subject)-[:RECORDED_IN]->(y:System) WHERE y.id IN $systems AND s.id > $after
WITH DISTINCT s ORDER BY s.id LIMIT $limit
RETURN s.id AS id, s.kind AS kind, s.records AS records
"""
_BY_KEY = "MATCH (:SubjectKey {hash: $hash})-[:IDENTIFIES]->(s:Subject) RETURN s.id AS id"
_COUNT = """
MATCH (s:Subject)-[:RECORDED_IN]->(y:Entity) WHERE y.id IN $systems
RETURN count(DISTINCT s) AS count
"""
_CONSENTING = """
MATCH (s:Subject)-[:CONSENT]->(p:Entity) WHERE p.id IN $purposes
RETURN count(DISTINCT s) AS count
"""
_IDS = """
MATCH (s:Subject)-[:RECORDED_IN]->(y:Entity) WHERE y.id IN $systems
RETURN DISTINCT s.id AS id ORDER BY id LIMIT $limit
"""
_CONCERNED = """
CALL () {
  UNWIND $systems AS system MATCH (s:Subject)-[:RECORDED_IN]->(:Entity {id: system}) RETURN s
  UNION
  UNWIND $pairs AS pair MATCH (s:Subject)-[:RECORDED_IN]->(:Entity {id: pair[0]}) WHERE s.kind = pair[1] RETURN s
  UNION
  UNWIND $flows AS flow MATCH (s:Subject)-[d:DISCLOSED]->(:Entity {id: flow}) WHERE $until IS NULL OR d.at <= $until
  RETURN s
}
"""
"""The subjects a `Concerned` describes, each once (`UNION`)."""
_FROM_PURPOSES = """
MATCH (p:Entity) WHERE p.id IN $purposes
MATCH (s:Subject)-[c:CONSENT]->(p)
"""
_FROM_RUN = """
MATCH (s:Subject) WHERE {bounds}
MATCH (s)-[c:CONSENT]->(p:Entity) WHERE p.id IN $purposes
"""
_BOUNDS = {(True, False): "s.id > $after", (False, True): "s.id <= $through",
           (True, True): "s.id > $after AND s.id <= $through"}
"""`_FROM_RUN`'s bounds, by which of them a run has (after, through): written out, so that the
planner seeks the id index's range (`$through IS NULL OR …` would read on to the last id)."""
_GROUPS = """
WITH s, c, p ORDER BY c.at, p.id, c.status
WITH s, collect([c.at, p.id, c.status, c.expires]) AS events
WHERE $every OR any(e IN events WHERE e[2] = 'withdrawn' OR e[3] IS NOT NULL)
CALL (s) { OPTIONAL MATCH (s)-[:RECORDED_IN]->(y:Entity) WITH DISTINCT y.id AS system ORDER BY system
           RETURN collect(system) AS systems }
CALL (s) { OPTIONAL MATCH (s)-[d:DISCLOSED]->(f:Entity) WITH f.id AS flow, d.at AS at ORDER BY flow, at
           RETURN [pair IN collect([flow, at]) WHERE pair[0] IS NOT NULL] AS disclosed }
RETURN s.kind AS kind, systems, disclosed, events, count(*) AS subjects
"""
"""`GraphStore.consent_groups`, after `_FROM_PURPOSES` (every subject) or `_FROM_RUN` (ids after
$after and up to $through): subjects with a consent event for one of $purposes (with $every false,
only those with a withdrawal or an `expires` among them), grouped by what decides the rule."""
_RUNS = """
MATCH (p:Entity) WHERE p.id IN $purposes
MATCH (s:Subject)-[c:CONSENT]->(p)
WITH s, collect([c.status, c.expires]) AS events
WHERE $every OR any(e IN events WHERE e[0] = 'withdrawn' OR e[1] IS NOT NULL)
WITH s.id AS id ORDER BY id
WITH collect(id) AS ids
RETURN [i IN range($size - 1, size(ids) - 1, $size) WHERE i < size(ids) | ids[i]] AS bounds
"""
"""`GraphStore.consent_runs`: every $size-th id of the subjects `_GROUPS` covers, ascending."""
_RECORDED_FINGERPRINT = "OPTIONAL MATCH (m:RegistryMeta {key: 'registry'}) RETURN m.key_fingerprint AS recorded"

_REFERENCES = {  # kind (`graph.subjects.SUBJECT_REFERENCES`) -> (row, n subjects) per row of `$rows` (`_reference_row`)
    "records": "MATCH (s:Subject)-[:RECORDED_IN]->(:Entity {id: row.id}) WITH row, count(DISTINCT s) AS n",
    "record categories": "MATCH (s:Subject) WHERE s.records =~ row.in_categories WITH row, count(s) AS n",
    "record sources": "MATCH (s:Subject) WHERE s.records =~ row.as_source WITH row, count(s) AS n",
    "consents": "MATCH (s:Subject)-[:CONSENT]->(:Entity {id: row.id}) WITH row, count(DISTINCT s) AS n",
    "kind": "MATCH (s:Subject {kind: row.id}) WITH row, count(s) AS n",
    "disclosures": "MATCH (s:Subject)-[:DISCLOSED]->(:Entity {id: row.id}) WITH row, count(DISTINCT s) AS n",
}
_TYPES = "UNWIND $ids AS id MATCH (n:Entity {id: id}) WHERE n.type IS NOT NULL RETURN collect([n.id, n.type]) AS found"

_PENDING = """
MATCH (p:PendingLoad) RETURN p.load AS pending
UNION ALL
MATCH (m:RegistryMeta {key: 'registry'}) WHERE m.subject_load IS NOT NULL RETURN m.subject_load AS pending
"""
"""Every load pending (`graph.neo4j.subject_load._SET_PENDING`), and the one that a store of an older
version kept on its meta node."""

_DERIVED = "OPTIONAL MATCH (d:DerivedData {name: $name}) RETURN d.data AS data"
_KEEP_DERIVED = """
OPTIONAL MATCH (old:DerivedData {name: $name}) DELETE old
WITH count(*) AS dropped
CALL () { UNWIND $subjects AS id MATCH (s:Subject {id: id}) RETURN count(s) AS found }
WITH found WHERE found = size($subjects)
CREATE (:DerivedData {name: $name, data: $data, subjects: $subjects})
"""
"""`GraphStore.derived`: a node per name, apart from the registry's entities and the audit log,
with the ids of the subjects it names (`graph.neo4j.erasure` drops it with any of them); where
one of them is gone (erased since it was read), nothing is kept."""
_FORGET_LOADS = ("MATCH (d:DerivedData) WHERE d.name STARTS WITH $prefix WITH d ORDER BY d.name DESC SKIP $kept "
                 "DELETE d")
"""All but the last `graph.subjects.LOADS_KEPT` loads' ranges (`graph.subjects.LOADED`)."""

_CONSENT_FIELDS = ("at", "purpose", "status", "notice", "channel", "expires")


class SubjectGraph:
    """The subject half of `Neo4jStore` (which provides `_session`, `_reader`, `_errors`, `_query` and `_pins`);
    the load is `graph.neo4j.subject_load.SubjectLoad`."""

    _audit_head: AuditHead | None = None
    """The audit log's head as this store last saw it (`log_access` chains its entry to it)."""

    def pending_loads(self) -> tuple[PendingLoad, ...]:
        found = (PendingLoad(**json.loads(row["pending"])) for row in self._query(_PENDING))
        return tuple(sorted(found, key=lambda pending: pending.started))

    def derived(self, name: str) -> bytes | None:
        found = self._query(_DERIVED, name=name)[0]["data"]
        return bytes(found) if found is not None else None

    def keep_derived(self, name: str, data: bytes, subjects: Iterable[str] = ()) -> None:
        with self._errors(), self._session() as session:
            session.execute_write(lambda tx: tx.run(_KEEP_DERIVED, name=name, data=data,
                                                    subjects=sorted(set(subjects))).consume())

    def key_fingerprint(self) -> str | None:
        return self._query(_RECORDED_FINGERPRINT)[0]["recorded"]

    def subject(self, id: str) -> SubjectRow | None:
        pin = self._pins.current()
        if pin is not None and pin.subject is not None and pin.subject.id == id:
            return pin.subject  # read with its lookup by key, in this scope
        records = self._query(_SUBJECT, id=id)
        return self._subject_row(records[0]) if records else None

    def subject_by_key(self, key_hash: str) -> str | None:
        """The id of the subject `key_hash` identifies; in a `pinned` scope the subject itself is
        read in the same statement and kept for the scope's `subject` call."""
        pin = self._pins.current()
        if pin is None:
            records = self._query(_BY_KEY, hash=key_hash)
            return records[0]["id"] if records else None
        records = self._query(_SUBJECT_BY_KEY, hash=key_hash)
        if not records:
            return None
        pin.subject = self._subject_row(records[0])
        return pin.subject.id

    def _subject_row(self, found: neo4j.Record) -> SubjectRow:
        """The row of a `_SUBJECT` record; the version and audit head it read are noted (a pin's, `log_access`'s)."""
        self._pins.learn(version_of(found), found["version"])
        if found["head"]:
            self._audit_head = AuditHead(found["seq"], found["head"])
        return SubjectRow(id=found["id"], kind=found["kind"], records=json.loads(found["records"]),
                          consents=[{f: c[f] for f in _CONSENT_FIELDS if c[f] is not None} for c in found["consents"]],
                          disclosures=[{k: v for k, v in d.items() if v is not None} for d in found["disclosures"]])

    def add_consent(self, id: str, event: Doc, *, actor: str) -> None:
        def work(tx: neo4j.ManagedTransaction) -> None:
            require(tx, event["purpose"], "purpose")
            require_subject(tx, id)
            tx.run(_CONSENTS, rows=[{"subject": id, **{f: event.get(f) for f in _CONSENT_FIELDS}}]).consume()
            _audit(tx, actor, "update", "consent", id, event)

        with self._errors(), self._session() as session:
            session.execute_write(neo4j.unit_of_work(timeout=self.busy_timeout)(work))

    def subject_references(self, typed: dict[str, str]) -> dict[str, dict[str, int]]:
        with self._errors(), self._reader() as session:
            return session.execute_read(subject_references, typed)

    def count_subjects(self, systems: Iterable[str]) -> int:
        return self._query(_COUNT, systems=sorted(set(systems)))[0]["count"]

    def count_consenting(self, purposes: Iterable[str]) -> int:
        return self._query(_CONSENTING, purposes=sorted(set(purposes)))[0]["count"]

    def consent_groups(self, purposes: Iterable[str], *, every: bool = True,
                       run: tuple[str | None, str | None] = (None, None)) -> list[ConsentGroup]:
        return self._consent_groups(purposes, every, run)

    def consent_runs(self, purposes: Iterable[str], *, every: bool = True, size: int
                     ) -> tuple[list[str], list[list[tuple[ConsentGroup, int]]]]:
        bounds = self._query(_RUNS, purposes=sorted(set(purposes)), every=every, size=size)[0]["bounds"]
        return bounds, [[(group, group.subjects) for group in self._consent_groups(purposes, every, run)]
                        for run in zip([None, *bounds], [*bounds, None])]

    def _consent_groups(self, purposes: Iterable[str], every: bool, run: tuple[str | None, str | None]
                        ) -> list[ConsentGroup]:
        after, through = run
        query = _FROM_PURPOSES if run == (None, None) else \
            _FROM_RUN.format(bounds=_BOUNDS[after is not None, through is not None])
        return [ConsentGroup.of(r["kind"], r["systems"], r["disclosed"], r["events"], r["subjects"])
                for r in self._query(query + _GROUPS, purposes=sorted(set(purposes)), every=every, after=after,
                                     through=through)]


    def subject_ids(self, systems: Iterable[str], limit: int) -> list[str]:
        return [record["id"] for record in self._query(_IDS, systems=sorted(set(systems)), limit=limit)]

    def count_concerned(self, concerned: Concerned) -> int:
        every, pairs, flows = concerned.parts()
        return self._query(_CONCERNED + "RETURN count(s) AS count", systems=every, pairs=pairs, flows=flows,
                           until=concerned.until)[0]["count"]

    def concerned_ids(self, concerned: Concerned, limit: int) -> list[str]:
        every, pairs, flows = concerned.parts()
        return [record["id"] for record in self._query(_CONCERNED + "RETURN s.id AS id ORDER BY id LIMIT $limit",
                                                       systems=every, pairs=pairs, flows=flows,
                                                       until=concerned.until, limit=limit)]

    def log_access(self, *, actor: str, subject: str, what: str, found: bool = True) -> None:
        """The entry goes after the audit head last seen (`audit.append_after`: one round trip),
        or, when another writer has moved the head since, in a transaction that takes the lock first."""
        read = {"what": what} if found else {"what": what, "found": False}
        entry = NewAuditEntry(audit_time(), actor, "read", "subject", subject, after=encode(read))
        with self._errors(), self._session() as session:
            head = self._audit_head
            if head is not None:
                try:
                    head = audit.append_after(session, head, entry, self.busy_timeout)
                except (Neo4jError, DriverError) as error:
                    if not error.is_retryable():
                        raise
                    head = None
            if head is None:
                head = session.execute_write(neo4j.unit_of_work(timeout=self.busy_timeout)(
                    lambda tx: audit.append(tx, [entry])))
            self._audit_head = head

    def log_accesses(self, *, actor: str, subjects: list[str], what: str) -> None:
        at, read = audit_time(), encode({"what": what})
        entries = [NewAuditEntry(at, actor, "read", "subject", subject, after=read) for subject in subjects]
        with self._errors(), self._session() as session:
            self._audit_head = session.execute_write(neo4j.unit_of_work(timeout=self.busy_timeout)(
                lambda tx: audit.append(tx, entries)))

    def list_subjects(self, *, after: str | None, limit: int, systems: Iterable[str] | None = None) -> list[SubjectRow]:
        if systems is None:
            found = self._query(_LIST, after=after or "", limit=limit)
        else:
            found = self._query(_LIST_IN, systems=sorted(set(systems)), after=after or "", limit=limit)
        return [SubjectRow(id=r["id"], kind=r["kind"], records=json.loads(r["records"]), consents=[]) for r in found]

    def subject_total(self) -> int:
        return self._query("MATCH (s:Subject) RETURN count(s) AS count")[0]["count"]


def require(tx: neo4j.ManagedTransaction, id_: str, type_: str) -> None:
    """Take the writers' lock, then refuse (`IntegrityError`) an event naming an entity the
    registry does not have: with the lock first, it cannot go before the event commits."""
    audit.lock(tx)
    if tx.run(_TYPES, ids=[id_]).single()["found"] != [[id_, type_]]:
        raise IntegrityError(f"unknown {type_} {id_!r}: nothing was recorded")


def require_subject(tx: neo4j.ManagedTransaction, id_: str) -> None:
    """Refuse (`IntegrityError`) an event for a subject the store does not hold (erased since the
    caller looked it up); call after `require`, which takes the writers' lock."""
    if tx.run("MATCH (s:Subject {id: $id}) RETURN count(s) AS n", id=id_).single()["n"] == 0:
        raise IntegrityError(f"unknown data subject {id_!r} (erased meanwhile?): nothing was recorded")


def subject_references(tx: neo4j.ManagedTransaction, typed: dict[str, str]) -> dict[str, dict[str, int]]:
    """`RegistryView.subject_references` for ids with their types, inside the caller's transaction
    (a write's, or the read transaction of `GraphStore.subject_references`)."""
    found: dict[str, dict[str, int]] = {}
    for kind, type_ in SUBJECT_REFERENCES.items():
        rows = [_reference_row(id_) for id_, t in sorted(typed.items()) if t == type_]
        if rows:
            query = f"UNWIND $rows AS row {_REFERENCES[kind]} WHERE n > 0 RETURN collect([row.id, n]) AS found"
            for id_, n in tx.run(query, rows=rows).single()["found"]:
                found.setdefault(id_, {})[kind] = n
    return found


def _reference_row(id_: str) -> dict[str, str]:
    """An id, and Java regular expressions matching a subject's `records` (JSON) that name it
    among a record's categories or as its source."""
    quoted = "\\Q" + json.dumps(id_).replace("\\E", "\\E\\\\E\\Q") + "\\E"
    return {"id": id_, "in_categories": f'(?s).*"categories":\\s*\\[[^\\]]*{quoted}.*',
            "as_source": f'(?s).*"source":\\s*{quoted}.*'}


def _audit(tx, actor: str, action: str, type_: str, entity: str, after: dict) -> AuditHead:
    """One audit entry, chained after the registry's own (the meta node serialises writers); the new head."""
    return audit.append(tx, [NewAuditEntry(audit_time(), actor, action, type_, entity, after=encode(after))])
