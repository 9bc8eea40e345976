"""CLI commands on compliance: `check` (findings, with an exit code for CI) and `breach`
(what a breach exposed and whom to notify by when)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version

import click

from registry.cli.base import registry_of, session
from registry.compliance import SEVERITIES, breach_impact, findings
from registry.compliance.findings import all_rules, at_least
from registry.compliance.output import dumps
from registry.compliance.sarif import sarif_log


@click.command()
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="DATE",
              help="Evaluate on this date, YYYY-MM-DD (default today, UTC).")
@click.option("--format", "format_", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True)
@click.option("--fail-on", type=click.Choice(["error", "warning"]), default="error", show_default=True,
              help="Exit with code 1 when a finding of this severity or a more severe one exists.")
@click.pass_context
def check(ctx, as_of: datetime | None, format_: str, fail_on: str):
    """Check the registry against the compliance rules and print the findings.

    Exit code 1 when a finding at or above --fail-on exists, 0 otherwise: a governance repo can
    run it in CI.
    """
    on = as_of.date() if as_of else None
    registry = registry_of(ctx)
    found = findings(registry, as_of=on, settings=session(ctx).settings.compliance())
    if format_ == "sarif":
        rules = all_rules(registry).values()
        click.echo(json.dumps(sarif_log(found, rules, version=_version()), indent=2, ensure_ascii=False))
    elif format_ == "json":
        click.echo(dumps({"asOf": (on or _today()).isoformat(), "counts": _counts(found), "findings": found}), nl=False)
    else:
        _print_text(found, on or _today())
    ctx.exit(1 if any(f.severity in at_least(fail_on) for f in found) else 0)


@click.command()
@click.option("--system", "systems", multiple=True, metavar="ID", help="A breached system (repeatable).")
@click.option("--party", "parties", multiple=True, metavar="ID", help="A breached party (repeatable).")
@click.option("--detected-at", metavar="DATETIME",
              help="When the breach became known, ISO 8601 with its UTC offset, e.g. 2026-11-25T09:30:00+01:00 "
                   "(default now).")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="DATE",
              help="Follow the flows in force on this date, YYYY-MM-DD (default: the day of --detected-at, UTC).")
@click.option("--format", "format_", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def breach(ctx, systems: tuple[str, ...], parties: tuple[str, ...], detected_at: str | None,
           as_of: datetime | None, format_: str):
    """What a breach of these systems and parties exposed, who received that data downstream, and
    whom to notify by when (GDPR Art. 33-34, NAIC Model #668 §6)."""
    if detected_at is None:
        when = datetime.now(timezone.utc)
    else:
        try:
            when = datetime.fromisoformat(detected_at)
        except ValueError:
            raise click.BadParameter(f"{detected_at!r} is not an ISO 8601 date and time such as "
                                     "2026-11-25T09:30:00+01:00", param_hint="--detected-at") from None
        if when.utcoffset() is None:
            raise click.BadParameter(f"{detected_at!r} has no UTC offset; give one, e.g. 2026-11-25T09:30:00+01:00",
                                     param_hint="--detected-at")
    found = breach_impact(registry_of(ctx), systems=systems, parties=parties, detected_at=when,
                          as_of=as_of.date() if as_of else None)
    if format_ == "json":
        click.echo(dumps(_breach_plain(found)), nl=False)
    else:
        _print_breach(found)


def _today():
    return datetime.now(timezone.utc).date()


def _version() -> str:
    try:
        return version("dsa-registry")
    except PackageNotFoundError:
        return "0+unknown"


def _counts(found) -> dict[str, int]:
    return {severity: sum(1 for f in found if f.severity == severity) for severity in SEVERITIES}


def _print_text(found, on) -> None:
    for f in found:
        where = f"{f.entity_kind} {f.entity_id}" + (f" ({f.category})" if f.category else "")
        click.echo(f"{f.severity:<8}{f.rule}  {where}" + (f"  [{f.regime}]" if f.regime else ""))
        click.echo(f"        {f.message}")
        click.echo(f"        {f.reference}. Remedy: {f.remedy}")
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
        "recipients": [{"id": r.holder.id, "kind": r.holder.type, "categories": [c["id"] for c in r.categories],
                        "flows": r.flows} for r in found.recipients],
        "duties": found.duties,
        "subjectCount": found.subject_count,
    }


def _print_breach(found) -> None:
    breached = ", ".join(f"{n.type} {n.id}" for n in found.breached)
    click.echo(f"Breach of {breached}, known since {found.detected_at.isoformat()} (UTC)")
    click.echo("")
    click.echo("Notify:")
    for d in found.duties:
        due = f"by {d.deadline.isoformat()}" if d.deadline else d.timing
        click.echo(f"  {d.notify}: {due}  [{d.reference}]")
        click.echo(f"      {d.timing}; {d.reason}" if d.deadline else f"      {d.reason}")
    click.echo("")
    high = [e.category["id"] for e in found.exposed if e.high_risk]
    click.echo(f"Exposed categories ({len(found.exposed)}; high risk: {', '.join(high) or 'none'}):")
    for e in found.exposed:
        click.echo(f"  {e.category['id']}{'  HIGH RISK' if e.high_risk else ''}")
    click.echo("")
    click.echo(f"Recipients downstream that received exposed data ({len(found.recipients)}):")
    for r in found.recipients:
        click.echo(f"  {r.holder.type} {r.holder.id}: {', '.join(c['id'] for c in r.categories)} "
                   f"(via {', '.join(r.flows)})")
    click.echo("")
    click.echo("Data subjects affected: "
               + str(found.subject_count))
