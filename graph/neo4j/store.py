"""The Neo4j backend: the registry as a property graph one can browse and query with Cypher.

Graph model (labels and relationship types; every entity node also has the label `Entity`):

    (:DataCategory)-[:PARENT]->(:DataCategory)
    (:Purpose)-[:PARENT]->(:Purpose)
    (:System)-[:HOLDS {purposes, legal_basis, condition, additional_bases, retention,
                       subject_categories}]->(:DataCategory)
    (:System|Party)-[:SENDS]->(:Flow)-[:TO]->(:System|Party)
    (:Flow)-[:CARRIES]->(:DataCategory)   (:Flow)-[:FOR]->(:Purpose)   (:Flow)-[:UNDER]->(:Agreement)
    (:Flow)-[:LEGAL_BASIS|CONDITION|ADDITIONAL_BASIS]->(:LegalBasis)
    (:Flow)-[:CONCERNS]->(:DataSubjectCategory)
    (:Agreement)-[:PARTY]->(:Party)   (:Agreement)-[:COVERS]->(:DataCategory)
    (:Agreement)-[:FOR]->(:Purpose)   (:Agreement)-[:LEGAL_BASIS|CONDITION|ADDITIONAL_BASIS]->(:LegalBasis)

Each node has `id`, `type`, the document's plain fields as properties (`name`, `country`,
`categories` …) and `doc`, the document as canonical JSON, which `get_many`/`list` return
untouched. `(:AuditEntry)` nodes hold the audit log, chained (`graph.neo4j.audit`); one
`(:RegistryMeta)` node the version, the last audit sequence number and hash, and the lookup-key
fingerprint. `graph.neo4j.model` maps documents to this graph; data subjects
(`graph.neo4j.subjects`) and API tokens (`graph.neo4j.tokens`) live beside it.

Flows are nodes, not relationships. A relationship would keep a flow's id and properties
too, and make each step of a path one hop instead of two; but a flow is an entity in its own
right: its id must be unique among all ids (the `Entity.id` constraint covers nodes only), and
it names a purpose, a legal basis, a condition and an agreement, which as relationships make
"which flows rest on Art. 9(2)(f)?" or "which flows does this treaty cover?" one hop, where a
relationship could only hold their ids. Speed does not suffer much: `[:SENDS|TO*0..2k]` with
`DISTINCT` ends is still planned as a pruning breadth-first search, and the flows carrying a
category are found from the category node (`CARRIES`) instead of by reading every flow's
property list.

Writes run in one managed transaction that first locks the meta node, so writers queue as
they do on the embedded backend and a failure anywhere (the server, the client, a
constraint) leaves the previous state. Reads go to a cluster's readers, each statement in an
auto-commit transaction (one round trip instead of two). Holdings, lineages and documents are
kept per registry version (`graph.neo4j.answers`): asking again costs one small read. The
traversals live in `graph.neo4j.traversal`, the Cypher in `graph.neo4j.cypher`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from itertools import islice
from typing import Any, ContextManager, TypeVar

import neo4j
from neo4j import GraphDatabase, RoutingControl
from neo4j.exceptions import AuthError, DriverError, Neo4jError, ServiceUnavailable, SessionExpired

from graph.neo4j import audit, cypher
from graph.neo4j import traversal
from graph.neo4j.answers import MISSING, Answers, Version, numbered, version_of
from graph.neo4j.connection import Connection
from graph.changes import forced_entries, plan
from graph.decoded import Decoded
from graph.pins import Pins
from graph.neo4j.model import LABELS, properties, relationships
from graph.neo4j.disclosures import DisclosureGraph
from graph.neo4j.erasure import ErasureGraph
from graph.neo4j.subject_load import SubjectLoad
from graph.neo4j.subjects import SUBJECT_SCHEMA, SubjectGraph, subject_references
from graph.neo4j.tokens import TokenGraph
from graph.auditlog import AuditEntry, AuditHead, AuditQuery, NewAuditEntry, audit_time
from graph.store import Check, Direction, Doc, Holding, Lineage, StoreBusy, StoreError, Stored, WriteResult, today

__all__ = ["Neo4jStore"]

BATCH = 2000
"""Rows per `UNWIND` statement; a write sends as many statements as it needs, in one transaction."""

T = TypeVar("T")


class Neo4jStore(SubjectGraph, SubjectLoad, DisclosureGraph, ErasureGraph, TokenGraph):
    """A `GraphStore` on Neo4j; the data-subject, subject-load, disclosure, erasure and token methods come
    from `graph.neo4j.subjects`, `graph.neo4j.subject_load`, `graph.neo4j.disclosures`, `graph.neo4j.erasure`
    and `graph.neo4j.tokens`."""

    def __init__(self, driver: neo4j.Driver, connection: Connection, busy_timeout: float = 10.0):
        self._driver = driver
        self._connection = connection
        self._closed = False
        self._answers = Answers()
        self._decoded = {type_: Decoded() for type_ in cypher.LIST}
        """Per type, its documents as `list` last read them: after a write, only changed ones are decoded."""
        self._pins = Pins()
        self.busy_timeout = busy_timeout
        """Seconds a small write (a consent, an audited read) may take, waiting for locks included,
        before it gives up with `StoreBusy`."""

    @classmethod
    def from_uri(cls, uri: str, *, user: str | None = None, password: str | None = None,
                 database: str | None = None, busy_timeout: float = 10.0, **driver_config: Any) -> Neo4jStore:
        """Connect, check the credentials and create the constraints and indexes if missing.

        `user`, `password` and `database` count where `uri` has none (`Connection.parse`).
        """
        connection = Connection.parse(uri, user=user, password=password, database=database)
        driver_config.setdefault("user_agent", "dsa-registry")
        driver_config.setdefault("notifications_disabled_classifications", ["UNRECOGNIZED"])
        try:
            driver = GraphDatabase.driver(connection.uri, auth=connection.auth, **driver_config)
        except (DriverError, ValueError) as error:
            raise StoreError(f"invalid Neo4j URI {connection.shown}: {error}") from None
        store = cls(driver, connection, busy_timeout)
        try:
            with store._errors():
                driver.verify_connectivity()
                store._create_schema()
                with store._session() as session:
                    audit.seal_legacy(session)
        except BaseException:
            driver.close()
            raise
        return store

    def _create_schema(self) -> None:
        """The constraints and indexes not there yet (one look first: most starts find them all)."""
        database = self._connection.database
        try:
            [record] = self._driver.execute_query(cypher.SCHEMA_NAMES, routing_=RoutingControl.READ,
                                                  database_=database).records
            existing = set(record["names"])
        except Neo4jError:  # no right to list them: creating is idempotent anyway
            existing = set()
        for statement in cypher.SCHEMA + SUBJECT_SCHEMA:
            if statement.split()[2] not in existing:  # CREATE CONSTRAINT|INDEX <name> IF NOT EXISTS …
                self._driver.execute_query(statement, database_=database)

    def __repr__(self) -> str:
        database = f", database={self._connection.database!r}" if self._connection.database else ""
        return f"Neo4jStore({self._connection.shown!r}{database})"

    # --- reads -----------------------------------------------------------------------------

    def version(self) -> int:
        """The meta node's version number in the low 32 bits and 21 bits of the registry's epoch (the
        random id the meta node gets when the database is first written) above them: a database
        emptied and filled again starts counting at 0 again, and its versions must not repeat the
        earlier ones for the callers that keep what they derived per version (one chance in about
        two million that an epoch's bits repeat). Below 2**53, exact in JSON."""
        at, number = self._now()
        return number if at is None else numbered(at)

    def pinned(self) -> ContextManager[None]:
        return self._pins.scope()

    def _now(self) -> tuple[Version | None, int]:
        """The registry's (epoch, version) (None before its first write) and version number: the
        pinned ones in a `pinned` scope that knows them, else read (one round trip)."""
        pin = self._pins.current()
        if pin is None or not pin.known:
            record = self._read_one(cypher.VERSION)
            pin = self._pins.learn(version_of(record), record["version"])
        return pin.at, pin.number

    def get_many(self, ids: Iterable[str]) -> dict[str, Stored]:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        kept_at = self._answers.version
        kept, missing = self._answers.docs(kept_at, ids)
        pin = self._pins.current()
        if not missing and pin is not None and pin.known and pin.at == kept_at:
            return {id_: kept[id_] for id_ in ids if kept[id_] is not None}
        record = None
        if kept_at is not None:  # only the documents not kept, if the version still holds
            [record] = self._query(cypher.GET_MANY_KEPT, missing=missing, epoch=kept_at[0], version=kept_at[1])
        if record is None or version_of(record) != kept_at:
            kept, missing = {}, ids
            [record] = self._query(cypher.GET_MANY_ALL, ids=ids)
        self._pins.learn(version_of(record), record["version"])  # a scope's first read pins what it read
        found = {stored.id: stored for stored in (Stored(type_, json.loads(doc)) for type_, doc in record["found"])}
        if record["still"]:
            self._answers.put_docs(version_of(record), {id_: found.get(id_) for id_ in missing})
        every = kept | found
        return {id_: every[id_] for id_ in ids if every.get(id_) is not None}

    def list(self, type: str) -> list[Doc]:
        """The documents as read at the registry's version, kept with it (`_answer`): a new list
        of the same document objects each time until a write, as the embedded store's snapshot
        hands them out, so that what callers derive from them (`registry.compliance.facts.Facts`)
        is reused; after a write, the same objects again for the documents it did not change
        (`graph.decoded`). Callers do not change them."""
        if type not in cypher.LIST:
            return []
        def read(statements, _) -> tuple[tuple[Doc, ...], Any]:
            [record] = statements.run(cypher.LIST[type])
            return tuple(sorted(self._decoded[type].docs(record["docs"]), key=lambda doc: doc["id"])), MISSING

        return list(self._answer(("list", type), read, fixed=False))

    def types_by_id(self) -> dict[str, str]:
        return dict(self._read_one(cypher.TYPES_BY_ID)["types"])

    def audit(self, query: AuditQuery) -> list[AuditEntry]:
        records = self._query(audit.READ[query.entity is not None, query.newest_first], **audit.query_params(query),
                              limit=query.limit)
        return [audit.entry(record["entry"]) for record in records]

    def count_audit(self, query: AuditQuery) -> int:
        [record] = self._query(audit.COUNT[query.entity is not None], **audit.query_params(query))
        return record["count"]

    def audit_head(self) -> AuditHead | None:
        [record] = self._query(audit.HEAD)
        return AuditHead(record["seq"], record["head"]) if record["head"] else None

    def last_change(self) -> int:
        return self._query(audit.LAST_CHANGE)[0]["changed"] or 0

    # Answers are kept per registry version (`graph.neo4j.answers`), keyed by the day they are for.

    def holders(self, category: str, include_descendants: bool = True, as_of: date | None = None) -> list[Holding]:
        day = as_of or today()
        return list(self._answer(("holders", category, include_descendants, day), lambda tx, known: (tuple(
            traversal.holders(tx, known, category, include_descendants, day)), MISSING)))

    def holdings(self, holder: str, as_of: date | None = None) -> list[Holding]:
        day = as_of or today()
        return list(self._answer(("holdings", holder, day),
                                 lambda tx, known: (tuple(traversal.holdings(tx, known, holder, day)), MISSING)))

    def lineage(self, start: str, direction: Direction, depth: int | None, categories: list[str] | None,
                as_of: date | None = None, include_proposed: bool = False) -> Lineage:
        day = as_of or today()
        return self._answer(("lineage", start, direction, depth, None if categories is None else tuple(categories),
                              day, include_proposed),
                            lambda tx, known: traversal.lineage(tx, known, start, direction, depth, categories, day,
                                                                include_proposed))  # kept, read-only (`Lineage`)

    def _answer(self, key: tuple, compute: Callable[[Any, traversal.Fixed | None], tuple[T, Any]], *,
                fixed: bool = True) -> T:
        """The answer kept for `key` at the registry's version (one round trip, none in a `pinned`
        scope), else the one `compute(statements, fixed)` returns with the version its last
        statement saw at its end (or `MISSING`: then one more statement reads it), kept when that is
        the version it started from. With `fixed` false, `compute` gets None instead of the
        traversal's facts, which are then not read when the version has none kept yet."""
        at = self._now()[0]
        found = self._answers.get(at, key)
        if found is not MISSING:
            return found

        def work(tx) -> tuple:
            known = self._answers.get(at, "fixed") if fixed else None
            if known is MISSING:
                known = traversal.fixed(tx)
            answer, after = compute(tx, known)
            if after is MISSING:
                [record] = tx.run(cypher.VERSION)
                after = version_of(record)
            return known, answer, after

        known, answer, after = self._checked_read(work)
        if after == at:
            if known is not None:
                self._answers.put(at, "fixed", known)
            self._answers.put(at, key, answer)
        return answer

    def _checked_read(self, work: Callable[[Any], T]) -> T:
        """`work(statements)`, each statement in an auto-commit transaction of its own (one round
        trip, no BEGIN or COMMIT): for one statement, or for reads that check the registry version
        before and after themselves, so that a write between two statements cannot go unnoticed. What fails in a
        way the driver would retry runs again in a managed read transaction, which it retries."""
        with self._errors():
            try:
                with self._reader() as session:
                    return work(_Statements(session))
            except (Neo4jError, DriverError) as error:
                if not error.is_retryable():
                    raise
        return self._read(work)

    # --- writes ----------------------------------------------------------------------------

    def write(self, upserts: list[Stored], deletes: list[str], *, actor: str,
              check: Check | None = None) -> WriteResult:
        unknown = {stored.type for stored in upserts} - LABELS.keys()
        if unknown:
            raise ValueError(f"unknown entity type(s): {', '.join(sorted(unknown))}")
        now = audit_time()
        self._pins.drop()
        with self._errors(), self._session() as session:
            return session.execute_write(_write, upserts, deletes, actor, now, check)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._driver.close()

    # --- plumbing --------------------------------------------------------------------------

    def _session(self) -> neo4j.Session:
        return self._driver.session(database=self._connection.database,
                                    bookmark_manager=self._driver.execute_query_bookmark_manager)

    def _read(self, work: Callable[..., T], *args: Any) -> T:
        with self._errors(), self._session() as session:
            return session.execute_read(work, *args)

    def _reader(self) -> neo4j.Session:
        return self._driver.session(database=self._connection.database, default_access_mode=neo4j.READ_ACCESS,
                                    bookmark_manager=self._driver.execute_query_bookmark_manager)

    def _query(self, query: str, **params: Any) -> list[neo4j.Record]:
        """The records of one read statement, in one round trip (`_checked_read`: an auto-commit
        transaction on a reader; a managed one costs a second round trip for its COMMIT)."""
        return self._checked_read(lambda statements: list(statements.run(query, params)))

    def _read_one(self, query: str) -> neo4j.Record:
        [record] = self._query(query)
        return record

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Driver and server errors as `StoreError`s that name the store but not the password."""
        shown = self._connection.shown
        try:
            yield
        except AuthError:
            raise StoreError(f"Neo4j at {shown} refused the credentials for user "
                             f"{self._connection.auth[0] if self._connection.auth else 'neo4j'!r}") from None
        except (ServiceUnavailable, SessionExpired, OSError) as error:
            raise StoreError(f"cannot reach Neo4j at {shown}: {_reason(error)}") from None
        except Neo4jError as error:
            if "TransactionTimedOut" in (error.code or ""):
                raise StoreBusy(self.busy_timeout) from None
            raise StoreError(f"Neo4j at {shown} failed: {_reason(error)}") from None
        except DriverError as error:
            raise StoreError(f"Neo4j driver error for {shown}: {_reason(error)}") from None


def _write(tx: neo4j.ManagedTransaction, upserts: list[Stored], deletes: list[str],
           actor: str, now: str, check: Check | None) -> WriteResult:
    """The body of `Neo4jStore.write`; rerun from the start when the driver retries the transaction."""
    audit.lock(tx)  # first: every writer takes it, so what `check` reads holds until the commit
    checked = check(_View(tx)) if check else None
    if checked and checked.deletes is not None:
        deletes = checked.deletes
    ids = [stored.id for stored in upserts] + list(deletes)
    current = {id_: (type_, doc) for batch in _batches(ids)
               for record in tx.run(cypher.CURRENT, ids=batch) for id_, type_, doc in record["found"]}
    planned = plan(upserts, deletes, current)
    if not planned.changes:
        return planned.result
    requested = {stored.id: stored for stored in upserts}
    changed = {c.id: requested[c.id] for c in planned.changes if c.after is not None}
    gone = [c.id for c in planned.changes if c.after is None]

    # Relationships are rebuilt from the new documents; ends that only the old ones named may
    # be placeholders nothing names any more.
    updated = [id_ for id_ in changed if id_ in current]
    retyped = [id_ for id_ in updated if current[id_][0] != changed[id_].type]
    old = [(current[id_][0], json.loads(current[id_][1])) for id_ in updated + gone]
    old += [(changed[id_].type, changed[id_].doc) for id_ in gone if id_ in changed]
    ends = {end for type_, doc in old for r in relationships(type_, doc) for end in (r.start, r.end)}
    _run_batched(tx, cypher.DROP_OWN_RELATIONSHIPS, ids=updated)
    _run_batched(tx, cypher.DROP_LABELS, ids=retyped)
    nodes: dict[str, list[dict]] = defaultdict(list)
    edges: dict[str, list[dict]] = defaultdict(list)
    for stored in changed.values():
        nodes[stored.type].append({"id": stored.id, "props": properties(stored.type, stored.doc)})
        for r in relationships(stored.type, stored.doc):
            edges[r.type].append({"start": r.start, "end": r.end, "props": r.properties})
    for type_, rows in nodes.items():
        _run_batched(tx, cypher.UPSERT_NODES[type_], rows=rows)
    for type_, rows in edges.items():
        _run_batched(tx, cypher.CREATE_RELATIONSHIPS[type_], rows=rows)
    _run_batched(tx, cypher.DROP_OWN_RELATIONSHIPS, ids=gone)
    _run_batched(tx, cypher.DELETE, ids=gone)
    _run_batched(tx, cypher.DROP_PLACEHOLDERS, ids=sorted(ends))
    audit.append(tx, [NewAuditEntry(now, actor, c.action, c.type, c.id, *c.audited) for c in planned.changes]
                 + forced_entries(checked, current, now, actor))
    tx.run(cypher.BUMP_VERSION).consume()
    return planned.result


class _Statements:
    """Read statements run one by one in a session, each an auto-commit transaction (`Neo4jStore._checked_read`)."""

    def __init__(self, session: neo4j.Session):
        self._session = session

    def run(self, query: str, parameters: dict | None = None, **kwargs: Any) -> list[neo4j.Record]:
        return list(self._session.run(query, parameters, **kwargs))


class _View:
    """The registry inside a Neo4j write transaction that holds the writers' lock
    (`graph.store.RegistryView`)."""

    def __init__(self, tx: neo4j.ManagedTransaction):
        self._tx = tx

    def types_by_id(self) -> dict[str, str]:
        return dict(self._tx.run(cypher.TYPES_BY_ID).single()["types"])

    def list(self, type: str) -> list[Doc]:
        return [json.loads(doc) for doc in self._tx.run(cypher.LIST[type]).single()["docs"]] if type in cypher.LIST else []

    def referring(self, ids) -> list[Stored]:
        found = self._tx.run(cypher.REFERRING, ids=sorted(set(ids))).single()["found"]
        return [Stored(type_, json.loads(doc)) for type_, doc in found]

    def subject_references(self, ids) -> dict[str, dict[str, int]]:
        found = self._tx.run(cypher.CURRENT, ids=sorted(set(ids))).single()["found"]
        return subject_references(self._tx, {id_: type_ for id_, type_, _ in found})


def _run_batched(tx: neo4j.ManagedTransaction, query: str, **param: list) -> None:
    [(name, rows)] = param.items()
    for batch in _batches(rows):
        tx.run(query, {name: batch}).consume()


def _batches(rows: list[T]) -> Iterator[list[T]]:
    it = iter(rows)
    while batch := list(islice(it, BATCH)):
        yield batch


def _reason(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return " ".join(str(message).split())
