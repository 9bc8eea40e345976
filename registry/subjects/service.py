"""Use cases on data subjects: loading files, consents, disclosures, DSAR reports, erasure plans
and erasure carried out, listing and export.

Every call that reads or changes subject data passes `roles.require` first (`subject-data:read`
or `:write`), and every DSAR or erasure-plan lookup is written to the audit log (who looked up
whom), a lookup that finds nobody too.

Lookup keys are hashed with the configured secret; the store records the fingerprint of the
secret its keys were hashed with, and a lookup or load with another secret is refused
(`KeyMismatch`) rather than answered with "no such subject".
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from graph.flows import has_carried
from graph.store import Stored
from graph.subjects import Concerned, Erasure, PendingLoad, Progress, SubjectRow
from registry.subjects import dsar, erasure, files, keys, model, parallel
from registry.processing import as_processor, supplied_under
from registry.subjects.consent import Rules
from registry.subjects.keys import KeyMismatch
from registry.auth.roles import SUBJECT_READ, SUBJECT_WRITE, Principal, require
from registry.categories import CategoryTree, Tree
from registry.errors import InvalidArgument, NotFound
from registry.integrity import refused_as_invalid
from registry.paging import check_first
from registry.service import Registry

T = TypeVar("T")
_CACHE_SIZE = 4096
MAX_PAGE = 1000
"""The most subjects one `list` call returns."""


class SubjectService:
    def __init__(self, registry: Registry, hasher: keys.KeyHasher | None = None,
                 clock: Callable[[], date] = lambda: datetime.now(timezone.utc).date()):
        """`clock()` gives today (UTC): the latest day an erasure may be carried out as of."""
        self.registry = registry
        self.clock = clock
        self.store = registry.store
        self.hasher = hasher or keys.KeyHasher(None)
        self._downstream: OrderedDict[tuple, list] = OrderedDict()
        self._downstream_lock = threading.Lock()
        self._per_version: dict[str, tuple[int, Any]] = {}  # `_at_version`'s

    def load(self, path: Path, *, principal: Principal, read: Progress | None = None,
             applied: Progress | None = None, workers: int | None = None) -> int:
        """Load a JSON Lines or CSV subject file. The file is read and validated whole before
        anything is written: an invalid line (`SubjectsInvalid`) changes nothing. It is then applied
        in batches (`graph.store.GraphStore.write_subjects`): all of a file of one batch or none; a
        larger one killed half-way is completed by loading it again (the same name and content:
        its SHA-256 goes with the load).

        A large file is checked by `workers` processes (default: `parallel.workers_for` its size; 0
        checks it in this one). `read(bytes, file size)` and `applied(subjects, total)` report progress."""
        require(principal, SUBJECT_WRITE)
        checked_at = self.store.version()  # read first: the entities checked against are as new or newer
        checker = model.Checker(str(path), self.store.types_by_id(), _Verified(self), self._case_flows())
        workers = parallel.workers_for(path.stat().st_size) if workers is None else workers
        with files.FileDigest() as digest:
            lines = files.read_subjects(path, read, digest)
            if workers and self._readable_secret():
                rows = parallel.rows(lines, dataclasses.replace(checker, hasher=self.hasher), workers, self.check_key)
            else:
                rows = model.rows(lines, checker)
            # the store checks again, in each batch's transaction, that what the rows name still exists
            with refused_as_invalid():
                return self.store.write_subjects(rows, actor=principal.name, source=path.name,
                                                 key_fingerprint=lambda: self.hasher.fingerprint, progress=applied,
                                                 checked_at=checked_at, file_digest=digest.hexdigest)

    def _readable_secret(self) -> bool:
        """Whether the lookup-key secret (if any) can be read now, to go to worker processes; when it
        cannot, the load checks in this process and reports the problem where a key is hashed."""
        try:
            self.hasher.load()
        except Exception:  # noqa: BLE001 - the same error comes again, in its place, on the other path
            return False
        return True

    def pending_loads(self, *, principal: Principal) -> tuple[PendingLoad, ...]:
        """The subject loads that started applying and did not finish, oldest first."""
        require(principal, SUBJECT_WRITE)
        return self.store.pending_loads()

    def abandon_loads(self, source: str, *, principal: Principal) -> int:
        """Forget the pending loads of the file named `source` that will not be loaded again (it is
        gone, or was replaced by another of that name); audited; how many. The subjects their
        batches applied stay, and erasure is no longer refused for their sake. `NotFound` when
        no load of `source` is pending."""
        require(principal, SUBJECT_WRITE)
        abandoned = self.store.abandon_loads(source, actor=principal.name)
        if not abandoned:
            pending = ", ".join(sorted({p.source for p in self.store.pending_loads()})) or "none"
            raise NotFound(f"source: no load of {source!r} is pending (pending: {pending})")
        return abandoned

    def check_key(self) -> None:
        """Raise `KeyMismatch` when a secret is configured and the store's keys were hashed with another
        (the server checks this at start; `SettingsError` when the configured secret is unusable)."""
        self._fingerprint_if_configured(check=True)

    def find(self, *, principal: Principal, subject: str | None = None, email: str | None = None,
             what: str = "lookup") -> SubjectRow:
        """A subject by id or by e-mail (normalised and hashed, never stored). A lookup that finds
        nobody is audited as a read of `what` that found nothing (by e-mail: the key's hash)."""
        require(principal, SUBJECT_READ)
        if (subject is None) == (email is None):
            raise InvalidArgument("give exactly one of subject and email")
        if email is not None:
            key = self._checked_hasher().hash("email", email)
            subject = self.store.subject_by_key(key)
            if subject is None:
                self.store.log_access(actor=principal.name, subject=f"key:{key}", what=what, found=False)
                raise NotFound("email: no subject with that e-mail address")
        row = self.store.subject(subject)
        if row is None:
            self.store.log_access(actor=principal.name, subject=subject, what=what, found=False)
            raise NotFound(f"subject: unknown subject {subject!r}")
        return self._with_declared(row)

    def report(self, *, principal: Principal, subject: str | None = None, email: str | None = None,
               as_of: date | None = None) -> dsar.DsarReport:
        """The subject's report, following the flows in force on `as_of` (default today, UTC).

        The registry is read as of one version (`GraphStore.pinned`): on Neo4j the subject, the
        audit entry and the registry facts not kept yet at that version are the only round trips."""
        with self.store.pinned():
            row = self.find(principal=principal, subject=subject, email=email, what="dsar")
            self.store.log_access(actor=principal.name, subject=row.id, what="dsar")
            return self._report(row, as_of or datetime.now(timezone.utc).date())

    def erasure_plan(self, *, principal: Principal, subject: str, today: date | None = None) -> erasure.ErasurePlan:
        """What to erase where, what to keep and why, and whom to tell, with retention as of `today`."""
        with self.store.pinned():
            row = self.find(principal=principal, subject=subject, what="erasure-plan")
            self.store.log_access(actor=principal.name, subject=row.id, what="erasure-plan")
            today = today or datetime.now(timezone.utc).date()
            return erasure.erasure_plan(self._report(row, today), today)

    def erase(self, *, principal: Principal, subject: str, today: date | None = None
              ) -> tuple[erasure.ErasurePlan, Erasure]:
        """Record that the subject's erasure plan (as of `today`) has been carried out: the subject's
        records go from the registry, except in the systems where data must be kept (Art. 17(3)),
        which get a record of what they keep where it came from records that go
        (`ErasurePlan.added_records`);
        when nothing must be kept, the subject goes altogether (records, consents, lookup keys,
        disclosures). One audit entry proves it (systems and counts, no personal data). `today`
        (default today, UTC) may not be a later day: `InvalidArgument`."""
        require(principal, SUBJECT_WRITE)
        self._refuse_while_loading(subject)
        now = self.clock()
        if today is not None and today > now:  # retention would seem to have run: an erasure nothing can undo
            raise InvalidArgument(f"today: {today.isoformat()} is after today ({now.isoformat()}, UTC); an erasure "
                                  "is carried out as of today or an earlier day, never ahead of the retention it "
                                  "must respect (an erasure plan may look ahead)")
        today = today or now
        plan = self.erasure_plan(principal=principal, subject=subject, today=today)
        done = self.store.erase_subject(plan.report.subject.id, keep=plan.kept_systems, add=plan.added_records,
                                        actor=principal.name, plan_date=today.isoformat())
        if done is None:  # erased meanwhile by another caller
            raise NotFound(f"subject: unknown subject {subject!r}")
        return plan, done

    def _refuse_while_loading(self, subject: str) -> None:
        """`InvalidArgument` while a subject load is pending: finishing it (loading its file again)
        would write back the subjects of its file, an erased one too (Art. 17 erasure undone). The
        message names the oldest and how many more there are."""
        pending, *more = self.store.pending_loads() or (None,)
        if pending is not None:
            others = f" (and {len(more)} more load(s) pending)" if more else ""
            raise InvalidArgument(
                f"subject {subject!r} cannot be erased while a subject load is pending: the load of {pending.source} "
                f"by {pending.actor} (started {pending.started}) stopped after {pending.applied:,} of "
                f"{pending.subjects:,} subjects{others}, and finishing it would re-create erased subjects; load "
                f"{pending.source} again to finish it, then erase")

    def disclose(self, *, principal: Principal, subject: str, flow: str, at: datetime | None = None,
                 reference: str | None = None) -> SubjectRow:
        """Record a disclosure of the subject's data on `flow`, a flow of scope `case` (default time:
        now): from then on the flow's recipient is one of the subject's recipients."""
        require(principal, SUBJECT_WRITE)
        row = self.find(principal=principal, subject=subject, what="disclosure")
        found = self.registry.entity(flow, "flow", argument="flow")
        if found.doc.get("scope", "all") != "case":
            raise InvalidArgument(f"flow {flow!r} has scope all: it carries every subject's data; disclosures are "
                                  "recorded on flows of scope case")
        with _validated():
            event = model.Disclosure(flow=flow, at=at or datetime.now(timezone.utc), reference=reference)
        with refused_as_invalid():  # the flow may have been deleted meanwhile
            self.store.add_disclosure(row.id, event.to_doc(), actor=principal.name)
        return self._with_declared(self.store.subject(row.id))

    def list(self, *, principal: Principal, after: str | None = None, limit: int = 100
             ) -> tuple[list[SubjectRow], bool]:
        """Up to `limit` (0 to `MAX_PAGE`) subjects (id, kind, records) after the id `after`, sorted
        by id, and whether more follow; audited. Raises `InvalidArgument` for a `limit` out of bounds."""
        require(principal, SUBJECT_READ)
        check_first(limit, MAX_PAGE)
        rows = self.store.list_subjects(after=after, limit=limit + 1)
        more, rows = len(rows) > limit, rows[:limit]
        self.store.log_access(actor=principal.name, subject="*", what=f"list after {after or 'the start'}: "
                                                                      f"{len(rows)} subjects")
        return [self._with_declared(row) for row in rows], more

    def total(self, *, principal: Principal) -> int:
        """How many subjects the registry records."""
        require(principal, SUBJECT_READ)
        return self.store.subject_total()

    def export(self, *, principal: Principal, subjects: list[str] | None = None) -> Iterator[dict]:
        """The given subjects (default: all, by id), each as a line of a subject file (records,
        consents, disclosures; lookup keys are stored only as hashes and are left out): the
        structured, machine-readable copy of Art. 20, and a backup. Audited once, with the count.

        The permission and every given id are checked here, before the first line is asked for
        (`Forbidden`, `NotFound`), so a caller can refuse before it opens its output."""
        require(principal, SUBJECT_READ)
        ids = [self.find(principal=principal, subject=id_, what="export").id for id_ in subjects] if subjects else None
        return self._exported(principal, ids)

    def _exported(self, principal: Principal, ids: list[str] | None) -> Iterator[dict]:
        """The lines, audited when the caller has them all or stops: an export of named subjects
        as a read of each (an entry per subject, which goes with that subject's erasure), the
        whole registry as one read of `*` with the count."""
        exported = []
        try:
            for id_ in ids if ids is not None else self._all_ids():
                row = self.store.subject(id_)
                if row is not None:
                    exported.append(id_)
                    yield model.subject_doc(row)
        finally:
            if ids is None:
                self.store.log_access(actor=principal.name, subject="*", what=f"export: {len(exported)} subjects")
            elif exported:
                self.store.log_accesses(actor=principal.name, subjects=exported, what="export")

    def _all_ids(self) -> Iterator[str]:
        after = None
        while rows := self.store.list_subjects(after=after, limit=MAX_PAGE):
            yield from (row.id for row in rows)
            after = rows[-1].id

    def set_consent(self, *, principal: Principal, subject: str, purpose: str, status: str,
                    at: datetime | None = None, notice: str | None = None, channel: str | None = None,
                    expires: datetime | None = None) -> SubjectRow:
        """Record that the subject granted or withdrew consent for a purpose (default: now); a grant
        may say when it `expires`."""
        require(principal, SUBJECT_WRITE)
        row = self.find(principal=principal, subject=subject, what="consent")
        self.registry.entity(purpose, "purpose", argument="purpose")
        with _validated():
            event = model.ConsentEvent(purpose=purpose, status=status, at=at or datetime.now(timezone.utc),
                                       notice=notice, channel=channel, expires=expires)
        with refused_as_invalid():  # the purpose may have been deleted meanwhile
            self.store.add_consent(row.id, event.to_doc(), actor=principal.name)
        return self._with_declared(self.store.subject(row.id))

    def affected(self, *, principal: Principal, concerned: Concerned, limit: int = 1000) -> list[str]:
        """Up to `limit` ids of the subjects `concerned` describes (a breach's), for those who may
        see subject data; audited."""
        require(principal, SUBJECT_READ)
        if not 1 <= limit <= 100_000:
            raise InvalidArgument(f"limit must be between 1 and 100000 (got {limit})")
        ids = self.store.concerned_ids(concerned, limit)
        where = ", ".join(concerned.systems) + (f"; disclosed on {', '.join(concerned.disclosed)}"
                                                if concerned.disclosed else "")
        self.store.log_access(actor=principal.name, subject="*", what=f"subjects concerned ({where}): {len(ids)}")
        return ids

    def _checked_hasher(self) -> keys.KeyHasher:
        """The hasher, once its secret is known to be the store's (or the store has no keys yet)."""
        self._fingerprint_if_configured(check=True)
        return self.hasher

    def _fingerprint_if_configured(self, check: bool = False) -> str | None:
        configured = self.hasher.fingerprint
        if check and configured is not None:
            recorded = self.store.key_fingerprint()
            if recorded is not None and recorded != configured:
                raise KeyMismatch(recorded, configured)
        return configured

    def _with_declared(self, row: SubjectRow) -> SubjectRow:
        """`row` with every record's categories: those it lists, or else what its system declares
        for subjects of its kind (`dsar.declared`; records are stored without them, so they
        follow the system's declaration). Where the system declares nothing for that kind, all it
        declares: the record says it holds something of the person, and a report must not leave
        the system out (GDPR Art. 15(1)(b))."""
        if all("categories" in r for r in row.records):
            return row
        systems = self.store.get_many(r["system"] for r in row.records)

        def categories(system: str) -> list[str]:
            if system not in systems:
                return []
            doc = systems[system].doc
            return list(dsar.declared(doc, row.kind)) or list(dict.fromkeys(h["category"] for h in doc.get("holds", ())))

        return dataclasses.replace(row, records=[r if "categories" in r else {
            "system": r["system"], "categories": categories(r["system"]), **r} for r in row.records])

    def _report(self, row: SubjectRow, as_of: date) -> dsar.DsarReport:
        flows: dict[str, dict] = {}
        entities: dict[str, Stored] = {}
        systems = {r["system"] for r in row.records}
        # the categories too, in the same read: each lineage below checks that they exist
        known = self.store.get_many(systems | {c for r in row.records for c in r.get("categories", ())})
        row = dataclasses.replace(row, records=[r for r in row.records if r["system"] in known])
        starts = [(record["system"], record["categories"]) for record in row.records]
        # A disclosure names a flow of scope `case`; what lies beyond its recipient counts too.
        disclosed = self.store.get_many({d["flow"] for d in row.disclosures})
        for flow in disclosed.values():
            if flow.type == "flow":
                flows[flow.id] = flow.doc
                if self.store.get_many([flow.doc["to"]]):
                    starts.append((flow.doc["to"], flow.doc["categories"]))
                entities.update(self.store.get_many([flow.doc["from"], flow.doc["to"]]))
        for start, categories in starts:
            nodes, edges = self._flows_from(start, categories, as_of)
            entities.update((n.id, n) for n in nodes)
            flows.update((e["id"], e) for e in edges)
        categories, tree = self._category_tree()
        wanted = {f.get("agreement") for f in flows.values()} | {r.get("source") for r in row.records}
        entities.update(self.store.get_many(id_ for id_ in wanted if id_))
        entities.update((id_, Stored("flow", doc)) for id_, doc in flows.items())
        entities.update((doc["id"], Stored("category", doc)) for doc in categories)
        return dsar.compute(row, list(flows.values()), entities, tree, as_of=as_of, rules=self._consent_rules(),
                            terms=self._flow_terms(), bases=self._legal_bases(), supplied=self._supplied(as_of))

    def _at_version(self, name: str, make: Callable[[], T]) -> T:
        """What `make()` gives, kept under `name` until the store's version changes."""
        version = self.store.version()
        found = self._per_version.get(name)
        if found is None or found[0] != version:
            found = self._per_version[name] = (version, make())
        return found[1]

    def _consent_rules(self) -> Rules:
        """The consent rules over the purposes, as of the store's version."""
        def make() -> Rules:
            purposes = self.registry.list("purpose")
            return Rules(Tree(purposes, ()), {p["id"]: p for p in purposes})
        return self._at_version("consent rules", make)

    def _legal_bases(self) -> dict[str, dict]:
        """The legal bases by id (the built-in ones and the bundles' own), as of the store's version."""
        return self._at_version("legal bases", lambda: {b["id"]: b for b in self.registry.list("legal-basis")})

    def _supplied(self, as_of: date) -> dict:
        """Which controller supplies which system as our controller's processor on `as_of`
        (`registry.processing.supplied_under`): through the flows under such agreements that have
        carried data by then (`graph.flows.has_carried`; a plan or a flow not started yet has
        supplied nothing, one ended or suspended has). Those flows are kept per store version."""
        def make() -> tuple[list[dict], dict, dict]:
            roles = {party["id"]: party.get("role") for party in self.registry.list("party")}
            agreements = self.registry.list("agreement")
            under = as_processor(agreements, roles.get)
            return ([flow for flow in self.registry.list("flow") if flow.get("agreement") in under], under,
                    {agreement["id"]: agreement for agreement in agreements if agreement["id"] in under})
        feeds, under, documents = self._at_version("processor feeds", make)
        return supplied_under([flow for flow in feeds if has_carried(flow, as_of)], under, documents)

    def _flow_terms(self) -> dict[str, tuple]:
        """Flows' effective terms for `dsar.compute` to fill in and reuse, started afresh at each
        version of the store (so that documents no longer current are let go)."""
        return self._at_version("flow terms", dict)

    def _case_flows(self) -> frozenset[str]:
        return frozenset(f["id"] for f in self.registry.list("flow") if f.get("scope") == "case")

    def _category_tree(self) -> tuple[list, CategoryTree]:
        """The categories and their tree, as of the store's version."""
        def make() -> tuple[list, CategoryTree]:
            categories = self.registry.list("category")
            return categories, CategoryTree(categories)
        return self._at_version("categories", make)

    def _flows_from(self, system: str, categories: list[str], as_of: date):
        """Nodes and flows in force on `as_of` downstream of `system` carrying data of `categories`
        (memoised per store version and day)."""
        key = (self.store.version(), as_of, system, tuple(sorted(categories)))
        with self._downstream_lock:  # API requests run in threads
            if key in self._downstream:
                self._downstream.move_to_end(key)
                return self._downstream[key]
        found = self.registry.lineage(system, "downstream", None, list(categories) or None,
                                      as_of=as_of) if categories else None
        answer = (found.nodes, found.edges) if found else (self.store.get_many([system]).values(), [])
        with self._downstream_lock:
            self._downstream[key] = answer
            if len(self._downstream) > _CACHE_SIZE:
                self._downstream.popitem(last=False)
        return answer


@contextmanager
def _validated() -> Iterator[None]:
    """Answer an invalid value (a model's `ValueError`) as an `InvalidArgument` naming its first problem."""
    try:
        yield
    except ValueError as error:
        raise InvalidArgument(_first_error(error)) from None


def _first_error(error: ValueError) -> str:
    """One line for a pydantic error (its first problem, with the field), or the error's text."""
    errors = getattr(error, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        return f"{where}: {first['msg'].removeprefix('Value error, ')}" if where else first["msg"].removeprefix(
            "Value error, ")
    return str(error)


class _Verified:
    """The service's hasher for a load: checks on first use (a file without keys needs no secret)
    that its secret is the one the store's keys were hashed with."""

    def __init__(self, service: SubjectService):
        self.service, self.checked = service, False

    def hash(self, name: str, value: str) -> str:
        if not self.checked:
            self.service.check_key()
            self.checked = True
        return self.service.hasher.hash(name, value)
