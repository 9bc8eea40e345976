"""CLI commands on data subjects: `subjects load`, `dsar`, `consent` and `erasure-plan`.

They act as the operator (the OS user; roles from `DSA_REGISTRY_ROLES`, default admin) and need
the subject-data permission; every DSAR lookup is audited. The lookup-key secret is read only
by the commands that use it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import click

from registry.auth.roles import Principal
from registry.cli.base import QUIET, Day, Moment, registry_of, reporter, session, write_output
from registry.subjects.render import ERASURE_FORMATS, FORMATS, render, render_erasure
from registry.subjects.service import SubjectService


def _service(ctx: click.Context) -> tuple[SubjectService, Principal]:
    current = session(ctx)
    return SubjectService(registry_of(ctx), current.settings.key_hasher()), current.principal


@click.group()
def subjects():
    """Data subjects: customers, claimants, beneficiaries … and their consents."""


@subjects.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@QUIET
@click.pass_context
def load_subjects(ctx, files: tuple[Path, ...], quiet: bool):
    """Load subjects from JSON Lines (.jsonl) or CSV (.csv) files, streaming; each file is validated whole
    before anything is applied (exit code 2 with the problems, per line).

    A valid file is then applied in batches of 10,000 subjects while reads and other writes go on; a
    larger file whose load was killed half-way is completed by loading it again. Exit code 75 when
    another write kept the store busy too long.
    """
    service, principal = _service(ctx)
    progress = reporter(quiet)
    pending = service.pending_load(principal=principal)
    if pending is not None:
        click.echo(f"warning: a load of {pending.source} by {pending.actor} (started {pending.started}) stopped after "
                   f"{pending.applied:,} of {pending.subjects:,} subjects; loading {pending.source} again completes it",
                   err=True)
    for path in files:
        with progress.task(f"reading {path.name}", path.stat().st_size, bytes=True) as read, \
                progress.task(f"applying {path.name}", None) as applied:
            count = service.load(path, principal=principal, read=read.to, applied=applied.to)
        click.echo(f"{path}: {count} subjects")


@click.command()
@click.argument("subject", required=False)
@click.option("--email", help="Find the subject by e-mail address instead of id.")
@click.option("--format", "format_", type=click.Choice(["json", *FORMATS]), default="json", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default stdout).")
@click.pass_context
def dsar(ctx, subject: str | None, email: str | None, format_: str, output: Path | None):
    """The GDPR Art. 15 report for SUBJECT (or --email): data held and why, recipients, sources,
    retention, consents, suspended flows and rights. HTML and Markdown are for sending after review."""
    service, principal = _service(ctx)
    if email is not None:
        service.hasher.load()  # an unusable secret is one line here, not an error inside the query
    if format_ == "json":  # the API's own answer, so scripts see exactly what the API serves
        from registry.api.context import Context
        from registry.api.schema import schema
        from registry.api.subjects import REPORT_QUERY

        context = Context(registry=service.registry, subjects=service, principal=principal,
                          compliance=session(ctx).settings.compliance())
        result = asyncio.run(schema.execute(REPORT_QUERY, variable_values={"subject": subject, "email": email},
                                            context_value=context))
        if result.errors:
            click.echo(f"error: {result.errors[0].message}", err=True)
            sys.exit(2 if (result.errors[0].extensions or {}).get("code") else 1)
        text = json.dumps(result.data["dsar"], indent=2, ensure_ascii=False) + "\n"
    else:
        report = service.report(principal=principal, subject=subject, email=email)
        text = render(report, service.registry.entities, format_,
                      controller=session(ctx).settings.controller or "the controller")
    write_output(text, output)


@click.command()
@click.argument("subject")
@click.argument("purpose")
@click.argument("status", type=click.Choice(["granted", "withdrawn"]))
@click.option("--at", type=Moment(), default=None,
              help="When: a date and time with its UTC offset (2025-05-01T09:00:00+02:00, …Z), or a date (its "
                   "start in UTC); default now.")
@click.option("--notice", help="The version of the notice the subject saw.")
@click.option("--channel", help="Where: web, app, phone, paper …")
@click.pass_context
def consent(ctx, subject: str, purpose: str, status: str, at: datetime | None, notice: str | None, channel: str | None):
    """Record that SUBJECT granted or withdrew consent for PURPOSE."""
    service, principal = _service(ctx)
    row = service.set_consent(principal=principal, subject=subject, purpose=purpose, status=status, at=at,
                              notice=notice, channel=channel)
    click.echo(json.dumps(row.consents[-1] if row.consents else {}, ensure_ascii=False))


@click.command("erasure-plan")
@click.argument("subject")
@click.option("--today", type=Day(), default=None, help="Evaluate retention as of this date (default today, UTC).")
@click.option("--format", "format_", type=click.Choice(["json", *ERASURE_FORMATS]), default="json", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default stdout).")
@click.pass_context
def erasure_plan(ctx, subject: str, today: date | None, format_: str, output: Path | None):
    """What to erase where for SUBJECT, what must be kept and why, and whom to notify (GDPR Art. 17, 19)."""
    service, principal = _service(ctx)
    today = today or datetime.now(timezone.utc).date()
    plan = service.erasure_plan(principal=principal, subject=subject, today=today)
    if format_ != "json":
        write_output(render_erasure(plan, today, service.registry.entities, format_,
                                    controller=session(ctx).settings.controller or "the controller"), output)
        return
    write_output(json.dumps({
        "subject": plan.report.subject.id,
        "erase": [{"system": system, "categories": list(categories)} for system, categories in plan.erase],
        "keep": [{"system": k.system, "category": k.category, "reason": k.reason,
                  "until": k.until.isoformat() if isinstance(k.until, date) else None} for k in plan.keep],
        "notify": [{"party": r.party, "flow": r.flow, "categories": list(r.categories)} for r in plan.notify],
    }, indent=2, ensure_ascii=False) + "\n", output)
