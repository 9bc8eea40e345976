"""Graphviz DOT: `dot -Tsvg lineage.dot > lineage.svg` draws the lineage left to right.

Nodes are named by their ids and drawn by kind (`registry.exports.kinds`), with the name and
kind/country as the label; a party or system outside the EEA gets a double orange border and
the start node a thick one. Flows are labelled with purpose and legal basis; flows carrying
special-category or criminal-offence data are thick and purple, planned (proposed) flows dashed.
Every attribute of the drawing
model is kept as a DOT attribute too (`kind`, `country`, `categories` as a JSON array …; the
name as `title`, since Graphviz's own readers call a node's id its name), and each flow's id is
its edge's `id` (Graphviz puts it into SVG).

The text is written here rather than with a DOT library: the libraries' quoting reads `:` in a
name as a port, `<…>` as an HTML label and `\\"` as an already escaped quote, and registry ids
may contain any of them. In a DOT quoted string `\\"` is a quote and `\\\\` stays two
backslashes, so an id is written as it is with its quotes escaped: exact, except that an odd run
of backslashes right before a quote or at the end of an id gets one backslash more (DOT cannot
say it otherwise). Labels are escString (`\\n`, `\\N` …), so their backslashes are doubled.

>>> print(write(__import__("networkx").MultiDiGraph()), end="")
digraph lineage {
  graph [rankdir=LR, fontname="Helvetica", nodesep=0.3, ranksep=1.1];
  node [style=filled, fontname="Helvetica", fontsize=11];
  edge [fontname="Helvetica", fontsize=9];
}
"""

from __future__ import annotations

import json
import re

import networkx as nx

from registry.exports.kinds import SPECIAL_COLOUR, THIRD_COUNTRY_COLOUR, style
from registry.exports.labels import caption, flow_label

HEADER = """digraph lineage {
  graph [rankdir=LR, fontname="Helvetica", nodesep=0.3, ranksep=1.1];
  node [style=filled, fontname="Helvetica", fontsize=11];
  edge [fontname="Helvetica", fontsize=9];
"""


def write(graph: nx.MultiDiGraph) -> str:
    lines = [HEADER]
    for node, data in graph.nodes(data=True):
        drawn = style(data["kind"])
        look = {"label": f"{data['name']}\n{caption(data)}", "shape": drawn.dot, "fillcolor": drawn.fill,
                "color": THIRD_COUNTRY_COLOUR if data.get("third_country") else drawn.border,
                "peripheries": 2 if data.get("third_country") else None,
                "penwidth": 3 if data.get("start") else None, "tooltip": node}
        lines.append(f"  {quote(node)} [{_attributes(look, data)}];\n")
    for source, target, key, data in graph.edges(keys=True, data=True):
        look = {"id": key, "label": flow_label(data),
                "color": SPECIAL_COLOUR if data.get("special") else None,
                "penwidth": 2.5 if data.get("special") else None,
                "style": "dashed" if data.get("status") == "proposed" else None}
        lines.append(f"  {quote(source)} -> {quote(target)} [{_attributes(look, data)}];\n")
    lines.append("}\n")
    return "".join(lines)


def quote(identifier: str) -> str:
    r"""A DOT quoted string naming `identifier`.

    >>> print(quote('say "hi" [x]: ü'))
    "say \"hi\" [x]: ü"
    """
    return '"' + re.sub(r'(\\*)("|\Z)', _escape_run, identifier) + '"'


def _escape_run(match: re.Match) -> str:
    run, quote_mark = match.groups()
    return run + "\\" * (len(run) % 2) + ('\\"' if quote_mark else "")


def label(text: str) -> str:
    r"""A DOT escString showing `text` as it is, line breaks as line breaks (Graphviz reads
    `&name;` in labels as a character entity, so `&` is written as `&amp;`).

    >>> print(label('a\\N "b" &c;\nd'))
    "a\\N \"b\" &amp;c;\nd"
    """
    return '"' + (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
                  .replace("&", "&amp;")) + '"'


ESC_STRINGS = frozenset({"id", "label", "tooltip"})
"""Graphviz attributes of type escString, where backslash sequences mean something."""


def _attributes(look: dict, data: dict) -> str:
    kept = {name: label(value) if name in ESC_STRINGS else quote(str(value))
            for name, value in look.items() if value is not None}
    for name, value in data.items():
        name = "title" if name == "name" else name
        if name not in kept:
            text = json.dumps(list(value), ensure_ascii=False) if isinstance(value, tuple) else str(value).lower() \
                if isinstance(value, bool) else str(value)
            kept[name] = quote(text)
    return ", ".join(f"{name}={value}" for name, value in kept.items())
