"""Benchmark the registry on a synthetic insurer group, side by side with a FalkorDB peer.

    python -m bench --scale small                                  # embedded + FalkorDB
    python -m bench --scale large --backends embedded,neo4j,falkordb --json large.json
    python -m bench --scale small --questions holders,dsar --runs 100

Generates the group (`bench.synthetic`), then on each backend imports the bundle, loads the data
subjects and asks every question through HTTP (a uvicorn server on 127.0.0.1), `schema.execute`
and the direct service call; the peer gets the same data and the same questions in Cypher.
Prints Markdown tables (p50 / p95 latency, our time ÷ the peer's, loads, throughput with 1, 4
and 16 concurrent HTTP clients, resident memory) on stdout and progress on stderr. Asserts
nothing about time: the figures are for reading.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bench.measure import Budget
from bench.progress import Reporter
from bench.report import markdown, write_json
from bench.run import ALL_QUESTIONS, BACKENDS, Options, Run
from bench.servers import ServerError
from bench.synthetic import FEATURES, SCALES, scale_of


def _names(known, what: str):
    def parse(ctx, param, value: str | None):
        if value is None:
            return None
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in known]
        if unknown:
            raise click.BadParameter(f"unknown {what} {', '.join(unknown)}; known: {', '.join(known)}")
        return tuple(names)
    return parse


@click.command(help=__doc__, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--scale", type=click.Choice(list(SCALES)), default="small", show_default=True)
@click.option("--backends", default="embedded,falkordb", show_default=True, callback=_names(BACKENDS, "backend"),
              help=f"Comma-separated, of {', '.join(BACKENDS)}.")
@click.option("--questions", default=",".join(ALL_QUESTIONS), callback=_names(ALL_QUESTIONS, "question"),
              help=f"Comma-separated, of {', '.join(ALL_QUESTIONS)} (default all; import and subject-load always run).")
@click.option("--runs", type=click.IntRange(1), default=50, show_default=True, help="Timed runs per question and layer.")
@click.option("--seconds", type=click.FloatRange(0), default=20.0, show_default=True,
              help="Stop repeating a question after this long (at least 5 runs are made).")
@click.option("--throughput-seconds", type=click.FloatRange(0.1), default=5.0, show_default=True,
              help="How long each concurrency level runs.")
@click.option("--no-http", is_flag=True, help="Leave out the HTTP layer and the throughput.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes of the API server for the HTTP layer (`serve --workers`).")
@click.option("--token", envvar="DSA_BENCH_TOKEN", help="API token sent as `Authorization: Bearer …` (also DSA_BENCH_TOKEN).")
@click.option("--features", default="", callback=_names(FEATURES, "feature"),
              help=f"Model features to generate (default none, for figures comparable across rounds): {', '.join(FEATURES)}.")
@click.option("--systems", type=click.IntRange(4), help="Override the scale's number of systems.")
@click.option("--parties", type=click.IntRange(1), help="Override the scale's number of parties.")
@click.option("--flows", type=click.IntRange(1), help="Override the scale's number of flows.")
@click.option("--subjects", type=click.IntRange(1), help="Override the scale's number of data subjects.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the records (one per question × backend × layer, and throughput) to this file.")
@click.option("--workdir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Where the temporary stores and the subject file go (default: the system's temporary directory).")
@click.option("--quiet", "-q", is_flag=True, help="No progress messages.")
def main(scale, backends, questions, runs, seconds, throughput_seconds, no_http, workers, token, features, systems,
         parties, flows, subjects, json_path, workdir, quiet):
    chosen = scale_of(scale, systems=systems, parties=parties, flows=flows, subjects=subjects)
    if chosen.systems // chosen.subsidiaries < 4:
        chosen = scale_of(scale, systems=systems, parties=parties, flows=flows, subjects=subjects,
                          subsidiaries=max(2, chosen.systems // 4))
    options = Options(scale=chosen, backends=backends, questions=questions, budget=Budget(runs, seconds),
                      http=not no_http, throughput_seconds=throughput_seconds, token=token, features=features or (),
                      workdir=workdir, workers=workers)
    run = Run(options, Reporter(quiet=quiet))
    try:
        records = run()
    except ServerError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    if json_path:
        write_json(records, json_path)
    versions = ", ".join(run.versions.values())
    title = f"Scale {chosen.name}: {chosen.systems:,} systems, {chosen.parties:,} parties, {chosen.flows:,} flows, " \
            f"{chosen.subjects:,} subjects" + (f" (peer: {versions})" if versions else "")
    click.echo(markdown(records, title=title, skipped=run.skipped))


if __name__ == "__main__":
    main()
