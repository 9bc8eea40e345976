"""Cytoscape JSON (networkx's `cytoscape_data`): what Cytoscape.js draws, and what Cytoscape
desktop imports (File > Import > Network from File, `.cyjs`).

`elements.nodes[].data` has every node attribute of the drawing model plus `id`, `name` and
the drawing style of its kind (`shape`, `fill`, `border`); `elements.edges[].data` has
`id` (the flow id), `source`, `target` and every flow attribute plus `label` (purpose and
legal basis); `data` has the graph's attributes (the filters). Lists stay JSON arrays. The
lineage page draws exactly this.
"""

from __future__ import annotations

import json

import networkx as nx

from registry.exports.kinds import style
from registry.exports.labels import caption, flow_label


def data(graph: nx.MultiDiGraph) -> dict:
    """The Cytoscape JSON document as a dict."""
    document = nx.cytoscape_data(graph)
    document["data"] = {name: list(value) if isinstance(value, tuple) else value for name, value in graph.graph.items()}
    for node in document["elements"]["nodes"]:
        attributes = node["data"]
        drawn = style(attributes["kind"])
        attributes.update(shape=drawn.cytoscape, fill=drawn.fill, border=drawn.border, caption=caption(attributes))
        attributes.pop("value", None)
        _lists(attributes)
    for edge in document["elements"]["edges"]:
        attributes = edge["data"]
        attributes["id"] = attributes.pop("key")
        attributes["label"] = flow_label(attributes)
        _lists(attributes)
    return document


def write(graph: nx.MultiDiGraph) -> str:
    return json.dumps(data(graph), ensure_ascii=False, indent=1) + "\n"


def _lists(attributes: dict) -> None:
    for name, value in attributes.items():
        if isinstance(value, tuple):
            attributes[name] = list(value)
