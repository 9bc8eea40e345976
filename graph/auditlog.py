"""The audit log's records: what a store appends and what it reads back.

An entry to append (`NewAuditEntry`), as read back numbered and chained (`AuditEntry`), a
question about the log (`AuditQuery`) and the head a store records apart from the entries
(`AuditHead`); what an entry can record (`AuditAction`) and be about (`AUDIT_TYPES`, of which
`SUBJECT_AUDIT_TYPES` hold personal data), and the time it carries (`audit_time`). How entries
are numbered, hashed and checked is `graph.audit`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from graph.store import ENTITY_TYPES, Doc

__all__ = ["AUDIT_TYPES", "SUBJECT_AUDIT_TYPES", "AuditAction", "AuditEntry", "AuditHead", "AuditQuery",
           "NewAuditEntry", "audit_time"]

AuditAction = Literal["create", "update", "delete", "load", "read", "revoke", "erase", "force", "abandon"]

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
    entry's own (`graph.audit.entry_hash`). An entry about one data subject is sealed
    (`graph.audit.sealed`): `seal` is the digest the chain holds for its document and `salt` the
    salt it was made with; once the subject is erased, `after` and `salt` are None (`erased`).
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
    seal: str | None = None
    salt: str | None = None

    @property
    def erased(self) -> bool:
        """Whether its document was erased with its data subject (only the seal remains)."""
        return self.seal is not None and self.salt is None


@dataclass(frozen=True)
class AuditQuery:
    """Which audit entries to read: all filters are optional and combine with AND.

    `since` (inclusive) and `until` (exclusive) are instants as `audit_time` writes them;
    `before` and `after` are sequence numbers (exclusive), for paging. `exclude_types` leaves
    out entries about those entity types, `exclude_actions` those with those actions (`read`:
    the changes alone).
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
    exclude_actions: frozenset[str] = frozenset()


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


def audit_time() -> str:
    """Now, as audit entries record it: UTC, ISO 8601, microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")
