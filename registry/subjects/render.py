"""DSAR reports as documents a privacy officer can review and send: HTML that prints cleanly,
and Markdown; erasure plans as HTML and plain text. Names and legal references come from the
registry; every value is escaped for HTML."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

import jinja2

from graph.store import Stored
from registry.subjects.dsar import RIGHTS, DsarReport, ErasurePlan

_ENVIRONMENT = {
    fmt: jinja2.Environment(loader=jinja2.PackageLoader("registry.subjects", "templates"), autoescape=fmt == "html",
                            trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    for fmt in ("html", "markdown", "text")
}
FORMATS = ("html", "markdown")
ERASURE_FORMATS = ("text", "html")


def render(report: DsarReport, lookup: Callable[[list[str]], dict[str, Stored]], format: str,
           controller: str = "the controller") -> str:
    """The report as `format` ("html" or "markdown"); `lookup` fetches entities by id for their names."""
    ids = {h.system for h in report.holdings} | {h.category for h in report.holdings}
    ids |= {b for h in report.holdings for b in (*h.purposes, h.legal_basis, h.condition, h.source) if b}
    ids |= {x for r in report.recipients for x in (r.party, r.purpose, r.agreement, r.legal_basis, r.condition,
                                                  *r.categories) if x}
    ids |= {x for s in report.suspended for x in (s.flow, s.purpose, *s.categories)}
    ids |= {e["purpose"] for e in report.subject.consents} | {p for p, _, _ in report.sources}
    entities = lookup(sorted(ids))

    def name(id_: str | None) -> str:
        return entities[id_].doc["name"] if id_ in entities else (id_ or "—")

    def reference(id_: str | None) -> str:
        return entities[id_].doc.get("reference", id_) if id_ in entities else (id_ or "—")

    environment = _ENVIRONMENT[format].overlay()
    environment.filters.update(name=name, reference=reference)
    template = environment.get_template(f"dsar.{'html' if format == 'html' else 'md'}.j2")
    return template.render(report=report, name=name, reference=reference, entities=entities, rights=RIGHTS,
                           controller=controller, generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))



def render_erasure(plan: ErasurePlan, today, lookup: Callable[[list[str]], dict[str, Stored]], format: str,
                   controller: str = "the controller") -> str:
    """The erasure plan as `format` ("text" or "html"), retention evaluated as of `today`."""
    ids = {system for system, _ in plan.erase} | {c for _, categories in plan.erase for c in categories}
    ids |= {x for k in plan.keep for x in (k.system, k.category)}
    ids |= {x for r in plan.notify for x in (r.party, r.flow, *r.categories)}
    entities = lookup(sorted(ids))

    def name(id_: str | None) -> str:
        return entities[id_].doc["name"] if id_ in entities else (id_ or "—")

    environment = _ENVIRONMENT[format].overlay()
    environment.filters.update(name=name)
    template = environment.get_template(f"erasure.{'html' if format == 'html' else 'txt'}.j2")
    return template.render(plan=plan, today=today, name=name, controller=controller,
                           generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
