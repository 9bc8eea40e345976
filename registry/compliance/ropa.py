"""The record of processing activities (GDPR and UK GDPR Art. 30), derived from the registry.

Controller view (Art. 30(1)): one activity per system and purpose, gathered from the system's
declarations and from the flows in force to and from it for that purpose. Its recipients
include those a processor acting for the insurer passes the data on to (sub-processors, at any
depth, for a related purpose), with the processor named in `via`; its transfers likewise, one
per regime whose territory the data leaves. Processor view (Art. 30(2)): one entry per data
processing agreement (kind `dpa`) with a party whose role is `controller`, for in such an
agreement the insurer is the processor; the flows under those agreements belong to the
processor view only.

Every id comes with a name. The controller's, DPO's and EU representative's contact details come
from the `Settings` the caller passes (the composition root builds them from configuration);
the categories of data subjects from the holdings and flows of each activity, or, where they
name none, from the settings.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from graph.store import Doc
from registry.compliance.facts import Facts
from registry.compliance.findings import today
from registry.compliance.output import dumps
from registry.compliance.regimes import ADEQUACY, GDPR_FAMILY, REGIMES
from registry.compliance.settings import Settings
from registry.service import one_version

MECHANISMS = {"scc": "standard contractual clauses", "bcr": "binding corporate rules",
              "derogation": "Art. 49 derogation", "adequacy": "adequacy decision"}


@dataclass(frozen=True)
class Named:
    """An entity's id next to its name (`id` is None for a subject category from the settings)."""
    id: str | None
    name: str


@dataclass(frozen=True)
class Recipient:
    """A recipient (Art. 30(1)(d)): the party, its kind (the category of recipient), role and
    country, and the agreement it receives under with that agreement's `document` (for a
    processor, the Art. 28(3) contract). `via` is the processor that passes the data on, for a
    recipient of a processor acting for the insurer (a sub-processor); None otherwise."""
    kind: str
    id: str
    name: str
    country: str
    third_country: bool
    """Outside the EEA."""
    role: str
    agreement: str | None = None
    document: str | None = None
    via: str | None = None


@dataclass(frozen=True)
class Transfer:
    """A transfer out of `regime`'s territory (Art. 30(1)(e)) and its safeguard: the mechanism or
    the adequacy decision; None when there is none."""
    flow: str
    recipient: str
    recipient_name: str
    country: str
    regime: str
    safeguard: str | None
    agreement: str | None = None
    document: str | None = None
    """The agreement's document: where the safeguard is written down."""
    via: str | None = None


@dataclass(frozen=True)
class Retention:
    """The retention period declared for the category or its nearest ancestor, for the activity's
    purpose (Art. 30(1)(f))."""
    category: str
    period: str | None


@dataclass(frozen=True)
class Source:
    """Data the activity receives from a party (GDPR Art. 14(2)(f): the source of the data)."""
    party: str
    name: str
    country: str
    flow: str
    categories: list[str]


@dataclass(frozen=True)
class Activity:
    system: str
    system_name: str
    purpose: str
    purpose_name: str
    purpose_description: str | None
    controller: str
    joint_controllers: list[Named]
    subject_categories: list[Named]
    data_categories: list[Named]
    recipients: list[Recipient]
    transfers: list[Transfer]
    retention: list[Retention]
    security_measures: str | None
    legal_bases: list[Named]
    """Art. 6(1) bases (and other regimes' bases: GLBA exceptions, national law)."""
    conditions: list[Named]
    """Art. 9(2) and Art. 10 conditions, for special-category and criminal-offence data."""
    dpia: list[str] = field(default_factory=list)
    lia: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    regimes: list[str] = field(default_factory=list)
    """The regimes the activity's data is under."""


@dataclass(frozen=True)
class ProcessorActivity:
    agreement: str
    agreement_name: str
    document: str | None
    processor: str
    controller: str
    controller_country: str
    processing: list[str]
    data_categories: list[Named]
    systems: list[Named]
    transfers: list[Transfer]
    security_measures: list[str]


@dataclass(frozen=True)
class Ropa:
    controller: str
    dpo: str | None = None
    eu_representative: str | None = None
    activities: list[Activity] = field(default_factory=list)
    processor_activities: list[ProcessorActivity] = field(default_factory=list)


@dataclass
class _Gathered:
    categories: set[str] = field(default_factory=set)
    bases: set[str] = field(default_factory=set)
    conditions: set[str] = field(default_factory=set)
    subjects: set[str] = field(default_factory=set)
    recipients: dict[tuple[str, str | None], Recipient] = field(default_factory=dict)
    transfers: dict[tuple[str, str], Transfer] = field(default_factory=dict)
    joint: set[str] = field(default_factory=set)
    dpia: set[str] = field(default_factory=set)
    lia: set[str] = field(default_factory=set)
    sources: dict[str, Source] = field(default_factory=dict)
    regimes: set[str] = field(default_factory=set)


@one_version
def ropa(registry, *, settings: Settings | None = None, on: date | None = None) -> Ropa:
    """The record as of day `on` (default today, UTC): only flows in force that day count."""
    settings = settings or Settings.packaged()
    facts = Facts.of(registry, on or today(), settings.countries)
    as_processor = facts.as_processor
    ours = [flow for flow in facts.live if flow.get("agreement") not in as_processor]
    gathered: dict[tuple[str, str], _Gathered] = {}
    for system, held in facts.holdings():
        for purpose in held.get("purposes", ()):
            entry = gathered.setdefault((system, purpose), _Gathered())
            entry.categories.add(held["category"])
            _add_bases(facts, entry, [held["category"]], *facts.recorded(held, flow=False))
            entry.subjects.update(held.get("subject_categories", ()))
            entry.regimes.add(facts.holding_regime(system, held["category"]) or "")
    for flow in ours:
        for end, other in ((flow["from"], flow["to"]), (flow["to"], flow["from"])):
            if end in facts.systems:
                _gather_flow(facts, gathered.setdefault((end, flow["purpose"]), _Gathered()), flow, end, other, ours)
    activities = [_activity(facts, settings, system, purpose, entry) for (system, purpose), entry in sorted(gathered.items())]
    return Ropa(controller=settings.controller, dpo=settings.dpo, eu_representative=settings.eu_representative,
                activities=activities,
                processor_activities=[_processor(facts, settings, id_) for id_ in sorted(as_processor)])


def _gather_flow(facts: Facts, entry: _Gathered, flow: Doc, end: str, other: str, ours: list[Doc]) -> None:
    entry.categories.update(flow["categories"])
    _add_bases(facts, entry, flow["categories"], *facts.recorded(flow))
    entry.subjects.update(flow.get("subject_categories", ()))
    entry.dpia.update([flow["dpia"]] if flow.get("dpia") else [])
    entry.lia.update([flow["lia"]] if flow.get("lia") else [])
    entry.regimes.add((facts.flow_regime(flow) or ("",))[0])
    party = facts.parties.get(other)
    agreement = facts.agreement(flow) or {}
    if party and (party["role"] == "joint-controller" or agreement.get("kind") == "joint-controller"):
        entry.joint.add(other)
    if end == flow["to"]:
        if party:
            entry.sources[flow["id"]] = Source(other, party["name"], party["country"], flow["id"],
                                               sorted(flow["categories"]))
        return
    onward = [(flow, None)]
    if party and party["role"] == "processor":
        onward += list(_sub_processing(facts, flow, ours))
    for sent, via in onward:
        recipient = facts.parties.get(sent["to"])
        if recipient:
            entry.recipients[(sent["to"], via)] = _recipient(facts, sent, recipient, via)
        for regime in GDPR_FAMILY:
            if facts.exported(sent, regime):
                entry.transfers[(sent["id"], regime)] = _transfer(facts, sent, regime, via)


def _sub_processing(facts: Facts, flow: Doc, ours: list[Doc]) -> Iterator[tuple[Doc, str]]:
    """The flows on which processors acting for the insurer pass on what `flow` brought them
    (for the same purpose, a broader or a narrower one), each with the processor that sends it;
    further down only through processors."""
    out: dict[str, list[Doc]] = {}
    for candidate in ours:
        out.setdefault(candidate["from"], []).append(candidate)
    reached = {flow["to"]: set(flow["categories"])}
    todo = [flow["to"]]
    while todo:
        processor = todo.pop()
        for onward in out.get(processor, ()):
            if not (facts.purpose_tree.covered(onward["purpose"], [flow["purpose"]])
                    or facts.purpose_tree.covered(flow["purpose"], [onward["purpose"]])):
                continue
            carried = {c for c in onward["categories"] if facts.tree.overlaps(c, reached[processor])}
            if not carried:
                continue
            yield onward, processor
            target = facts.parties.get(onward["to"])
            if target and target["role"] == "processor" and onward["to"] not in reached:
                reached[onward["to"]] = carried
                todo.append(onward["to"])


def _add_bases(facts: Facts, entry: _Gathered, categories: list[str], basis: str | None, condition: str | None,
               additional: Iterable[str]) -> None:
    """The legal bases, and the conditions where special-category or criminal-offence data need one."""
    sensitive = any(facts.tree.is_("special", c) or facts.tree.is_("criminal", c) for c in categories)
    for id_ in (basis, condition, *additional):
        if not id_:
            continue
        if facts.kind(id_) == "special-condition":
            if sensitive:
                entry.conditions.add(id_)
        elif id_ != condition or sensitive:
            entry.bases.add(id_)


def _activity(facts: Facts, settings: Settings, system: str, purpose: str, entry: _Gathered) -> Activity:
    doc = facts.systems[system]
    subjects = [_named(facts.subject_categories, s) for s in sorted(entry.subjects)] or \
        [Named(None, name) for name in settings.subject_categories]
    regimes = entry.regimes | {r for r in ("glba", "naic") if facts.under(system, r)}
    return Activity(
        system=system, system_name=doc["name"], purpose=purpose, purpose_name=facts.purposes[purpose]["name"],
        purpose_description=facts.purposes[purpose].get("description"), controller=settings.controller,
        joint_controllers=[_named(facts.parties, p) for p in sorted(entry.joint)], subject_categories=subjects,
        data_categories=[_named(facts.categories, c) for c in sorted(entry.categories)],
        recipients=[entry.recipients[r] for r in sorted(entry.recipients, key=lambda k: (k[0], k[1] or ""))],
        transfers=[entry.transfers[t] for t in sorted(entry.transfers, key=lambda k: (k[0], REGIMES.index(k[1])))],
        retention=[Retention(c, _retention(facts, system, c, purpose)) for c in sorted(entry.categories)],
        security_measures=doc.get("security_measures"),
        legal_bases=[_named(facts.bases, b) for b in sorted(entry.bases)],
        conditions=[_named(facts.bases, c) for c in sorted(entry.conditions)],
        dpia=sorted(entry.dpia | ({doc["dpia"]} if doc.get("dpia") else set())),
        lia=sorted(entry.lia | ({doc["lia"]} if doc.get("lia") else set())),
        sources=[entry.sources[f] for f in sorted(entry.sources)],
        regimes=[r for r in REGIMES if r in regimes])


def _named(docs: dict[str, Doc], id_: str) -> Named:
    return Named(id_, docs[id_]["name"] if id_ in docs else id_)


def _recipient(facts: Facts, flow: Doc, party: Doc, via: str | None) -> Recipient:
    agreement = facts.agreement(flow) or {}
    return Recipient(party["kind"], party["id"], party["name"], party["country"], party["id"] not in facts.in_eea,
                     party["role"], agreement.get("id"), agreement.get("document"), via)


def _retention(facts: Facts, system: str, category: str, purpose: str) -> str | None:
    """The retention the system declares for `category` or its nearest ancestor, in the activity's
    own declaration: the first naming `purpose`, else the first of the category. A system may hold
    one category for several purposes, each kept for its own time (Art. 5(1)(e), 30(1)(f))."""
    holds = facts.systems[system].get("holds", ())
    for ancestor in facts.tree.ancestors.get(category, (category,)):
        found = [held for held in holds if held["category"] == ancestor]
        if found:
            return next((held for held in found if purpose in held.get("purposes", ())), found[0]).get("retention")
    return None


def _transfer(facts: Facts, flow: Doc, regime: str, via: str | None = None) -> Transfer:
    mechanism = facts.mechanism(flow)
    decision = facts.adequacy(flow["to"], regime)
    if mechanism and mechanism != "adequacy":
        safeguard = MECHANISMS[mechanism]
    elif decision is not None:
        safeguard = f"{ADEQUACY[regime].removeprefix('EU ')}: {decision.decision}"
    else:
        safeguard = None
    recipient = facts.ends[flow["to"]]
    agreement = facts.agreement(flow) or {}
    return Transfer(flow=flow["id"], recipient=flow["to"], recipient_name=recipient["name"],
                    country=recipient["country"], regime=regime, safeguard=safeguard, agreement=agreement.get("id"),
                    document=agreement.get("document"), via=via)


def _processor(facts: Facts, settings: Settings, id_: str) -> ProcessorActivity:
    agreement = facts.agreements[id_]
    controllers = [facts.parties[p] for p in agreement["parties"] if facts.parties[p]["role"] == "controller"]
    flows = [flow for flow in facts.live if flow.get("agreement") == id_]
    systems = sorted({end for flow in flows for end in (flow["from"], flow["to"]) if end in facts.systems})
    categories = sorted(set(agreement.get("categories", ())) | {c for f in flows for c in f["categories"]})
    return ProcessorActivity(
        agreement=id_, agreement_name=agreement["name"], document=agreement.get("document"),
        processor=settings.controller, controller="; ".join(p["name"] for p in controllers),
        controller_country="; ".join(p["country"] for p in controllers),
        processing=[facts.purposes[p]["name"] for p in agreement.get("purposes", ())]
        or sorted({facts.purposes[f["purpose"]]["name"] for f in flows}),
        data_categories=[_named(facts.categories, c) for c in categories],
        systems=[_named(facts.systems, s) for s in systems],
        transfers=[_transfer(facts, flow, regime) for flow in flows for regime in GDPR_FAMILY
                   if facts.exported(flow, regime)],
        security_measures=[f"{s}: {facts.systems[s]['security_measures']}" for s in systems
                           if facts.systems[s].get("security_measures")])


def to_json(record: Ropa) -> str:
    return dumps(record)


CSV_COLUMNS = ["record", "controller", "dpo", "eu_representative", "processor", "joint_controllers", "agreement",
               "system", "purpose", "purpose_description", "data_subject_categories", "personal_data_categories",
               "recipients", "processor_contracts", "transfers", "retention", "security_measures", "legal_bases",
               "conditions", "dpia", "lia", "sources", "regimes"]
"""Art. 30(1) and (2) and the ICO and CNIL template columns (see README: the record of processing activities)."""


def to_csv(record: Ropa) -> str:
    """One row per activity, Art. 30(1) first, then Art. 30(2); lists joined with '; ', names with their ids.
    Safe to open in a spreadsheet: a cell that would start a formula is neutralised (`spreadsheet_cell`);
    rows end in CRLF (RFC 4180), so a line break of either kind inside a cell is quoted."""
    out = io.StringIO()
    writer = _SpreadsheetWriter(out, CSV_COLUMNS, lineterminator="\r\n")  # RFC 4180: a cell with CR is quoted
    writer.writeheader()
    common = {"controller": record.controller, "dpo": record.dpo or "", "eu_representative": record.eu_representative or ""}
    for a in record.activities:
        writer.writerow({
            **dict.fromkeys(CSV_COLUMNS, ""), **common, "record": "Art. 30(1)",
            "joint_controllers": _names(a.joint_controllers),
            "system": f"{a.system_name} ({a.system})", "purpose": f"{a.purpose_name} ({a.purpose})",
            "purpose_description": a.purpose_description or "",
            "data_subject_categories": _names(a.subject_categories),
            "personal_data_categories": _names(a.data_categories),
            "recipients": "; ".join(f"{r.kind}: {r.name} ({r.country})" + (f" via {r.via}" if r.via else "")
                                    for r in a.recipients),
            "processor_contracts": "; ".join(f"{r.name}: {r.document or r.agreement}" for r in a.recipients
                                             if r.role == "processor" and r.agreement),
            "transfers": "; ".join(_transfer_text(t) for t in a.transfers),
            "retention": "; ".join(f"{r.category}: {r.period or 'not set'}" for r in a.retention),
            "security_measures": a.security_measures or "", "legal_bases": _names(a.legal_bases),
            "conditions": _names(a.conditions), "dpia": "; ".join(a.dpia), "lia": "; ".join(a.lia),
            "sources": "; ".join(f"{s.name} ({s.party}) via {s.flow}: {', '.join(s.categories)}" for s in a.sources),
            "regimes": "; ".join(a.regimes)})
    for p in record.processor_activities:
        writer.writerow({
            **dict.fromkeys(CSV_COLUMNS, ""), "record": "Art. 30(2)", "dpo": record.dpo or "",
            "eu_representative": record.eu_representative or "",
            "controller": f"{p.controller} ({p.controller_country})", "processor": p.processor,
            "agreement": f"{p.agreement_name} ({p.agreement})" + (f": {p.document}" if p.document else ""),
            "system": _names(p.systems), "purpose": "; ".join(p.processing),
            "personal_data_categories": _names(p.data_categories),
            "transfers": "; ".join(_transfer_text(t) for t in p.transfers),
            "security_measures": "; ".join(p.security_measures)})
    return out.getvalue()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP: CSV injection)."""


def spreadsheet_cell(value: str) -> str:
    """`value`, with a `'` before it when it starts like a formula, so that Excel, LibreOffice and
    Google Sheets show it as text rather than run it.

    >>> spreadsheet_cell("=1+2"), spreadsheet_cell("-2"), spreadsheet_cell("Claims (claims)")
    ("'=1+2", "'-2", 'Claims (claims)')
    """
    return "'" + value if value.startswith(FORMULA_STARTS) else value


class _SpreadsheetWriter(csv.DictWriter):
    def writerow(self, rowdict):
        return super().writerow({key: spreadsheet_cell(value) if isinstance(value, str) else value
                                 for key, value in rowdict.items()})


def _names(named: list[Named]) -> str:
    return "; ".join(n.name if n.id is None else f"{n.name} ({n.id})" for n in named)


def _transfer_text(transfer: Transfer) -> str:
    via = f", via {transfer.via}" if transfer.via else ""
    return (f"{transfer.recipient} ({transfer.country}) via {transfer.flow}{via} [{transfer.regime}]: "
            f"{transfer.safeguard or 'no safeguard'}")
