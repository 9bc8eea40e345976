"""What a write changes: the one definition both backends apply, so they count and audit alike.

A document equal to the stored one (same type, same canonical JSON) is unchanged and not
audited; an upsert of a new id is a create, of a known id an update (its type may change);
a delete of an unknown id is nothing. An update is audited with the fields it changed only
(`Change.audited`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from graph.auditlog import NewAuditEntry
from graph.store import Checked, Doc, Stored, WriteResult


def encode(doc: Doc) -> str:
    """Canonical JSON: equal documents, equal text."""
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Change:
    action: str
    """`create`, `update` or `delete`."""
    type: str
    id: str
    before: str | None
    """The stored document's canonical JSON, None for a create."""
    after: str | None
    """The new document's canonical JSON, None for a delete."""

    @property
    def fields(self) -> list[str]:
        """The top-level fields an update adds, removes or changes, sorted (none for a create or a delete)."""
        if self.before is None or self.after is None:
            return []
        before, after = json.loads(self.before), json.loads(self.after)
        return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))

    @property
    def audited(self) -> tuple[str | None, str | None]:
        """What the audit log records of this change (canonical JSON before and after): the whole
        document for a create or a delete; for an update the `id` and only the fields it changed
        (`fields`), their old values before (a field it adds is absent) and their new ones after (a
        field it removes is absent), so an entry grows with the change, not with the document."""
        if self.before is None or self.after is None:
            return self.before, self.after
        before, after, changed = json.loads(self.before), json.loads(self.after), self.fields
        return tuple(encode({"id": self.id, **{key: doc[key] for key in changed if key in doc}})
                     for doc in (before, after))


@dataclass(frozen=True)
class Plan:
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0

    @property
    def result(self) -> WriteResult:
        count = {action: sum(c.action == action for c in self.changes) for action in ("create", "update", "delete")}
        return WriteResult(created=count["create"], updated=count["update"], deleted=count["delete"],
                           unchanged=self.unchanged)


def plan(upserts: list[Stored], deletes: list[str], current: dict[str, tuple[str, str]]) -> Plan:
    """The changes that turn `current` (id -> (type, canonical JSON)) into the requested state."""
    changes, unchanged = [], 0
    for stored in upserts:
        text, before = encode(stored.doc), current.get(stored.id)
        if before == (stored.type, text):
            unchanged += 1
        else:
            changes.append(Change("update" if before else "create", stored.type, stored.id, before and before[1], text))
    changes += [Change("delete", current[id_][0], id_, current[id_][1], None) for id_ in deletes if id_ in current]
    return Plan(changes, unchanged)


def forced_entries(checked: Checked | None, current: dict[str, tuple[str, str]], at: str,
                   actor: str) -> list[NewAuditEntry]:
    """The audit entries of deletes forced past subject data that refers to the deleted entity:
    action `force`, the entity's type and id, and per kind of reference how many subjects."""
    if checked is None:
        return []
    return [NewAuditEntry(at, actor, "force", current[id_][0], id_, after=encode({"subjects": counts}))
            for id_, counts in sorted(checked.forced.items()) if id_ in current]
