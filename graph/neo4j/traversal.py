"""Holdings and lineage on Neo4j, with exactly the answers of `graph.traversal`.

Each function runs inside one read transaction `tx`. The category tree (tens to hundreds of
rows) is read whole, so ancestors and descendants mean what they mean in `graph.snapshot`;
so are the flows with a status or dates (`conditional`), and the ones out of force on the
evaluation day are passed to every query as `$excluded`. Both come in a `Fixed`, which the
store keeps per registry version (`graph.neo4j.answers`). The flow graph stays in the database:

- Lineage is one bounded variable-length match per direction (`cypher.reach`, which brings the
  nodes' documents and the registry's version after it too, so a lineage is one round trip) that
  Neo4j prunes to a breadth-first search, then one hop for the flows out of the nodes found.
  Distances come from a breadth-first search over those flows here; when nodes lie at the
  bound, one more query (`cypher.leaves`) asks whether a usable flow goes on from them.
- A holding's path is the smallest of the shortest chains of flows carrying data of its
  category from an origin (see `graph.traversal`). One query (`cypher.CARRYING`) returns,
  for all the category sets a question needs, the nodes that declare them and the flows
  that carry them as (id, from, to) triples; the breadth-first search over those runs here
  (`graph.traversal.best_chains`, the embedded backend's own), which also compares flow ids
  as Python does (Neo4j orders strings by UTF-16 code unit, Python by code point). One round
  trip instead of one per layer: the triples are small, and the layers can be 64. (One
  variable-length match cannot do this: Neo4j finds shortest paths per pair of end nodes,
  and the origins are many.)
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from graph.flows import effective_terms, in_force, planned
from graph.neo4j import cypher
from graph.neo4j.answers import MISSING, Version, version_of
from graph.snapshot import Snapshot
from graph.store import MAX_DEPTH, Direction, Doc, Holding, Lineage, Stored, today
from graph.traversal import best_chains, declared
from graph.traversal import carried as carried_holding

Chains = dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Fixed:
    """What one version of the registry fixes for every traversal: the category tree (a snapshot
    of the categories alone, for ancestors, descendants and overlaps) and the flows with a status
    or dates, the only ones that can be out of force on a day."""

    tree: Snapshot
    conditional: tuple[Doc, ...]

    def out_of_force(self, on: date, include_proposed: bool = False) -> list[str]:
        """The ids of the flows that carry no data on day `on` (nor, with `include_proposed`, are planned then)."""
        return sorted(flow["id"] for flow in self.conditional
                      if not (in_force(flow, on) or (include_proposed and planned(flow, on))))


def fixed(tx) -> Fixed:
    """The `Fixed` of the registry as `tx` sees it."""
    [record] = tx.run(cypher.CATEGORY_TREE)
    tree = Snapshot({id_: Stored("category", {"id": id_, "parent": parent}) for id_, parent in record["categories"]})
    return Fixed(tree, tuple(_docs(tx, cypher.CONDITIONAL_FLOWS)))


def holders(tx, known: Fixed, category: str, include_descendants: bool = True,
            as_of: date | None = None) -> list[Holding]:
    tree = known.tree
    excluded = known.out_of_force(as_of or today())
    wanted = set(tree.ancestors(category))
    wanted |= tree.descendants(category) if include_descendants else {category}
    found = [declared(doc["id"], held)
             for doc in _docs(tx, cypher.DECLARERS, categories=list(wanted))
             for held in doc.get("holds", ()) if held["category"] in wanted]
    carried = [(flow, c) for flow in _docs(tx, cypher.FLOWS_CARRYING, categories=list(wanted), excluded=excluded)
               for c in flow["categories"] if c in wanted]
    found.extend(_with_paths(tx, tree, carried, excluded))
    return sorted(found, key=Holding.sort_key)


def holdings(tx, known: Fixed, holder: str, as_of: date | None = None) -> list[Holding]:
    [doc] = _docs(tx, cypher.HOLDER, id=holder) or [{}]
    found = [declared(holder, held) for held in doc.get("holds", ())]
    excluded = known.out_of_force(as_of or today())
    carried = [(flow, c) for flow in _docs(tx, cypher.FLOWS_INTO, id=holder, excluded=excluded)
               for c in flow["categories"]]
    if carried:
        found.extend(_with_paths(tx, known.tree, carried, excluded))
    return sorted(found, key=Holding.sort_key)


def lineage(tx, known: Fixed, start: str, direction: Direction, depth: int | None, categories: list[str] | None,
            as_of: date | None = None, include_proposed: bool = False) -> tuple[Lineage, Version | None]:
    """The lineage, and the registry's version as its last statement saw it at its end (`MISSING`
    when it ran none). Each direction is one statement that brings the nodes' documents too, and
    one more when the bound cuts it; depth 0 reads the start's document alone."""
    relevant = None
    if categories is not None:
        relevant = frozenset().union(*(known.tree.overlapping(c) for c in categories))
    excluded = known.out_of_force(as_of or today(), include_proposed)
    params = dict(start=start, relevant=list(relevant or ()), excluded=excluded)
    filtered, excluding = relevant is not None, bool(excluded)
    depth = MAX_DEPTH if depth is None else depth
    distances, edges, truncated = {start: 0}, {}, False
    docs: dict[str, Stored] = {}
    after = MISSING
    for downstream in {"downstream": (True,), "upstream": (False,), "both": (True, False)}[direction]:
        found: list[Doc] = []
        if depth > 0:
            [record] = tx.run(cypher.reach(downstream, depth, filtered, excluding), params)
            found = [json.loads(text) for text, _, _, _ in record["reached"]]
            docs.update((id_, Stored(type_, json.loads(doc))) for _, id_, type_, doc in record["reached"] if doc)
            if record["doc"]:
                docs[start] = Stored(record["type"], json.loads(record["doc"]))
            after = version_of(record)
        edges.update((flow["id"], flow) for flow in found)
        reached = _distances(start, found, downstream)
        for node, distance in reached.items():
            distances[node] = min(distance, distances.get(node, distance))
        last = sorted(node for node, distance in reached.items() if distance == depth)
        if last and not truncated:
            [record] = tx.run(cypher.leaves(downstream, filtered, excluding), params, ids=last)
            truncated, after = record["found"], version_of(record)
    # every node within the bound is the start or the far end of a flow the statements brought
    nodes = docs
    if depth == 0:
        nodes, after = {stored.id: stored for stored in get_many(tx, distances)}, MISSING  # read after it
    order = [n for n in sorted(distances) if n in nodes]
    return Lineage(nodes=[nodes[n] for n in order], edges=[edges[f] for f in sorted(edges)],
                   distances={n: distances[n] for n in order}, truncated=truncated), after


def _distances(start: str, flows: list[Doc], downstream: bool) -> dict[str, int]:
    """Each node's distance from `start` over `flows`: all the usable flows within the bound, so
    a breadth-first search over them finds the true distances up to the bound."""
    step: dict[str, list[str]] = {}
    for flow in flows:
        near, far = (flow["from"], flow["to"]) if downstream else (flow["to"], flow["from"])
        step.setdefault(near, []).append(far)
    distances, queue = {start: 0}, deque([start])
    while queue:
        node = queue.popleft()
        for other in step.get(node, ()):
            if other not in distances:
                distances[other] = distances[node] + 1
                queue.append(other)
    return distances


def get_many(tx, ids: Iterable[str]) -> list[Stored]:
    [record] = tx.run(cypher.GET_MANY, ids=list(ids))
    return [Stored(type_, json.loads(doc)) for type_, doc in record["found"]]


def _with_paths(tx, tree: Snapshot, carried: list[tuple[Doc, str]], excluded: list[str]) -> list[Holding]:
    """One holding per (flow, category carried), with its path and the terms of its agreement."""
    sources: dict[frozenset[str], set[str]] = {}
    for flow, category in carried:
        sources.setdefault(tree.overlapping(category), set()).add(flow["from"])
    chains = dict(zip(sources, _chains(tx, list(sources), list(sources.values()), excluded)))
    agreements = {stored.id: stored.doc for stored in get_many(tx, {flow["agreement"] for flow, _ in carried
                                                                    if flow.get("agreement")})
                  if stored.type == "agreement"}
    terms = {flow["id"]: effective_terms(flow, agreements.get(flow.get("agreement") or "")) for flow, _ in carried}
    return [carried_holding(flow, c, chains[tree.overlapping(c)], terms[flow["id"]]) for flow, c in carried]


def _chains(tx, sets: list[frozenset[str]], needed: list[set[str]], excluded: list[str]) -> list[Chains]:
    """For each set of overlapping categories, the best chain to each of its `needed` nodes
    (and to whatever else the search reached on the way), from one query for all the sets."""
    best: list[Chains] = [{} for _ in sets]
    for record in tx.run(cypher.CARRYING, sets=[list(s) for s in sets], excluded=excluded):
        best[record["set"]] = best_chains(record["declaring"], map(tuple, record["carrying"]), needed[record["set"]])
    return best


def _docs(tx, query: str, **params) -> list[Doc]:
    """The documents a query collects into `docs` (one record: far cheaper than a record per document)."""
    [record] = tx.run(query, params)
    return [json.loads(doc) for doc in record["docs"]]
