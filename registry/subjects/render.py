"""DSAR reports as documents a privacy officer can review and send, in HTML (prints cleanly) and
Markdown from the same data; erasure plans as HTML and plain text.

`dsar_view` turns a report into what the reader sees: names instead of ids, legal bases,
safeguards, durations and dates in words, in the reader's language (`registry.subjects.language`).
The templates only lay that out, so both formats say the same. Every value is escaped for its
format: HTML by Jinja's autoescaping, Markdown by `markdown_text` (applied to every value the
template prints), so a name with raw HTML, a link or Markdown control characters shows as written.

A document names the controller (Art. 15 answers come from the controller): `render` refuses to
write one when none is configured.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timezone

import jinja2

from graph.store import Stored
from registry.compliance.settings import DEFAULT_CONTROLLER
from registry.compliance.transfers import Certification, Countries
from registry.errors import InvalidArgument
from registry.subjects.dsar import DsarReport, Recipient, SuspendedFlow
from registry.subjects.erasure import ErasurePlan, retention_end
from registry.subjects.language import Language, language
from registry.subjects.words import Words

CERTIFICATIONS = typing.get_args(Certification)
"""What a recipient's document may say it is certified under (`dpf_certified: true` …)."""

FORMATS = ("html", "markdown")
ERASURE_FORMATS = ("text", "html")
NO_CONTROLLER = ("DSA_REGISTRY_CONTROLLER is not set: a DSAR document must name the controller; set it to the "
                 "controller's name and contact details")

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&!#{}])")


class _Markdown(str):
    """Text already escaped for Markdown (`markdown_text` leaves it as it is)."""


def markdown_text(value: object) -> str:
    """`value` as literal Markdown text (CommonMark/GFM) inside a line: white space (line breaks
    included) folded to single spaces, every character that could start inline markup or end a
    table cell backslash-escaped, and autolinks (`http://`, `www.`, e-mail addresses) broken up so
    that no renderer turns them into links. Where a value starts a list item, `line_start` also
    escapes what would start a block there.

    >>> markdown_text('<b>Re</b> [x](http://e.org) *y* | a@b.de\\n# z')
    '\\\\<b\\\\>Re\\\\</b\\\\> \\\\[x\\\\](http\\\\://e.org) \\\\*y\\\\* \\\\| a\\\\@b.de \\\\# z'
    >>> line_start("1. Mai"), line_start("- x"), markdown_text("1. Mai")
    ('1\\\\. Mai', '\\\\- x', '1. Mai')
    """
    if value is None:
        return ""
    if isinstance(value, _Markdown):
        return value
    text = " ".join(str(value).split())
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    text = text.replace("://", "\\://").replace("@", "\\@")
    return re.sub(r"(?i)\bwww\.", lambda m: m[0][:3] + "\\.", text)


def line_start(value: object) -> str:
    """`markdown_text` for a value that starts a list item: a leading `-`, `+`, `=` or `1.` escaped too."""
    text = markdown_text(value)
    if text and text[0] in "-+=":
        text = "\\" + text
    return _Markdown(re.sub(r"^(\d+)([.)])", r"\1\\\2", text))


def _environment(format: str, lang: Language) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("registry.subjects", "templates"), autoescape=format == "html",
        trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined, extensions=["jinja2.ext.i18n"],
        finalize=markdown_text if format == "markdown" else None)
    environment.install_gettext_translations(lang.translations, newstyle=True)
    environment.filters["line_start"] = line_start
    return environment


def render(report: DsarReport, lookup: Callable[[list[str]], dict[str, Stored]], format: str, *,
           controller: str | None, lang: str = "en", dpo: str | None = None,
           countries: Countries | None = None, now: datetime | None = None) -> str:
    """The report as `format` ("html" or "markdown") in language `lang`; `lookup` fetches entities
    by id for their names; `countries` says which countries are in the EEA and which decisions
    find a third country adequate (the safeguards of Art. 15(2), Art. 45 and 46);
    `now` is when it is written (default now). `InvalidArgument` without a controller, for an
    unknown format or language, or for a subject all of whose data (holdings, recipients; no
    consent recorded with us) we process on behalf of other controllers: theirs to answer."""
    if format not in FORMATS:
        raise InvalidArgument(f"format: {format!r} is not one of {', '.join(FORMATS)}")
    if not controller or not controller.strip() or controller == DEFAULT_CONTROLLER:
        raise InvalidArgument(NO_CONTROLLER)
    chosen = language(lang)
    ours = [x for x in (*report.holdings, *report.recipients, *report.potential_recipients) if not x.on_behalf_of]
    if report.processed_for and not ours and not report.subject.consents:
        names = lookup(report.processed_for)
        controllers = ", ".join(f"{names[c].doc['name']} ({c})" if c in names else c for c in report.processed_for)
        raise InvalidArgument(f"subject {report.subject.id}: we process all their data on behalf of {controllers}, "
                              "which answers the request as its controller: pass the request on (GDPR Art. 28(3)(e))")
    view = dsar_view(report, lookup, Words(chosen), controller=controller, dpo=dpo, countries=countries,
                     now=now or datetime.now(timezone.utc))
    template = _environment(format, chosen).get_template(f"dsar.{'html' if format == 'html' else 'md'}.j2")
    return template.render(doc=view, lang=chosen.locale.language)


def dsar_view(report: DsarReport, lookup: Callable[[list[str]], dict[str, Stored]], words: Words, *,
              controller: str, dpo: str | None, countries: Countries | None, now: datetime) -> dict:
    """What the documents say, every value a string in the reader's language (GDPR Art. 15(1)-(3),
    Art. 20, Art. 22): the same data for HTML and Markdown. Data we process on behalf of another
    controller (`on_behalf_of`) is not part of our answer: it is named apart, with its controller,
    to whom the request goes (GDPR Art. 28(3)(e))."""
    _ = words.gettext
    others = [h for h in report.holdings if h.on_behalf_of]
    if report.processed_for:
        report = replace(report, holdings=[h for h in report.holdings if not h.on_behalf_of],
                         recipients=[r for r in report.recipients if not r.on_behalf_of],
                         potential_recipients=[r for r in report.potential_recipients if not r.on_behalf_of],
                         disclosures=[d for d in report.disclosures if not d.on_behalf_of],
                         suspended=[s for s in report.suspended if not s.on_behalf_of])
    ids_for_others = {x for h in others for x in (h.on_behalf_of, h.system, h.category)}
    ids = {report.subject.kind} | {x for h in report.holdings for x in (h.system, h.category, *h.purposes, h.source)}
    ids |= {x for r in (*report.recipients, *report.potential_recipients)
            for x in (r.party, r.purpose, r.flow, r.agreement, r.legal_basis, r.condition, *r.categories, *r.path)}
    ids |= {x for s in report.suspended for x in (s.flow, s.purpose, *s.categories)}
    ids |= {x for d in report.disclosures for x in (d.flow, d.receiver, d.purpose, *d.categories)}
    ids |= {e["purpose"] for e in report.subject.consents} | {x for p, s, _c in report.sources for x in (p, s)}
    ids |= {h.legal_basis for h in report.holdings} | {h.condition for h in report.holdings}
    entities = {**report.entities, **lookup(sorted(i for i in ids | ids_for_others if i))}

    def name(id_: str | None) -> str:
        found = entities.get(id_ or "")
        return found.doc.get("name", id_) if found else (id_ or "—")

    def names(ids_) -> str:
        return words.list([name(i) for i in ids_])

    def basis(basis_id: str | None, condition: str | None) -> str:
        parts = [words.basis(b, name(b)) for b in (basis_id, condition) if b]
        return "; ".join(parts) or _("not recorded")

    def party(id_: str) -> dict:
        doc = entities[id_].doc if id_ in entities else {"country": ""}
        return {"name": name(id_), "kind": words.kind(doc.get("kind")), "country": words.country(doc.get("country", "")),
                "outside": bool(countries and doc.get("country") and not countries.in_eea(doc["country"]))}

    def adequate(id_: str) -> bool:
        """An adequacy decision covers the recipient on the report's day (Art. 45), with the
        certification it requires where it requires one (the EU-US Data Privacy Framework)."""
        doc = entities[id_].doc if id_ in entities else {}
        certified = {c for c in CERTIFICATIONS if doc.get(c)}
        return bool(countries and doc.get("country")
                    and countries.decision_for(doc["country"], report.as_of, certified) is not None)

    lacking = {"withdrawn": _("you have withdrawn this consent"), "expired": _("this consent has expired"),
               "missing": _("we have no record of this consent")}
    holdings = [{"system": name(h.system), "data": name(h.category), "purposes": names(h.purposes),
                 "basis": basis(h.legal_basis, h.condition) + (f" — {lacking[h.consent_lacking]}"
                                                                if h.consent_lacking else ""),
                 "kept": words.retention(h.retention, h.retention_from,
                                         h.ended if h.retention_from == "end" else h.collected,
                                         _retention_end(h)),
                 "source": name(h.source) if h.source else _("you, or our own processing")}
                for h in report.holdings]
    merged = _merged(report.recipients, lambda r: (r.party, r.purpose, r.legal_basis, r.condition,
                                                   r.transfer_mechanism))
    recipients = [{**party(r.party), "data": names(r.categories), "purpose": name(r.purpose),
                   "basis": basis(r.legal_basis, r.condition),
                   "safeguard": words.safeguard(r.transfer_mechanism) or ""} for r in merged]
    unsafeguarded = False
    for row, r in zip(recipients, merged):
        if row["outside"] and not row["safeguard"]:
            adequacy = adequate(r.party)
            unsafeguarded |= not adequacy
            row["safeguard"] = words.safeguard("adequacy") if adequacy else _("none recorded")
    potential = [{**party(r.party), "data": names(r.categories), "purpose": name(r.purpose),
                  "cases": names(r.case_flows)}
                 for r in _merged(report.potential_recipients, lambda r: (r.party, r.purpose))]
    disclosures = [{"date": words.date(d.at), "recipient": name(d.receiver) if d.receiver else name(d.flow),
                    "flow": name(d.flow), "data": names(d.categories), "reference": d.reference or "—"}
                   for d in report.disclosures]

    def why_not_shared(flow: SuspendedFlow) -> str:
        """Why a flow resting on consent carries nothing, as the record says: the consent was
        withdrawn (when), it expired (when), or it was never given; never a guess between them."""
        state = flow.consent
        if state is not None and state.status == "withdrawn":
            return _("you withdrew your consent on %(day)s") % {
                "day": words.date(datetime.fromisoformat(state.event["at"]))}
        if state is not None and state.status == "expired" and state.expires is not None:
            return _("your consent expired on %(day)s") % {"day": words.date(state.expires)}
        if flow.expired or (state is not None and state.status == "expired"):
            return _("your consent has expired")
        return _("you have not given your consent")

    suspended = [{"flow": name(s.flow), "purpose": name(s.purpose), "data": names(s.categories),
                  "reason": why_not_shared(s)} for s in report.suspended]
    consents = [{"purpose": name(purpose), "state": words.consent(state.status),
                 "since": words.date(datetime.fromisoformat(state.event["at"])),
                 "until": words.date(state.expires) if state.expires else "—"}
                for purpose, state in sorted(report.consents.items(), key=lambda item: name(item[0]))]
    history = [{"at": words.date(datetime.fromisoformat(e["at"])), "purpose": name(e["purpose"]),
                "decision": words.consent(e["status"]), "notice": e.get("notice") or "—",
                "channel": e.get("channel") or "—",
                "expires": words.date(end) if end else "—"}
               for e, end in zip(report.subject.consents, report.runs_out)]
    automated = []
    for system in report.automated_decisions:
        decisions = entities[system].doc["automated_decisions"]
        automated.append({"system": name(system), **{k: decisions.get(k, "") for k in
                                                     ("description", "logic", "consequences")}})
    rights = [dict(zip(("title", "reference", "text"), words.right(right))) for right, _r in report.rights]
    return {
        "title": _("Your personal data: our answer to your access request"),
        "controller": controller, "dpo": dpo or "", "subject": report.subject.id, "kind": name(report.subject.kind),
        "as_of": words.date(report.as_of), "generated": words.moment(now),
        "article_15": words.article("15"), "article_20": words.article("20"), "article_22": words.article("22"),
        "holdings": holdings, "recipients": recipients, "potential": potential, "disclosures": disclosures,
        "suspended": suspended, "consents": consents, "history": history,
        "sources": [{"party": name(p), "system": name(s), "data": names(c)} for p, s, c in report.sources
                    if p not in {h.on_behalf_of for h in others}],
        "for_others": [{"controller": name(controller), "system": name(system),
                        "data": names(sorted({h.category for h in others
                                              if (h.on_behalf_of, h.system) == (controller, system)}))}
                       for controller, system in sorted({(h.on_behalf_of, h.system) for h in others})],
        "article_28": _("GDPR Art. 28(3)(e)"),
        "automated": automated, "rights": rights,
        "transfers": any(r["outside"] for r in recipients),
        "unsafeguarded": unsafeguarded,
    }


def _merged(recipients: list[Recipient], same: Callable[[Recipient], tuple]) -> list[Recipient]:
    """`recipients` with those that are one disclosure to the reader (`same` gives equal keys: the
    recipient, the purpose and, for actual recipients, the terms) merged into the first of them:
    the data and the cases of all, in their order. Two flows bringing a reinsurer different
    parts of a claim file for reinsurance on one treaty are one row."""
    found: dict[tuple, Recipient] = {}
    for recipient in recipients:
        key = same(recipient)
        first = found.get(key)
        found[key] = recipient if first is None else replace(
            first, categories=tuple(sorted({*first.categories, *recipient.categories})),
            case_flows=tuple(dict.fromkeys((*first.case_flows, *recipient.case_flows))))
    return list(found.values())


def _retention_end(holding) -> date | None:
    if not holding.retention:
        return None
    return retention_end(holding.retention, holding.retention_from, collected=holding.collected, ended=holding.ended)


def render_erasure(plan: ErasurePlan, today, lookup: Callable[[list[str]], dict[str, Stored]], format: str,
                   controller: str | None = None) -> str:
    """The erasure plan as `format` ("text" or "html"), retention evaluated as of `today`: an
    internal work order, so it shows ids beside names."""
    ids = {system for system, _ in plan.erase} | {c for _, categories in plan.erase for c in categories}
    ids |= {x for k in plan.keep for x in (k.system, k.category)}
    ids |= {x for r in plan.notify for x in (r.party, r.flow, *r.categories)}
    entities = lookup(sorted(ids))

    def name(id_: str | None) -> str:
        return entities[id_].doc["name"] if id_ in entities else (id_ or "—")

    keep = [{"system": k.system, "category": k.category, "reason": k.reason,
             "until": k.until.isoformat() if k.until else None, "for_others": bool(k.on_behalf_of)}
            for k in plan.keep]
    environment = jinja2.Environment(loader=jinja2.PackageLoader("registry.subjects", "templates"),
                                     autoescape=format == "html", trim_blocks=True, lstrip_blocks=True,
                                     undefined=jinja2.StrictUndefined)
    environment.filters.update(name=name)
    template = environment.get_template(f"erasure.{'html' if format == 'html' else 'txt'}.j2")
    return template.render(plan=plan, keep=keep, today=today, name=name, controller=controller or "",
                           generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
