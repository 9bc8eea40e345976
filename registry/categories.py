"""The category and purpose trees as the domain sees them (compliance rules, DSAR reports,
the Art. 30 record): flags inherited downwards, scopes that cover descendants, and data that
overlaps (a category, its ancestors and its descendants).

>>> tree = CategoryTree([{"id": "health", "special": True}, {"id": "health.diagnosis", "parent": "health"}])
>>> tree.is_("special", "health.diagnosis"), tree.covered("health.diagnosis", ["health"])
(True, True)
>>> sorted(tree.overlapping["health"])
['health', 'health.diagnosis']
>>> purposes = Tree([{"id": "marketing"}, {"id": "marketing.ads", "parent": "marketing"}], ["insurance_function"])
>>> purposes.covered("marketing.ads", ["marketing"]), purposes.covered("marketing", ["marketing.ads"])
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterable

from graph.store import Doc

FLAGS = ("special", "criminal", "npi", "health")
"""The flags of data categories; `health` is health information (NAIC #672), `special` the GDPR
Art. 9 categories (health, genetic, biometric …)."""


class Tree:
    """A tree of documents linked by `parent` (categories, purposes), with `flags` inherited downwards."""

    def __init__(self, nodes: Iterable[Doc], flags: Iterable[str] = FLAGS):
        docs = list(nodes)
        parent = {doc["id"]: doc.get("parent") for doc in docs}
        self.ancestors: dict[str, tuple[str, ...]] = {}
        """Each category with its ancestors, itself first (parent cycles are refused at load)."""
        for id_ in parent:
            chain = [id_]
            while (up := parent.get(chain[-1])) and up not in chain:
                chain.append(up)
            self.ancestors[id_] = tuple(chain)
        below: dict[str, set[str]] = {id_: {id_} for id_ in parent}
        for id_, chain in self.ancestors.items():
            for ancestor in chain[1:]:
                below[ancestor].add(id_)
        self.overlapping: dict[str, frozenset[str]] = {
            id_: frozenset(below[id_]) | frozenset(self.ancestors[id_]) for id_ in parent}
        """Categories whose data overlaps each one's: itself, its ancestors and its descendants."""
        flagged = {flag: {doc["id"] for doc in docs if doc.get(flag)} for flag in flags}
        self.flagged: dict[str, frozenset[str]] = {
            flag: frozenset(id_ for id_, chain in self.ancestors.items() if ids.intersection(chain))
            for flag, ids in flagged.items()}
        """Per flag, the categories that carry it themselves or inherit it from an ancestor."""

    def is_(self, flag: str, category: str) -> bool:
        return category in self.flagged[flag]

    def covered(self, category: str, scope: Iterable[str]) -> bool:
        """Whether `category` is one of `scope` or a descendant of one."""
        return not set(self.ancestors.get(category, (category,))).isdisjoint(scope)

    def narrower(self, held: str, carried: str) -> str | None:
        """What of `held` data a flow carrying `carried` takes along: the narrower of the two, if they overlap."""
        if held in self.ancestors.get(carried, (carried,)):
            return carried
        if carried in self.ancestors.get(held, (held,)):
            return held
        return None

    def overlaps(self, category: str, held: set[str] | frozenset[str]) -> bool:
        """Whether any of `held` is data of `category` (it, an ancestor or a descendant)."""
        return not self.overlapping.get(category, frozenset((category,))).isdisjoint(held)


CategoryTree = Tree
"""The data category tree, with the category flags (`FLAGS`)."""
