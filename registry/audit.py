"""Reading and checking the audit log: who changed what and who looked up whom, and whether the
log is still as it was written.

Reading needs the `audit:read` permission; entries about data subjects (reads of their data,
consents, subject loads) are shown only to callers with `subject-data:read`. Times are
instants with a UTC offset: `since` inclusive, `until` exclusive. Pages come newest first, with
an opaque cursor for the next one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from graph import audit as chain
from graph.auditlog import SUBJECT_AUDIT_TYPES, AuditEntry, AuditHead, AuditQuery
from graph.store import GraphStore
from registry.auth.roles import AUDIT_READ, SUBJECT_READ, Principal, require
from registry import paging
from registry.errors import InvalidArgument
from registry.paging import Page

MAX_PAGE = 1000
_BATCH = 5000


@dataclass(frozen=True)
class Verdict:
    """What `verify` found: how many entries, the head, and the first break (None: intact)."""

    entries: int
    head: AuditHead | None
    broken: chain.Break | None

    @property
    def intact(self) -> bool:
        return self.broken is None


class AuditTrail:
    def __init__(self, store: GraphStore):
        self.store = store

    def page(self, *, principal: Principal, entity: str | None = None, actor: str | None = None,
             since: datetime | None = None, until: datetime | None = None, first: int = 100,
             after: str | None = None) -> Page[AuditEntry]:
        """Up to `first` (0 to 1000) entries, newest first, older than the cursor `after`
        (`registry.paging`), with how many match in all. The log only grows at its new end,
        so a cursor never goes stale; one made for other filters is refused."""
        paging.check_first(first, MAX_PAGE)
        query = self._query(principal, entity=entity, actor=actor, since=since, until=until)
        this = paging.list_id("auditLog", **query)
        before = None
        if after is not None:
            before, digest = paging.position(after, this)
            if digest != paging.key_digest(str(before)):
                raise InvalidArgument(paging.NOT_OURS)
        total = self.store.count_audit(AuditQuery(**query))
        found = self.store.audit(AuditQuery(**query, before=before, newest_first=True, limit=first + 1))
        entries = found[:first]
        return Page(entries, total, len(found) > first,
                    paging.cursor(this, entries[-1].seq, str(entries[-1].seq)) if entries else None)

    def entries(self, *, principal: Principal, entity: str | None = None, actor: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                tail: int | None = None) -> Iterator[AuditEntry]:
        """Every matching entry, oldest first (the last `tail` only, when given), read in batches.
        The permission and the arguments are checked here, before the first entry is asked for."""
        query = self._query(principal, entity=entity, actor=actor, since=since, until=until)
        if tail is not None:
            if tail < 1:
                raise InvalidArgument("tail must be 1 or more")
            return reversed(self.store.audit(AuditQuery(**query, newest_first=True, limit=tail)))
        return self._batches(query)

    def _batches(self, query: dict) -> Iterator[AuditEntry]:
        after = 0
        while batch := self.store.audit(AuditQuery(**query, after=after, limit=_BATCH)):
            yield from batch
            after = batch[-1].seq

    def verify(self, *, principal: Principal, anchor: AuditHead | None = None) -> Verdict:
        """Check the whole chain (and that the `anchor` entry, recorded earlier, is unchanged)."""
        require(principal, AUDIT_READ)
        counted = [0]

        def everything() -> Iterator[AuditEntry]:
            after = 0
            while batch := self.store.audit(AuditQuery(after=after, limit=_BATCH)):
                counted[0] += len(batch)
                yield from batch
                after = batch[-1].seq

        head = self.store.audit_head()
        broken = chain.verify(everything(), head, anchor=anchor)
        return Verdict(counted[0], head, broken)

    def _query(self, principal: Principal, *, entity, actor, since, until) -> dict:
        require(principal, AUDIT_READ)
        start, end = _instant("since", since), _instant("until", until)
        if start and end and start >= end:
            raise InvalidArgument("since must be before until")
        hidden = frozenset() if principal.can(SUBJECT_READ) else SUBJECT_AUDIT_TYPES
        return dict(entity=entity, actor=actor, since=start, until=end, exclude_types=hidden)


def parse_anchor(text: str) -> AuditHead:
    """`SEQ:HASH`, as `audit verify` prints the head, as an `AuditHead`."""
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidArgument(f"anchor: {text!r} is not SEQ:HASH as `audit verify` prints it")
    return AuditHead(int(seq), digest)


def _instant(name: str, value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.utcoffset() is None:
        raise InvalidArgument(f"{name}: {value.isoformat()} has no UTC offset; give one, e.g. 2026-11-25T09:30:00Z")
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")
