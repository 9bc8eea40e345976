"""Benchmark `holders` and `lineage` through the GraphQL layer on a synthetic insurer group.

    python bench/holders_lineage.py                      # embedded store in a temporary directory
    python bench/holders_lineage.py --neo4j              # also on Neo4j from scripts/neo4j-test-server
    python bench/holders_lineage.py --store neo4j://...  # on a Neo4j of your own (it is wiped!)

Prints p50/p95 per query over `--runs` repetitions, after one warm-up, for the category whose
holders are closest to 30 % of all systems and parties.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synthetic import synthetic_bundle  # noqa: E402
from registry.auth.roles import Principal  # noqa: E402
from registry.api.context import Context  # noqa: E402
from registry.api.schema import schema  # noqa: E402
from registry.bootstrap import open_store  # noqa: E402
from registry.settings import Settings  # noqa: E402
from registry.service import Registry  # noqa: E402

HOLDERS = ("query ($c: ID!, $limit: Int) { holders(category: $c, limit: $limit) "
           "{ holder { id name } category { id } declared flow { id } path } }")
LINEAGE = "query ($n: ID!, $d: Int) { lineage(from: $n, depth: $d) { nodes { id kind name } edges { id from to categories purpose } } }"


def timed(registry: Registry, query: str, variables: dict, runs: int) -> tuple[list[float], int]:
    async def once():
        context = Context(registry=registry, principal=Principal.of("bench", "viewer"))
        result = await schema.execute(query, variable_values=variables, context_value=context)
        assert result.errors is None, result.errors
        return result.data

    async def repeat():  # one event loop for all requests, as in a server
        data = await once()  # warm-up (and the answer's size)
        answer = next(iter(data.values()))
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            await once()
            times.append((time.perf_counter() - start) * 1000)
        return times, len(answer) if isinstance(answer, list) else len(answer["edges"])

    return asyncio.run(repeat())


def report(name: str, times: list[float], size: int) -> None:
    p50 = statistics.median(times)
    p95 = statistics.quantiles(times, n=20)[18] if len(times) >= 20 else max(times)
    print(f"  {name:<34} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   ({size} items)")


def bench(store_location: str, args) -> None:
    registry = Registry(open_store(Settings.load(store=store_location)))
    bundle = synthetic_bundle(args.systems, args.parties, args.flows)
    start = time.perf_counter()
    registry.load_data(bundle, source="synthetic", actor="bench", replace=True)
    print(f"{store_location.split('@')[-1]}: loaded {len(bundle['systems'])} systems, {len(bundle['parties'])} parties, "
          f"{len(bundle['flows'])} flows in {time.perf_counter() - start:.1f} s")
    nodes = len(bundle["systems"]) + len(bundle["parties"])
    shares = {c["id"]: len({v.holding.holder for v in registry.holders(c["id"])}) / nodes
              for c in bundle["categories"]}
    category = min(shares, key=lambda c: abs(shares[c] - 0.30))
    print(f"  holders({category!r}): held by {shares[category]:.0%} of nodes")
    report(f"holders({category})", *timed(registry, HOLDERS, {"c": category}, args.runs))
    report(f"holders({category}, limit: 100)", *timed(registry, HOLDERS, {"c": category, "limit": 100}, args.runs))
    started = time.perf_counter()
    for _ in range(args.runs):
        registry.holders(category)
    print(f"  {'holders, service call only':<34} mean {(time.perf_counter() - started) * 1000 / args.runs:8.1f} ms")
    start_node = "sys-001-00"  # a front-office system of the first subsidiary
    for depth in (2, 4, None):
        report(f"lineage({start_node}, depth={depth})",
               *timed(registry, LINEAGE, {"n": start_node, "d": depth}, args.runs))
    registry.store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", help="a store location (SQLite path or Neo4j URI); default: a temporary SQLite file")
    parser.add_argument("--neo4j", action="store_true", help="also run on Neo4j from scripts/neo4j-test-server")
    parser.add_argument("--systems", type=int, default=2_000)
    parser.add_argument("--parties", type=int, default=500)
    parser.add_argument("--flows", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench(args.store or str(Path(tmp) / "bench.db"), args)
        if args.neo4j:
            server = subprocess.Popen([str(ROOT / "scripts" / "neo4j-test-server")], stdout=subprocess.PIPE, text=True)
            try:
                uri = server.stdout.readline().strip()
                version = subprocess.run([sys.executable, "-c", f"import neo4j; d = neo4j.GraphDatabase.driver({uri!r}); "
                                          "print(d.get_server_info().agent)"], capture_output=True, text=True).stdout.strip()
                print(f"Neo4j server: {version}")
                bench(uri, args)
            finally:
                server.terminate()
                server.wait(timeout=60)


if __name__ == "__main__":
    main()
