"""Holdings and lineage over a `Snapshot`: the reference semantics every backend must match.

Everything is evaluated on a day: only flows in force that day (`graph.flows.in_force`) carry
data; a lineage may also follow the flows planned then (`include_proposed`).

A flow *carries data of* category X when it carries a category overlapping X (X, an ancestor
or a descendant). A holding's `path` is the lexicographically smallest among the shortest
chains of flows carrying data of its category that end with its flow and start at an
*origin*: a node that declares a category overlapping it, or that no such flow reaches (a
broker that supplied the data). When no origin reaches the flow's source within `MAX_DEPTH`
flows (a cycle nobody feeds), the path is the flow alone. A holding's terms are the effective
ones (`graph.flows.effective_terms`).

A lineage gives each node's distance from the start in flows and says whether the depth bound
cut it: a usable flow leaves (or, upstream, enters) a node at the bound.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import nullcontext
from datetime import date
from typing import ContextManager

from graph.snapshot import Snapshot
from graph.store import MAX_DEPTH, Direction, Doc, Holding, Lineage, Stored, today

Chains = dict[str, tuple[str, ...]]


def holders(snap: Snapshot, category: str, include_descendants: bool = True,
            as_of: date | None = None) -> list[Holding]:
    out = snap.excluded(as_of or today())
    wanted = set(snap.ancestors(category))
    wanted |= snap.descendants(category) if include_descendants else {category}
    found = [declared(system, held) for c in wanted for system, held in snap.declared.get(c, ())]
    for c in wanted:
        chains = _chains(snap, c, out)
        found.extend(carried(flow, c, chains, snap.terms(flow))
                     for flow in snap.carried.get(c, ()) if flow["id"] not in out)
    return sorted(found, key=Holding.sort_key)


def holdings(snap: Snapshot, holder: str, as_of: date | None = None) -> list[Holding]:
    out = snap.excluded(as_of or today())
    doc = snap.entities[holder].doc
    found = [declared(holder, held) for held in doc.get("holds", ())]
    for flow in snap.in_flows.get(holder, ()):
        if flow["id"] not in out:
            found.extend(carried(flow, c, _chains(snap, c, out), snap.terms(flow)) for c in flow["categories"])
    return sorted(found, key=Holding.sort_key)


def lineage(snap: Snapshot, start: str, direction: Direction, depth: int | None,
            categories: list[str] | None, as_of: date | None = None, include_proposed: bool = False) -> Lineage:
    out = snap.excluded(as_of or today(), include_proposed)
    relevant = None
    if categories is not None:
        relevant = frozenset().union(*(snap.overlapping(c) for c in categories))

    def usable(flow: Doc) -> bool:
        return flow["id"] not in out and (relevant is None or not relevant.isdisjoint(flow["categories"]))

    distances: dict[str, int] = {start: 0}
    edges: dict[str, Doc] = {}
    truncated = False
    for downstream in {"downstream": (True,), "upstream": (False,), "both": (True, False)}[direction]:
        reached, flows, cut = _walk(snap, start, downstream, MAX_DEPTH if depth is None else depth, usable)
        for node, distance in reached.items():
            distances[node] = min(distance, distances.get(node, distance))
        edges.update(flows)
        truncated |= cut
    order = sorted(distances)
    return Lineage(nodes=[snap.entities[n] for n in order], edges=[edges[f] for f in sorted(edges)],
                   distances={n: distances[n] for n in order}, truncated=truncated)


def _walk(snap: Snapshot, start: str, downstream: bool, depth: int,
          usable: Callable[[Doc], bool]) -> tuple[dict[str, int], dict[str, Doc], bool]:
    """Breadth-first from `start` over usable flows: each node reached with its distance, the
    flows followed, and whether a usable flow leaves the last layer (the bound cut the walk)."""
    seen, frontier, edges = {start: 0}, [start], {}
    step, end = (snap.out_flows, "to") if downstream else (snap.in_flows, "from")
    for level in range(1, depth + 1):
        following = []
        for node in frontier:
            for flow in step.get(node, ()):
                if not usable(flow):
                    continue
                edges[flow["id"]] = flow
                other = flow[end]
                if other not in seen:
                    seen[other] = level
                    following.append(other)
        if not following:
            return seen, edges, False
        frontier = following
    return seen, edges, any(usable(flow) for node in frontier for flow in step.get(node, ()))


def declared(system: str, held: Doc) -> Holding:
    """The holding a system's declaration (`holds` entry) makes."""
    source = "declaration"
    return Holding(holder=system, category=held["category"], flow=None,
                   purposes=tuple(held.get("purposes", ())), legal_basis=held.get("legal_basis"),
                   condition=held.get("condition"), agreement=None, retention=held.get("retention"), path=(),
                   additional_bases=tuple(held.get("additional_bases", ())),
                   subject_categories=tuple(held.get("subject_categories", ())),
                   legal_basis_source=source if held.get("legal_basis") else None,
                   condition_source=source if held.get("condition") else None,
                   additional_bases_source=source if held.get("additional_bases") else None)


def carried(flow: Doc, category: str, chains: Chains, terms: dict) -> Holding:
    """The holding an incoming flow makes for one category it carries, with the flow's effective
    terms (`graph.flows.effective_terms`)."""
    return Holding(holder=flow["to"], category=category, flow=flow["id"], purposes=(flow["purpose"],),
                   legal_basis=terms["legal_basis"][0], condition=terms["condition"][0],
                   agreement=flow.get("agreement"), retention=None,
                   path=chains.get(flow["from"], ()) + (flow["id"],),
                   transfer_mechanism=terms["transfer_mechanism"][0], additional_bases=terms["additional_bases"][0],
                   subject_categories=tuple(flow.get("subject_categories", ())),
                   legal_basis_source=terms["legal_basis"][1], condition_source=terms["condition"][1],
                   transfer_mechanism_source=terms["transfer_mechanism"][1],
                   additional_bases_source=terms["additional_bases"][1])


def _chains(snap: Snapshot, category: str, out: frozenset[str]) -> Chains:
    """For every node reachable from an origin of `category`'s data: its best chain of flows
    (over the flows not in `out`)."""
    key = (category, out)
    cached = snap.chain_cache.get(key)
    if cached is not None:
        return cached
    overlapping = snap.overlapping(category)
    carrying = [(flow["id"], flow["from"], flow["to"]) for flow in _flows_carrying(snap, overlapping)
                if flow["id"] not in out]
    declaring = {system for c in overlapping for system, _ in snap.declared.get(c, ())}
    best = best_chains(declaring, carrying)
    if len(snap.chain_cache) > 4096:
        snap.chain_cache.clear()
    snap.chain_cache[key] = best
    return best


def best_chains(declaring: Iterable[str], carrying: Iterable[tuple[str, str, str]],
                needed: Iterable[str] = ()) -> Chains:
    """The best chain of flows to every node the `carrying` flows ((id, from, to) of the flows
    carrying one category's data) reach from an origin: a node in `declaring`, or the source of
    such a flow that none feeds. Breadth-first, so the chains are shortest; among those of a
    layer, the smallest (flow ids compared as Python compares strings). Stops early once every
    node in `needed` is reached (when some are given).

    >>> sorted(best_chains({"a"}, [("f2", "a", "b"), ("f1", "a", "b"), ("f3", "b", "c"), ("f9", "x", "c")]).items())
    [('a', ()), ('b', ('f1',)), ('c', ('f9',)), ('x', ())]
    """
    carrying = list(carrying)
    fed = {to for _, _, to in carrying}
    origins = set(declaring) | {source for _, source, _ in carrying if source not in fed}
    following_flows: dict[str, list[tuple[str, str]]] = {}
    for id_, source, target in carrying:
        following_flows.setdefault(source, []).append((id_, target))
    best: Chains = dict.fromkeys(sorted(origins), ())
    needed = set(needed)
    frontier = origins
    for _ in range(MAX_DEPTH):
        if needed and needed <= best.keys():
            break
        following: Chains = {}
        for node in frontier:
            for id_, target in following_flows.get(node, ()):
                if target in best:
                    continue
                chain = best[node] + (id_,)
                if target not in following or chain < following[target]:
                    following[target] = chain
        if not following:
            break
        best.update(following)
        frontier = following.keys()
    return best


def _flows_carrying(snap: Snapshot, categories: Iterable[str]) -> list[Doc]:
    unique = {flow["id"]: flow for c in categories for flow in snap.carried.get(c, ())}
    return list(unique.values())


class SnapshotReads:
    """The reads of the `GraphStore` protocol answered from `self.snapshot()` with the functions
    above: the embedded store's and the scratch store's, which differ only in where their
    snapshot comes from."""

    def snapshot(self) -> Snapshot:
        raise NotImplementedError

    def pinned(self) -> ContextManager[None]:
        """`GraphStore.pinned`: nothing to save for a store whose version is an attribute (the
        scratch copy); the embedded store, whose version is a query, pins its own."""
        return nullcontext()

    def get_many(self, ids: Iterable[str]) -> dict[str, Stored]:
        entities = self.snapshot().entities
        return {id_: entities[id_] for id_ in ids if id_ in entities}

    def list(self, type: str) -> list[Doc]:
        return list(self.snapshot().by_type.get(type, ()))

    def types_by_id(self) -> dict[str, str]:
        return {id_: stored.type for id_, stored in self.snapshot().entities.items()}

    # Answers are kept per snapshot (until the next write), keyed by the flows out of force rather
    # than the day: every day with the same flows in force has the same answer.

    def holders(self, category: str, include_descendants: bool = True, as_of: date | None = None) -> list[Holding]:
        snap = self.snapshot()
        out = snap.excluded(as_of or today())
        return list(snap.answer(("holders", category, include_descendants, out),
                                lambda: tuple(holders(snap, category, include_descendants, as_of))))

    def holdings(self, holder: str, as_of: date | None = None) -> list[Holding]:
        snap = self.snapshot()
        out = snap.excluded(as_of or today())
        return list(snap.answer(("holdings", holder, out), lambda: tuple(holdings(snap, holder, as_of))))

    def lineage(self, start: str, direction: Direction, depth: int | None, categories: list[str] | None,
                as_of: date | None = None, include_proposed: bool = False) -> Lineage:
        snap = self.snapshot()
        out = snap.excluded(as_of or today(), include_proposed)
        return snap.answer(("lineage", start, direction, depth, None if categories is None else frozenset(categories),
                            out), lambda: lineage(snap, start, direction, depth, categories, as_of, include_proposed))
