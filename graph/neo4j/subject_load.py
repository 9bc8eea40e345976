"""Loading a subject file into the Neo4j store (`GraphStore.write_subjects`).

A subject file is read and validated whole first (spooled to a temporary file, in constant
memory), then applied `SUBJECT_BATCH` subjects per transaction, which keeps each transaction
well inside the server's transaction memory (`db.memory.transaction.total.max`) and lets other
writers in between. A file of one batch applies whole or not at all; a larger one is recorded
as pending (a `PendingLoad` node of its own) until its last batch, and loading the same file
again completes one that was killed (`GraphStore.write_subjects`). Each batch takes the writers'
lock and checks, in its transaction, that what it names is still in the registry.

Most lines of most files are subjects the store does not hold yet, with keys it does not hold:
those a batch creates (`_CREATE`: `CREATE` only, no `Eager`, every row a plain list), after
asking which of its subjects and keys the store holds. One statement per kind of node or
relationship: on a fresh server one statement creating each subject whole ran a third slower
(it hops between stores and indexes row by row). The other lines (subjects it holds, keys that
move, a subject or a key that comes twice in the batch) are merged as before (`_merge`). While
the server applies one batch, a thread decodes the next from the spool and encodes its rows.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import NamedTuple

import neo4j
import orjson

from graph.auditlog import audit_time
from graph.neo4j import audit, disclosures
from graph.neo4j.subjects import _CONSENT_FIELDS, _CONSENTS, _FORGET_LOADS, _KEEP_DERIVED, _TYPES, _audit
from graph.store import IntegrityError, StoreError
from graph.subjects import (ABANDONED, LOADED, LOADS_KEPT, SUBJECT_BATCH, SUBJECT_REFERENCES, EncodedSubject,
                            PendingLoad, Progress, SubjectRow, encoded_subject, keyed, loaded, missing_message,
                            partly_loaded)

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
_STORED = """
CALL () { UNWIND $ids AS id MATCH (s:Subject {id: id}) RETURN collect(id) AS subjects }
CALL () { UNWIND $hashes AS hash MATCH (k:SubjectKey {hash: hash}) RETURN collect(hash) AS keys }
RETURN subjects, keys
"""
"""Which of the given subject ids and key hashes the store holds."""
_CREATE = (
    """CALL () { UNWIND $systems AS id OPTIONAL MATCH (y:System {id: id}) RETURN collect([y]) AS systems }
       UNWIND $rows AS row
       CREATE (s:Subject {id: row[0], kind: row[1], records: row[2]})
       WITH s, row, systems
       UNWIND row[3] AS i WITH s, systems[i][0] AS y CREATE (s)-[:RECORDED_IN]->(y)""",
    """UNWIND $rows AS row MATCH (s:Subject {id: row[0]}) CREATE (:SubjectKey {hash: row[1]})-[:IDENTIFIES]->(s)""",
    """UNWIND $rows AS row MATCH (s:Subject {id: row[0]}), (p:Purpose {id: row[1]})
       CREATE (s)-[:CONSENT {at: row[2], status: row[3], notice: row[4], channel: row[5], expires: row[6]}]->(p)""",
    """UNWIND $rows AS row MATCH (s:Subject {id: row[0]}), (f:Flow {id: row[1]})
       CREATE (s)-[:DISCLOSED {at: row[2], reference: row[3]}]->(f)""",
)
"""Subjects new to the store, with keys new to it: four `CREATE`-only statements, each over its
own rows (`_create_rows`): subjects as [id, kind, records (JSON), systems (positions in
`$systems`, the batch's distinct systems)] with their `RECORDED_IN`; keys as [subject, hash];
consents as [subject, purpose, at, status, notice, channel, expires]; disclosures as [subject,
flow, at, reference]. What `_merge` would leave, with `CREATE` where it looks for what to replace
or merge with; each system is looked up once per batch, not once per record (a system the
registry lacks, which `_check_named` refuses first, stays in its place as null and fails the
statement)."""
_FINGERPRINT = """
MERGE (m:RegistryMeta {key: 'registry'})
ON CREATE SET m.version = 0, m.seq = 0
SET m.key_fingerprint = coalesce(m.key_fingerprint, $fingerprint)
RETURN m.key_fingerprint AS recorded
"""
_SET_PENDING = ("MERGE (p:PendingLoad {entry: $entry}) "
                "SET p.source = $source, p.digest = $digest, p.load = $pending")
"""A load applying in batches, as a node of its own keyed by the audit entry that it started (`entry`),
so that one load's end does not clear another's mark; `load` the JSON of its `PendingLoad`."""
_END_PENDING = """
CALL () {
  MATCH (p:PendingLoad {source: $source}) WHERE $digest IS NULL OR p.digest IS NULL OR p.digest = $digest
  DELETE p
  RETURN count(*) AS cleared
}
OPTIONAL MATCH (m:RegistryMeta {key: 'registry'}) WHERE m.subject_load IS NOT NULL
RETURN cleared, m.subject_load AS legacy
"""
"""A load that ends clears the marks of the loads of the same file (by name, and by content where
both are known): it has applied it whole, which completes them. A store of an older version kept
at most one, on the meta node (`legacy`, with no digest). `abandon_loads` clears those of a name
(no `$digest`)."""
_STILL_PENDING = "RETURN EXISTS { (:PendingLoad {entry: $entry}) } AS found"
_END_LEGACY = "MATCH (m:RegistryMeta {key: 'registry'}) REMOVE m.subject_load"

_ANY_SUBJECT_CATEGORY = "RETURN EXISTS { (:DataSubjectCategory) } AS found"
_STATEMENT_ROWS = 5_000


class SubjectLoad:
    """The subject load of `Neo4jStore` (which provides `_session` and `_errors`)."""

    def abandon_loads(self, source: str, *, actor: str) -> int:
        with self._errors(), self._session() as session:
            return session.execute_write(_abandon, source, actor)

    def write_subjects(self, rows: Iterable[SubjectRow | EncodedSubject], *, actor: str, source: str,
                       key_fingerprint: Callable[[], str | None] | None = None,
                       progress: Progress | None = None, checked_at: int | None = None,
                       file_digest: Callable[[], str | None] | None = None) -> int:
        with tempfile.TemporaryFile(prefix="dsa-subjects-") as spool, \
                ThreadPoolExecutor(1, thread_name_prefix="subject-batch") as preparer:
            count, keys, span = 0, False, None
            for row in rows:  # read and validated whole before anything is written
                spool.write(encoded_subject(row) + b"\n")
                count += 1
                keys = keys or keyed(row)
                span = (row.id, row.id) if span is None else (min(span[0], row.id), max(span[1], row.id))
            fingerprint = key_fingerprint() if keys and key_fingerprint else None
            digest = file_digest() if file_digest else None
            spool.seek(0)
            lines = iter(spool)
            pending = PendingLoad(source=source, subjects=count, applied=0, started=audit_time(), actor=actor,
                                  digest=digest)
            done, batches, started, applied = 0, max(1, -(-count // SUBJECT_BATCH)), None, None
            prepared = preparer.submit(_prepare, list(islice(lines, SUBJECT_BATCH)))
            for number in range(1, batches + 1):
                batch = prepared.result()
                first, last = number == 1, number == batches
                if not last:  # the next batch is decoded and encoded while the server applies this one
                    prepared = preparer.submit(_prepare, list(islice(lines, SUBJECT_BATCH)))
                applied = batch.span if applied is None else (min(applied[0], batch.span[0]),
                                                              max(applied[1], batch.span[1]))
                try:
                    with self._errors(), self._session() as session:
                        started = session.execute_write(_apply_batch, batch, dataclasses.replace(pending, applied=done),
                                                        fingerprint if first else None, batches > 1, first, last,
                                                        span if last else applied, started)
                except (IntegrityError, StoreError) as error:  # a refusal, a busy or failing server
                    raise partly_loaded(error, source, done, count) from None
                done += batch.size
                if progress:
                    progress(done, count)
        return count


class _Batch(NamedTuple):
    """One batch of a load, decoded and encoded for the server before its transaction starts.

    `named`: what its subjects refer to, by kind of reference (`SUBJECT_REFERENCES`). `single`:
    the subjects whose line is the only one in the batch and whose key hashes no other line has,
    each as (its row as a dict, its `_create_row`); `_CREATE` creates them when the store holds
    neither the subject nor its keys (which the transaction asks), else they are merged like
    `others`: the lines of subjects that come more than once or share a key hash with another
    line, each as a `SubjectRow`, in file order."""

    size: int
    span: tuple[str, str] | None
    """The least and the greatest subject id of its lines (None: no lines)."""
    named: dict[str, set[str]]
    single: list[tuple[dict, list]]
    systems: list[str]
    """The systems that `single`'s `_CREATE` rows refer to by position."""
    others: list[SubjectRow]


def _prepare(lines: list[bytes]) -> _Batch:
    """Decode a batch's spooled lines (`encoded_subject`) and encode them as `_CREATE` rows."""
    docs = [orjson.loads(line) for line in lines]
    named: dict[str, set[str]] = {kind: set() for kind in SUBJECT_REFERENCES}
    _name(named, docs)
    ids = Counter(d["id"] for d in docs)
    hashes = Counter(h for d in docs for h in d["key_hashes"])
    single, others, systems = [], [], {}
    for d in docs:
        if ids[d["id"]] == 1 and all(hashes[h] == 1 for h in d["key_hashes"]):
            single.append((d, _create_row(d, systems)))
        else:
            others.append(SubjectRow(**d))
    return _Batch(size=len(docs), span=(min(ids), max(ids)) if ids else None, named=named, single=single,
                  systems=list(systems), others=others)


def _create_row(d: dict, systems: dict[str, int]) -> list:
    """A `_CREATE` row: what `_merge` would leave for a subject new to the store (an event
    recorded twice, same time, purpose and status, once with the fields given last; a
    disclosure recorded twice on a flow at the same time, once with the reference given last)."""
    consents = {(c["at"], c["purpose"], c["status"]): [c["purpose"], c["at"], c["status"], c.get("notice"),
                                                       c.get("channel"), c.get("expires")] for c in d["consents"]}
    disclosed = {(x["flow"], x["at"]): [x["flow"], x["at"], x.get("reference")] for x in d["disclosures"]}
    held = [systems.setdefault(system, len(systems)) for system in dict.fromkeys(r["system"] for r in d["records"])]
    return [d["id"], d["kind"], json.dumps(d["records"]), held,
            d["key_hashes"], list(consents.values()), list(disclosed.values())]


def _name(named: dict[str, set[str]], docs: list[dict]) -> None:
    """Add what `docs` (subject rows as dicts) refer to, by kind of reference, to `named`."""
    for d in docs:
        named["kind"].add(d["kind"])
        for record in d["records"]:
            named["records"].add(record["system"])
            named["record categories"].update(record.get("categories") or ())
            if record.get("source"):
                named["record sources"].add(record["source"])
        named["consents"].update(c["purpose"] for c in d["consents"])
        named["disclosures"].update(x["flow"] for x in d["disclosures"])


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


def _apply_batch(tx: neo4j.ManagedTransaction, batch: _Batch, load: PendingLoad, fingerprint: str | None,
                 batched: bool, first: bool, last: bool, span: tuple[str, str] | None = None,
                 started: int | None = None) -> int | None:
    """One batch of a load in one transaction: its subjects whole, the fingerprint claimed with the
    first, the pending-load record kept up to date while a file of several batches applies, the load
    audited when such a file starts applying and when any file ends (rerun from the start when the
    driver retries). The writers' lock comes first, so what the batch names (checked here) and
    which of its subjects and keys the store holds cannot change before it commits. `span`: the
    least and greatest id of the file (with the last batch) or of the batches applied so far,
    this one included (before it), kept as the `LOADED` range of the entry that the load ended,
    or of the one that it `started` (its seq, which the first batch returns; later batches
    return it again): a load killed half-way is still seen to have changed what it applied."""
    audit.lock(tx)
    if not first and not tx.run(_STILL_PENDING, entry=started).single()["found"]:
        raise IntegrityError(ABANDONED)
    _check_named(tx, batch.named, load.source)
    if fingerprint is not None:
        recorded = tx.run(_FINGERPRINT, fingerprint=fingerprint).single()["recorded"]
        if recorded != fingerprint:
            raise StoreError(f"the lookup keys in this store were hashed with another secret (fingerprint "
                             f"{recorded[:12]}, this one {fingerprint[:12]}); nothing was loaded")
    if first and batched:
        started = _audit(tx, load.actor, "load", "subject-file", load.source,
                         {"subjects": load.subjects, "state": "started"}).seq
    new, merged = _split(tx, batch)
    if new:
        for statement, rows in zip(_CREATE, _create_rows(new)):
            if rows:
                tx.run(statement, rows=rows, systems=batch.systems).consume()
    for part in (merged[i:i + _STATEMENT_ROWS] for i in range(0, len(merged), _STATEMENT_ROWS)):
        _merge(tx, part)
    if last:
        if load.subjects:  # an empty file of the same name completes nothing
            _clear_pending(tx, load.source, load.digest)
        _keep_loaded(tx, _audit(tx, load.actor, "load", "subject-file", load.source, {"subjects": load.subjects}).seq,
                     span)
    else:
        applied = dataclasses.replace(load, applied=load.applied + batch.size)
        tx.run(_SET_PENDING, entry=started, source=load.source, digest=load.digest,
               pending=json.dumps(dataclasses.asdict(applied))).consume()
        _keep_loaded(tx, started, span)
    return started


def _clear_pending(tx: neo4j.ManagedTransaction, source: str, digest: str | None = None) -> int:
    """Clear the pending marks of the file `source` (`_END_PENDING`: with `digest`, those of that
    content or of none recorded; without, all of that name), and the one an older version kept on
    the meta node where it names `source`; how many."""
    found = tx.run(_END_PENDING, source=source, digest=digest).single()
    cleared = found["cleared"]
    if found["legacy"] and json.loads(found["legacy"])["source"] == source:
        tx.run(_END_LEGACY).consume()
        cleared += 1
    return cleared


def _abandon(tx: neo4j.ManagedTransaction, source: str, actor: str) -> int:
    """`GraphStore.abandon_loads` in one transaction, audited where it clears any."""
    audit.lock(tx)
    cleared = _clear_pending(tx, source)
    if cleared:
        _audit(tx, actor, "abandon", "subject-file", source, {"loads": cleared})
    return cleared


def _keep_loaded(tx: neo4j.ManagedTransaction, seq: int | None, span: tuple[str, str] | None) -> None:
    """Keep a `LOADED` range (of subjects applied in this transaction or before) under the audit
    entry `seq` (that the load started, or ended), as `keep_derived` keeps any derived data;
    forget all but the last `LOADS_KEPT` loads' ranges."""
    if seq is None or span is None:
        return
    tx.run(_KEEP_DERIVED, name=loaded(seq), data=json.dumps({"first": span[0], "last": span[1]}).encode(),
           subjects=sorted(set(span))).consume()
    tx.run(_FORGET_LOADS, prefix=LOADED, kept=LOADS_KEPT).consume()


def _split(tx: neo4j.ManagedTransaction, batch: _Batch) -> tuple[list[list], list[SubjectRow]]:
    """The batch's `_CREATE` rows for subjects the store holds neither of, nor any of their keys;
    every other line as a `SubjectRow` to merge. A line of `single` does not share its subject or
    its keys with any other line of the batch, so the order between the two does not matter."""
    if not batch.single:
        return [], batch.others
    found = tx.run(_STORED, ids=[d["id"] for d, _ in batch.single],
                   hashes=[h for d, _ in batch.single for h in d["key_hashes"]]).single()
    stored, keys = set(found["subjects"]), set(found["keys"])
    new, merged = [], list(batch.others)
    for d, row in batch.single:
        if d["id"] in stored or not keys.isdisjoint(d["key_hashes"]):
            merged.append(SubjectRow(**d))
        else:
            new.append(row)
    return new, merged


def _merge(tx: neo4j.ManagedTransaction, part: list[SubjectRow]) -> None:
    """Apply lines the store may already hold subjects or keys of: each subject's records and keys
    replaced by its last line's, consents and disclosures merged into those recorded."""
    latest = list({r.id: r for r in part}.values())  # a subject's last line wins
    tx.run(_FORGET, ids=[r.id for r in latest]).consume()
    tx.run(_UPSERT, rows=[{"id": r.id, "kind": r.kind, "records": json.dumps(r.records),
                           "systems": list(dict.fromkeys(rec["system"] for rec in r.records))}
                          for r in latest]).consume()
    tx.run(_KEYS, rows=[{"subject": id_, "hash": h} for h, id_ in _key_owners(part).items()]).consume()
    tx.run(_CONSENTS, rows=[{"subject": r.id, **{f: c.get(f) for f in _CONSENT_FIELDS}}
                            for r in part for c in r.consents]).consume()
    if disclosed := disclosures.rows(part):
        tx.run(disclosures.MERGE_ROWS, rows=disclosed).consume()


def _create_rows(new: list[list]) -> tuple[list, list, list, list]:
    """The rows of each `_CREATE` statement for the `_create_row`s of new subjects."""
    subjects = [row[:4] for row in new]
    keys = [[row[0], h] for row in new for h in row[4]]
    consents = [[row[0], *c] for row in new for c in row[5]]
    disclosed = [[row[0], *d] for row in new for d in row[6]]
    return subjects, keys, consents, disclosed


def _key_owners(part: list[SubjectRow]) -> dict[str, str]:
    """Key hash -> the subject whose last line names it last. One row per hash: `_KEYS` deletes a
    key's old `IDENTIFIES` for every row before it merges any (an `Eager` between), so two rows
    of one hash would leave it identifying both subjects."""
    last = {r.id: r for r in part}
    return {h: r.id for r in part if last[r.id] is r for h in r.key_hashes}
