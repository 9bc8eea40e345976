"""Data subjects as a store keeps them: the records of `GraphStore`'s subject methods.

A subject comes as a `SubjectRow` (or an `EncodedSubject`, encoded by a process that checked
it): records, consent events, lookup-key hashes and disclosures; `SUBJECT_REFERENCES` says which
entities that data names, so that every delete can count them. A load applies `SUBJECT_BATCH`
subjects per transaction, reports its `Progress` and stays a `PendingLoad` until it ends;
`missing_message` and `partly_loaded` word its refusals. The reads the rules make answer with
`Concerned` (whom a place's data may concern) and `ConsentGroup` (subjects alike for the
consent rule); an erasure reports an `Erasure`.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, NamedTuple

import orjson

from graph.auditlog import NewAuditEntry, audit_time
from graph.changes import encode
from graph.store import Doc, IntegrityError, StoreBusy, StoreError

__all__ = ["HISTORY_FIELDS", "SUBJECT_BATCH", "SUBJECT_REFERENCES", "Concerned", "ConsentGroup", "EncodedSubject",
           "Erasure", "PendingLoad", "Progress", "SubjectRow", "encoded_subject", "keyed", "missing_message",
           "partly_loaded"]


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
    and status), and how many `subjects` they are. No ids: a count is all a rule needs. `alike`:
    a key (hashable) that groups alike in all but their count share, as the store read them, so
    that a rule can work out each kind of group once over many reads."""

    kind: str
    systems: tuple[str, ...]
    disclosed: tuple[tuple[str, str], ...]
    events: tuple[Doc, ...]
    subjects: int
    alike: Hashable = None

    @classmethod
    def of(cls, kind: str, systems: Iterable[str], disclosed: Iterable[Iterable[str]],
           events: Iterable[Iterable[str | None]], subjects: int, alike: Hashable = None) -> ConsentGroup:
        """A group from a store's rows: `events` as tuples in `HISTORY_FIELDS` order, None where
        unset; `alike` by default from the rest."""
        systems, disclosed, events = tuple(systems), tuple(map(tuple, disclosed)), tuple(map(tuple, events))
        return cls(kind, systems, disclosed,
                   tuple({f: v for f, v in zip(HISTORY_FIELDS, event) if v is not None} for event in events),
                   subjects, (kind, systems, disclosed, events) if alike is None else alike)


HISTORY_FIELDS = ("at", "purpose", "status", "expires")
"""The fields of a consent event that decide whether consent stands (`ConsentGroup.events`)."""


@dataclass(frozen=True)
class Erasure:
    """What `erase_subject` removed, for the audit entry that proves it (no personal data in it).

    `systems` are those whose records went; `kept` those whose records stay because data must
    be kept there (Art. 17(3)): with `kept` empty the whole subject went, consents, keys and
    disclosures included, and the documents of the audit entries about it (`audit_documents`:
    their seals stay, `graph.audit`)."""

    systems: tuple[str, ...]
    kept: tuple[str, ...]
    consents: int = 0
    keys: int = 0
    disclosures: int = 0
    audit_documents: int = 0
    audit_documents_kept: int = 0
    """Entries about the subject written before seals existed: their documents are in the chain,
    which erasure cannot change without breaking it (`graph.audit`)."""
    residue: str | None = None
    """Where copies of the erased data may still be for a while, for the operator (not in the proof);
    None: nowhere the store knows of."""

    def proof(self, plan_date: str) -> Doc:
        """The audit entry's document: counts and system ids, never the data."""
        proof = {"erased": list(self.systems), "kept": list(self.kept), "consents": self.consents, "keys": self.keys,
                 "disclosures": self.disclosures, "audit_documents": self.audit_documents, "plan": plan_date}
        if self.audit_documents_kept:
            proof["audit_documents_kept"] = self.audit_documents_kept
        return proof

    def proofs(self, id: str, documents: Mapping[str, int], plan_date: str, actor: str) -> list[NewAuditEntry]:
        """The audit entries that prove the erasure of subject `id`: its own (`proof`), and one for
        each other entity whose entry documents went with it (`documents`: entity -> how many; the
        lookups by its keys, `key:HASH`), so that `graph.audit.verify` finds why they are gone."""
        at = audit_time()
        return [NewAuditEntry(at, actor, "erase", "subject", id, after=encode(self.proof(plan_date)))] + [
            NewAuditEntry(at, actor, "erase", "subject", entity,
                          after=encode({"erased_with": "subject", "kept": [], "audit_documents": count,
                                        "plan": plan_date}))
            for entity, count in sorted(documents.items()) if entity != id]


WAL_RESIDUE = ("the embedded store's write-ahead log still holds older versions of the erased data, because "
               "readers kept it busy; it is emptied at the next erasure or when the store is closed")
NEO4J_RESIDUE = ("Neo4j keeps transaction logs of the erased data until they rotate out "
                 "(db.tx_log.rotation.retention_policy), and overwrites deleted records as it reuses them")


def restricted(records: list[Doc], day: str) -> list[Doc]:
    """`records` kept by an erasure carried out on `day` (ISO date), each marked `restricted` from
    then on (from its first such erasure, where it was kept before): its data is kept for the
    ground that keeps it only (GDPR Art. 17(3)), and flows no longer carry it on."""
    return [{**r, "restricted": r.get("restricted") or day} for r in records]


ABANDONED = ("its pending record was cleared meanwhile (subjects abandon-load, or another load of the same file "
             "completed it): erasures may have followed, so it stops")
"""Why a load of several batches stops before a batch: its mark is gone, and with it the refusal of
erasure that let it write subjects back (`graph.subjects.partly_loaded` says how far it got)."""


Progress = Callable[[int, int], None]
"""Called with (done, total) as long work advances: subjects applied of those in the file."""

LOADED = "subject-load "
"""The derived data (`GraphStore.derived`) of a subject load: under `loaded(seq)` of the audit
entry that it ended, JSON {"first": id, "last": id}, the least and the greatest subject id it
wrote, and under the entry that a load of several batches started, those of the batches it has
applied so far (a load killed half-way, whose pending mark a later load of its file clears, is
still seen to have changed them); naming those two subjects, so that an erasure of either drops it. A reader of
the audit log learns from it which subjects a load may have changed; where it is gone (erased,
or older than the last `LOADS_KEPT`), any. Ids are compared as text, as the stores order them."""
LOADS_KEPT = 100
"""The most recent loads whose `LOADED` range is kept."""


def loaded(seq: int) -> str:
    """The name of the `LOADED` range of the load whose last audit entry is `seq` (names sort by seq)."""
    return f"{LOADED}{seq:012d}"


SUBJECT_BATCH = 10_000
"""Subjects a load applies per transaction. A file of at most this many applies whole or not at
all; a larger one is applied batch by batch (each whole), so that readers and other writers
wait at most one batch; see `GraphStore.write_subjects`."""


@dataclass(frozen=True)
class PendingLoad:
    """A subject load that started applying and has not finished (its process was killed, or a
    batch failed): `source` the file's name, `subjects` how many it holds, `applied` how many
    were applied, `started` when (as `audit_time` writes it) and by whom (`actor`), `digest` the
    file's SHA-256 (hex; None where the loader gave none, or an older version recorded it).
    Loading the same file again completes it: a load is idempotent."""

    source: str
    subjects: int
    applied: int
    started: str
    actor: str
    digest: str | None = None
