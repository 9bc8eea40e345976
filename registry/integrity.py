"""Referential integrity, checked where it cannot go stale: inside the write transaction.

`Registry` validates a change completely before it asks the store to apply it (every problem,
with lines, columns and hints), but another writer may commit in between: delete the purpose a
flow being upserted names, or create a parent cycle with a concurrent upsert. So every write
also hands the store a `WriteCheck`, which the store runs inside its transaction once it has
shut other writers out (`GraphStore.write`): whatever it finds still holds when the write
commits, and no interleaving of writers can leave a reference to nothing.

The check refuses (`IntegrityError`, one line) an upsert whose references no longer resolve,
and a delete of an entity that something still refers to: documents (a flow's purpose, an
agreement's party …), which must be changed first, or data subjects' data (records, consents,
`graph.subjects.SUBJECT_REFERENCES`), which `force` overrides: the subject data is kept, as the
history it is, and the store audits the forced delete with the counts.

>>> from graph.store import Stored
>>> class View:
...     def types_by_id(self): return {"p": "purpose", "f": "flow", "a": "system", "b": "party"}
...     def list(self, type): return []
...     def referring(self, ids): return [Stored("flow", {"id": "f", "from": "a", "to": "b", "categories": [], "purpose": "p"})]
...     def subject_references(self, ids): return {"p": {"consents": 2}}
>>> WriteCheck([], ["p"])(View())
Traceback (most recent call last):
...
graph.store.IntegrityError: purpose 'p' cannot be deleted: still referenced by flow 'f' (purpose), the consents of 2 data subject(s) (change those documents first)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from graph.store import ENTITY_TYPES, Checked, IntegrityError, RegistryView, Stored
from registry.bundle import dotted, references
from registry.errors import InvalidArgument
from registry.legal_bases import BUILTIN_LEGAL_BASES

__all__ = ["WriteCheck"]

SHOWN = 5
"""Problems named in one message (the rest are counted)."""


@dataclass(frozen=True)
class WriteCheck:
    """The check of one write (`graph.store.Check`): `upserts` and `deletes` as validated before
    the transaction; with `replace`, everything else but the built-in legal bases is deleted;
    with `force`, deletes go ahead although subject data refers to the deleted entities."""

    upserts: list[Stored]
    deletes: list[str] = field(default_factory=list)
    replace: bool = False
    force: bool = False

    def __call__(self, view: RegistryView) -> Checked:
        existing = view.types_by_id()
        new = {stored.id: stored.type for stored in self.upserts}
        deletes = sorted(id_ for id_ in existing if id_ not in new and id_ not in BUILTIN_LEGAL_BASES) \
            if self.replace else list(self.deletes)
        gone = set(deletes) - new.keys()
        problems = self._unresolved(existing, new, gone) + _cycles(view, self.upserts, gone)
        if problems:
            raise IntegrityError(f"the registry changed meanwhile: {_joined(problems)}; nothing was changed")
        retyped = {id_ for id_, type_ in new.items() if existing.get(id_, type_) != type_}  # only a replace may
        held = _still_referenced(view, existing, gone, set(new), retyped)
        refused = {id_: (users, subjects) for id_, (users, subjects) in held.items()
                   if users or (subjects and not self.force)}
        if refused:
            raise IntegrityError(_refusal(refused, existing, new, self.force))
        forced = {id_: subjects for id_, (_, subjects) in held.items() if subjects}
        return Checked(deletes if self.replace else None, forced)

    def _unresolved(self, existing: dict[str, str], new: dict[str, str], gone: set[str]) -> list[str]:
        problems = []
        for stored in self.upserts:
            if not self.replace and existing.get(stored.id, stored.type) != stored.type:
                problems.append(f"id {stored.id!r} is already used by a {existing[stored.id]}")
            for where, allowed, target in references(stored.type, stored.doc):
                found = new.get(target) or (None if target in gone else existing.get(target))
                if found not in allowed:
                    reason = f"unknown {' or '.join(allowed)} {target!r}" if found is None else \
                        f"{target!r} is a {found}, not a {' or '.join(allowed)}"
                    problems.append(f"{stored.type} {stored.id!r}: {dotted(where)}: {reason}")
        return problems


def _still_referenced(view: RegistryView, existing: dict[str, str], gone: set[str], upserted: set[str],
                      retyped: set[str] = frozenset()) -> dict[str, tuple[list[str], dict[str, int]]]:
    """Per deleted id that anything still refers to: the documents that do (`flow 'f' (purpose)`,
    in entity-type order) and the subject data (kind -> subjects). An id a replace gives another
    type is gone as the entity subject data names (its documents are checked as upserts)."""
    if not gone and not retyped:
        return {}
    users: dict[str, list[tuple[int, str, str]]] = {}
    order = {type_: n for n, type_ in enumerate(ENTITY_TYPES)}
    for stored in view.referring(gone):
        if stored.id in gone or stored.id in upserted:  # going too, or checked as an upsert
            continue
        for where, _, target in references(stored.type, stored.doc):
            if target in gone:
                users.setdefault(target, []).append((order.get(stored.type, 99), stored.id,
                                                     f"{stored.type} {stored.id!r} ({dotted(where)})"))
    subjects = view.subject_references(gone | retyped)
    return {id_: ([text for *_, text in sorted(users.get(id_, ()))], subjects.get(id_, {}))
            for id_ in sorted(gone | retyped) if id_ in users or id_ in subjects}


def _refusal(refused: dict[str, tuple[list[str], dict[str, int]]], existing: dict[str, str], new: dict[str, str],
             force: bool) -> str:
    """One line naming, per refused delete (or change of type), what still refers to the entity and
    how many subjects."""
    parts, by_subjects_only = [], True
    for id_, (users, subjects) in refused.items():
        whom = users + [f"the {kind} of {n} data subject(s)" for kind, n in subjects.items()]
        change = f"become a {new[id_]}" if id_ in new else "be deleted"
        parts.append(f"{existing.get(id_, 'entity')} {id_!r} cannot {change}: still referenced by {', '.join(whom)}")
        by_subjects_only = by_subjects_only and not users
    advice = " (change those documents first)" if not by_subjects_only else \
        "" if force else " (force deletes it anyway, keeping the subject data, audited)"
    return _joined(parts) + advice


def _cycles(view: RegistryView, upserts: list[Stored], gone: set[str]) -> list[str]:
    """Parent cycles the upserted categories and purposes close with the stored trees, in time
    linear in the trees' size (each node is walked once)."""
    mine = [stored for stored in upserts if stored.type in ("category", "purpose")]
    if not mine:
        return []
    parent = {doc["id"]: doc.get("parent") for type_ in ("category", "purpose") for doc in view.list(type_)
              if doc["id"] not in gone}
    parent.update((stored.id, stored.doc.get("parent")) for stored in mine)
    walked: dict[str, int] = {}  # node -> the walk that first reached it
    problems = []
    for walk, stored in enumerate(mine):
        path, node = [], stored.id
        while node in parent and node not in walked:
            walked[node] = walk
            path.append(node)
            node = parent[node]
        if node in walked and walked[node] == walk and path:  # this walk came back to itself
            cycle = path[path.index(node):] + [node]
            problems.append(f"{stored.type} {cycle[0]!r}: parent cycle: {' → '.join(cycle)}")
    return problems


def _joined(parts: Iterable[str]) -> str:
    parts = list(parts)
    more = f"; and {len(parts) - SHOWN} more" if len(parts) > SHOWN else ""
    return "; ".join(parts[:SHOWN]) + more


@contextmanager
def refused_as_invalid() -> Iterator[None]:
    """Answer a write the store refused (`IntegrityError`: what it names no longer exists, or is
    still referred to; nothing was written) as the caller's `InvalidArgument`, one line."""
    try:
        yield
    except IntegrityError as error:
        raise InvalidArgument(str(error)) from None
