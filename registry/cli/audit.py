"""`audit`: the audit log as JSON lines, and `audit verify`: is the hash chain intact?"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, time, timedelta, timezone

import click

from graph.auditlog import AuditEntry
from registry.audit import AuditTrail, parse_anchor
from registry.cli.base import Moment, registry_of, session


def _start(moment: date | datetime | None, *, end: bool = False) -> datetime | None:
    """A date as the instant its day starts in UTC (with `end`: the next day's start, so the day is included)."""
    if moment is None or isinstance(moment, datetime):
        return moment
    return datetime.combine(moment + timedelta(days=1) if end else moment, time(), tzinfo=timezone.utc)


@click.group(invoke_without_command=True)
@click.option("--entity", default=None, metavar="ID", help="Only entries about this entity (or subject) id.")
@click.option("--actor", default=None, help="Only entries by this actor (e.g. token:ci, oidc:alice, os:bob).")
@click.option("--since", type=Moment(whole_days=True), default=None, help="From this date (UTC) or instant on.")
@click.option("--until", type=Moment(whole_days=True), default=None, help="Up to and including this date (UTC), or before this instant.")
@click.option("--tail", type=click.IntRange(min=1), default=None, metavar="N", help="Only the last N entries.")
@click.pass_context
def audit(ctx, entity: str | None, actor: str | None, since, until, tail: int | None):
    """Print audit entries (who did what to which entity, when; before and after) as JSON lines, oldest
    first. `audit verify` checks that the log is intact."""
    if ctx.invoked_subcommand is not None:
        return
    trail = AuditTrail(registry_of(ctx).store)
    for entry in trail.entries(principal=session(ctx).principal, entity=entity, actor=actor, since=_start(since),
                               until=_start(until, end=True), tail=tail):
        click.echo(json.dumps(_line(entry), ensure_ascii=False))


def _line(entry: AuditEntry) -> dict:
    """An entry as one JSON object: a sealed one (about one data subject) with its `seal`, `salt` and
    whether its document was `erased` with the subject; any other without those keys."""
    line = dict(entry.__dict__)
    if entry.seal is None:
        del line["seal"], line["salt"]
    else:
        line["erased"] = entry.erased
    return line


@audit.command()
@click.option("--anchor", metavar="SEQ:HASH",
              help="An entry recorded earlier (as this command prints the head): it must still be there, unchanged.")
@click.pass_context
def verify(ctx, anchor: str | None):
    """Check the audit log's hash chain: exit code 0 when it is intact, 1 naming the first entry that was
    edited, deleted or moved. Record the head it prints somewhere else, to check it later with --anchor."""
    trail = AuditTrail(registry_of(ctx).store)
    verdict = trail.verify(principal=session(ctx).principal, anchor=parse_anchor(anchor) if anchor else None)
    if not verdict.intact:
        click.echo(f"audit log broken: {verdict.broken}", err=True)
        sys.exit(1)
    head = f"; head {verdict.head.seq}:{verdict.head.hash}" if verdict.head else ""
    click.echo(f"audit log intact: {verdict.entries} entries{head}")
