"""How each kind of node is drawn, in every format: one palette, so the page, DOT and Mermaid agree.

A node's kind is `system` for the insurer's own systems and the party's kind for outside
parties (`reinsurer`, `regulator`, `broker`, `tpa`, `processor`, `affiliate`, `auditor`,
`law-enforcement`, `other`). Each has a fill colour, a border colour and a shape in each
drawing language (Cytoscape.js, Graphviz, Mermaid).

>>> STYLES["reinsurer"].dot, STYLES["reinsurer"].cytoscape
('hexagon', 'hexagon')
>>> style("no-such-kind") is STYLES["other"]
True
"""

from __future__ import annotations

from typing import NamedTuple


class Style(NamedTuple):
    fill: str
    border: str
    cytoscape: str
    dot: str
    mermaid: tuple[str, str]
    """Opening and closing brackets of the Mermaid flowchart shape."""


STYLES: dict[str, Style] = {
    "system": Style("#dbeafe", "#1d4ed8", "round-rectangle", "box", ("[", "]")),
    "reinsurer": Style("#dcfce7", "#15803d", "hexagon", "hexagon", ("{{", "}}")),
    "regulator": Style("#fef3c7", "#b45309", "diamond", "diamond", ("{", "}")),
    "broker": Style("#fce7f3", "#be185d", "ellipse", "ellipse", ("([", "])")),
    "tpa": Style("#e0e7ff", "#4338ca", "barrel", "cylinder", ("[(", ")]")),
    "processor": Style("#f3e8ff", "#7e22ce", "rectangle", "component", ("[[", "]]")),
    "affiliate": Style("#ccfbf1", "#0f766e", "octagon", "octagon", ("(", ")")),
    "auditor": Style("#f1f5f9", "#475569", "tag", "note", ("[/", "/]")),
    "law-enforcement": Style("#fee2e2", "#991b1b", "star", "invhouse", (">", "]")),
    "other": Style("#f5f5f4", "#57534e", "ellipse", "ellipse", ("((", "))")),
}

SPECIAL_COLOUR = "#7c3aed"
"""Flows carrying special-category (GDPR Art. 9) or criminal-offence (Art. 10) data."""
THIRD_COUNTRY_COLOUR = "#ea580c"
"""The border of a party or system outside the EEA."""


def style(kind: str) -> Style:
    return STYLES.get(kind, STYLES["other"])
