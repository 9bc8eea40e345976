"""Benchmark subject loading and DSAR lookups at scale on the synthetic insurer group.

    python bench/subjects.py                 # 1,000,000 subjects, embedded store
    python bench/subjects.py --subjects 10000000
    python bench/subjects.py --subjects 100000 --store neo4j://127.0.0.1:7687   # wipes that database!

Writes a JSON Lines file of synthetic subjects (2-3 records each, some with a source party,
consents and an e-mail key), loads it with `SubjectService.load` (streaming, one transaction),
then times DSAR lookups through the GraphQL layer, by id and by e-mail. Prints the load rate in
subjects and records per second, DSAR p50/p95, and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
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
from registry.subjects.model import KeyHasher  # noqa: E402
from registry.subjects.service import SubjectService  # noqa: E402

QUERY = """query ($subject: ID, $email: String) { dsar(subject: $subject, email: $email) {
  subject { id kind } holdings { system { id } category purposes legalBasis retention path }
  recipients { party { id name kind country } categories purposes legalBasis agreement { id } transferMechanism path }
  suspendedFlows { id purpose } consents { purpose status at } sources { party { id } system categories } } }"""


def write_subjects(path: Path, count: int, bundle: dict, seed: int = 11) -> int:
    rng = random.Random(seed)
    # A customer belongs to one subsidiary: records in its front-office and core systems.
    by_subsidiary: dict[str, list[str]] = {}
    for system in bundle["systems"]:
        _, subsidiary, number = system["id"].split("-")
        if subsidiary != "000" and int(number) < 10:
            by_subsidiary.setdefault(subsidiary, []).append(system["id"])
    landscapes = list(by_subsidiary.values())
    declared = {s["id"]: [h["category"] for h in s["holds"]] for s in bundle["systems"]}
    brokers = [p["id"] for p in bundle["parties"] if p["kind"] == "broker"]
    purposes = [p["id"] for p in bundle["purposes"]]
    records = 0
    with path.open("w") as out:
        for i in range(count):
            chosen = rng.sample(rng.choice(landscapes), rng.randint(2, 3))
            subject = {"id": f"S{i:08d}", "kind": "policyholder",
                       "records": [{"system": s} if declared[s] else {"system": s, "categories": ["contact"]}
                                   for s in chosen]}
            if rng.random() < 0.3:
                subject["records"][0]["source"] = rng.choice(brokers)
            if rng.random() < 0.5:
                subject["consents"] = [{"purpose": rng.choice(purposes), "status": rng.choice(["granted", "withdrawn"]),
                                        "at": "2025-05-01T09:00:00Z"}]
            subject["keys"] = {"email": f"s{i}@example.org"}
            records += len(chosen)
            out.write(json.dumps(subject, separators=(",", ":")) + "\n")
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--store", help="SQLite path or Neo4j URI (default: a temporary SQLite file)")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        registry = Registry(open_store(Settings.load(store=args.store or str(Path(tmp) / "bench.db"))))
        bundle = synthetic_bundle()
        registry.load_data(bundle, source="synthetic", actor="bench", replace=True)
        service = SubjectService(registry, KeyHasher(b"bench-secret"))
        path = Path(tmp) / "subjects.jsonl"
        start = time.perf_counter()
        records = write_subjects(path, args.subjects, bundle)
        print(f"wrote {args.subjects:,} subjects ({records:,} records, {path.stat().st_size / 1e6:,.0f} MB) "
              f"in {time.perf_counter() - start:.0f} s")
        start = time.perf_counter()
        service.load(path, principal=Principal.of("bench", "admin"))
        elapsed = time.perf_counter() - start
        print(f"load: {args.subjects / elapsed:,.0f} subjects/s, {records / elapsed:,.0f} records/s ({elapsed:.0f} s)")

        rng = random.Random(5)
        principal = Principal.of("bench", "dpo")

        async def one(variables):
            context = Context(registry=registry, subjects=service, principal=principal)
            result = await schema.execute(QUERY, variable_values=variables, context_value=context)
            assert result.errors is None, result.errors
            return result.data["dsar"]

        async def timed(make):  # one event loop for all requests, as in a server
            times, sizes = [], []
            for _ in range(args.runs):
                variables = make(rng.randrange(args.subjects))
                started = time.perf_counter()
                report = await one(variables)
                times.append((time.perf_counter() - started) * 1000)
                sizes.append(len(report["holdings"]) + len(report["recipients"]))
            return times, sizes

        for label, make in (("dsar by id", lambda i: {"subject": f"S{i:08d}"}),
                            ("dsar by e-mail", lambda i: {"email": f" S{i}@Example.org"})):
            times, sizes = asyncio.run(timed(make))
            print(f"{label:<16} p50 {statistics.median(times):6.2f} ms   p95 {statistics.quantiles(times, n=20)[18]:6.2f} ms"
                  f"   (median {statistics.median(sizes):.0f} holdings + recipients)")
        print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
        registry.store.close()


if __name__ == "__main__":
    main()
