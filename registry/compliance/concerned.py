"""Whose data a place may hold, as the flows brought it there: the walk upstream that breach
counts (`registry.compliance.impact`) and the consent rule (`registry.compliance.consent`) share.

>>> from registry.categories import CategoryTree
>>> tree = CategoryTree([{"id": "contact"}, {"id": "claim"}])
>>> into = {"mailer": {"news": {"id": "news", "from": "crm", "to": "mailer", "categories": ["contact"]}},
...         "crm": {"web": {"id": "web", "from": "portal", "to": "crm", "categories": ["contact", "claim"]}}}
>>> found = upstream(tree, into, {"mailer": "party", "crm": "system", "portal": "system"}, {"mailer": ["contact"]}, None)
>>> dict(found.systems), found.disclosed
({'crm': None, 'portal': None}, ())
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from graph.store import Doc
from graph.subjects import Concerned
from registry.categories import CategoryTree


def upstream(tree: CategoryTree, into: Mapping[str, Mapping[str, Doc]], types: Mapping[str, str],
             start: Mapping[str, Collection[str]], until: str | None) -> Concerned:
    """The subjects whose data the nodes of `start` (id -> the categories held there) may hold,
    walking upstream over `into` (per node, the flows in force into it, by id) through flows that
    carry data overlapping what is wanted at their target (as `downstream` follows data the other
    way): the subjects with a record in a system of `start`, or in a system the walk reaches, of
    the subject categories every flow on the way allows (its `subject_categories`); where the way
    passes a flow of scope `case`, the subjects with a disclosure recorded on it up to `until`
    (ISO 8601 instant; None: any time), since no one else's data travelled on it. `types` gives
    each node's entity type (only systems have records). Consent is not looked at: what a flow
    carried while consent stood is still where it went. Where two ways bring different categories
    for different subject categories, both count: a count may hold a person too many, never one
    too few (GDPR Art. 33(3)(a), 34)."""
    wanted: dict[str, set[str]] = {node: set(categories) for node, categories in start.items()}
    kinds: dict[str, frozenset[str] | None] = {node: None for node in start}
    disclosed: set[str] = set()
    todo = sorted(wanted)
    while todo:
        node = todo.pop()
        for edge in into.get(node, {}).values():
            carried = {c for c in edge["categories"] if tree.overlaps(c, wanted[node])}
            if not carried:
                continue
            if edge.get("scope") == "case":
                disclosed.add(edge["id"])
                continue
            allowed = edge.get("subject_categories")
            passing = kinds[node] if not allowed else frozenset(allowed) & (kinds[node] or frozenset(allowed))
            if passing is not None and not passing:
                continue
            source = edge["from"]
            before = (frozenset(wanted.get(source, ())), kinds.get(source, frozenset()))
            wanted.setdefault(source, set()).update(carried)
            known = kinds.get(source, frozenset())
            kinds[source] = None if known is None or passing is None else known | passing
            if (frozenset(wanted[source]), kinds[source]) != before:
                todo.append(source)
    return Concerned(systems={node: found for node, found in sorted(kinds.items()) if types.get(node) == "system"},
                     disclosed=tuple(sorted(disclosed)), until=until)
