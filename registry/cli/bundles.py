"""Commands on the registry's documents: `load` and `export` bundles (and the Art. 30 record and the
lineage for drawing tools), load the `demo` insurer."""

from __future__ import annotations

import json
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


BUNDLE_FORMATS = ("yaml", "json")
ROPA_FORMATS = ("ropa-csv", "ropa-json")
LINEAGE_FORMATS = ("graphml", "dot", "mermaid", "cytoscape-json")


@click.command()
@click.option("--format", "format_", type=click.Choice([*BUNDLE_FORMATS, *ROPA_FORMATS, *LINEAGE_FORMATS]),
              default="yaml", show_default=True)
@click.option("--from", "start", metavar="ID", help="Lineage formats: draw the lineage from this system or party "
                                                    "(default: the whole registry).")
@click.option("--direction", type=click.Choice(["downstream", "upstream", "both"]),
              help="Lineage formats, with --from: which way to follow flows (default downstream).")
@click.option("--depth", type=click.IntRange(min=0), help="Lineage formats, with --from: at most this many flows.")
@click.option("--categories", metavar="ID[,ID…]", multiple=True,
              help="Lineage formats: only flows carrying data of these categories (an ancestor or descendant counts).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default stdout).")
@click.pass_context
def export(ctx, format_: str, start: str | None, direction: str | None, depth: int | None,
           categories: tuple[str, ...], output: Path | None):
    """Export the registry as a bundle that loads back into an identical registry (yaml, json), as
    the record of processing activities (ropa-csv, ropa-json; GDPR Art. 30), or its lineage for a
    drawing tool (graphml for Gephi and yEd, dot for Graphviz, mermaid for Markdown,
    cytoscape-json for Cytoscape)."""
    wanted = [c.strip() for option in categories for c in option.split(",") if c.strip()] or None
    if format_ not in LINEAGE_FORMATS:
        given = [name for name, value in (("--from", start), ("--direction", direction), ("--depth", depth),
                                          ("--categories", wanted)) if value is not None]
        if given:
            raise click.UsageError(f"{given[0]} applies only to the lineage formats ({', '.join(LINEAGE_FORMATS)})")
    if format_ in LINEAGE_FORMATS:
        from registry.exports import export as lineage_export

        if start is None and (direction or depth is not None):
            raise click.UsageError(f"{'--direction' if direction else '--depth'} needs --from "
                                   "(without it the whole registry is drawn)")
        text = lineage_export(registry_of(ctx), format_, session(ctx).settings.compliance().countries, start=start,
                              direction=direction, depth=depth, categories=wanted)
    elif format_ in ROPA_FORMATS:
        from registry.compliance.ropa import ropa, to_csv, to_json

        record = ropa(registry_of(ctx), settings=session(ctx).settings.compliance())
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
