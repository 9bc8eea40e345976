"""A scratch copy of a registry in memory, to try writes on without making them.

`ScratchStore(base)` starts as a copy of the base store's entities (or empty, without a
base). Writes change the copy only, planned by `graph.changes` like every backend's; reads and
traversals answer from the copy with the reference traversals (`graph.traversal`), as the
embedded backend does. Data subjects are the base store's, read-only: counts and lookups go to
it (none without a base); loading subjects or recording consents is refused. Nothing is audited.

`dsa-registry check FILE…` checks bundles on one of these: loaded on top of the store (or of
nothing), evaluated, thrown away.
"""

from __future__ import annotations

from collections.abc import Iterable

from graph.auditlog import AuditEntry, AuditHead, AuditQuery
from graph.changes import encode, plan
from graph.snapshot import Snapshot
from graph.store import Check, Doc, GraphStore, Stored, WriteResult
from graph.subjects import Concerned, ConsentGroup, EncodedSubject, SubjectRow
from graph.traversal import SnapshotReads


class ScratchStore(SnapshotReads):
    def __init__(self, base: GraphStore | None = None):
        self.base = base
        self._entities: dict[str, Stored] = dict(base.get_many(base.types_by_id())) if base is not None else {}
        self._version = 0
        self._snapshot: Snapshot | None = None

    def version(self) -> int:
        return self._version

    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            self._snapshot = Snapshot(self._entities)
        return self._snapshot

    def write(self, upserts: list[Stored], deletes: list[str], *, actor: str,
              check: Check | None = None) -> WriteResult:
        checked = check(_View(self)) if check else None
        if checked and checked.deletes is not None:
            deletes = checked.deletes
        current = {id_: (self._entities[id_].type, encode(self._entities[id_].doc))
                   for id_ in [stored.id for stored in upserts] + list(deletes) if id_ in self._entities}
        planned = plan(upserts, deletes, current)
        requested = {stored.id: stored for stored in upserts}
        for change in planned.changes:
            if change.after is None:
                del self._entities[change.id]
            else:
                self._entities[change.id] = requested[change.id]
        if planned.changes:
            self._version += 1
            self._snapshot = None
        return planned.result

    def audit(self, query: AuditQuery) -> list[AuditEntry]:
        return []

    # --- data subjects: the base store's, read-only ---------------------------------------

    def write_subjects(self, rows: Iterable[SubjectRow | EncodedSubject], *, actor: str, source: str, **_) -> int:
        raise NotImplementedError("a scratch store does not load data subjects")

    def audit_head(self) -> AuditHead | None:
        return self.base.audit_head() if self.base is not None else None

    def last_change(self) -> int:
        return self.base.last_change() if self.base is not None else 0

    def pending_loads(self) -> tuple[()]:
        return ()

    def abandon_loads(self, source: str, *, actor: str) -> int:
        raise NotImplementedError("a scratch store does not load data subjects")

    def derived(self, name: str) -> bytes | None:
        return None  # its audit log is empty: what changed since the base's counts cannot be told

    def keep_derived(self, name: str, data: bytes, subjects: Iterable[str] = ()) -> None:
        pass  # a dry run keeps nothing

    def subject(self, id: str) -> SubjectRow | None:
        return self.base.subject(id) if self.base is not None else None

    def subject_by_key(self, key_hash: str) -> str | None:
        return self.base.subject_by_key(key_hash) if self.base is not None else None

    def add_consent(self, id: str, event: Doc, *, actor: str) -> None:
        raise NotImplementedError("a scratch store does not record consents")

    def subject_references(self, typed: dict[str, str]) -> dict[str, dict[str, int]]:
        return self.base.subject_references(typed) if self.base is not None else {}

    def count_subjects(self, systems: Iterable[str]) -> int:
        return self.base.count_subjects(systems) if self.base is not None else 0

    def count_consenting(self, purposes: Iterable[str]) -> int:
        return self.base.count_consenting(purposes) if self.base is not None else 0

    def consent_groups(self, purposes: Iterable[str], *, every: bool = True,
                       run: tuple[str | None, str | None] = (None, None)) -> list[ConsentGroup]:
        return self.base.consent_groups(purposes, every=every, run=run) if self.base is not None else []

    def consent_runs(self, purposes: Iterable[str], *, every: bool = True, size: int
                     ) -> tuple[list[str], list[list[tuple[ConsentGroup, int]]]]:
        return self.base.consent_runs(purposes, every=every, size=size) if self.base is not None else ([], [[]])

    def subject_ids(self, systems: Iterable[str], limit: int) -> list[str]:
        return self.base.subject_ids(systems, limit) if self.base is not None else []

    def count_concerned(self, concerned: Concerned) -> int:
        return self.base.count_concerned(concerned) if self.base is not None else 0

    def concerned_ids(self, concerned: Concerned, limit: int) -> list[str]:
        return self.base.concerned_ids(concerned, limit) if self.base is not None else []

    def list_subjects(self, *, after: str | None, limit: int, systems: Iterable[str] | None = None) -> list[SubjectRow]:
        return self.base.list_subjects(after=after, limit=limit, systems=systems) if self.base is not None else []

    def subject_total(self) -> int:
        return self.base.subject_total() if self.base is not None else 0

    def count_disclosures(self, flows: Iterable[str], until: str | None = None) -> dict[str, int]:
        return self.base.count_disclosures(flows, until) if self.base is not None else {}

    def add_disclosure(self, id: str, disclosure: Doc, *, actor: str) -> None:
        raise NotImplementedError("a scratch store does not record disclosures")

    def erase_subject(self, id: str, *, keep: Iterable[str], actor: str, plan_date: str) -> None:
        raise NotImplementedError("a scratch store does not erase data subjects")

    def log_access(self, *, actor: str, subject: str, what: str, found: bool = True) -> None:
        if self.base is not None:
            self.base.log_access(actor=actor, subject=subject, what=what, found=found)

    def log_accesses(self, *, actor: str, subjects: list[str], what: str) -> None:
        if self.base is not None:
            self.base.log_accesses(actor=actor, subjects=subjects, what=what)

    def close(self) -> None:
        """Nothing to close: the base store belongs to whoever opened it."""


class _View:
    """The copy as a write's check sees it (`graph.store.RegistryView`); subject data is the base
    store's, counted by its own rule (`GraphStore.subject_references`) for the copy's entities."""

    def __init__(self, store: ScratchStore):
        self._store = store

    def types_by_id(self) -> dict[str, str]:
        return {id_: stored.type for id_, stored in self._store._entities.items()}

    def list(self, type: str) -> list[Doc]:
        return [stored.doc for stored in self._store._entities.values() if stored.type == type]

    def referring(self, ids) -> list[Stored]:
        return list(self._store._entities.values())

    def subject_references(self, ids) -> dict[str, dict[str, int]]:
        entities = self._store._entities
        return self._store.subject_references({id_: entities[id_].type for id_ in ids if id_ in entities})
