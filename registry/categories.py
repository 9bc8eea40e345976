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

Trees are at most `MAX_DEPTH` levels deep and have no cycle (`shape_problems` refuses both at
input, in time linear in the tree's size), so every tree here costs O(size × depth) to build.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from graph.store import Doc

MAX_DEPTH = 32
"""The deepest a category or purpose tree may be: a root and 31 generations below it (real
taxonomies have fewer than ten; the limit keeps every tree walk bounded)."""

FLAGS = ("special", "criminal", "npi", "health")
"""The flags of data categories; `health` is health information (NAIC #672), `special` the GDPR
Art. 9 categories (health, genetic, biometric …)."""


class Tree:
    """A tree of documents linked by `parent` (categories, purposes), with `flags` inherited downwards."""

    def __init__(self, nodes: Iterable[Doc], flags: Iterable[str] = FLAGS):
        docs = list(nodes)
        parent = {doc["id"]: doc.get("parent") for doc in docs}
        self.ancestors: dict[str, tuple[str, ...]] = _ancestors(parent)
        """Each category with its ancestors, itself first (parent cycles are refused at load)."""
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


def _ancestors(parent: Mapping[str, str | None]) -> dict[str, tuple[str, ...]]:
    """Each node with its ancestors, nearest first, each chain built on its parent's (so a deep
    chain costs its length once per node, not its square); a cycle (refused at input) stops
    where it closes."""
    found: dict[str, tuple[str, ...]] = {}
    for start in parent:
        path, on_path, node = [], set(), start
        while node is not None and node not in found and node not in on_path:
            path.append(node)
            on_path.add(node)
            node = parent.get(node)
        above = found.get(node, ()) if node not in on_path else ()
        for node in reversed(path):
            above = found[node] = (node, *above)
    return found


def shape_problems(parent: Mapping[str, str | None], checked: Iterable[str]) -> dict[str, str]:
    """Why each of `checked` breaks the shape of the tree that `parent` (id -> parent id, None
    for a root) describes: it is on a parent cycle, or it is deeper than `MAX_DEPTH` while its
    parent is not (one problem per branch that goes too deep). A parent `parent` does not know
    counts as a root (unknown references are reported elsewhere). Linear in the size of `parent`.

    >>> shape_problems({"a": "b", "b": "a", "c": None}, ["a", "c"])
    {'a': 'parent cycle: a → b → a'}
    >>> chain = {f"c{i}": f"c{i - 1}" if i else None for i in range(40)}
    >>> shape_problems(chain, chain)
    {'c32': 'is 33 levels deep (c32 → c31 → c30 → c29 → … → c0); a tree may be at most 32 levels deep'}
    """
    checked = list(checked)
    checked_ids = set(checked)
    depth: dict[str, int] = {}
    """Levels from the root (1 for a root); `_CYCLE` for a node on or below a cycle."""
    root: dict[str, str] = {}
    cycles: dict[str, tuple[list[str], int]] = {}
    """Each node on a cycle: the cycle and the node's place on it."""
    for start in checked:
        path, on_path, node = [], {}, start
        while node in parent and node not in depth and node not in on_path:
            on_path[node] = len(path)
            path.append(node)
            node = parent[node]
        if node in on_path:
            cycle = path[on_path[node]:]
            for i, member in enumerate(cycle):
                cycles[member], depth[member] = (cycle, i), _CYCLE
            path, level, top = path[:on_path[node]], _CYCLE, node
        elif node in depth:
            level, top = depth[node], root.get(node, node)
        else:
            level, top = 0, path[-1] if path else start
        for node in reversed(path):
            level = depth[node] = _CYCLE if level == _CYCLE else level + 1
            root[node] = top
    problems = {}
    for id_ in checked:
        if id_ in cycles:
            cycle, at = cycles[id_]
            shown = [cycle[(at + step) % len(cycle)] for step in range(min(len(cycle), 7))]
            problems[id_] = "parent cycle: " + _chain([*shown, id_], gap=len(cycle) > 7)
        elif depth[id_] > MAX_DEPTH and (depth[id_] == MAX_DEPTH + 1 or parent[id_] not in checked_ids):
            chain = [id_]
            while len(chain) < 4:
                chain.append(parent[chain[-1]])
            problems[id_] = (f"is {depth[id_]} levels deep ({_chain([*chain, root[id_]], gap=True)}); a tree may "
                             f"be at most {MAX_DEPTH} levels deep")
    return problems


_CYCLE = -1


def _chain(ids: list[str], gap: bool = False) -> str:
    """`a → b → c`, or with `gap` (or more than 8 ids), the first four and the last with `…` between."""
    if len(ids) > 8:
        ids, gap = [*ids[:4], ids[-1]], True
    return " → ".join([*ids[:-1], "…", ids[-1]] if gap else ids)


CategoryTree = Tree
"""The data category tree, with the category flags (`FLAGS`)."""
