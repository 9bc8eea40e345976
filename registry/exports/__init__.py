"""Lineage exports for the tools people already use: GraphML (Gephi, yEd), DOT (Graphviz),
Mermaid (Markdown) and Cytoscape JSON (Cytoscape, and the lineage page).

One drawing model (`registry.exports.graph.lineage_graph`) answers the filters of `lineage`;
one writer per format turns it into text. The CLI (`dsa-registry export --format graphml …`)
and GraphQL (`lineageExport(format: …)`) both call `export`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import networkx as nx

from graph.store import Direction
from registry.compliance.transfers import Countries
from registry.exports import cytoscape, dot, graphml, mermaid
from registry.exports.graph import lineage_graph

WRITERS: dict[str, Callable[[nx.MultiDiGraph], str]] = {
    "graphml": graphml.write,
    "dot": dot.write,
    "mermaid": mermaid.write,
    "cytoscape-json": cytoscape.write,
}
FORMATS = tuple(WRITERS)

__all__ = ["FORMATS", "export", "lineage_graph"]


def export(registry, format: str, countries: Countries, *, start: str | None = None,
           direction: Direction | None = None, depth: int | None = None,
           categories: list[str] | None = None, as_of: date | None = None, include_proposed: bool = False) -> str:
    """The lineage (see `lineage_graph`) as a document in `format`, one of `FORMATS`.

    Raises `InvalidArgument` for an unknown format or bad filters, `NotFound` for unknown ids.
    """
    from registry.errors import InvalidArgument

    if format not in WRITERS:
        raise InvalidArgument(f"format: unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    graph = lineage_graph(registry, countries, start=start, direction=direction, depth=depth, categories=categories,
                          as_of=as_of, include_proposed=include_proposed)
    return WRITERS[format](graph)
