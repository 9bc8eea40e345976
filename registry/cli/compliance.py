"""CLI commands on compliance: `check` (findings, with an exit code for CI) and `breach`
(what a breach exposed and whom to notify by when)."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import click

from registry.bounds import visible
from registry.bundle import Definitions, items_of
from registry.cli.base import (Day, Moment, bundle_sources, product_version, registry_of, scratch_registry, session,
                               store_exists)
from registry.compliance import SEVERITIES, breach_impact, findings
from registry.compliance.findings import all_rules, at_least, selected_rules
from registry.compliance.output import dumps
from registry.compliance.sarif import FileLocation, artifact_uri, sarif_log


@click.command(short_help="Check the registry, or bundles, against the compliance rules and print the findings.")
@click.argument("paths", metavar="[FILE|DIR]…", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--as-of", type=Day(), help="Evaluate on this date, YYYY-MM-DD (default today, UTC).")
@click.option("--format", "format_", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True)
@click.option("--fail-on", type=click.Choice(["error", "warning"]), default="error", show_default=True,
              help="Exit with code 1 when a finding of this severity or a more severe one exists.")
@click.option("--severity", type=click.Choice(SEVERITIES), default=None,
              help="Only findings of this severity or a more severe one.")
@click.option("--rule", "rules", multiple=True, metavar="RULE", help="Only findings of this rule (repeatable).")
@click.option("--replace", is_flag=True, help="With a store: check the bundles as `load --replace` would leave it.")
@click.pass_context
def check(ctx, paths: tuple[Path, ...], as_of: date | None, format_: str, fail_on: str, severity: str | None,
          rules: tuple[str, ...], replace: bool):
    """Check the registry against the compliance rules and print the findings.

    With FILEs or DIRs of bundles, check the bundles as `load` would merge them, on their own;
    with --store (or DSA_REGISTRY_STORE) as well, the store with the bundles applied on top,
    without writing anything. SARIF then places each finding on the line that defines its entity.

    Exit code 1 when a finding at or above --fail-on exists, 0 otherwise: a governance repo can
    run it in CI. Exit code 2 on bad options or invalid bundles.
    """
    on = as_of
    current = session(ctx)
    definitions = None
    if paths:
        sources = bundle_sources(paths)
        base = None
        if "store" in current.settings.model_fields_set:
            if not store_exists(current.settings):
                raise click.BadParameter(f"{current.settings.store} does not exist", param_hint="--store")
            base = registry_of(ctx).store
        registry = scratch_registry(base)
        items = items_of(sources)
        registry.load_items(items, actor=current.actor, replace=replace)
        definitions = Definitions(items)
    else:
        registry = registry_of(ctx)
    known = all_rules(registry)
    for rule in rules:
        selected_rules(rule, known)  # an unknown rule is an error that names it
    found = [f for f in findings(registry, as_of=on, severity=severity, settings=current.settings.compliance())
             if not rules or f.rule in rules]
    locate = _locator(definitions) if definitions else None
    if format_ == "sarif":
        log = sarif_log(found, known.values(), version=product_version(), locate=locate)
        click.echo(json.dumps(log, indent=2, ensure_ascii=False))
    elif format_ == "json":
        click.echo(dumps({"asOf": (on or _today()).isoformat(), "counts": _counts(found), "findings": found}), nl=False)
    else:
        _print_text(found, on or _today(), locate)
    ctx.exit(1 if any(f.severity in at_least(fail_on) for f in found) else 0)


def _locator(definitions):
    """Finding -> `FileLocation` of the line that defines its entity (None when no bundle does)."""

    def locate(finding) -> FileLocation | None:
        found = definitions.locate(finding.entity_id, finding.category)
        if found is None or found[0].path is None:
            return None
        source, line, column = found
        return FileLocation(artifact_uri(source.path), line, column)

    return locate


@click.command()
@click.option("--system", "systems", multiple=True, metavar="ID", help="A breached system (repeatable).")
@click.option("--party", "parties", multiple=True, metavar="ID", help="A breached party (repeatable).")
@click.option("--detected-at", type=Moment(),
              help="When the breach became known: ISO 8601 with its UTC offset, e.g. 2026-11-25T09:30:00+01:00, or "
                   "a date (its start in UTC); default now.")
@click.option("--as-of", type=Day(), metavar="DATE",
              help="Follow the flows in force on this date (default: the day of --detected-at, UTC).")
@click.option("--format", "format_", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def breach(ctx, systems: tuple[str, ...], parties: tuple[str, ...], detected_at: datetime | None,
           as_of: date | None, format_: str):
    """What a breach of these systems and parties exposed, who received that data downstream, and
    whom to notify by when (GDPR Art. 33-34, NAIC Model #668 §6)."""
    when = detected_at or datetime.now(timezone.utc)
    found = breach_impact(registry_of(ctx), systems=systems, parties=parties, detected_at=when, as_of=as_of,
                          settings=session(ctx).settings.compliance())
    if format_ == "json":
        click.echo(dumps(_breach_plain(found)), nl=False)
    else:
        _print_breach(found)


def _today():
    return datetime.now(timezone.utc).date()


def _counts(found) -> dict[str, int]:
    return {severity: sum(1 for f in found if f.severity == severity) for severity in SEVERITIES}


def _print_text(found, on, locate=None) -> None:
    """Three lines a finding, every value with its control and format characters escaped
    (`registry.bounds.visible`), so that no name or id can forge or hide a line."""
    for f in found:
        where = f"{f.entity_kind} {f.entity_id}" + (f" ({f.category})" if f.category else "")
        place = locate(f) if locate else None
        click.echo(visible(f"{f.severity:<8}{f.rule}  {where}" + (f"  [{f.regime}]" if f.regime else "")
                           + (f"  at {place.uri}:{place.line}" if place else "")))
        click.echo(f"        {visible(f.message)}")
        click.echo(f"        {visible(f'{f.reference}. Remedy: {f.remedy}')}")
    counts = _counts(found)
    click.echo(f"{len(found)} finding(s) as of {on.isoformat()}: "
               + ", ".join(f"{counts[s]} {s}" for s in SEVERITIES))
    per_rule: dict[str, int] = {}
    for f in found:
        per_rule[f.rule] = per_rule.get(f.rule, 0) + 1
    for rule, count in sorted(per_rule.items()):
        click.echo(f"  {count:>6}  {rule} ({next(f.severity for f in found if f.rule == rule)})")


def _breach_plain(found) -> dict:
    return {
        "detectedAt": found.detected_at,
        "breached": [{"id": n.id, "kind": n.type} for n in found.breached],
        "highRisk": found.high_risk,
        "exposed": [{"category": e.category["id"], "highRisk": e.high_risk} for e in found.exposed],
        "recipients": _plain_recipients(found.recipients),
        "potentialRecipients": _plain_recipients(found.potential_recipients),
        "duties": found.duties,
        "subjectCount": found.subject_count,
    }


def _plain_recipients(recipients) -> list[dict]:
    return [{"id": r.holder.id, "kind": r.holder.type, "categories": [c["id"] for c in r.categories], "flows": r.flows}
            for r in recipients]


def _print_breach(found) -> None:
    breached = ", ".join(f"{n.type} {n.id}" for n in found.breached)
    click.echo(f"Breach of {breached}, known since {found.detected_at.isoformat()} (UTC)")
    click.echo("")
    click.echo("Notify:")
    for d in found.duties:
        due = f"by {d.deadline.isoformat()}" if d.deadline else d.timing
        whose = f"{d.duty_of} must notify " if d.duty_of else ""
        click.echo(f"  {whose}{d.notify}: {due}{'  OVERDUE' if d.overdue else ''}  [{d.reference}]")
        click.echo(f"      {d.timing}; {d.reason}" if d.deadline else f"      {d.reason}")
    click.echo("")
    high = [e.category["id"] for e in found.exposed if e.high_risk]
    click.echo(f"Exposed categories ({len(found.exposed)}; high risk: {', '.join(high) or 'none'}):")
    for e in found.exposed:
        click.echo(f"  {e.category['id']}{'  HIGH RISK' if e.high_risk else ''}")
    click.echo("")
    for title, recipients in (("Recipients downstream that received exposed data", found.recipients),
                              ("Recipients that may have received it (case flows without a recorded disclosure)",
                               found.potential_recipients)):
        click.echo(f"{title} ({len(recipients)}):")
        for r in recipients:
            click.echo(f"  {r.holder.type} {r.holder.id}: {', '.join(c['id'] for c in r.categories)} "
                       f"(via {', '.join(r.flows)})")
        click.echo("")
    click.echo("Data subjects affected: "
               + str(found.subject_count))
