"""Commands on the registry's documents: `load` and `export` bundles (and the Art. 30 record and the
lineage for drawing tools), load the `demo` insurer."""

from __future__ import annotations

import json
from datetime import date
from importlib.resources import files
from pathlib import Path

import click
import yaml

from registry.auth.roles import REGISTRY_READ, REGISTRY_WRITE, SUBJECT_WRITE
from registry.subjects.demo import load_demo_subjects
from registry.subjects.service import SubjectService
from registry.cli.base import (QUIET, Day, bundle_sources, registry_of, reporter, scratch_registry, session,
                               store_exists, summary, write_output)

DEMO = files("registry") / "demo" / "insurer.yaml"
"""The demo insurer's bundle; its data subjects are `registry.subjects.demo.DEMO_SUBJECTS`."""


@click.command()
@click.argument("paths", metavar="FILE|DIR…", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace the whole registry with these bundles.")
@click.option("--force", is_flag=True,
              help="With --replace: delete entities that subject data (records, consents, disclosures …) refers to "
                   "(the subject data is kept; audited with the counts; needs the subject-data:write permission).")
@click.option("--dry-run", is_flag=True, help="Print what the load would change, and change nothing.")
@click.option("--format", "format_", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output of --dry-run.")
@QUIET
@click.pass_context
def load(ctx, paths: tuple[Path, ...], replace: bool, force: bool, dry_run: bool, format_: str, quiet: bool):
    """Load YAML or JSON bundles (files, or directories of them): all validated first, then applied
    in one transaction.

    Exit code 2, with every problem listed and nothing changed, when any bundle is invalid. With
    --dry-run, print the plan instead: each entity created, updated (with the fields that change)
    or deleted, and the subject data that refers to a deleted entity (records in a system, a
    category or a source party they name, consents for a purpose, subjects of a subject category,
    disclosures on a flow), with the number of subjects: the load refuses those without --force.

    A replace that would delete an entity that subject data refers to (a system with subject
    records, a purpose with consents …) is refused, naming it and the number of subjects, unless
    --force.
    """
    session(ctx).require(REGISTRY_READ if dry_run else REGISTRY_WRITE)
    if force and not dry_run:
        session(ctx).require(SUBJECT_WRITE)
    sources = bundle_sources(paths)
    if not dry_run:
        with reporter(quiet).task(f"loading {len(sources)} bundle file(s)", 3) as task:
            result = registry_of(ctx, create=True).load(sources, actor=session(ctx).actor, replace=replace,
                                                        force=force, stage=task.stage)
        click.echo(summary(result))
        return
    current = session(ctx)
    registry = registry_of(ctx) if store_exists(current.settings) else scratch_registry()
    planned = registry.plan(sources, replace=replace)
    if format_ == "json":
        click.echo(json.dumps(_plan_plain(planned), indent=2, ensure_ascii=False))
    else:
        _print_plan(planned)


def _plan_plain(planned) -> dict:
    changes = []
    for change in planned.changes:
        row = {"action": change.action, "type": change.type, "id": change.id}
        if change.action == "update":
            row["fields"] = change.fields
        if change.id in planned.taken:
            row["takes"] = planned.taken[change.id]
        changes.append(row)
    return {"changes": changes, "counts": {**_counts(planned), "unchanged": planned.unchanged}}


def _counts(planned) -> dict[str, int]:
    return {action: sum(c.action == action for c in planned.changes) for action in ("create", "update", "delete")}


def _print_plan(planned) -> None:
    for change in planned.changes:
        line = f"{change.action:<7} {change.type:<12} {change.id}"
        if change.action == "update":
            line += ": " + ", ".join(change.fields)
        if taken := planned.taken.get(change.id):
            what = [f"the {kind} of {n} data subject(s)" for kind, n in taken.items()]
            line += f"  ({', '.join(what)} refer to it: refused without --force)"
        click.echo(line)
    counts = _counts(planned)
    click.echo(f"would create {counts['create']}, update {counts['update']}, delete {counts['delete']}; "
               f"unchanged {planned.unchanged} (dry run: nothing was changed)")


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
@click.option("--include-proposed", is_flag=True,
              help="Lineage formats: draw planned (proposed) flows too, dashed.")
@click.option("--as-of", type=Day(),
              help="The record (ropa-*) or the lineage (graphml, dot, mermaid, cytoscape-json) on this date "
                   "(default today, UTC).")
@QUIET
@click.pass_context
def export(ctx, format_: str, start: str | None, direction: str | None, depth: int | None,
           categories: tuple[str, ...], output: Path | None, include_proposed: bool, as_of: date | None, quiet: bool):
    """Export the registry as a bundle that loads back into an identical registry (yaml, json), as
    the record of processing activities (ropa-csv, ropa-json; GDPR Art. 30) on a date, or its
    lineage for a drawing tool (graphml for Gephi and yEd, dot for Graphviz, mermaid for Markdown,
    cytoscape-json for Cytoscape)."""
    session(ctx).require(REGISTRY_READ)
    wanted = [c.strip() for option in categories for c in option.split(",") if c.strip()] or None
    if format_ not in LINEAGE_FORMATS:
        given = [name for name, value in (("--from", start), ("--direction", direction), ("--depth", depth),
                                          ("--categories", wanted)) if value is not None]
        if given:
            raise click.UsageError(f"{given[0]} applies only to the lineage formats ({', '.join(LINEAGE_FORMATS)})")
    with reporter(quiet).task(f"exporting {format_}", 2 if output else 1) as task:
        task.stage("reading the registry")
        text = _exported(ctx, format_, start, direction, depth, wanted, as_of, include_proposed)
        if output:
            task.stage(f"writing {output}")
            write_output(text, output)
    if not output:  # once the progress display is gone
        write_output(text, None)


def _exported(ctx, format_: str, start: str | None, direction: str | None, depth: int | None,
              wanted: list[str] | None, as_of: date | None, include_proposed: bool) -> str:
    if format_ in LINEAGE_FORMATS:
        from registry.exports import export as lineage_export

        if start is None and (direction or depth is not None):
            raise click.UsageError(f"{'--direction' if direction else '--depth'} needs --from "
                                   "(without it the whole registry is drawn)")
        text = lineage_export(registry_of(ctx), format_, session(ctx).settings.compliance().countries, start=start,
                              direction=direction, depth=depth, categories=wanted, as_of=as_of,
                              include_proposed=include_proposed)
    elif format_ in ROPA_FORMATS:
        from registry.compliance.ropa import ropa, to_csv, to_json

        record = ropa(registry_of(ctx), settings=session(ctx).settings.compliance(),
                      on=as_of)
        text = to_csv(record) if format_ == "ropa-csv" else to_json(record)
    elif format_ == "json":
        text = json.dumps(registry_of(ctx).export(), indent=2, ensure_ascii=False) + "\n"
    else:
        text = yaml.safe_dump(registry_of(ctx).export(), sort_keys=False, allow_unicode=True, width=100)
    return text


@click.command()
@click.option("--replace", is_flag=True, help="Replace the whole registry with the demo.")
@click.pass_context
def demo(ctx, replace: bool):
    """Load the bundled demo insurer (Aurora Mutual) and its data subjects."""
    current = session(ctx)
    current.require(REGISTRY_WRITE)
    result = registry_of(ctx, create=True).load([("demo", DEMO.read_text(encoding="utf-8"))], actor=current.actor,
                                   replace=replace)
    click.echo(summary(result))
    if current.principal.can(SUBJECT_WRITE):
        subjects = load_demo_subjects(SubjectService(registry_of(ctx), current.settings.key_hasher()),
                                      current.principal)
        click.echo(f"data subjects: {subjects}")
