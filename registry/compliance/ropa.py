"""The record of processing activities (GDPR Art. 30), derived from the registry.

Controller view (Art. 30(1)): one activity per system and purpose, gathered from the system's
declarations and from the flows to and from it for that purpose. Processor view (Art. 30(2)):
one entry per data processing agreement (kind `dpa`) with a party whose role is `controller`,
for in such an agreement the insurer is the processor; the flows under those agreements
belong to the processor view only.

The controller's name and the categories of data subjects come from the `Settings` the caller
passes (the composition root builds them from configuration).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from graph.store import Doc
from registry.compliance.facts import Facts
from registry.compliance.findings import today
from registry.compliance.output import dumps
from registry.compliance.settings import Settings

MECHANISMS = {"scc": "standard contractual clauses", "bcr": "binding corporate rules",
              "derogation": "Art. 49 derogation", "adequacy": "adequacy decision"}


@dataclass(frozen=True)
class Recipient:
    """A category of recipient (the party's kind) and the party (Art. 30(1)(d))."""
    kind: str
    id: str
    name: str
    country: str
    third_country: bool


@dataclass(frozen=True)
class Transfer:
    """A transfer to a third country and its safeguard (Art. 30(1)(e)); None when there is none."""
    flow: str
    recipient: str
    country: str
    safeguard: str | None


@dataclass(frozen=True)
class Retention:
    """The retention period declared for the category or its nearest ancestor (Art. 30(1)(f))."""
    category: str
    period: str | None


@dataclass(frozen=True)
class Activity:
    system: str
    system_name: str
    purpose: str
    purpose_name: str
    purpose_description: str | None
    controller: str
    joint_controllers: list[str]
    subject_categories: list[str]
    data_categories: list[str]
    recipients: list[Recipient]
    transfers: list[Transfer]
    retention: list[Retention]
    security_measures: str | None
    legal_bases: list[str]


@dataclass(frozen=True)
class ProcessorActivity:
    agreement: str
    processor: str
    controller: str
    controller_country: str
    processing: list[str]
    data_categories: list[str]
    systems: list[str]
    transfers: list[Transfer]
    security_measures: list[str]


@dataclass(frozen=True)
class Ropa:
    controller: str
    activities: list[Activity] = field(default_factory=list)
    processor_activities: list[ProcessorActivity] = field(default_factory=list)


@dataclass
class _Gathered:
    categories: set[str] = field(default_factory=set)
    bases: set[str] = field(default_factory=set)
    recipients: dict[str, Recipient] = field(default_factory=dict)
    transfers: dict[str, Transfer] = field(default_factory=dict)
    joint: set[str] = field(default_factory=set)


def ropa(registry, *, settings: Settings | None = None, on: date | None = None) -> Ropa:
    settings = settings or Settings.packaged()
    facts = Facts.of(registry, on or today(), settings.countries)
    as_processor = {id_ for id_, doc in facts.agreements.items() if doc["kind"] == "dpa"
                    and any(facts.parties.get(p, {}).get("role") == "controller" for p in doc["parties"])}
    gathered: dict[tuple[str, str], _Gathered] = {}
    for system, held in facts.holdings():
        for purpose in held.get("purposes", ()):
            entry = gathered.setdefault((system, purpose), _Gathered())
            entry.categories.add(held["category"])
            entry.bases.update(_bases(facts, [held["category"]], held.get("legal_basis"), held.get("condition")))
    for flow in facts.flows:
        if flow.get("agreement") in as_processor:
            continue
        for end, other in ((flow["from"], flow["to"]), (flow["to"], flow["from"])):
            if end not in facts.systems:
                continue
            entry = gathered.setdefault((end, flow["purpose"]), _Gathered())
            entry.categories.update(flow["categories"])
            entry.bases.update(_bases(facts, flow["categories"], facts.basis(flow), facts.condition(flow)))
            party = facts.parties.get(other)
            agreement = facts.agreement(flow) or {}
            if party and (party["role"] == "joint-controller" or agreement.get("kind") == "joint-controller"):
                entry.joint.add(party["name"])
            if end == flow["from"]:
                if party:
                    entry.recipients[other] = Recipient(party["kind"], other, party["name"], party["country"],
                                                        other not in facts.in_eea)
                if facts.transfer(flow):
                    entry.transfers[flow["id"]] = _transfer(facts, flow)
    activities = [
        Activity(system=system, system_name=facts.systems[system]["name"], purpose=purpose,
                 purpose_name=facts.purposes[purpose]["name"],
                 purpose_description=facts.purposes[purpose].get("description"), controller=settings.controller,
                 joint_controllers=sorted(entry.joint), subject_categories=list(settings.subject_categories),
                 data_categories=sorted(entry.categories),
                 recipients=[entry.recipients[r] for r in sorted(entry.recipients)],
                 transfers=[entry.transfers[t] for t in sorted(entry.transfers)],
                 retention=[Retention(c, _retention(facts, system, c)) for c in sorted(entry.categories)],
                 security_measures=facts.systems[system].get("security_measures"), legal_bases=sorted(entry.bases))
        for (system, purpose), entry in sorted(gathered.items())]
    return Ropa(controller=settings.controller, activities=activities,
                processor_activities=[_processor(facts, settings, id_) for id_ in sorted(as_processor)])


def _bases(facts: Facts, categories: list[str], basis: str | None, condition: str | None) -> list[str]:
    """The legal basis, and the condition where special-category or criminal-offence data need one."""
    sensitive = any(facts.tree.is_("special", c) or facts.tree.is_("criminal", c) for c in categories)
    return [b for b in (basis, condition if sensitive else None) if b]


def _retention(facts: Facts, system: str, category: str) -> str | None:
    """The retention the system declares for `category` or its nearest ancestor."""
    declared = {held["category"]: held.get("retention") for held in facts.systems[system].get("holds", ())}
    return next((declared[c] for c in facts.tree.ancestors.get(category, (category,)) if c in declared), None)


def _transfer(facts: Facts, flow: Doc) -> Transfer:
    mechanism = facts.mechanism(flow)
    decision = facts.adequacy.get(flow["to"])
    if mechanism and mechanism != "adequacy":
        safeguard = MECHANISMS[mechanism]
    elif decision is not None:
        safeguard = f"adequacy decision: {decision.decision}"
    else:
        safeguard = None
    return Transfer(flow=flow["id"], recipient=flow["to"], country=facts.ends[flow["to"]]["country"],
                    safeguard=safeguard)


def _processor(facts: Facts, settings: Settings, id_: str) -> ProcessorActivity:
    agreement = facts.agreements[id_]
    controllers = [facts.parties[p] for p in agreement["parties"] if facts.parties[p]["role"] == "controller"]
    flows = [flow for flow in facts.flows if flow.get("agreement") == id_]
    systems = sorted({end for flow in flows for end in (flow["from"], flow["to"]) if end in facts.systems})
    return ProcessorActivity(
        agreement=id_, processor=settings.controller, controller="; ".join(p["name"] for p in controllers),
        controller_country="; ".join(p["country"] for p in controllers),
        processing=[facts.purposes[p]["name"] for p in agreement.get("purposes", ())]
        or sorted({facts.purposes[f["purpose"]]["name"] for f in flows}),
        data_categories=sorted(set(agreement.get("categories", ())) | {c for f in flows for c in f["categories"]}),
        systems=systems,
        transfers=[_transfer(facts, flow) for flow in flows if facts.transfer(flow)],
        security_measures=[f"{s}: {facts.systems[s]['security_measures']}" for s in systems
                           if facts.systems[s].get("security_measures")])


def to_json(record: Ropa) -> str:
    return dumps(record)


CSV_COLUMNS = ["record", "controller", "processor", "joint_controllers", "agreement", "system", "purpose",
               "purpose_description", "data_subject_categories", "personal_data_categories", "recipients",
               "transfers", "retention", "security_measures", "legal_bases"]


def to_csv(record: Ropa) -> str:
    """One row per activity, Art. 30(1) first, then Art. 30(2); lists joined with '; '."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for a in record.activities:
        writer.writerow({
            "record": "Art. 30(1)", "controller": a.controller, "processor": "",
            "joint_controllers": "; ".join(a.joint_controllers), "agreement": "",
            "system": f"{a.system_name} ({a.system})", "purpose": f"{a.purpose_name} ({a.purpose})",
            "purpose_description": a.purpose_description or "",
            "data_subject_categories": "; ".join(a.subject_categories),
            "personal_data_categories": "; ".join(a.data_categories),
            "recipients": "; ".join(f"{r.kind}: {r.name} ({r.country})" for r in a.recipients),
            "transfers": "; ".join(_transfer_text(t) for t in a.transfers),
            "retention": "; ".join(f"{r.category}: {r.period or 'not set'}" for r in a.retention),
            "security_measures": a.security_measures or "", "legal_bases": "; ".join(a.legal_bases)})
    for p in record.processor_activities:
        writer.writerow({
            "record": "Art. 30(2)", "controller": f"{p.controller} ({p.controller_country})", "processor": p.processor,
            "joint_controllers": "", "agreement": p.agreement, "system": "; ".join(p.systems),
            "purpose": "; ".join(p.processing), "purpose_description": "", "data_subject_categories": "",
            "personal_data_categories": "; ".join(p.data_categories), "recipients": "",
            "transfers": "; ".join(_transfer_text(t) for t in p.transfers), "retention": "",
            "security_measures": "; ".join(p.security_measures), "legal_bases": ""})
    return out.getvalue()


def _transfer_text(transfer: Transfer) -> str:
    return f"{transfer.recipient} ({transfer.country}) via {transfer.flow}: {transfer.safeguard or 'no safeguard'}"
