"""The first answers after a change to the registry: what a governance tool polling the API
waits for while someone edits it.

    python -m bench.after_write --scale large --subjects 1000000   # embedded
    python -m bench.after_write --scale small --store neo4j       # Neo4j (scripts/neo4j-test-server)

Imports the synthetic group and loads `--subjects` data subjects (the findings count those who
withdrew consent). Then, round after round, it renames one system, as a `load` of a one-entity
file does, and asks one question as the direct service call: the first answer after the change,
then the same question again. The questions take turns (`holders`, `lineage`, `findings`), so
each first answer pays for whatever the change invalidated. Each question is asked once before
the first change (the first `findings` counts every subject's consents). Prints p50 / p95 / max
in ms per question, and the write's. Asserts nothing about time.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click

from bench.measure import percentile
from bench.ours import import_bundle, load_subjects, open_ours
from bench.questions import QUESTIONS, Ours, picks
from bench.run import HMAC_KEY
from bench.servers import Neo4jServer
from bench.synthetic import SCALES, synthetic_bundle, write_subjects

ASKED = ("holders", "lineage", "findings")


@click.command(help=__doc__)
@click.option("--scale", type=click.Choice(list(SCALES)), default="small", show_default=True)
@click.option("--subjects", type=click.IntRange(0), default=None,
              help="Data subjects loaded first (default: the scale's).")
@click.option("--store", "backend", type=click.Choice(["embedded", "neo4j"]), default="embedded", show_default=True)
@click.option("--rounds", type=click.IntRange(1), default=10, show_default=True, help="Changes per question.")
def main(scale: str, subjects: int | None, backend: str, rounds: int):
    chosen = SCALES[scale]
    subjects = chosen.subjects if subjects is None else subjects
    bundle = synthetic_bundle(chosen)
    chosen_picks = picks(bundle, max(subjects, 1))
    with tempfile.TemporaryDirectory(prefix="dsa-after-write-") as tmp:
        neo4j = Neo4jServer() if backend == "neo4j" else None
        try:
            ours = open_ours(neo4j.uri if neo4j else str(Path(tmp) / "registry.db"), HMAC_KEY)
            click.echo(f"importing {scale} and loading {subjects:,} subjects on {backend}", err=True)
            import_bundle(ours, bundle, backend)
            if subjects:
                path = Path(tmp) / "subjects.jsonl"
                write_subjects(path, bundle, subjects)
                load_subjects(ours, path, subjects, backend)
            times = _rounds(ours, chosen_picks, rounds)
            ours.registry.store.close()
        finally:
            if neo4j:
                neo4j.stop()
    click.echo(f"### The first answer after a change, {scale} with {subjects:,} subjects, {backend} "
               f"({rounds} changes per question)\n")
    click.echo("| question | p50 ms | p95 ms | max ms |\n|---|---:|---:|---:|")
    for name, taken in times.items():
        click.echo(f"| {name} | {percentile(taken, 50):,.1f} | {percentile(taken, 95):,.1f} | {max(taken):,.1f} |")


def _rounds(ours: Ours, chosen, rounds: int) -> dict[str, list[float]]:
    """Per round and question: rename the picked start system, ask, ask again. Times in ms."""
    registry = ours.registry
    times: dict[str, list[float]] = {}
    for name in ASKED:  # the first answers of all, which also count the subjects' consents
        begin = time.perf_counter()
        QUESTIONS[name].direct(ours, chosen, 0)
        times[f"{name}, the first in the process"] = [(time.perf_counter() - begin) * 1000]
    times["rename (the write)"] = []
    for name in ASKED:
        times[f"{name}, first after the change"] = []
        times[f"{name}, again"] = []
    for round_ in range(rounds):
        for name in ASKED:
            question = QUESTIONS[name]
            system = {**registry.entity(chosen.start).doc, "name": f"Renamed {round_} {name}"}
            begin = time.perf_counter()
            registry.load_data({"systems": [system]}, source="rename.yaml", actor="bench")
            times["rename (the write)"].append((time.perf_counter() - begin) * 1000)
            for label in ("first after the change", "again"):
                begin = time.perf_counter()
                question.direct(ours, chosen, round_)
                times[f"{name}, {label}"].append((time.perf_counter() - begin) * 1000)
    return times


if __name__ == "__main__":
    main()
