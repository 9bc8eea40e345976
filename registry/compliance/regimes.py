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


class Bits:
    """Sets of categories as ints, one bit per category, so that the set algebra of `Network.spread`
    over thousands of nodes is integer arithmetic. `names` are the categories the sets will hold
    besides the tree's (a name the tree does not know overlaps only itself).

    >>> bits = Bits(Tree([{"id": "health"}, {"id": "dx", "parent": "health"}, {"id": "contact"}]))
    >>> bits.names(bits.overlap["dx"]), bits.names(bits.of(["contact", "dx"]))
    (['health', 'dx'], ['dx', 'contact'])
    """

    def __init__(self, tree: Tree, names: Iterable[str] = ()):
        self.bit: dict[str, int] = {}
        for name in (*tree.overlapping, *names):
            self.bit.setdefault(name, 1 << len(self.bit))
        self.overlap: dict[str, int] = {
            name: self.of(tree.overlapping.get(name, (name,))) for name in self.bit}
        """Per category, the bits of the categories whose data overlaps its own (it, its ancestors, its descendants)."""

    def of(self, names: Iterable[str]) -> int:
        found = 0
        for name in names:
            found |= self.bit[name]
        return found

    def names(self, bits: int) -> list[str]:
        return [name for name, bit in self.bit.items() if bits & bit]


class Network:
    """Where data goes along `flows` (the live ones): each flow is kept as its target and the bits of
    the categories it carries, so that several spreads over the same flows cost one pass to build.

    `spread(seeds, everything)` gives, for each node, the categories that reach it (as `Bits`) from
    `seeds` (node -> categories it starts with) or from the nodes in `everything` (all they send
    counts). A flow passes on a category when it carries it and the category overlaps what reached
    its source (so a warehouse that received diagnoses passes on diagnoses, and `health` if it sends
    that, but not contact details). Chains of any length are followed; cycles end because a node
    only passes on what is new to its target.

    >>> tree = Tree([{"id": "health"}, {"id": "dx", "parent": "health"}, {"id": "contact"}])
    >>> flows = [{"from": "a", "to": "b", "categories": ["dx", "contact"]},
    ...          {"from": "b", "to": "c", "categories": ["health", "contact"]}]
    >>> network = Network(flows, Bits(tree))
    >>> network.bits.names(network.spread({"a": network.bits.of(["health"])}, ())["c"])
    ['health']
    """

    def __init__(self, flows: Iterable[Doc], bits: Bits):
        self.bits = bits
        self.out: dict[str, list[tuple[str, int, tuple[tuple[int, int], ...]]]] = {}
        """Per source: (target, the bits of the categories the flow carries, (bit, overlap) of each)."""
        bit, overlap = bits.bit, bits.overlap
        for flow in flows:
            carried = tuple((bit[c], overlap[c]) for c in flow["categories"])
            mask = 0
            for one, _ in carried:
                mask |= one
            self.out.setdefault(flow["from"], []).append((flow["to"], mask, carried))

    def spread(self, seeds: Mapping[str, int], everything: Collection[str]) -> dict[str, int]:
        reached: dict[str, int] = dict(seeds)
        todo = sorted(set(seeds) | set(everything))
        queued = set(todo)  # a node waits at most once, with all that reached it meanwhile
        sent_all: set[str] = set()  # nodes of `everything` pass on all they send, once is enough
        while todo:
            node = todo.pop()
            queued.discard(node)
            held, whole = reached.get(node, 0), node in everything
            if whole:
                if node in sent_all:
                    continue
                sent_all.add(node)
            for target, mask, carried in self.out.get(node, ()):
                known = reached.get(target, 0)
                new = mask & ~known
                if new and not whole:
                    new = 0
                    for one, overlapping in carried:
                        if overlapping & held and not one & known:
                            new |= one
                if new:
                    reached[target] = known | new
                    if target not in queued:
                        queued.add(target)
                        todo.append(target)
        return reached
