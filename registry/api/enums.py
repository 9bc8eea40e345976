"""Enums shared by several parts of the schema."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class Direction(Enum):
    DOWNSTREAM = "downstream"
    UPSTREAM = "upstream"
    BOTH = "both"


@strawberry.enum(description="A lineage export format: GraphML (Gephi, yEd), DOT (Graphviz), Mermaid (Markdown), "
                             "Cytoscape JSON (Cytoscape, Cytoscape.js).")
class LineageFormat(Enum):
    GRAPHML = "graphml"
    DOT = "dot"
    MERMAID = "mermaid"
    CYTOSCAPE_JSON = "cytoscape-json"
