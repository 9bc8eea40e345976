"""CLI commands on data subjects: `subjects load|list|export|erase`, `dsar`, `consent`, `disclose`
and `erasure-plan`.

They act as the operator (the OS user; roles from `DSA_REGISTRY_ROLES`, default admin) and need
the subject-data permission; every DSAR lookup is audited. The lookup-key secret is read only
by the commands that use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, timezone
from pathlib import Path

import click

from registry.auth.roles import Principal
from registry.cli.base import QUIET, Day, Moment, private_file, registry_of, reporter, session, write_output
from registry.errors import InvalidArgument
from registry.progress import Reporter, Task
from registry.subjects import parallel
from registry.subjects.language import language
from registry.subjects.render import ERASURE_FORMATS, FORMATS, NO_CONTROLLER, render, render_erasure
from registry.subjects.service import MAX_PAGE, SubjectService


def _service(ctx: click.Context) -> tuple[SubjectService, Principal]:
    current = session(ctx)
    return SubjectService(registry_of(ctx), current.settings.key_hasher()), current.principal


@click.group()
def subjects():
    """Data subjects: customers, claimants, beneficiaries … and their consents."""


@subjects.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--workers", type=click.IntRange(0, parallel.MAX_WORKERS), default=None,
              help="Processes that check a file (0: this one). Default: one per CPU for files of 8 MiB or more.")
@QUIET
@click.pass_context
def load_subjects(ctx, files: tuple[Path, ...], workers: int | None, quiet: bool):
    """Load subjects from JSON Lines (.jsonl) or CSV (.csv) files, streaming; each file is validated whole
    before anything is applied (exit code 2 with the problems, per line).

    A valid file is then applied in batches of 10,000 subjects while reads and other writes go on; a
    larger file whose load was killed half-way is completed by loading it again. Exit code 75 when
    another write kept the store busy too long.
    """
    service, principal = _service(ctx)
    progress = reporter(quiet)
    for pending in service.pending_loads(principal=principal):
        click.echo(f"warning: a load of {pending.source} by {pending.actor} (started {pending.started}) stopped after "
                   f"{pending.applied:,} of {pending.subjects:,} subjects; loading {pending.source} again completes it",
                   err=True)
    for path in files:
        with _stages(progress, path) as (read, applied):
            count = service.load(path, principal=principal, read=read, applied=applied, workers=workers)
        click.echo(f"{path}: {count} subjects")


@contextmanager
def _stages(progress: Reporter, path: Path) -> Iterator[tuple[Callable[[int, int], None], Callable[[int, int], None]]]:
    """The progress of reading `path`, then of applying it: (read, applied) callbacks. A file is
    read and checked whole before anything is applied, so the reading task ends (with its last
    line) when the file has been read or the first batch is applied, and only then does the
    applying task start: its rate and time left count the applying alone."""
    with ExitStack() as tasks:
        reading = tasks.enter_context(ExitStack())
        read = reading.enter_context(progress.task(f"reading {path.name}", path.stat().st_size, bytes=True))
        applying: list[Task] = []

        def start_applying() -> None:
            if not applying:
                reading.close()
                applying.append(tasks.enter_context(progress.task(f"applying {path.name}", None)))

        def on_read(done: int, total: int) -> None:
            read.to(done, total)
            if done >= total:
                start_applying()

        def on_applied(done: int, total: int) -> None:
            start_applying()
            applying[0].to(done, total)

        yield on_read, on_applied


@subjects.command("pending")
@click.pass_context
def pending_loads(ctx):
    """Subject loads that started applying and did not finish, oldest first: file, subjects applied
    of those in it, when it started and by whom. While any is pending, erasure is refused."""
    service, principal = _service(ctx)
    for pending in service.pending_loads(principal=principal):
        click.echo(f"{pending.source}\t{pending.applied} of {pending.subjects}\t{pending.started}\t{pending.actor}")


@subjects.command("abandon-load")
@click.argument("source")
@click.pass_context
def abandon_load(ctx, source: str):
    """Forget the pending loads of the file named SOURCE, which will not be loaded again (gone, or
    replaced by another of that name); audited. The subjects their batches applied stay, and
    erasure is no longer refused for their sake. Loading the file again is the better way out."""
    service, principal = _service(ctx)
    count = service.abandon_loads(source, principal=principal)
    click.echo(f"{source}: {count} pending load(s) abandoned; the subjects they applied stay")


@subjects.command("list")
@click.option("--after", metavar="ID", help="Start after this subject id (the last one of the previous page).")
@click.option("--limit", type=click.IntRange(1, MAX_PAGE), default=100, show_default=True)
@click.pass_context
def list_subjects(ctx, after: str | None, limit: int):
    """Subjects by id: id, kind and the systems that hold records (audited); `--after` pages on."""
    service, principal = _service(ctx)
    rows, more = service.list(principal=principal, after=after, limit=limit)
    for row in rows:
        click.echo(f"{row.id}\t{row.kind}\t{', '.join(r['system'] for r in row.records) or '-'}")
    if more:
        click.echo(f"(more: --after {rows[-1].id})", err=True)


@subjects.command("export")
@click.argument("ids", nargs=-1, metavar="[SUBJECT]...")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default stdout).")
@click.pass_context
def export_subjects(ctx, ids: tuple[str, ...], output: Path | None):
    """The given subjects (default all) as a JSON Lines subject file: records, consents and
    disclosures, not the lookup keys (only their hashes are stored). Loads back with `subjects
    load`; for one subject, the machine-readable copy of GDPR Art. 20. Audited."""
    service, principal = _service(ctx)
    lines = service.export(principal=principal, subjects=list(ids) or None)
    with private_file(output) if output else contextlib.nullcontext(click.get_text_stream("stdout")) as file:
        for doc in lines:
            file.write(json.dumps(doc, ensure_ascii=False) + "\n")


@subjects.command("erase")
@click.argument("subject")
@click.option("--today", type=Day(), default=None, help="The erasure plan's date (default today, UTC).")
@click.pass_context
def erase(ctx, subject: str, today: date | None):
    """Record that SUBJECT's erasure plan has been carried out: remove the subject's records from
    the registry (all of the subject, consents, lookup keys and disclosures included, unless data
    must be kept somewhere, Art. 17(3)). The audit log keeps a proof without personal data."""
    service, principal = _service(ctx)
    plan, done = service.erase(principal=principal, subject=subject, today=today)
    if done.kept:
        click.echo(f"{subject}: records removed from {', '.join(done.systems) or 'no system'}; kept in "
                   f"{', '.join(done.kept)} (Art. 17(3)) until their retention has run")
    else:
        click.echo(f"{subject}: erased (records in {', '.join(done.systems) or 'no system'}, {done.consents} consent "
                   f"event(s), {done.keys} lookup key(s), {done.disclosures} disclosure(s), {done.audit_documents} "
                   "audit entry document(s); their seals stay in the audit log)")
        if done.audit_documents_kept:
            click.echo(f"note: {done.audit_documents_kept} audit entry document(s) about {subject}, written before "
                       "audit documents were sealed, stay in the audit log's hash chain", err=True)
        if done.residue:
            click.echo(f"note: {done.residue}", err=True)


@click.command()
@click.argument("subject", required=False)
@click.option("--email", help="Find the subject by e-mail address instead of id.")
@click.option("--format", "format_", type=click.Choice(["json", *FORMATS]), default="json", show_default=True)
@click.option("--lang", help="The document's language: en or de, optionally with a region (en-GB, de-AT); "
                             "default DSA_REGISTRY_DOCUMENT_LANGUAGE.")
@click.option("--as-of", type=Day(), default=None, help="The day the report describes (default today, UTC).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default stdout).")
@click.pass_context
def dsar(ctx, subject: str | None, email: str | None, format_: str, lang: str | None, as_of: date | None,
         output: Path | None):
    """The GDPR Art. 15 report for SUBJECT (or --email): data held and why, recipients (and who may
    receive it in specific cases), disclosures, sources, retention, consents, suspended flows,
    automated decisions and rights. HTML and Markdown are the letter to send, after review; they
    need DSA_REGISTRY_CONTROLLER."""
    service, principal = _service(ctx)
    settings = session(ctx).settings
    if email is not None:
        service.hasher.load()  # an unusable secret is one line here, not an error inside the query
    if format_ == "json":  # the API's own answer, so scripts see exactly what the API serves
        from registry.api.context import Context
        from registry.api.schema import schema
        from registry.api.subjects import REPORT_QUERY

        context = Context(registry=service.registry, subjects=service, principal=principal,
                          compliance=settings.compliance())
        result = asyncio.run(schema.execute(REPORT_QUERY, variable_values={
            "subject": subject, "email": email, "asOf": as_of.isoformat() if as_of else None}, context_value=context))
        if result.errors:
            click.echo(f"error: {result.errors[0].message}", err=True)
            sys.exit(2 if (result.errors[0].extensions or {}).get("code") else 1)
        text = json.dumps(result.data["dsar"], indent=2, ensure_ascii=False) + "\n"
    else:
        if not settings.controller:
            raise InvalidArgument(NO_CONTROLLER)
        language(lang or settings.document_language)  # an unknown language is refused before the lookup
        report = service.report(principal=principal, subject=subject, email=email, as_of=as_of)
        compliance = settings.compliance()
        text = render(report, service.registry.entities, format_, controller=settings.controller,
                      lang=lang or settings.document_language, dpo=settings.dpo,
                      countries=compliance.countries)
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
@click.option("--expires", type=Moment(), default=None,
              help="When a granted consent runs out (as --at); the purpose's consent_validity may end it sooner.")
@click.pass_context
def consent(ctx, subject: str, purpose: str, status: str, at: datetime | None, notice: str | None, channel: str | None,
            expires: datetime | None):
    """Record that SUBJECT granted or withdrew consent for PURPOSE."""
    service, principal = _service(ctx)
    at = at or datetime.now(timezone.utc)
    row = service.set_consent(principal=principal, subject=subject, purpose=purpose, status=status, at=at,
                              notice=notice, channel=channel, expires=expires)
    recorded = [e for e in row.consents if (e["purpose"], e["status"], e["at"]) == (
        purpose, status, at.astimezone(timezone.utc).isoformat())]
    click.echo(json.dumps(recorded[-1] if recorded else {}, ensure_ascii=False))


@click.command()
@click.argument("subject")
@click.argument("flow")
@click.option("--at", type=Moment(), default=None, help="When the data was disclosed (as for `consent --at`); default now.")
@click.option("--reference", help="The case number or file reference, e.g. the police report's.")
@click.pass_context
def disclose(ctx, subject: str, flow: str, at: datetime | None, reference: str | None):
    """Record that SUBJECT's data was disclosed on FLOW, a flow of scope `case` (a fraud referral, a
    large-loss file): its recipient becomes one of the subject's recipients. Audited."""
    service, principal = _service(ctx)
    at = at or datetime.now(timezone.utc)
    row = service.disclose(principal=principal, subject=subject, flow=flow, at=at, reference=reference)
    recorded = [d for d in row.disclosures if (d["flow"], d["at"]) == (flow, at.astimezone(timezone.utc).isoformat())]
    click.echo(json.dumps(recorded[-1] if recorded else {}, ensure_ascii=False))


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
                                    controller=session(ctx).settings.controller), output)
        return
    write_output(json.dumps({
        "subject": plan.report.subject.id,
        "erase": [{"system": system, "categories": list(categories)} for system, categories in plan.erase],
        "keep": [{"system": k.system, "category": k.category, "reason": k.reason,
                  "until": k.until.isoformat() if isinstance(k.until, date) else None} for k in plan.keep],
        "notify": [{"party": r.party, "flow": r.flow, "categories": list(r.categories)} for r in plan.notify],
    }, indent=2, ensure_ascii=False) + "\n", output)
