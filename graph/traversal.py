"""Holdings and lineage over a `Snapshot`: the reference semantics every backend must match.

A flow *carries data of* category X when it carries a category overlapping X (X, an ancestor
or a descendant). A holding's `path` is the lexicographically smallest among the shortest
chains of flows carrying data of its category that end with its flow and start at an
*origin*: a node that declares a category overlapping it, or that no such flow reaches (a
broker that supplied the data). When no origin reaches the flow's source within `MAX_DEPTH`
flows (a cycle nobody feeds), the path is the flow alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from graph.snapshot import Snapshot
from graph.store import MAX_DEPTH, Direction, Doc, Holding, Lineage, Stored


def holders(snap: Snapshot, category: str, include_descendants: bool = True) -> list[Holding]:
    wanted = set(snap.ancestors(category))
    wanted |= snap.descendants(category) if include_descendants else {category}
    found = [_declared(system, held) for c in wanted for system, held in snap.declared.get(c, ())]
    for c in wanted:
        chains = _chains(snap, c)
        found.extend(_carried(flow, c, chains) for flow in snap.carried.get(c, ()))
    return sorted(found, key=Holding.sort_key)


def holdings(snap: Snapshot, holder: str) -> list[Holding]:
    doc = snap.entities[holder].doc
    found = [_declared(holder, held) for held in doc.get("holds", ())]
    for _, _, flow in snap.flows.in_edges(holder, data="doc"):
        found.extend(_carried(flow, c, _chains(snap, c)) for c in flow["categories"])
    return sorted(found, key=Holding.sort_key)


def lineage(snap: Snapshot, start: str, direction: Direction, depth: int | None,
            categories: list[str] | None) -> Lineage:
    relevant = None
    if categories is not None:
        relevant = frozenset().union(*(snap.overlapping(c) for c in categories))
    reached: set[str] = {start}
    edges: dict[str, Doc] = {}
    for downstream in {"downstream": (True,), "upstream": (False,), "both": (True, False)}[direction]:
        nodes, flows = _walk(snap, start, downstream, MAX_DEPTH if depth is None else depth, relevant)
        reached |= nodes
        edges.update(flows)
    return Lineage(nodes=[snap.entities[n] for n in sorted(reached)],
                   edges=[edges[f] for f in sorted(edges)])


def _walk(snap: Snapshot, start: str, downstream: bool, depth: int,
          relevant: frozenset[str] | None) -> tuple[set[str], dict[str, Doc]]:
    seen, frontier, edges = {start}, [start], {}
    step = snap.flows.out_edges if downstream else snap.flows.in_edges
    for _ in range(depth):
        following = []
        for node in frontier:
            for source, target, flow in step(node, data="doc"):
                if relevant is not None and relevant.isdisjoint(flow["categories"]):
                    continue
                edges[flow["id"]] = flow
                other = target if downstream else source
                if other not in seen:
                    seen.add(other)
                    following.append(other)
        if not following:
            break
        frontier = following
    return seen, edges


def _declared(system: str, held: Doc) -> Holding:
    return Holding(holder=system, category=held["category"], flow=None,
                   purposes=tuple(held.get("purposes", ())), legal_basis=held.get("legal_basis"),
                   condition=held.get("condition"), agreement=None, retention=held.get("retention"),
                   path=())


def _carried(flow: Doc, category: str, chains: dict[str, tuple[str, ...]]) -> Holding:
    return Holding(holder=flow["to"], category=category, flow=flow["id"], purposes=(flow["purpose"],),
                   legal_basis=flow.get("legal_basis"), condition=flow.get("condition"),
                   agreement=flow.get("agreement"), retention=None,
                   path=chains.get(flow["from"], ()) + (flow["id"],))


def _chains(snap: Snapshot, category: str) -> dict[str, tuple[str, ...]]:
    """For every node reachable from an origin of `category`'s data: its best chain of flows."""
    cached = snap.chain_cache.get(category)
    if cached is not None:
        return cached
    overlapping = snap.overlapping(category)
    carrying = _flows_carrying(snap, overlapping)
    fed = {flow["to"] for flow in carrying}
    origins = {system for c in overlapping for system, _ in snap.declared.get(c, ())}
    origins |= {flow["from"] for flow in carrying if flow["from"] not in fed}
    out: dict[str, list[Doc]] = {}
    for flow in carrying:
        out.setdefault(flow["from"], []).append(flow)
    best = dict.fromkeys(origins, ())
    frontier = origins
    for _ in range(MAX_DEPTH):
        following: dict[str, tuple[str, ...]] = {}
        for node in frontier:
            for flow in out.get(node, ()):
                target = flow["to"]
                if target in best:
                    continue
                chain = best[node] + (flow["id"],)
                if target not in following or chain < following[target]:
                    following[target] = chain
        if not following:
            break
        best.update(following)
        frontier = following.keys()
    snap.chain_cache[category] = best
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

    def get_many(self, ids: Iterable[str]) -> dict[str, Stored]:
        entities = self.snapshot().entities
        return {id_: entities[id_] for id_ in ids if id_ in entities}

    def list(self, type: str) -> list[Doc]:
        return list(self.snapshot().by_type.get(type, ()))

    def types_by_id(self) -> dict[str, str]:
        return {id_: stored.type for id_, stored in self.snapshot().entities.items()}

    def holders(self, category: str, include_descendants: bool = True) -> list[Holding]:
        return holders(self.snapshot(), category, include_descendants)

    def holdings(self, holder: str) -> list[Holding]:
        return holdings(self.snapshot(), holder)

    def lineage(self, start: str, direction: Direction, depth: int | None,
                categories: list[str] | None) -> Lineage:
        return lineage(self.snapshot(), start, direction, depth, categories)
