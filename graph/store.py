"""The storage boundary: the `GraphStore` protocol every backend implements, and its records.

A store keeps documents: plain dicts in the bundle's field names (`from`/`to` for flows,
`holds` inside systems), each filed under an entity type and a globally unique id. It writes
them atomically with an audit entry per change, and answers the traversals (holdings,
lineage) in whatever way suits its engine; the contract suite in `tests/` holds every
backend to the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Literal, NamedTuple, Protocol

Doc = dict[str, Any]

ENTITY_TYPES = ("category", "purpose", "legal-basis", "system", "party", "agreement", "flow")
"""Entity types, in dependency order: a type only refers to types before it (flows to agreements …)."""

Direction = Literal["downstream", "upstream", "both"]

MAX_DEPTH = 64
"""Upper bound on every traversal, in flows: lineage depth and the length of a holding's path."""


class Stored(NamedTuple):
    type: str
    doc: Doc

    @property
    def id(self) -> str:
        return self.doc["id"]


@dataclass(frozen=True)
class Holding:
    """Why `holder` holds `category`: its own declaration (`flow` is None) or an incoming flow.

    `path` is one shortest chain of flows carrying the data, ending with `flow` (empty for a
    declaration). `category` is the category actually declared or carried.
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

    @property
    def declared(self) -> bool:
        return self.flow is None

    def sort_key(self) -> tuple:
        return (self.holder, self.category, self.flow or "")


@dataclass(frozen=True)
class Lineage:
    """The part of the flow graph reached from a node: systems/parties and the flows between them."""

    nodes: list[Stored] = field(default_factory=list)
    edges: list[Doc] = field(default_factory=list)


@dataclass(frozen=True)
class SubjectRow:
    """A data subject as stored: records (system, categories, since, source), consent events
    (purpose, status, at, notice, channel) and HMAC hashes of its lookup keys."""

    id: str
    kind: str
    records: list[Doc]
    consents: list[Doc]
    key_hashes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: Literal["create", "update", "delete", "load", "read"]
    type: str
    id: str
    before: Doc | None
    after: Doc | None


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


class GraphStore(Protocol):
    def version(self) -> int:
        """A number that changes whenever any process commits a change."""

    def get_many(self, ids: Iterable[str]) -> dict[str, Stored]:
        """The stored entities among `ids` (unknown ids are left out)."""

    def list(self, type: str) -> list[Doc]:
        """All documents of one entity type, sorted by id."""

    def types_by_id(self) -> dict[str, str]:
        """Every stored id with its entity type."""

    def write(self, upserts: list[Stored], deletes: list[str], *, actor: str) -> WriteResult:
        """Apply all upserts and deletes in one transaction with one audit entry per change.

        Documents equal to the stored ones are left alone and not audited.
        """

    def audit(self, *, entity: str | None = None, since: int = 0, limit: int = 100) -> list[AuditEntry]:
        """Audit entries after sequence number `since`, oldest first, optionally for one entity id."""

    def holders(self, category: str, include_descendants: bool = True) -> list[Holding]:
        """Every holding of `category`, its ancestors and (optionally) its descendants."""

    def holdings(self, holder: str) -> list[Holding]:
        """Everything one system or party holds: its declarations and one holding per carried category per incoming flow."""

    def lineage(self, start: str, direction: Direction, depth: int | None, categories: list[str] | None) -> Lineage:
        """Nodes and flows reached from `start` within `depth` flows, following only flows that
        carry one of `categories`, an ancestor or a descendant of one (all flows when None)."""

    # --- data subjects: kept out of the in-memory graph, indexed on disk ----------------------

    def write_subjects(self, rows: Iterable[SubjectRow], *, actor: str, source: str) -> int:
        """Upsert subjects in one transaction and return how many: records and keys are replaced,
        consent events added to the history. An exception raised while `rows` is consumed rolls
        everything back. The load is audited as one entry naming `source` and the count."""

    def subject(self, id: str) -> SubjectRow | None:
        """A subject with its whole consent history, oldest event first (key hashes left out)."""

    def subject_by_key(self, key_hash: str) -> str | None:
        """The id of the subject with this lookup-key hash."""

    def add_consent(self, id: str, event: Doc, *, actor: str) -> None:
        """Append one consent event to a subject's history, audited."""

    def count_subjects(self, systems: Iterable[str]) -> int:
        """How many distinct subjects have a record in any of `systems`."""

    def count_consenting(self, purposes: Iterable[str]) -> int:
        """How many distinct subjects have a consent event (granted or withdrawn) for any of `purposes`."""

    def count_withdrawn(self, system: str, purposes: Iterable[str]) -> int:
        """How many subjects with a record in `system` withdrew consent for one of `purposes`
        (their latest event for it is a withdrawal; on equal times a withdrawal counts as later)."""

    def subject_ids(self, systems: Iterable[str], limit: int) -> list[str]:
        """Up to `limit` ids of subjects with a record in any of `systems`, sorted."""

    def log_access(self, *, actor: str, subject: str, what: str) -> None:
        """Audit a read of a subject's personal data (who looked up whom, and what for)."""

    def close(self) -> None: ...
