"""Category and purpose trees: cycles and depth are checked at input in linear time, every tree is at
most `MAX_DEPTH` levels deep, and building a tree for the compliance rules costs its size times its
depth, not its depth cubed (a 2,000-deep chain once made every `findings` take 9 s). Work is counted
in look-ups of the parent map, never timed; timings are in `bench/trees.py`."""

from __future__ import annotations

import pytest

from registry.bundle import BundleInvalid
from registry.categories import MAX_DEPTH, Tree, shape_problems


class Counted(dict):
    """A parent map that counts how often it is read."""

    reads = 0

    def __getitem__(self, key):
        Counted.reads += 1
        return super().__getitem__(key)

    def __contains__(self, key):
        Counted.reads += 1
        return super().__contains__(key)

    def get(self, key, default=None):
        Counted.reads += 1
        return super().get(key, default)


def chain(n: int, prefix: str = "c") -> dict[str, str | None]:
    return {f"{prefix}{i}": f"{prefix}{i - 1}" if i else None for i in range(n)}


def reads(function, parent) -> int:
    Counted.reads = 0
    function(Counted(parent))
    return Counted.reads


def categories(parent: dict[str, str | None]) -> str:
    rows = [f"  - {{id: {id_}, name: {id_.upper()}" + (f", parent: {up}}}" if up else "}") for id_, up in parent.items()]
    return "categories:\n" + "\n".join(rows) + "\n"


def problems(registry, text: str) -> list[str]:
    with pytest.raises(BundleInvalid) as caught:
        registry.load([("tree.yaml", text)], actor="test")
    return [str(p) for p in caught.value.problems]


def test_a_tree_of_the_maximum_depth_loads_and_one_level_more_is_refused_once_per_branch(registry):
    registry.load([("ok.yaml", categories(chain(MAX_DEPTH)))], actor="test")
    too_deep = {**chain(MAX_DEPTH), **chain(MAX_DEPTH + 5, "d")}
    assert problems(registry, categories(too_deep)) == [
        f"tree.yaml:{MAX_DEPTH + 34}:34: category 'd32': parent: is 33 levels deep (d32 → d31 → d30 → d29 → … → d0); "
        f"a tree may be at most {MAX_DEPTH} levels deep"]
    assert {c["id"] for c in registry.list("category")} == set(chain(MAX_DEPTH))


def test_a_category_that_makes_an_existing_tree_too_deep_is_refused(registry):
    registry.load([("ok.yaml", categories(chain(MAX_DEPTH)))], actor="test")
    assert problems(registry, "categories: [{id: leaf, name: Leaf, parent: c31}]") == [
        f"tree.yaml:1:45: category 'leaf': parent: is {MAX_DEPTH + 1} levels deep (leaf → c31 → c30 → c29 → … → c0); "
        f"a tree may be at most {MAX_DEPTH} levels deep"]


def test_a_deep_purpose_chain_is_refused_like_a_category_chain(registry):
    rows = "\n".join(f"  - {{id: p{i}, name: P{i}" + (f", parent: p{i - 1}}}" if i else "}") for i in range(40))
    [problem] = problems(registry, "purposes:\n" + rows)
    assert problem.endswith(f"purpose 'p32': parent: is 33 levels deep (p32 → p31 → p30 → p29 → … → p0); "
                            f"a tree may be at most {MAX_DEPTH} levels deep")


def test_a_3000_deep_chain_is_one_problem_and_a_3000_long_cycle_short_messages(registry):
    [deep] = problems(registry, categories(chain(3000)))
    assert "category 'c32'" in deep and "is 33 levels deep" in deep
    cycle = {f"c{i}": f"c{(i + 1) % 3000}" for i in range(3000)}
    found = problems(registry, categories(cycle))
    assert len(found) == 3000
    assert found[0].endswith("category 'c0': parent: parent cycle: c0 → c1 → c2 → c3 → c4 → c5 → c6 → … → c0")
    assert max(map(len, found)) < 160  # each message stays short: the output grows linearly
    assert registry.list("category") == []


def test_small_cycles_are_named_in_full():
    assert shape_problems({"a": "b", "b": "c", "c": "a", "x": "a"}, ["a", "x"]) == {
        "a": "parent cycle: a → b → c → a"}


def test_the_shape_check_reads_the_parent_map_a_number_of_times_linear_in_its_size():
    small, large = reads(lambda p: shape_problems(p, list(p)), chain(1000)), \
        reads(lambda p: shape_problems(p, list(p)), chain(8000))
    assert large <= 8 * small * 1.1
    assert large < 10 * 8000
    cycles = reads(lambda p: shape_problems(p, list(p)), {f"c{i}": f"c{(i + 1) % 8000}" for i in range(8000)})
    assert cycles < 10 * 8000


def test_a_tree_costs_its_size_times_its_depth():
    """Wide trees of the maximum depth: their ancestor chains, what every rule reads, hold
    size × depth ids, eight times as many for eight times the trees."""
    def forest(roots: int) -> dict[str, str | None]:
        parent = {}
        for r in range(roots):
            parent.update(chain(MAX_DEPTH, f"r{r}-"))
        return parent

    small, large = forest(10), forest(80)
    tree_small = Tree([{"id": k, "parent": v} for k, v in small.items()])
    tree_large = Tree([{"id": k, "parent": v} for k, v in large.items()])
    held = lambda tree: sum(map(len, tree.ancestors.values()))  # noqa: E731
    assert held(tree_large) == 8 * held(tree_small) == 8 * 10 * sum(range(1, MAX_DEPTH + 1))
    assert tree_large.ancestors["r7-31"] == tuple(f"r7-{i}" for i in range(31, -1, -1))


def test_ancestors_of_a_long_legacy_chain_are_built_once_per_node():
    """A store filled before the depth limit may hold a deeper chain: it still answers."""
    tree = Tree([{"id": k, "parent": v} for k, v in chain(2000).items()])
    assert len(tree.ancestors["c1999"]) == 2000 and tree.ancestors["c0"] == ("c0",)
    assert tree.covered("c1999", ["c0"]) and not tree.covered("c0", ["c1999"])
