"""GraphQL for the audit log: `auditLog`, newest first, paged with a cursor (audit:read; entries
about data subjects only for callers with subject-data:read)."""

from __future__ import annotations

import datetime
from typing import Optional

import strawberry

from graph.auditlog import AuditEntry as StoredEntry
from registry.api.enums import AuditAction, AuditEntityType
from registry.api.errors import domain_errors
from registry.api.paging import After, Connection, to_connection


@strawberry.type(description="One entry of the audit log: who did what to which entity, when; hash-chained.")
class AuditEntry:
    seq: int = strawberry.field(description="Its place in the log: 1, 2, 3 … without gaps.")
    at: datetime.datetime = strawberry.field(description="When, in UTC.")
    actor: str = strawberry.field(description="`token:NAME`, `oidc:SUBJECT`, `os:USER` (CLI) or `dsa-registry`.")
    action: AuditAction
    entity_type: AuditEntityType
    entity_id: strawberry.ID
    before: Optional[strawberry.scalars.JSON] = strawberry.field(
        description="The document before the change; for an update, its id and the fields the update changed.")
    after: Optional[strawberry.scalars.JSON] = strawberry.field(
        description="The document after the change (for an update, its id and the fields it changed); for a read, "
                    "what was read and whether it was found.")
    prev: str = strawberry.field(description="The hash of the entry before (64 zeros for the first).")
    hash: str = strawberry.field(description="SHA-256 of this entry's canonical encoding (see README).")
    seal: Optional[str] = strawberry.field(
        description="For an entry about one data subject (a read of their data, a consent, a disclosure): what "
                    "the chain holds for `after`, SHA-256 of [salt, after] (see README); null for any other.")
    salt: Optional[str] = strawberry.field(
        description="The seal's salt (hex); null once the subject was erased, or for an entry without a seal.")
    erased: bool = strawberry.field(
        description="Whether `after` was erased with its data subject (GDPR Art. 17): only the seal remains.")


def to_entry(e: StoredEntry) -> AuditEntry:
    return AuditEntry(seq=e.seq, at=datetime.datetime.fromisoformat(e.at), actor=e.actor, action=e.action,
                      entity_type=e.type, entity_id=e.id, before=e.before, after=e.after, prev=e.prev, hash=e.hash,
                      seal=e.seal, salt=e.salt, erased=e.erased)


@strawberry.type
class AuditQuery:
    @strawberry.field(description="Audit entries, newest first, optionally of one entity or actor, at or after "
                                  "`since` and before `until` (with a UTC offset); `first` (0 to 1000, default 100) "
                                  "per page, `after` the previous page's `endCursor`.")
    @domain_errors
    async def audit_log(self, info: strawberry.Info, entity: Optional[strawberry.ID] = None,
                        actor: Optional[str] = None, since: Optional[datetime.datetime] = None,
                        until: Optional[datetime.datetime] = None, first: int = 100,
                        after: After = None) -> Connection[AuditEntry]:
        context = info.context
        found = await context.call(context.audit.page, principal=context.principal, entity=entity, actor=actor,
                                   since=since, until=until, first=first, after=after)
        return to_connection(found, to_entry)
