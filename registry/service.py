"""The registry's use cases: loading and exporting bundles, changing entities, and the
"who holds which data and why" questions, over any `GraphStore`.

The service validates every change completely before the store applies it in one
transaction, checks its references again inside that transaction (`registry.integrity`), and
passes the actor through to the audit log. Query results come with the
entities they mention already fetched (one batch per query), so faces never make a store
round trip per field.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from graph.auditlog import AuditEntry, AuditQuery
from graph.flows import in_force, planned
from graph.store import MAX_DEPTH, Direction, Doc, GraphStore, Holding, Lineage, Stored, WriteResult, today
from graph.changes import Change, encode, plan
from registry.categories import CategoryTree
from registry.bundle import Item, Source, entities_in, items_of, section_of, validate
from registry.errors import InvalidArgument, NotFound
from registry.filters import FlowFilter, InEea, Matcher
from registry.integrity import WriteCheck, refused_as_invalid
from registry.legal_bases import BUILTIN_LEGAL_BASES
from registry.model import MODELS

SYSTEM_ACTOR = "dsa-registry"


def one_version(answer: Callable) -> Callable:
    """`answer(registry, ...)` (a question that reads the registry several times: its facts, the
    entities it names) in one pinned scope of the registry's store (`GraphStore.pinned`): it sees
    one state of the registry, and a store whose version check costs a round trip (Neo4j) makes
    it once instead of at every read (eight lists for the compliance facts alone)."""

    @functools.wraps(answer)
    def pinned(registry, *args, **kwargs):
        with registry.store.pinned():
            return answer(registry, *args, **kwargs)

    return pinned


@dataclass(frozen=True)
class HoldingView:
    """A holding with the entities it names."""

    holding: Holding
    entities: dict[str, Stored]

    def entity(self, id_: str | None) -> Stored | None:
        return self.entities.get(id_) if id_ else None


@dataclass(frozen=True)
class LoadPlan:
    """What a load would do: the changes in the order the store would apply them, how many
    documents are unchanged, and the subject data that refers to deleted entities (or to ones a
    replace gives another type), which the load refuses without `force`: id -> kind of reference
    (`graph.subjects.SUBJECT_REFERENCES`: records, record categories, record sources, consents,
    kind, disclosures) -> how many subjects."""

    changes: list[Change]
    unchanged: int
    taken: dict[str, dict[str, int]] = field(default_factory=dict)


def _sources(bundles: Iterable[Source | tuple[str, str]]) -> list[Source]:
    return [bundle if isinstance(bundle, Source) else Source(*bundle) for bundle in bundles]


class Registry:
    def __init__(self, store: GraphStore):
        self.store = store
        self._install_builtins()

    # --- changes -------------------------------------------------------------------------

    def load(self, bundles: Iterable[Source | tuple[str, str]], *, actor: str, replace: bool = False,
             force: bool = False, stage: Callable[[str], None] | None = None) -> WriteResult:
        """Validate and apply bundles (documents, or (source name, text) pairs), all in one
        transaction.

        With `replace`, everything the bundles do not define is deleted (built-ins stay); an
        entity that subject data refers to only with `force` (`InvalidArgument` otherwise).
        `stage(name)` is called as each stage begins (parsing, checking, writing).
        """
        stage = stage or (lambda name: None)
        stage("parsing")
        items = items_of(_sources(bundles))
        return self.load_items(items, actor=actor, replace=replace, force=force, stage=stage)

    def load_data(self, data: Any, *, source: str, actor: str, replace: bool = False,
                  force: bool = False) -> WriteResult:
        return self.load_items(entities_in(data, Source(source)), actor=actor, replace=replace, force=force)

    def load_items(self, items: list[Item], *, actor: str, replace: bool = False, force: bool = False,
                   stage: Callable[[str], None] | None = None) -> WriteResult:
        stage = stage or (lambda name: None)
        stage(f"checking {len(items):,} entities")
        docs, deletes = self._checked(items, replace)
        stage(f"writing {len(docs):,} entities" + (f", deleting {len(deletes):,}" if deletes else ""))
        return self._write(WriteCheck(docs, deletes, replace, force), actor=actor)

    def _write(self, check: WriteCheck, *, actor: str) -> WriteResult:
        """Apply a checked change; the store runs `check` again inside its transaction."""
        with refused_as_invalid():
            return self.store.write(check.upserts, check.deletes, actor=actor, check=check)

    def plan(self, bundles: Iterable[Source | tuple[str, str]], *, replace: bool = False) -> LoadPlan:
        """What loading the bundles would change, as the store would apply it
        (`graph.changes.plan`), and the subject data that refers to each deleted entity, counted
        as the write's check counts it (`GraphStore.subject_references`). Changes nothing; raises
        `BundleInvalid` like `load`."""
        docs, deletes = self._checked(items_of(_sources(bundles)), replace)
        current = {id_: (stored.type, encode(stored.doc))
                   for id_, stored in self.store.get_many([stored.id for stored in docs] + deletes).items()}
        planned = plan(docs, deletes, current)
        gone = {change.id: current[change.id][0] for change in planned.changes  # deleted, or given another type
                if change.id in current and (change.action == "delete" or current[change.id][0] != change.type)}
        taken = self.store.subject_references(gone) if gone else {}
        return LoadPlan(planned.changes, planned.unchanged, dict(sorted(taken.items())))

    def _checked(self, items: list[Item], replace: bool) -> tuple[list[Stored], list[str]]:
        """The validated documents and (with `replace`) the ids to delete."""
        current = self.store.types_by_id()
        existing = {} if replace else current
        parents = {} if replace else {doc["id"]: doc.get("parent")
                                      for type_ in ("category", "purpose") for doc in self.store.list(type_)}
        docs = validate(items, existing, parents)
        deletes = []
        if replace:
            keep = {stored.id for stored in docs} | BUILTIN_LEGAL_BASES.keys()
            deletes = sorted(id_ for id_ in current if id_ not in keep)
        return docs, deletes

    def upsert(self, type_: str, raw: dict[str, Any], *, actor: str) -> Stored:
        self.load_items([Item(Source("input"), (), type_, raw)], actor=actor)
        return self.store.get_many([raw["id"]])[raw["id"]]

    def delete(self, type_: str, id_: str, *, actor: str, force: bool = False) -> Stored:
        """Delete one entity. Refused (`InvalidArgument`, naming what refers to it) while any
        document refers to it, or subject data (records, consents …) unless `force`: the subject
        data is then kept and the delete audited with the number of subjects."""
        stored = self.entity(id_, type_)
        if id_ in BUILTIN_LEGAL_BASES:
            raise InvalidArgument(f"{id_!r} is a built-in legal basis and cannot be deleted")
        self._write(WriteCheck([], [id_], force=force), actor=actor)
        return stored

    # --- reads ---------------------------------------------------------------------------

    def entity(self, id_: str, *types: str, argument: str | None = None) -> Stored:
        """The entity `id_`, which must be of one of `types` (any type when none is given).
        Raises `NotFound` ("unknown system or party 'x'"), prefixed with the `argument` that gave
        the id where there is one, as the API names it ("holder: unknown system or party 'x'")."""
        stored = self.store.get_many([id_]).get(id_)
        if stored is None or (types and stored.type not in types):
            raise NotFound(f"{argument + ': ' if argument else ''}unknown {' or '.join(types) or 'entity'} {id_!r}")
        return stored

    def entities(self, ids) -> dict[str, Stored]:
        return self.store.get_many(ids)

    def list(self, type_: str) -> list[Doc]:
        return self.store.list(type_)

    def export(self) -> dict[str, list[Doc]]:
        """A bundle that loads back into an identical registry (built-in bases left out)."""
        bundle = {}
        for type_, model in MODELS.items():
            docs = [model.model_validate(doc).model_dump(mode="json", by_alias=True, exclude_defaults=True)
                    for doc in self.store.list(type_) if doc["id"] not in BUILTIN_LEGAL_BASES]
            if docs:
                bundle[section_of(type_)] = docs
        return bundle

    def audit(self, *, entity: str | None = None, since: int = 0, limit: int = 100) -> list[AuditEntry]:
        """The raw log after sequence number `since`, oldest first, for code that holds the store
        (callers read it through `registry.audit.AuditTrail`, which checks their permissions)."""
        if not 1 <= limit <= 1000:
            raise InvalidArgument("limit must be between 1 and 1000")
        return self.store.audit(AuditQuery(entity=entity, after=since, limit=limit))

    def flows(self, wanted: FlowFilter | None = None, *, in_eea: InEea | None = None) -> list[Doc]:
        """The flows, sorted by id; with `wanted`, those it keeps (`registry.filters`; `in_eea`
        tells EEA countries apart for `outside_eea`). Raises `NotFound` for an unknown id in the
        filter, `InvalidArgument` for a bad country or party kind."""
        docs = self.store.list("flow")
        if wanted is None or not wanted.given:
            return docs
        matcher = Matcher(self, wanted, in_eea)
        ends = self.store.get_many({doc["to"] for doc in docs}) if wanted.about_receiver else {}
        return [doc for doc in docs if matcher.flow(doc, ends)]

    def holders(self, category: str, include_descendants: bool = True, as_of: date | None = None,
                wanted: FlowFilter | None = None, *, in_eea: InEea | None = None) -> list[HoldingView]:
        """Who holds `category` (its ancestors, and optionally its descendants) on day `as_of`
        (default today, UTC): declarations, and flows in force that day; with `wanted`, the
        holdings it keeps (`registry.filters`, as `flows`)."""
        with self.store.pinned():  # one version check for the whole answer (`GraphStore.pinned`)
            self.entity(category, "category", argument="category")
            matcher = Matcher(self, wanted, in_eea) if wanted is not None and wanted.given else None
            views = self._views(self.store.holders(category, include_descendants, as_of or today()))
            return views if matcher is None else [view for view in views if matcher.holding(view)]

    def holdings(self, holder: str, as_of: date | None = None) -> list[HoldingView]:
        """Everything one system or party holds on day `as_of` (default today, UTC)."""
        with self.store.pinned():
            self.entity(holder, "system", "party", argument="holder")
            return self._views(self.store.holdings(holder, as_of or today()))

    def lineage(self, start: str | None, direction: Direction | None = None, depth: int | None = None,
                categories: list[str] | None = None, as_of: date | None = None,
                include_proposed: bool = False) -> Lineage:
        """The flows reached from `start` on day `as_of` (default today, UTC): `direction`
        (default downstream), within `depth` flows, following flows that carry data of one of
        `categories`; with the planned flows too when `include_proposed` (their documents say
        `status: proposed`). Without `start`, the whole registry as one flat node and edge list:
        every system and party and every such flow (with `categories`, the flows carrying data of
        one of them, their ends and the systems that declare such data), without distances.

        Raises `NotFound` for an unknown start or category, `InvalidArgument` for a bad depth or
        for `direction` or `depth` without `start`."""
        with self.store.pinned():
            if start is None and (direction is not None or depth is not None):
                raise InvalidArgument(f"{'direction' if direction is not None else 'depth'}: only with a start "
                                      "node (from); without one the lineage is the whole registry")
            if start is not None:
                self.entity(start, "system", "party", argument="from")
            if depth is not None and not 0 <= depth <= MAX_DEPTH:
                raise InvalidArgument(f"depth must be between 0 and {MAX_DEPTH}")
            for number, category in enumerate(categories or ()):
                self.entity(category, "category", argument=f"categories[{number}]")
            if start is None:
                return self._whole(categories, as_of or today(), include_proposed)
            return self.store.lineage(start, direction or "downstream", depth, categories, as_of or today(),
                                      include_proposed)

    def _whole(self, categories: list[str] | None, on: date, include_proposed: bool) -> Lineage:
        ends = sorted((Stored(type_, doc) for type_ in ("system", "party") for doc in self.store.list(type_)),
                      key=lambda end: end.id)
        flows = [flow for flow in self.store.list("flow") if in_force(flow, on) or (include_proposed and planned(flow, on))]
        if categories is not None:
            tree = CategoryTree(self.store.list("category"))
            wanted = frozenset().union(*(tree.overlapping[c] for c in categories))
            flows = [flow for flow in flows if not wanted.isdisjoint(flow["categories"])]
            touched = {end for flow in flows for end in (flow["from"], flow["to"])}
            ends = [end for end in ends if end.id in touched or end.type == "system"
                    and any(h["category"] in wanted for h in end.doc.get("holds", ()))]
        return Lineage(nodes=ends, edges=sorted(flows, key=lambda flow: flow["id"]))

    def _views(self, holdings: list[Holding]) -> list[HoldingView]:
        ids = {id_ for h in holdings for id_ in (h.holder, h.category, h.flow, h.legal_basis, h.condition,
                                                  h.agreement, *h.purposes, *h.additional_bases,
                                                  *h.subject_categories) if id_}
        entities = self.store.get_many(ids)
        return [HoldingView(h, entities) for h in holdings]

    def _install_builtins(self) -> None:
        stored = self.store.get_many(BUILTIN_LEGAL_BASES)
        missing = [Stored("legal-basis", basis.to_doc()) for id_, basis in BUILTIN_LEGAL_BASES.items()
                   if id_ not in stored or stored[id_].doc != basis.to_doc()]
        if missing:
            self.store.write(missing, [], actor=SYSTEM_ACTOR)
