"""Commands on the registry's documents: `load` and `export` bundles, load the `demo` insurer."""

from __future__ import annotations

import json
from datetime import datetime
from importlib.resources import files
from pathlib import Path

import click
import yaml

from registry.cli.base import registry_of, session, summary, write_output

DEMO = files("registry") / "demo" / "insurer.yaml"


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace the whole registry with these bundles.")
@click.pass_context
def load(ctx, files: tuple[Path, ...], replace: bool):
    """Load YAML or JSON bundles: all validated first, then applied in one transaction.

    Exit code 2, with every problem listed and nothing changed, when any bundle is invalid.
    """
    bundles = [(str(path), path.read_text(encoding="utf-8")) for path in files]
    result = registry_of(ctx).load(bundles, actor=session(ctx).actor, replace=replace)
    click.echo(summary(result))


@click.command()
@click.option("--format", "format_", type=click.Choice(["yaml", "json", "ropa-csv", "ropa-json"]), default="yaml",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default stdout).")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="DATE",
              help="For ropa-*: the record on this date, YYYY-MM-DD (default today, UTC).")
@click.pass_context
def export(ctx, format_: str, output: Path | None, as_of: datetime | None):
    """Export the registry as a bundle that loads back into an identical registry, or (ropa-csv,
    ropa-json) as the record of processing activities (GDPR Art. 30) on a date."""
    if format_.startswith("ropa-"):
        from registry.compliance.ropa import ropa, to_csv, to_json

        record = ropa(registry_of(ctx), settings=session(ctx).settings.compliance(),
                      on=as_of.date() if as_of else None)
        text = to_csv(record) if format_ == "ropa-csv" else to_json(record)
    elif format_ == "json":
        text = json.dumps(registry_of(ctx).export(), indent=2, ensure_ascii=False) + "\n"
    else:
        text = yaml.safe_dump(registry_of(ctx).export(), sort_keys=False, allow_unicode=True, width=100)
    write_output(text, output)


@click.command()
@click.option("--replace", is_flag=True, help="Replace the whole registry with the demo.")
@click.pass_context
def demo(ctx, replace: bool):
    """Load the bundled demo insurer (Aurora Mutual)."""
    result = registry_of(ctx).load([("demo", DEMO.read_text(encoding="utf-8"))], actor=session(ctx).actor,
                                   replace=replace)
    click.echo(summary(result))
