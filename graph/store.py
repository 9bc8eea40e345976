"""The storage boundary: the `GraphStore` protocol every backend implements, and its records.

A store keeps documents: plain dicts in the bundle's field names (`from`/`to` for flows,
`holds` inside systems), each filed under an entity type and a globally unique id. It writes
them atomically with an audit entry per change, and answers the traversals (holdings,
lineage) in whatever way suits its engine; the contract suite in `tests/` holds every
backend to the same answers.

The audit log is append-only and hash-chained (`graph.audit` defines the chain once for every
backend): every write appends its entries in the transaction that makes the change, numbered
from 1 without gaps, each carrying the hash of the one before it. Beside the registry a store
keeps data subjects (`SubjectRow`), API tokens (`TokenRow`: a hash, never the token) and the
fingerprint of the secret that lookup keys were hashed with.

References stay whole under concurrent writers: `write` runs its caller's check (the service's
rules, `registry.integrity`) inside the write transaction, once other writers are shut out, on a
`RegistryView` of the registry as that transaction sees it; subject loads and consent events
check what they name the same way. A refusal is an `IntegrityError` and changes nothing.

Every traversal is evaluated on a day (`as_of`): only flows *in force* that day carry data
(`in_force`); a lineage may also show the flows *planned* then (`planned`). Both backends
decide it with these two functions, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable, ContextManager, Iterable, Literal, Mapping, NamedTuple, Protocol

import orjson

Doc = dict[str, Any]

ENTITY_TYPES = ("category", "purpose", "subject-category", "legal-basis", "system", "party", "agreement", "flow")
"""Entity types, in dependency order: a type only refers to types before it (flows to agreements …)."""

Direction = Literal["downstream", "upstream", "both"]
Source = Literal["declaration", "flow", "agreement"]
"""Where a holding's legal basis, condition or transfer mechanism comes from."""

MAX_DEPTH = 64
"""Upper bound on every traversal, in flows: lineage depth and the length of a holding's path."""

FLOW_WINDOW = ("status", "since", "until")
"""The fields of a flow that can keep it out of force; a flow without any of them always carries data."""


def in_force(flow: Doc, on: date) -> bool:
    """Whether `flow` carries data on day `on`: `on` lies within `since` … `until` (both inclusive,
    each optional) and its status is `active` (the default), or `ended` with an `until` (it
    carried data up to that day). A `proposed` or `suspended` flow, or an `ended` one without an
    end date, carries none.

    >>> f = {"id": "f", "since": "2026-01-01", "until": "2026-12-31"}
    >>> in_force(f, date(2026, 1, 1)), in_force(f, date(2027, 1, 1)), in_force({**f, "status": "proposed"}, date(2026, 6, 1))
    (True, False, False)
    >>> in_force({**f, "status": "ended"}, date(2026, 6, 1)), in_force({"id": "f", "status": "ended"}, date(2026, 6, 1))
    (True, False)
    """
    day = on.isoformat()
    status = flow.get("status", "active")
    return (status == "active" or (status == "ended" and "until" in flow)) \
        and flow.get("since", day) <= day <= flow.get("until", day)


def has_carried(flow: Doc, on: date) -> bool:
    """Whether `flow` may have carried data by day `on`: it is not a plan (`proposed`) and its
    `since`, if any, is not after `on`. What it carried stays where it went when it is ended or
    suspended, so a flow no longer in force may still have carried some.

    >>> f = {"id": "f", "since": "2026-01-01"}
    >>> has_carried(f, date(2025, 12, 31)), has_carried({**f, "status": "ended"}, date(2026, 6, 1))
    (False, True)
    >>> has_carried({**f, "status": "proposed"}, date(2026, 6, 1))
    False
    """
    return flow.get("status") != "proposed" and flow.get("since", "") <= on.isoformat()


def planned(flow: Doc, on: date) -> bool:
    """Whether `flow` is a plan on day `on`: status `proposed`, and its `until` (if any) not passed.
    A planned flow carries no data; it is checked, and a lineage can show it."""
    return flow.get("status") == "proposed" and on.isoformat() <= flow.get("until", "9999-12-31")


TERMS = ("legal_basis", "condition", "transfer_mechanism", "additional_bases")
"""The terms a flow may take from its agreement."""


def effective_terms(flow: Doc, agreement: Doc | None) -> dict[str, tuple[Any, Source | None]]:
    """A flow's effective terms, each with its source: the flow's own, or else its agreement's
    (term by term); unset terms are (None, None), or ((), None) for `additional_bases`.

    >>> effective_terms({"legal_basis": "gdpr-6-1-f"}, {"legal_basis": "gdpr-6-1-b", "condition": "gdpr-9-2-f"})["condition"]
    ('gdpr-9-2-f', 'agreement')
    """
    found: dict[str, tuple[Any, Source | None]] = {}
    for term in TERMS:
        empty = () if term == "additional_bases" else None
        if flow.get(term):
            found[term] = (_frozen(flow[term]), "flow")
        elif agreement and agreement.get(term):
            found[term] = (_frozen(agreement[term]), "agreement")
        else:
            found[term] = (empty, None)
    return found


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def today() -> date:
    """Today in UTC: the default evaluation day."""
    return datetime.now(timezone.utc).date()


class Stored(NamedTuple):
    type: str
    doc: Doc

    @property
    def id(self) -> str:
        return self.doc["id"]


@dataclass(frozen=True)
class Holding:
    """Why `holder` holds `category`: its own declaration (`flow` is None) or an incoming flow in
    force on the evaluation day.

    `path` is one shortest chain of flows carrying the data, ending with `flow` (empty for a
    declaration). `category` is the category actually declared or carried. The terms are the
    *effective* ones: a declaration's own, or the flow's own, or else (field by field) its
    agreement's; `*_source` says which (`declaration`, `flow` or `agreement`; None when unset).
    """

    holder: str
    category: str
    flow: str | None
    purposes: tuple[str, ...]
    legal_basis: str | None
    condition: str | None
    agreement: str | None
    retention: str | None
    path: tuple[str, ...]
    transfer_mechanism: str | None = None
    additional_bases: tuple[str, ...] = ()
    """Bases other regimes need (a GLBA exception, the NAIC authorisation)."""
    subject_categories: tuple[str, ...] = ()
    legal_basis_source: Source | None = None
    condition_source: Source | None = None
    transfer_mechanism_source: Source | None = None
    additional_bases_source: Source | None = None

    @property
    def declared(self) -> bool:
        return self.flow is None

    def sort_key(self) -> tuple:
        return (self.holder, self.category, self.flow or "")


@dataclass(frozen=True)
class Lineage:
    """The part of the flow graph reached from a node: systems/parties and the flows between them.

    `distances` gives each node's distance from the start in flows (the fewest, in either
    direction asked for; 0 for the start). `truncated` says the depth bound (or the 64-flow cap)
    cut the answer: a flow leaves (downstream) or enters (upstream) a node at the bound.

    Read-only: a store may return the lineage it keeps for the question (until the next write),
    and so the same object to every caller that asks it again.
    """

    nodes: list[Stored] = field(default_factory=list)
    edges: list[Doc] = field(default_factory=list)
    distances: dict[str, int] = field(default_factory=dict)
    truncated: bool = False


@dataclass(frozen=True)
class SubjectRow:
    """A data subject as stored: records (system, categories, since, until, source), consent
    events (purpose, status, at, notice, channel, expires), HMAC hashes of its lookup keys, and
    the disclosures recorded on flows of scope `case` (flow, at, reference). Times are UTC,
    ISO 8601; events come oldest first."""

    id: str
    kind: str
    records: list[Doc]
    consents: list[Doc]
    key_hashes: list[str] = field(default_factory=list)
    disclosures: list[Doc] = field(default_factory=list)


class EncodedSubject(NamedTuple):
    """A `SubjectRow` already encoded (by a process that checked it): `json` is the JSON object of
    its fields, as `orjson.dumps(row)` gives it."""

    id: str
    json: bytes
    keyed: bool
    """Whether it carries key hashes."""


def encoded_subject(row: SubjectRow | EncodedSubject) -> bytes:
    """The JSON object of a subject row's fields (UTF-8)."""
    return row.json if type(row) is EncodedSubject else orjson.dumps(row)


def keyed(row: SubjectRow | EncodedSubject) -> bool:
    """Whether a subject row carries key hashes."""
    return row.keyed if type(row) is EncodedSubject else bool(row.key_hashes)


SUBJECT_REFERENCES: Mapping[str, str] = {
    "records": "system",
    "record categories": "category",
    "record sources": "party",
    "consents": "purpose",
    "kind": "subject-category",
    "disclosures": "flow",
}
"""What data subjects' data refers to: kind of reference -> the entity type it names (a record's
system, categories and source party, a consent event's purpose, a subject's kind, a case
disclosure's flow). Each backend
counts, per kind, the subjects that refer to an entity (`RegistryView.subject_references`), and
every delete checks them; a new kind is one line here and one count per backend."""


class IntegrityError(ValueError):
    """A write would leave a reference to an entity that does not exist (or is of another type),
    or delete one that something still refers to; nothing was changed. The message is one line
    naming the references."""


def missing_message(source: str, kind: str, type_: str, missing: list[str]) -> str:
    """One line for `IntegrityError`: subject data names entities the registry does not have."""
    shown = ", ".join(repr(id_) for id_ in missing[:5]) + (" …" if len(missing) > 5 else "")
    return (f"nothing of {source} was recorded: its {kind} name {type_} ids the registry does not have "
            f"(deleted meanwhile?): {shown}")


def partly_loaded(error: StoreError | IntegrityError, source: str, done: int, total: int) -> Exception:
    """`error`, raised by a batch of a subject load after `done` of `total` subjects were applied
    in earlier batches, as one line of the same type that says so (a busy store: load the file
    again to complete it)."""
    if not done:
        return error
    loaded = f"{done:,} of the {total:,} subjects of {source} were loaded"
    if isinstance(error, StoreBusy):
        return StoreBusy(error.waited, f"busy: {loaded}, then another write kept the store longer than "
                                       f"{error.waited:g} s; load {source} again to complete it")
    if isinstance(error, IntegrityError):
        reason = str(error).removeprefix(f"nothing of {source} was recorded: ")
        return IntegrityError(f"{loaded}, then the rest was refused: {reason}")
    return StoreError(f"{loaded}, then: {error}; load {source} again to complete it")


class RegistryView(Protocol):
    """The registry as a write transaction sees it: no other writer can change it until the
    transaction ends, so what a check finds here still holds when the write commits."""

    def types_by_id(self) -> dict[str, str]:
        """Every stored id with its entity type."""

    def list(self, type: str) -> list[Doc]:
        """All documents of one entity type (in no particular order)."""

    def referring(self, ids: Iterable[str]) -> list[Stored]:
        """The stored documents that may refer to one of `ids`: at least every one that does."""

    def subject_references(self, ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """Per id among `ids` that subject data refers to: kind of reference
        (`SUBJECT_REFERENCES`) -> how many subjects (ids nothing refers to are left out)."""


@dataclass(frozen=True)
class Checked:
    """What a write's check decided inside the transaction (`GraphStore.write`)."""

    deletes: list[str] | None = None
    """The ids to delete when they depend on the state (a replace); None keeps the requested ones."""
    forced: dict[str, dict[str, int]] = field(default_factory=dict)
    """Deleted ids that subject data still refers to (kind -> subjects), deleted on purpose: each
    gets an audit entry (action `force`) with the counts."""


Check = Callable[[RegistryView], "Checked | None"]
"""Validates a write against the registry as its transaction sees it; raises `IntegrityError` to refuse."""


@dataclass(frozen=True)
class Concerned:
    """The data subjects whose data a place may hold, as the flows could have brought it there:
    those with a record in one of `systems`, of one of the kinds a system maps to (None: of any
    kind), and those with a disclosure recorded on one of `disclosed` (flows of scope `case`) at
    or before the instant `until` (ISO 8601; None: any time)."""

    systems: Mapping[str, frozenset[str] | None]
    disclosed: tuple[str, ...] = ()
    until: str | None = None

    def parts(self) -> tuple[list[str], list[list[str]], list[str]]:
        """(systems for every kind, [system, kind] pairs, flows), sorted: what a store's query takes."""
        every = sorted(system for system, kinds in self.systems.items() if kinds is None)
        pairs = sorted([system, kind] for system, kinds in self.systems.items() if kinds is not None for kind in kinds)
        return every, pairs, sorted(set(self.disclosed))


class ConsentGroup(NamedTuple):
    """Subjects alike in all that decides whether their consent ended and where their data may be
    (`GraphStore.consent_groups`): their `kind`, the `systems` they have records in (sorted), the
    `disclosed` (flow, at) pairs recorded for them (sorted), their consent `events` for the
    purposes asked (`at`, `purpose`, `status`, and `expires` where set; by `at`, then purpose
    and status), and how many `subjects` they are. No ids: a count is all a rule needs."""

    kind: str
    systems: tuple[str, ...]
    disclosed: tuple[tuple[str, str], ...]
    events: tuple[Doc, ...]
    subjects: int

    @classmethod
    def of(cls, kind: str, systems: Iterable[str], disclosed: Iterable[Iterable[str]],
           events: Iterable[Iterable[str | None]], subjects: int) -> ConsentGroup:
        """A group from a store's rows: `events` as tuples in `HISTORY_FIELDS` order, None where unset."""
        return cls(kind, tuple(systems), tuple(map(tuple, disclosed)),
                   tuple({f: v for f, v in zip(HISTORY_FIELDS, event) if v is not None} for event in events),
                   subjects)


HISTORY_FIELDS = ("at", "purpose", "status", "expires")
"""The fields of a consent event that decide whether consent stands (`ConsentGroup.events`)."""


@dataclass(frozen=True)
class Erasure:
    """What `erase_subject` removed, for the audit entry that proves it (no personal data in it).

    `systems` are those whose records went; `kept` those whose records stay because data must
    be kept there (Art. 17(3)): with `kept` empty the whole subject went, consents, keys and
    disclosures included."""

    systems: tuple[str, ...]
    kept: tuple[str, ...]
    consents: int = 0
    keys: int = 0
    disclosures: int = 0

    def proof(self, plan_date: str) -> Doc:
        """The audit entry's document: counts and system ids, never the data."""
        return {"erased": list(self.systems), "kept": list(self.kept), "consents": self.consents, "keys": self.keys,
                "disclosures": self.disclosures, "plan": plan_date}


AuditAction = Literal["create", "update", "delete", "load", "read", "revoke", "erase", "force"]

AUDIT_TYPES = ENTITY_TYPES + ("subject", "consent", "subject-file", "disclosure", "token")
"""What an audit entry can be about: the registry's entities, a data subject (a read, an erasure),
a consent, a subject file (a load), a disclosure, an API token."""

SUBJECT_AUDIT_TYPES = frozenset({"subject", "consent", "subject-file", "disclosure"})
"""Entity types of audit entries about data subjects (reads, consents, disclosures, subject loads,
erasures): personal data."""


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit log.

    `at` is UTC, ISO 8601 with microseconds (`audit_time`); `actor` who acted (`token:NAME`,
    `oidc:SUBJECT`, `os:USER` …); `type` and `id` the entity concerned (`id` is `*` for reads
    of many subjects); `before` and `after` the documents (None for a create, a delete or a
    read; for an update, the id and the fields it changed only: `graph.changes.Change.audited`).
    `prev` is the hash of the entry before (`graph.audit.GENESIS` for the first), `hash` this
    entry's own (`graph.audit.entry_hash`).
    """

    seq: int
    at: str
    actor: str
    action: AuditAction
    type: str
    id: str
    before: Doc | None
    after: Doc | None
    prev: str = ""
    hash: str = ""


@dataclass(frozen=True)
class AuditQuery:
    """Which audit entries to read: all filters are optional and combine with AND.

    `since` (inclusive) and `until` (exclusive) are instants as `audit_time` writes them;
    `before` and `after` are sequence numbers (exclusive), for paging. `exclude_types` leaves
    out entries about those entity types.
    """

    entity: str | None = None
    actor: str | None = None
    since: str | None = None
    until: str | None = None
    before: int | None = None
    after: int | None = None
    newest_first: bool = False
    limit: int = 100
    exclude_types: frozenset[str] = frozenset()


@dataclass(frozen=True)
class NewAuditEntry:
    """An entry to append: the store numbers and chains it (`graph.audit.link`)."""

    at: str
    actor: str
    action: AuditAction
    type: str
    entity: str
    before: str | None = None
    """The document before, as canonical JSON (`graph.changes.encode`)."""
    after: str | None = None
    """The document after (or what was read), as canonical JSON."""


@dataclass(frozen=True)
class AuditHead:
    """The last entry of the audit log as the store records it apart from the entries, so that
    entries deleted from the end are noticed: its sequence number and hash."""

    seq: int
    hash: str


@dataclass(frozen=True)
class TokenRow:
    """An API token as stored: never the token itself, only its SHA-256 `hash`.

    `name` is unique among tokens not revoked; `role` one role name; `created` and `revoked`
    instants as `audit_time` writes them; `expires` the last day (UTC, ISO date) the token
    is accepted, None for no expiry; `created_by` the actor who created it.
    """

    name: str
    role: str
    hash: str
    created: str
    created_by: str
    expires: str | None = None
    revoked: str | None = None


@dataclass(frozen=True)
class WriteResult:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0


def audit_time() -> str:
    """Now, as audit entries record it: UTC, ISO 8601, microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class StoreError(Exception):
    """The store cannot be opened or reached; the message never contains credentials."""


class StoreBusy(StoreError):
    """Another write held the store longer than the write was allowed to wait (`busy_timeout`):
    nothing was changed, and the same write can simply be tried again; or, for a subject load of
    several batches (`partly_loaded`), the batches before were applied and loading the file again
    completes it."""

    def __init__(self, waited: float, message: str | None = None):
        super().__init__(message or f"busy: another write is in progress (waited {waited:g} s); nothing was changed, "
                                    "retry")
        self.waited = waited


Progress = Callable[[int, int], None]
"""Called with (done, total) as long work advances: subjects applied of those in the file."""

SUBJECT_BATCH = 10_000
"""Subjects a load applies per transaction. A file of at most this many applies whole or not at
all; a larger one is applied batch by batch (each whole), so that readers and other writers
wait at most one batch; see `GraphStore.write_subjects`."""


@dataclass(frozen=True)
class PendingLoad:
    """A subject load that started applying and has not finished (its process was killed, or a
    batch failed): `source` the file's name, `subjects` how many it holds, `applied` how many
    were applied, `started` when (as `audit_time` writes it) and by whom (`actor`). Loading the
    same file again completes it: a load is idempotent."""

    source: str
    subjects: int
    applied: int
    started: str
    actor: str


class GraphStore(Protocol):
    def version(self) -> int:
        """A number that changes whenever any process commits a change."""

    def get_many(self, ids: Iterable[str]) -> dict[str, Stored]:
        """The stored entities among `ids` (unknown ids are left out)."""

    def pinned(self) -> ContextManager[None]:
        """A scope in which the registry reads of this thread (documents, lists, traversals,
        `version`) may be answered as of one version of the registry, read once on entry, instead
        of asking whether it changed at every read: one service call that reads several times
        (a DSAR, holders and the entities they name) then sees one state, as of a moment during
        the call, and a store whose version check costs a round trip (Neo4j) pays it once. A
        registry `write` inside the scope ends the pin (the next read looks again). Subject data
        is not pinned, except that a subject found by `subject_by_key` may be read with that lookup
        and given to the scope's `subject` call for it. Scopes nest (the outer one counts); other
        threads are not affected."""

    def list(self, type: str) -> list[Doc]:
        """All documents of one entity type, sorted by id."""

    def types_by_id(self) -> dict[str, str]:
        """Every stored id with its entity type."""

    def write(self, upserts: list[Stored], deletes: list[str], *, actor: str,
              check: Check | None = None) -> WriteResult:
        """Apply all upserts and deletes in one transaction with one audit entry per change.

        Documents equal to the stored ones are left alone and not audited. `check`, when given,
        runs inside that transaction, after it has shut other writers out and before anything is
        applied, with the registry as the transaction sees it: it raises (`IntegrityError`) to
        refuse the write, which then changes nothing, or says what to delete (`Checked`). It may
        run more than once (a transaction the server asks to retry), so it must have no effects.
        """

    def audit(self, query: AuditQuery) -> list[AuditEntry]:
        """Up to `query.limit` audit entries that match `query`, by sequence number (newest first
        with `query.newest_first`)."""

    def count_audit(self, query: AuditQuery) -> int:
        """How many audit entries match `query` (its limit and order aside)."""

    def audit_head(self) -> AuditHead | None:
        """The last entry as recorded apart from the entries (None while the log is empty)."""

    def last_change(self) -> int:
        """The sequence number of the last audit entry that records a change (0 before any): every
        write moves it, of documents, tokens or subject data, except a large subject load's batches
        between its first and last entry (they move `pending_load`'s progress); an audited read of
        subject data (`log_access`) does not. Answers about the subject data may be kept while it,
        with `pending_load`, stays the same."""

    def holders(self, category: str, include_descendants: bool = True, as_of: date | None = None) -> list[Holding]:
        """Every holding of `category`, its ancestors and (optionally) its descendants, on day
        `as_of` (default today, UTC): declarations, and flows in force that day."""

    def holdings(self, holder: str, as_of: date | None = None) -> list[Holding]:
        """Everything one system or party holds on day `as_of`: its declarations and one holding
        per carried category per incoming flow in force that day."""

    def lineage(self, start: str, direction: Direction, depth: int | None, categories: list[str] | None,
                as_of: date | None = None, include_proposed: bool = False) -> Lineage:
        """Nodes and flows reached from `start` within `depth` flows, following only flows in
        force on `as_of` (and, with `include_proposed`, flows planned then) that carry one of
        `categories`, an ancestor or a descendant of one (all flows when None)."""

    # --- data subjects: kept out of the in-memory graph, indexed on disk ----------------------

    def write_subjects(self, rows: Iterable[SubjectRow | EncodedSubject], *, actor: str, source: str,
                       key_fingerprint: Callable[[], str | None] | None = None,
                       progress: Progress | None = None, checked_at: int | None = None) -> int:
        """Upsert subjects and return how many: records and keys are replaced, consent events
        added to the history. A row may come encoded (`EncodedSubject`).

        `rows` are consumed (parsed, validated, staged) before anything is written and without
        holding the store's write lock: an exception raised meanwhile changes nothing. Then up
        to `SUBJECT_BATCH` subjects are applied per write transaction, every subject whole with
        its index entries and consents, and `progress(done, total)` is called after each. A file
        of one batch applies whole or not at all and is audited as one entry naming `source`
        and the count. A larger one is audited when it starts applying and when it ends; until
        it ends the store records it as a `PendingLoad` (`pending_load`), and a load killed in
        between leaves the batches applied so far: loading the same file again completes it.
        Reads are never blocked by a load; another writer waits for one batch at most.

        Every entity the rows name (records' systems, categories and sources, consents' purposes,
        disclosures' flows, kinds where subject categories are defined) must exist, as the
        transaction that applies each batch sees the registry: otherwise `IntegrityError`, and
        nothing of that batch is kept (the batches before it stay, and the message says so).
        `checked_at`: the `version` at which the caller checked that (from before it read the
        registry); a batch applied while the registry is still at that version may skip the check.

        When the rows carried key hashes, `key_fingerprint()` (called once they are consumed)
        names the secret they were hashed with: it is recorded if the store has none yet; a
        store that records another one refuses the load with a `StoreError` and keeps nothing.
        """

    def pending_load(self) -> PendingLoad | None:
        """The subject load that started applying and has not finished, if any."""

    def key_fingerprint(self) -> str | None:
        """The fingerprint of the secret the stored lookup keys were hashed with (None before any)."""

    def subject(self, id: str) -> SubjectRow | None:
        """A subject with its whole consent history, oldest event first (key hashes left out)."""

    def subject_by_key(self, key_hash: str) -> str | None:
        """The id of the subject with this lookup-key hash."""

    def add_consent(self, id: str, event: Doc, *, actor: str) -> None:
        """Append one consent event to a subject's history, audited; `IntegrityError` when its
        purpose does not exist as the write sees the registry."""

    def subject_references(self, typed: dict[str, str]) -> dict[str, dict[str, int]]:
        """What subject data refers to, as a delete's check counts it (`RegistryView.subject_references`),
        read outside any write: `typed` maps ids to the entity types to count them as (an id is
        counted by the kinds of `SUBJECT_REFERENCES` that name its type); the answer maps each id
        that subject data refers to -> kind of reference -> how many subjects (ids nothing refers
        to, and kinds with no subject, are left out). A dry run (`Registry.plan`) reports with it
        what a write would refuse."""

    def count_subjects(self, systems: Iterable[str]) -> int:
        """How many distinct subjects have a record in any of `systems`."""

    def count_consenting(self, purposes: Iterable[str]) -> int:
        """How many distinct subjects have a consent event (granted or withdrawn) for any of `purposes`."""

    def consent_groups(self, purposes: Iterable[str], *, every: bool = True) -> list[ConsentGroup]:
        """The subjects with a consent event for one of `purposes`, grouped by kind, systems with
        their records, disclosures and those events (`ConsentGroup`), in no particular order. With
        `every` false, only the subjects among whose events is a withdrawal or an `expires`: the
        only ones whose consent can have ended when no purpose sets a `consent_validity`. One
        read for a whole registry's consent rule: the groups go to the places they may be in,
        not each place to its subjects. Whether a consent stands is `registry.subjects.consent`'s
        to decide, not the store's."""

    def subject_ids(self, systems: Iterable[str], limit: int) -> list[str]:
        """Up to `limit` ids of subjects with a record in any of `systems`, sorted."""

    def count_concerned(self, concerned: Concerned) -> int:
        """How many distinct subjects `concerned` describes."""

    def concerned_ids(self, concerned: Concerned, limit: int) -> list[str]:
        """Up to `limit` ids of the subjects `concerned` describes, sorted."""

    def log_access(self, *, actor: str, subject: str, what: str, found: bool = True) -> None:
        """Audit a read of a subject's personal data (who looked up whom, and what for); a lookup
        that found nothing (`found` false) is audited too."""

    def list_subjects(self, *, after: str | None, limit: int, systems: Iterable[str] | None = None) -> list[SubjectRow]:
        """Up to `limit` subjects with ids greater than `after` (None: from the first), sorted by id,
        optionally only those with a record in one of `systems`: id, kind and records (consents,
        keys and disclosures left out)."""

    def subject_total(self) -> int:
        """How many subjects the store records."""

    # --- disclosures on flows of scope `case` (`graph.embedded.disclosures`, `graph.neo4j.disclosures`) ---

    def add_disclosure(self, id: str, disclosure: Doc, *, actor: str) -> None:
        """Record one disclosure (flow, at, reference) of a subject's data, audited (type `disclosure`)."""

    def count_disclosures(self, flows: Iterable[str], until: str | None = None) -> dict[str, int]:
        """How many disclosures are recorded on each of `flows` (at or before the instant `until`,
        when given); flows without any are left out. A disclosure refers to its flow."""

    # --- erasure (`graph.embedded.erasure`, `graph.neo4j.erasure`) ---------------------------------

    def erase_subject(self, id: str, *, keep: Iterable[str], add: Iterable[Doc] = (), actor: str,
                      plan_date: str) -> Erasure | None:
        """Carry out an executed erasure plan in one transaction: remove the subject's records in
        every system but those in `keep` (where data must be kept), and give it the records `add`
        (in systems of `keep`: data kept there that came from the removed records); when neither
        leaves it a record, remove the subject altogether (records, consents, keys, disclosures). Audited as
        one `erase` entry whose document is `Erasure.proof` (no personal data). None when there
        is no such subject."""

    # --- API tokens --------------------------------------------------------------------------

    def add_token(self, token: TokenRow, *, actor: str) -> bool:
        """Store a new token, audited (its name, role and expiry; never the hash). False, with
        nothing changed, when a token that is not revoked already has its name."""

    def tokens(self) -> list[TokenRow]:
        """Every token, revoked ones included, sorted by creation time."""

    def token(self, hash: str) -> TokenRow | None:
        """The token with this SHA-256 hash."""

    def revoke_token(self, name: str, *, actor: str) -> TokenRow | None:
        """Revoke the token named `name` that is not revoked yet, audited; None when there is none."""

    def close(self) -> None: ...
