"""Which law applies: the regimes that govern each system and party, and how data carries a
regime along the flows it takes.

A system or party is governed by the regimes its `jurisdictions` lists, or else by those of its
country: the EEA gives `gdpr`, GB `uk-gdpr`, the US `glba` and `naic` (GLBA Title V, and the
NAIC #672 regulation the states apply to insurers). Data carries the GDPR (or the UK GDPR) from
a node that regime governs along every chain of flows that passes it on, adequate countries
included (GDPR Art. 44: "including onward transfers"), so a flow far from the EEA may still be
governed by the GDPR for the data it carries.

>>> from registry.compliance.transfers import Countries
>>> countries = Countries.load()
>>> jurisdictions({"country": "FR"}, countries), jurisdictions({"country": "US"}, countries)
(('gdpr',), ('glba', 'naic'))
>>> jurisdictions({"country": "US", "jurisdictions": ["naic", "gdpr", "glba"]}, countries)
('gdpr', 'glba', 'naic')
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from graph.store import Doc
from registry.categories import Tree
from registry.compliance.transfers import Countries

REGIMES = ("gdpr", "uk-gdpr", "glba", "naic")
"""Every regime, in the order findings and records list them."""
GDPR_FAMILY = ("gdpr", "uk-gdpr")
"""The regimes with the GDPR's articles: the UK GDPR keeps their numbers, so one rule serves both."""
LAW = {"gdpr": "GDPR", "uk-gdpr": "UK GDPR", "glba": "GLBA", "naic": "NAIC #672"}
TERRITORY = {"gdpr": "the EEA", "uk-gdpr": "the UK"}
ADEQUACY = {"gdpr": "EU adequacy decision", "uk-gdpr": "UK adequacy regulation"}


def jurisdictions(doc: Doc, countries: Countries) -> tuple[str, ...]:
    """The regimes governing a system or party: its `jurisdictions`, or else its country's."""
    if doc.get("jurisdictions") is not None:
        return tuple(r for r in REGIMES if r in doc["jurisdictions"])
    country = doc["country"]
    if countries.in_eea(country):
        return ("gdpr",)
    if country in countries.territory("uk-gdpr"):
        return ("uk-gdpr",)
    if country == "US":
        return ("glba", "naic")
    return ()


def spread(flows: Iterable[Doc], tree: Tree, seeds: Mapping[str, Collection[str]],
           everything: Collection[str]) -> dict[str, set[str]]:
    """Where data goes along `flows`: for each node, the categories that reach it from `seeds`
    (node -> categories it starts with) or from the nodes in `everything` (all they send counts).

    A flow passes on a category when it carries it and the category overlaps what reached its
    source (so a warehouse that received diagnoses passes on diagnoses, and `health` if it sends
    that, but not contact details). Chains of any length are followed; cycles end because a node
    only passes on what is new to its target.

    >>> tree = Tree([{"id": "health"}, {"id": "dx", "parent": "health"}, {"id": "contact"}])
    >>> flows = [{"from": "a", "to": "b", "categories": ["dx", "contact"]},
    ...          {"from": "b", "to": "c", "categories": ["health", "contact"]}]
    >>> sorted(spread(flows, tree, {"a": {"health"}}, ())["c"])
    ['health']
    """
    out: dict[str, list[Doc]] = {}
    for flow in flows:
        out.setdefault(flow["from"], []).append(flow)
    reached: dict[str, set[str]] = {node: set(categories) for node, categories in seeds.items()}
    todo = sorted(set(seeds) | set(everything))
    queued = set(todo)  # a node waits at most once, with all that reached it meanwhile
    sent_all: set[str] = set()  # nodes of `everything` pass on all they send, once is enough
    while todo:
        node = todo.pop()
        queued.discard(node)
        held, whole = reached.get(node, set()), node in everything
        if whole:
            if node in sent_all:
                continue
            sent_all.add(node)
        for flow in out.get(node, ()):
            known = reached.setdefault(flow["to"], set())
            new = [c for c in flow["categories"] if c not in known and (whole or tree.overlaps(c, held))]
            if new:
                known.update(new)
                if flow["to"] not in queued:
                    queued.add(flow["to"])
                    todo.append(flow["to"])
    return reached
