"""The lineage as a drawing model: one networkx `MultiDiGraph` that every export format writes.

Nodes are systems and parties, keyed by id; edges are flows, keyed by flow id (several flows
may join the same two ends). Attributes, absent values left out:

- node: `name`, `entity` (`system` or `party`), `kind` (`system`, or the party's kind),
  `country` (ISO 3166-1 alpha-2), `third_country` (outside the EEA), `role` (parties),
  `owner` (systems), `categories` (what a system declares it holds), `start` (the node the
  lineage was drawn from), `distance` (flows from the start; drawn from a start only);
- edge: `name`, `categories` (what the flow carries), `purpose`, `legal_basis`, `condition`,
  `agreement`, `agreement_expires` (ISO date, the agreement's last day), `transfer_mechanism`
  (the flow's own, else its agreement's), `frequency`, `special` (it carries GDPR Art. 9
  special-category or Art. 10 criminal-offence data, or a narrower category of such data),
  `status` (`proposed` for a planned flow, drawn only when asked for; absent for flows in force);
- graph: `start`, `direction`, `depth`, `categories`, `as_of`, `include_proposed` (the filters
  the drawing answers) and `truncated` (the depth bound cut the lineage).

Only flows in force on the evaluation day (`as_of`, default today) are drawn, and with
`include_proposed` the flows planned then (`graph.flows.in_force`, `graph.flows.planned`).

List attributes are tuples of ids, in the registry's order; each writer encodes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import networkx as nx

from graph.store import Direction, Doc, Stored, today
from registry.categories import CategoryTree
from registry.compliance.transfers import Countries
from registry.service import one_version


@one_version
def lineage_graph(registry, countries: Countries, *, start: str | None = None, direction: Direction | None = None,
                  depth: int | None = None, categories: list[str] | None = None, as_of: date | None = None,
                  include_proposed: bool = False) -> nx.MultiDiGraph:
    """The lineage from `start` (as `Registry.lineage` answers it: `direction` default
    downstream, within `depth` flows, following flows that carry data of one of `categories`),
    or without `start` the whole registry: every system and party and every flow (with
    `categories`, the flows carrying data of one of them, their ends and the systems that
    declare such data); on day `as_of` (default today, UTC), with the planned flows when
    `include_proposed`.

    Raises `NotFound` for an unknown start or category, `InvalidArgument` for a bad depth or
    for `direction` / `depth` without `start`.
    """
    found = registry.lineage(start, direction, depth, categories, as_of, include_proposed)
    nodes, flows, distances, truncated = found.nodes, found.edges, found.distances, found.truncated
    tree = CategoryTree(registry.list("category"))
    agreements = {doc["id"]: doc for doc in registry.list("agreement")}
    graph = nx.MultiDiGraph(**_present(start=start, direction=(direction or "downstream") if start else None,
                                       depth=depth, categories=tuple(categories) if categories else None,
                                       as_of=(as_of or today()).isoformat(), include_proposed=include_proposed or None,
                                       truncated=truncated))
    for node in nodes:
        graph.add_node(node.id, **_node(node, countries, start), **_present(distance=distances.get(node.id)))
    for flow in flows:
        graph.add_edge(flow["from"], flow["to"], key=flow["id"], **_edge(flow, agreements.get(flow.get("agreement")), tree))
    return graph


def _node(node: Stored, countries: Countries, start: str | None) -> dict:
    doc = node.doc
    return _present(
        name=doc["name"], entity=node.type, kind=doc.get("kind", "system") if node.type == "party" else "system",
        country=doc["country"], third_country=not countries.in_eea(doc["country"]), role=doc.get("role"),
        owner=doc.get("owner"), categories=_unique(h["category"] for h in doc.get("holds", ())) or None,
        start=True if node.id == start else None)


def _edge(flow: Doc, agreement: Doc | None, tree: CategoryTree) -> dict:
    agreement = agreement or {}
    special = any(tree.is_(flag, c) for c in flow["categories"] for flag in ("special", "criminal")
                  if c in tree.ancestors)
    return _present(
        name=flow["name"], categories=tuple(flow["categories"]), purpose=flow["purpose"],
        legal_basis=flow.get("legal_basis"), condition=flow.get("condition"), agreement=flow.get("agreement"),
        agreement_expires=agreement.get("expires"),
        transfer_mechanism=flow.get("transfer_mechanism") or agreement.get("transfer_mechanism"),
        frequency=flow.get("frequency"), special=special,
        status="proposed" if flow.get("status") == "proposed" else None)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _present(**values) -> dict:
    return {name: value for name, value in values.items() if value is not None}
