"""DSARs and consent withdrawals while a large subject file loads in another process.

    python -m bench.during_load --scale large                 # embedded, 1,000,000 subjects
    python -m bench.during_load --scale small --store neo4j   # Neo4j (scripts/neo4j-test-server)

Imports the synthetic group, loads a first file of subjects, then starts `dsa-registry subjects
load` of a second, larger file (other subjects) in a process of its own, as an operator would
beside a running server. Meanwhile it asks for a DSAR and records a consent withdrawal, again
and again, for subjects of the first file, and prints their p50 / p95 / max while the load ran,
and how many were refused as busy (`StoreBusy`). Asserts nothing about time.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from bench.measure import percentile
from bench.ours import load_subjects, open_ours
from bench.run import HMAC_KEY
from bench.servers import Neo4jServer
from bench.synthetic import SCALES, synthetic_bundle, write_subjects
from graph.store import StoreBusy
from registry.auth.roles import Principal

ROOT = Path(__file__).resolve().parent.parent


@click.command(help=__doc__)
@click.option("--scale", type=click.Choice(list(SCALES)), default="small", show_default=True)
@click.option("--store", "backend", type=click.Choice(["embedded", "neo4j"]), default="embedded", show_default=True)
@click.option("--first", type=click.IntRange(1), default=20_000, show_default=True,
              help="Subjects loaded before, the ones asked about.")
def main(scale: str, backend: str, first: int):
    chosen = SCALES[scale]
    bundle = synthetic_bundle(chosen)
    with tempfile.TemporaryDirectory(prefix="dsa-during-") as tmp:
        tmp = Path(tmp)
        asked, loaded = tmp / "asked.jsonl", tmp / "loaded.jsonl"
        write_subjects(asked, bundle, first)
        write_subjects(loaded, bundle, chosen.subjects)
        # The second file's ids must not be the first's: prefix them.
        loaded.write_text(loaded.read_text().replace('{"id":"S', '{"id":"L'))
        neo4j = Neo4jServer() if backend == "neo4j" else None
        store = neo4j.uri if neo4j else str(tmp / "registry.db")
        try:
            ours = open_ours(store, HMAC_KEY)
            ours.registry.load_data(bundle, source="synthetic", actor="bench", replace=True)
            load_subjects(ours, asked, first, backend)
            click.echo(f"loading {chosen.subjects:,} subjects in another process; asking meanwhile", err=True)
            env = {**os.environ, "PYTHONPATH": str(ROOT), "DSA_REGISTRY_HMAC_KEY": HMAC_KEY}
            started = time.perf_counter()
            loader = subprocess.Popen([sys.executable, "-m", "registry.cli", "--store", store, "subjects", "load",
                                       "--quiet", str(loaded)], env=env, stdout=subprocess.DEVNULL)
            dsar, consent, busy, rng = [], [], 0, random.Random(3)
            admin = Principal.of("bench", "admin")
            while loader.poll() is None:
                subject = f"S{rng.randrange(first):08d}"
                for times, ask in ((dsar, lambda: ours.subjects.report(principal=admin, subject=subject)),
                                   (consent, lambda: ours.subjects.set_consent(
                                       principal=admin, subject=subject, purpose="marketing", status="withdrawn"))):
                    begin = time.perf_counter()
                    try:
                        ask()
                        times.append((time.perf_counter() - begin) * 1000)
                    except StoreBusy:
                        busy += 1
            seconds = time.perf_counter() - started
            if loader.returncode != 0:
                raise click.ClickException(f"the load failed with exit code {loader.returncode}")
            click.echo(f"### While {chosen.subjects:,} subjects loaded on {backend} ({seconds:,.1f} s, "
                       f"{chosen.subjects / seconds:,.0f} subjects/s)\n")
            click.echo("| question | answered | p50 ms | p95 ms | max ms |\n|---|---:|---:|---:|---:|")
            for name, times in (("dsar", dsar), ("withdraw consent", consent)):
                if times:
                    click.echo(f"| {name} | {len(times):,} | {percentile(times, 50):,.1f} | "
                               f"{percentile(times, 95):,.1f} | {max(times):,.1f} |")
            click.echo(f"\nRefused as busy: {busy}.")
            ours.registry.store.close()
        finally:
            if neo4j:
                neo4j.stop()


if __name__ == "__main__":
    main()
