"""The storage boundary: the `GraphStore` protocol every backend implements, and its core records.

A store keeps documents: plain dicts in the bundle's field names (`from`/`to` for flows,
`holds` inside systems), each filed under an entity type and a globally unique id. It writes
them atomically with an audit entry per change, and answers the traversals (holdings,
lineage) in whatever way suits its engine; the contract suite in `tests/` holds every
backend to the same answers.

The audit log is append-only and hash-chained (`graph.audit` defines the chain once for every
backend): every write appends its entries in the transaction that makes the change, numbered
from 1 without gaps, each carrying the hash of the one before it. Beside the registry a store
keeps data subjects (`graph.subjects.SubjectRow`), API tokens (`TokenRow`: a hash, never the
token) and the fingerprint of the secret that lookup keys were hashed with.

References stay whole under concurrent writers: `write` runs its caller's check (the service's
rules, `registry.integrity`) inside the write transaction, once other writers are shut out, on a
`RegistryView` of the registry as that transaction sees it; subject loads and consent events
check what they name the same way. A refusal is an `IntegrityError` and changes nothing.

Every traversal is evaluated on a day (`as_of`): only flows *in force* that day carry data
(`graph.flows.in_force`); a lineage may also show the flows *planned* then (`graph.flows.planned`).
Both backends decide it with these two functions, so they cannot drift apart.

This module keeps the protocol and the records it is about: documents, holdings, lineages,
write checks and results, tokens and the store's errors. The audit log's records are in
`graph.auditlog`, the data subjects' (rows, loads, consent groups, erasures) in
`graph.subjects`, and the flows' windows and terms in `graph.flows`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Iterable, Literal, NamedTuple, Protocol

if TYPE_CHECKING:  # for the protocol's annotations only: these modules import this one
    from graph.auditlog import AuditEntry, AuditHead, AuditQuery
    from graph.subjects import Concerned, ConsentGroup, EncodedSubject, Erasure, PendingLoad, Progress, SubjectRow

Doc = dict[str, Any]

ENTITY_TYPES = ("category", "purpose", "subject-category", "legal-basis", "system", "party", "agreement", "flow")
"""Entity types, in dependency order: a type only refers to types before it (flows to agreements …)."""

Direction = Literal["downstream", "upstream", "both"]
Source = Literal["declaration", "flow", "agreement"]
"""Where a holding's legal basis, condition or transfer mechanism comes from."""

MAX_DEPTH = 64
"""Upper bound on every traversal, in flows: lineage depth and the length of a holding's path."""


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


class IntegrityError(ValueError):
    """A write would leave a reference to an entity that does not exist (or is of another type),
    or delete one that something still refers to; nothing was changed. The message is one line
    naming the references."""


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
        between its first and last entry (they move `pending_loads`' progress); an audited read of
        subject data (`log_access`) does not. Answers about the subject data may be kept while it,
        with `pending_loads`, stays the same."""

    def derived(self, name: str) -> bytes | None:
        """What `keep_derived` last kept under `name` (None: nothing, or dropped by an erasure).
        Derived data is what a process worked out from the store and a later process may start
        from instead of reading it all again (the consent rule's counts,
        `registry.compliance.tally`), marked by its maker with what it was made from
        (`last_change`), so a stale one is known as such."""

    def keep_derived(self, name: str, data: bytes, subjects: Iterable[str] = ()) -> None:
        """Keep `data` under `name` for `derived`, replacing what was there. `subjects`: the ids of
        the data subjects it names (the consent counts' run bounds); the erasure of any of them
        drops it (GDPR Art. 17: nothing of an erased subject stays in the store but the proof),
        and where one of them is no longer in the store (erased meanwhile), nothing is kept.
        Not a change of the registry or of the subject data: neither audited nor moving
        `version` or `last_change`. Waits for a writer like any write (`StoreBusy` past the busy
        timeout)."""

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
                       progress: Progress | None = None, checked_at: int | None = None,
                       file_digest: Callable[[], str | None] | None = None) -> int:
        """Upsert subjects and return how many: records and keys are replaced, consent events
        added to the history. A row may come encoded (`EncodedSubject`).

        `rows` are consumed (parsed, validated, staged) before anything is written and without
        holding the store's write lock: an exception raised meanwhile changes nothing. Then up
        to `SUBJECT_BATCH` subjects are applied per write transaction, every subject whole with
        its index entries and consents, and `progress(done, total)` is called after each. A file
        of one batch applies whole or not at all and is audited as one entry naming `source`
        and the count. A larger one is audited when it starts applying and when it ends; until
        it ends the store records it as a `PendingLoad` (`pending_loads`), and a load killed in
        between leaves the batches applied so far: loading the same file again completes it. A load
        that ends clears the records of the loads of the same file, and no other's: the same
        `source` and, where both loads give one, the same digest (`file_digest()`, called once the
        rows are consumed: the file's SHA-256, hex); an empty file clears none.
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

    def abandon_loads(self, source: str, *, actor: str) -> int:
        """Forget the pending loads of `source` (a file that will not be loaded again), audited
        (action `abandon`, type `subject-file`) where there were any; how many. The subjects their
        batches applied stay."""

    def pending_loads(self) -> tuple[PendingLoad, ...]:
        """The subject loads that started applying and have not finished (killed, or a batch
        failed, or still applying), oldest first; one per load, whatever other loads did meanwhile."""

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

    def consent_groups(self, purposes: Iterable[str], *, every: bool = True,
                       run: tuple[str | None, str | None] = (None, None)) -> list[ConsentGroup]:
        """The subjects with a consent event for one of `purposes`, grouped by kind, systems with
        their records, disclosures and those events (`ConsentGroup`), in no particular order. With
        `every` false, only the subjects among whose events is a withdrawal or an `expires`: the
        only ones whose consent can have ended when no purpose sets a `consent_validity`. One
        read for a whole registry's consent rule: the groups go to the places they may be in,
        not each place to its subjects. Whether a consent stands is `registry.subjects.consent`'s
        to decide, not the store's. `run` (after, through): only the subjects whose id sorts after
        the one and up to the other (None: no bound), a run that `consent_runs` bounds."""

    def consent_runs(self, purposes: Iterable[str], *, every: bool = True, size: int
                     ) -> tuple[list[str], list[list[tuple[ConsentGroup, int]]]]:
        """The subjects `consent_groups(purposes, every=every)` covers, cut into runs of `size` by
        id (the last may be shorter, or empty), so that a rule can later read again only the runs
        of the subjects whose data changed: the bounds (every `size`-th id, ascending; empty while
        there are fewer than `size` such subjects) and each run's groups (one more run than bounds),
        as (group, its subjects in the run) pairs: a group may be shared by runs and come twice in
        one, its own `subjects` aside. Runs are `(None, first bound)`, `(first, second)` … `(last
        bound, None)` as `consent_groups` takes them. A subject written meanwhile may be read in
        its new state or its old: a rule reads its run again after the change (`last_change`)."""

    def subject_ids(self, systems: Iterable[str], limit: int) -> list[str]:
        """Up to `limit` ids of subjects with a record in any of `systems`, sorted."""

    def count_concerned(self, concerned: Concerned) -> int:
        """How many distinct subjects `concerned` describes."""

    def concerned_ids(self, concerned: Concerned, limit: int) -> list[str]:
        """Up to `limit` ids of the subjects `concerned` describes, sorted."""

    def log_access(self, *, actor: str, subject: str, what: str, found: bool = True) -> None:
        """Audit a read of a subject's personal data (who looked up whom, and what for); a lookup
        that found nothing (`found` false) is audited too."""

    def log_accesses(self, *, actor: str, subjects: list[str], what: str) -> None:
        """Audit one read of several subjects' data (an export of named subjects): an entry per
        subject, in one transaction, so that each names one subject and goes with that subject's
        erasure (its document sealed like any read's)."""

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
