"""Figures for the bounded-cost work (issue 11): how long the tree checks, the compliance tree, the
cost estimate and the request limits take as inputs grow. Prints a Markdown table; asserts nothing
about time (the tests count work instead: tests/test_tree_shape.py, tests/test_request_cost.py).

    .venv/bin/python -m bench.limits
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from graphql import parse
from starlette.testclient import TestClient

from registry.api.app import create_app
from registry.api.cost import operation_cost
from registry.api.schema import schema
from registry.bundle import BundleInvalid
from registry.categories import MAX_DEPTH, Tree, shape_problems
from registry.compliance.findings import findings
from registry.bootstrap import open_registry
from registry.settings import Settings


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return (time.perf_counter() - start) * 1000, result


def chain(n: int, prefix: str = "c") -> dict[str, str | None]:
    return {f"{prefix}{i}": f"{prefix}{i - 1}" if i else None for i in range(n)}


def categories(parent: dict[str, str | None]) -> str:
    return "categories:\n" + "\n".join(f"  - {{id: {k}, name: {k}" + (f", parent: {v}}}" if v else "}")
                                       for k, v in parent.items()) + "\n"


def main() -> None:
    rows: list[tuple[str, str, str]] = []
    for n in (1_000, 3_000, 10_000):
        ms, found = timed(lambda: shape_problems(chain(n), list(chain(n))))
        rows.append((f"shape check of a {n:,}-deep chain", f"{ms:.1f} ms", f"{len(found)} problem"))
        cycle = {f"c{i}": f"c{(i + 1) % n}" for i in range(n)}
        ms, found = timed(lambda: shape_problems(cycle, list(cycle)))
        rows.append((f"shape check of a {n:,}-long cycle", f"{ms:.1f} ms", f"{len(found):,} problems"))
    for roots in (100, 1_000):
        docs = [{"id": f"r{r}-{i}", "parent": f"r{r}-{i - 1}" if i else None}
                for r in range(roots) for i in range(MAX_DEPTH)]
        ms, _ = timed(lambda: Tree(docs))
        rows.append((f"compliance tree of {len(docs):,} categories, {MAX_DEPTH} deep", f"{ms:.1f} ms", ""))
    legacy = [{"id": k, "parent": v} for k, v in chain(2_000).items()]
    ms, _ = timed(lambda: Tree(legacy))
    rows.append(("compliance tree of a 2,000-deep legacy chain (was 28 s)", f"{ms:.0f} ms", ""))

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.load(store=str(Path(folder) / "bench.db"))
        registry = open_registry(settings)
        try:
            for n in (3_000,):
                ms, _ = timed(lambda: _refused(registry, categories(chain(n))))
                rows.append((f"load of a {n:,}-deep chain (refused; was 27 s)", f"{ms:.0f} ms", ""))
            registry.load([("ok.yaml", categories(chain(MAX_DEPTH)))], actor="bench")
            ms, found = timed(lambda: findings(registry, settings=settings.compliance()))
            rows.append((f"findings with a {MAX_DEPTH}-deep chain", f"{ms:.0f} ms", f"{len(found)} findings"))
        finally:
            registry.store.close()

        for aliases in (1, 10, 30):
            query = "{ " + " ".join(f'h{i}: holders(category: "c0") {{ holder {{ id }} path }}'
                                    for i in range(aliases)) + " }"
            ms, cost = timed(lambda: operation_cost(schema._schema, parse(query)))
            rows.append((f"cost estimate, {aliases} aliases of holders", f"{ms:.2f} ms", f"cost {cost:,}"))
        app = create_app(Settings.load(store=str(Path(folder) / "bench.db"), allow_anonymous_viewer=True))
        with TestClient(app) as client:
            for size in (1, 16, 64):
                body = b" " * (size * 1024 * 1024)
                ms, response = timed(lambda: client.post("/graphql", content=body,
                                                         headers={"Content-Type": "application/json"}))
                rows.append((f"{size} MiB body", f"{ms:.0f} ms", f"HTTP {response.status_code}"))
            text = json.dumps({"query": "{ systems { id } }" + " " * 4_000_000})
            ms, response = timed(lambda: client.post("/graphql", content=text,
                                                     headers={"Content-Type": "application/json"}))
            rows.append(("4 MB query text", f"{ms:.0f} ms", response.json()["errors"][0]["extensions"]["code"]))

    print("| measured | time | result |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def _refused(registry, text: str) -> None:
    try:
        registry.load([("chain.yaml", text)], actor="bench")
    except BundleInvalid:
        return
    raise AssertionError("a chain deeper than MAX_DEPTH loaded")


if __name__ == "__main__":
    main()
