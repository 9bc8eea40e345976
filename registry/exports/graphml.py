"""GraphML for Gephi, yEd and networkx, written by networkx's GraphML writer.

Every attribute of the drawing model becomes a typed GraphML key (`attr.name`) named after it (`kind`,
`country`, `purpose`, `legal_basis`, `agreement` …); lists of ids (`categories`) are written
as JSON arrays, so any id survives. Edges keep the flow id as their GraphML `id`, and nodes
and edges get a `label` (the name; for a flow its purpose and legal basis), which Gephi shows.
"""

from __future__ import annotations

import json

import networkx as nx

from registry.exports.labels import flow_label


def write(graph: nx.MultiDiGraph) -> str:
    plain = nx.MultiDiGraph(**_scalars(graph.graph))
    for node, data in graph.nodes(data=True):
        plain.add_node(node, label=data["name"], **_scalars(data))
    for source, target, key, data in graph.edges(keys=True, data=True):
        plain.add_edge(source, target, key=key, label=flow_label(data), **_scalars(data))
    return "\n".join(nx.generate_graphml(plain, prettyprint=True)) + "\n"


def _scalars(data: dict) -> dict:
    return {name: json.dumps(list(value), ensure_ascii=False) if isinstance(value, tuple) else value
            for name, value in data.items()}
