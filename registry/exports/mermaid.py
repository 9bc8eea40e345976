"""Mermaid flowcharts, for Markdown in GitHub, GitLab or Confluence (a ```mermaid block).

Mermaid node ids must be plain words, so nodes are `n0`, `n1` … (in id order) and every
registry id and name appears only inside quoted labels, where each character that Mermaid
could read as syntax is written as an entity code (`#quot;`, `#91;` …): any id survives.
Shapes and colours follow `registry.exports.kinds`; parties and systems outside the EEA have a
dashed orange border, the start node a thick one, and flows carrying special-category or
criminal-offence data are thick and purple; planned (proposed) flows are dotted. Mermaid draws at most 500 flows by default: for
larger graphs use DOT or GraphML.

>>> print(write(__import__("networkx").MultiDiGraph()), end="")
flowchart LR
"""

from __future__ import annotations

import re

import networkx as nx

from registry.exports.kinds import SPECIAL_COLOUR, STYLES, THIRD_COUNTRY_COLOUR, style
from registry.exports.labels import caption, flow_label

_SAFE = re.compile(r"[\w .,:/+*=@'!?~·-]")


def write(graph: nx.MultiDiGraph) -> str:
    names = {node: f"n{index}" for index, node in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    for kind, drawn in STYLES.items():
        if any(data["kind"] == kind for _, data in graph.nodes(data=True)):
            lines.append(f"  classDef {_class(kind)} fill:{drawn.fill},stroke:{drawn.border},color:#111")
    if any(data.get("third_country") for _, data in graph.nodes(data=True)):
        lines.append(f"  classDef third stroke:{THIRD_COUNTRY_COLOUR},stroke-width:3px,stroke-dasharray:6 3")
    if any(data.get("start") for _, data in graph.nodes(data=True)):
        lines.append("  classDef start stroke-width:4px")
    for node, data in graph.nodes(data=True):
        opening, closing = style(data["kind"]).mermaid
        text = f"{escape(data['name'])}<br/>{escape(node)} · {escape(caption(data))}"
        lines.append(f'  {names[node]}{opening}"{text}"{closing}:::{_class(data["kind"])}')
    for class_, flag in (("third", "third_country"), ("start", "start")):
        marked = [names[node] for node, data in graph.nodes(data=True) if data.get(flag)]
        if marked:
            lines.append(f"  class {','.join(marked)} {class_}")
    special = []
    for index, (source, target, data) in enumerate(graph.edges(data=True)):
        arrow = "-.->" if data.get("status") == "proposed" else "-->"
        lines.append(f'  {names[source]} {arrow}|"{escape(flow_label(data))}"| {names[target]}')
        if data.get("special"):
            special.append(str(index))
    if special:
        lines.append(f"  linkStyle {','.join(special)} stroke:{SPECIAL_COLOUR},stroke-width:3px")
    return "\n".join(lines) + "\n"


def escape(text: str) -> str:
    """`text` for a quoted Mermaid label: letters, digits and harmless punctuation as they are,
    everything else as an entity code.

    >>> escape('say "hi" [x] <b>#1</b> ü')
    'say #34;hi#34; #91;x#93; #60;b#62;#35;1#60;/b#62; ü'
    """
    return "".join(char if _SAFE.fullmatch(char) else f"#{ord(char)};" for char in text)


def _class(kind: str) -> str:
    return "kind_" + kind.replace("-", "_")
