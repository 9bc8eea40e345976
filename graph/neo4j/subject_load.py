"""Loading a subject file into the Neo4j store (`GraphStore.write_subjects`).

A subject file is read and validated whole first (spooled to a temporary file, in constant
memory), then applied `SUBJECT_BATCH` subjects per transaction, which keeps each transaction
well inside the server's transaction memory (`db.memory.transaction.total.max`) and lets other
writers in between. A file of one batch applies whole or not at all; a larger one is recorded
as pending on the meta node (`subject_load`) until its last batch, and loading the same file
again completes one that was killed (`GraphStore.write_subjects`). Each batch takes the writers'
lock and checks, in its transaction, that what it names is still in the registry.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Callable, Iterable
from itertools import islice

import neo4j
import orjson

from graph.neo4j import audit, disclosures
from graph.neo4j.subjects import _ANY_SUBJECT_CATEGORY, _CONSENT_FIELDS, _CONSENTS, _TYPES, _audit
from graph.store import (SUBJECT_BATCH, SUBJECT_REFERENCES, EncodedSubject, IntegrityError, PendingLoad, Progress,
                         StoreError, SubjectRow, audit_time, encoded_subject, keyed, missing_message, partly_loaded)

_FORGET = """
UNWIND $ids AS id
MATCH (s:Subject {id: id})
OPTIONAL MATCH (s)-[r:RECORDED_IN]->()
DELETE r
WITH DISTINCT s
OPTIONAL MATCH (k:SubjectKey)-[:IDENTIFIES]->(s)
DETACH DELETE k
"""
_UPSERT = """
UNWIND $rows AS row
MERGE (s:Subject {id: row.id})
SET s.kind = row.kind, s.records = row.records
WITH s, row
UNWIND row.systems AS system
MATCH (y:System {id: system})
CREATE (s)-[:RECORDED_IN]->(y)
"""
"""Subjects with their records' systems (`_FORGET` removed the old ones first, and each system
comes once per subject, so `CREATE` is right and spares a look at the system's many others)."""
_KEYS = """
UNWIND $rows AS row
MATCH (s:Subject {id: row.subject})
MERGE (k:SubjectKey {hash: row.hash})
WITH k, s
OPTIONAL MATCH (k)-[old:IDENTIFIES]->()
DELETE old
MERGE (k)-[:IDENTIFIES]->(s)
"""
_FINGERPRINT = """
MERGE (m:RegistryMeta {key: 'registry'})
ON CREATE SET m.version = 0, m.seq = 0
SET m.key_fingerprint = coalesce(m.key_fingerprint, $fingerprint)
RETURN m.key_fingerprint AS recorded
"""
_SET_PENDING = """
MERGE (m:RegistryMeta {key: 'registry'})
ON CREATE SET m.version = 0, m.seq = 0
SET m.subject_load = $pending
"""

_STATEMENT_ROWS = 5_000


class SubjectLoad:
    """The subject load of `Neo4jStore` (which provides `_session` and `_errors`)."""

    def write_subjects(self, rows: Iterable[SubjectRow | EncodedSubject], *, actor: str, source: str,
                       key_fingerprint: Callable[[], str | None] | None = None,
                       progress: Progress | None = None, checked_at: int | None = None) -> int:
        with tempfile.TemporaryFile(prefix="dsa-subjects-") as spool:
            count, keys = 0, False
            for row in rows:  # read and validated whole before anything is written
                spool.write(encoded_subject(row) + b"\n")
                count += 1
                keys = keys or keyed(row)
            fingerprint = key_fingerprint() if keys and key_fingerprint else None
            spool.seek(0)
            lines = (SubjectRow(**orjson.loads(line)) for line in spool)
            pending = PendingLoad(source=source, subjects=count, applied=0, started=audit_time(), actor=actor)
            done, batches = 0, max(1, -(-count // SUBJECT_BATCH))
            for number in range(1, batches + 1):
                batch = list(islice(lines, SUBJECT_BATCH))
                first, last = number == 1, number == batches
                try:
                    with self._errors(), self._session() as session:
                        session.execute_write(_apply_batch, batch, dataclasses.replace(pending, applied=done),
                                              fingerprint if first else None, batches > 1, first, last)
                except (IntegrityError, StoreError) as error:  # a refusal, a busy or failing server
                    raise partly_loaded(error, source, done, count) from None
                done += len(batch)
                if progress:
                    progress(done, count)
        return count


def _name(named: dict[str, set[str]], rows: list[SubjectRow]) -> None:
    """Add what `rows` refer to, by kind of reference, to `named`."""
    for r in rows:
        named["kind"].add(r.kind)
        for record in r.records:
            named["records"].add(record["system"])
            named["record categories"].update(record.get("categories") or ())
            if record.get("source"):
                named["record sources"].add(record["source"])
        named["consents"].update(c["purpose"] for c in r.consents)
        named["disclosures"].update(d["flow"] for d in r.disclosures)


def _check_named(tx: neo4j.Transaction | neo4j.ManagedTransaction, named: dict[str, set[str]], source: str) -> None:
    """Refuse (`IntegrityError`) subject data naming entities the registry does not have, as this
    transaction (holding the writers' lock) sees it."""
    ids = sorted(set().union(*named.values()))
    types = dict(tx.run(_TYPES, ids=ids).single()["found"]) if ids else {}
    for kind, type_ in SUBJECT_REFERENCES.items():
        missing = sorted(id_ for id_ in named[kind] if types.get(id_) != type_)
        if missing and kind == "kind" and not tx.run(_ANY_SUBJECT_CATEGORY).single()["found"]:
            continue  # a registry without subject categories takes the legacy kinds
        if missing:
            raise IntegrityError(missing_message(source, kind, type_, missing))


def _apply_batch(tx: neo4j.ManagedTransaction, batch: list[SubjectRow], load: PendingLoad, fingerprint: str | None,
                 batched: bool, first: bool, last: bool) -> None:
    """One batch of a load in one transaction: its subjects whole, the fingerprint claimed with the
    first, the pending-load record kept up to date while a file of several batches applies, the load
    audited when such a file starts applying and when any file ends (rerun from the start when the
    driver retries). The writers' lock comes first, so what the batch names (checked here) cannot
    go before it commits."""
    audit.lock(tx)
    named: dict[str, set[str]] = {kind: set() for kind in SUBJECT_REFERENCES}
    _name(named, batch)
    _check_named(tx, named, load.source)
    if fingerprint is not None:
        recorded = tx.run(_FINGERPRINT, fingerprint=fingerprint).single()["recorded"]
        if recorded != fingerprint:
            raise StoreError(f"the lookup keys in this store were hashed with another secret (fingerprint "
                             f"{recorded[:12]}, this one {fingerprint[:12]}); nothing was loaded")
    if first and batched:
        _audit(tx, load.actor, "load", "subject-file", load.source, {"subjects": load.subjects, "state": "started"})
    for part in (batch[i:i + _STATEMENT_ROWS] for i in range(0, len(batch), _STATEMENT_ROWS)):
        latest = list({r.id: r for r in part}.values())  # a subject's last line wins
        tx.run(_FORGET, ids=[r.id for r in latest]).consume()
        tx.run(_UPSERT, rows=[{"id": r.id, "kind": r.kind, "records": json.dumps(r.records),
                               "systems": list(dict.fromkeys(rec["system"] for rec in r.records))}
                              for r in latest]).consume()
        tx.run(_KEYS, rows=[{"subject": r.id, "hash": h} for r in latest for h in r.key_hashes]).consume()
        tx.run(_CONSENTS, rows=[{"subject": r.id, **{f: c.get(f) for f in _CONSENT_FIELDS}}
                                for r in part for c in r.consents]).consume()
        if disclosed := disclosures.rows(part):
            tx.run(disclosures.MERGE_ROWS, rows=disclosed).consume()
    if last:
        if batched:
            tx.run(_SET_PENDING, pending=None).consume()
        _audit(tx, load.actor, "load", "subject-file", load.source, {"subjects": load.subjects})
    else:
        applied = dataclasses.replace(load, applied=load.applied + len(batch))
        tx.run(_SET_PENDING, pending=json.dumps(dataclasses.asdict(applied))).consume()
