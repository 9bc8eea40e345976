"""DSAR reports (GDPR Art. 15) and erasure plans (Art. 17 and 19), derived from the graph.

A subject's data starts in the systems their records name (the record's categories, or what
the system declares) and moves along flows, layer by layer, as in `graph.traversal`: a flow
carries the subject's category X when it carries X, an ancestor or a descendant (the narrower
of the two arrives), from a node that holds X for the subject. A flow *rests on consent* for a
category when its effective legal basis is `gdpr-6-1-a`, or, for special-category data, when
its effective Art. 9 condition is `gdpr-9-2-a`; without the subject's standing consent for the
flow's purpose it carries none of that data and is reported as suspended. Each (holder,
category) keeps the shortest chain of flows that brought it (smallest flow ids on ties); data a
holder already holds, or holds a broader category of, does not arrive again. Every flow that
carries some of the subject's data to a party is a disclosure to a recipient.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import isodate

from graph.store import MAX_DEPTH, Doc, Stored, SubjectRow
from registry.categories import CategoryTree

CONSENT = "gdpr-6-1-a"
EXPLICIT_CONSENT = "gdpr-9-2-a"
KEEP_BASES = {"gdpr-6-1-c": "Art. 17(3)(b): legal obligation", "gdpr-6-1-e": "Art. 17(3)(b): public task"}
KEEP_CONDITIONS = {"gdpr-9-2-f": "Art. 17(3)(e): establishment, exercise or defence of legal claims"}

RIGHTS = (
    ("rectification", "GDPR Art. 16", "You may ask us to correct inaccurate personal data and complete incomplete data."),
    ("erasure", "GDPR Art. 17", "You may ask us to erase your personal data where it is no longer needed, you withdraw "
                                "consent, or you object; we keep what the law obliges us to keep."),
    ("restriction", "GDPR Art. 18", "You may ask us to restrict processing while accuracy or lawfulness is checked."),
    ("objection", "GDPR Art. 21", "You may object to processing based on legitimate interests or a public task, and "
                                  "to direct marketing at any time."),
    ("withdraw-consent", "GDPR Art. 7(3)", "Where processing rests on your consent you may withdraw it at any time; "
                                           "this does not affect processing before the withdrawal."),
    ("complaint", "GDPR Art. 77", "You may lodge a complaint with a supervisory authority, in particular in the member "
                                  "state of your residence, place of work or of the alleged infringement."),
)


@dataclass(frozen=True)
class SubjectHolding:
    system: str
    category: str
    purposes: tuple[str, ...]
    legal_basis: str | None
    condition: str | None
    retention: str | None
    path: tuple[str, ...]
    source: str | None = None
    """The party that supplied the data (for data the record names, not collected from the subject)."""


@dataclass(frozen=True)
class Recipient:
    party: str
    flow: str
    categories: tuple[str, ...]
    purpose: str
    legal_basis: str | None
    condition: str | None
    agreement: str | None
    transfer_mechanism: str | None
    path: tuple[str, ...]


@dataclass(frozen=True)
class SuspendedFlow:
    flow: str
    purpose: str
    categories: tuple[str, ...]
    """The subject's categories it would have carried, withheld for want of consent."""


@dataclass(frozen=True)
class DsarReport:
    subject: SubjectRow
    holdings: list[SubjectHolding]
    recipients: list[Recipient]
    suspended: list[SuspendedFlow]
    entities: dict[str, Stored] = field(repr=False)

    @property
    def consent_state(self) -> dict[str, Doc]:
        """Purpose -> the latest consent event."""
        return latest_consents(self.subject.consents)

    @property
    def sources(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(party, system, categories) for data not collected from the subject."""
        return sorted((r["source"], r["system"], tuple(r["categories"])) for r in self.subject.records if r.get("source"))

    @property
    def legal_bases(self) -> list[str]:
        found = {b for h in self.holdings for b in (h.legal_basis, h.condition) if b}
        found |= {b for r in self.recipients for b in (r.legal_basis, r.condition) if b}
        return sorted(found)


@dataclass(frozen=True)
class Retained:
    system: str
    category: str
    reason: str
    until: date | None


@dataclass(frozen=True)
class ErasurePlan:
    report: DsarReport
    erase: list[tuple[str, tuple[str, ...]]]
    """(system, categories) to delete from."""
    keep: list[Retained]
    notify: list[Recipient]
    """Recipients to tell about the erasure (Art. 19)."""


def latest_consents(events: list[Doc]) -> dict[str, Doc]:
    latest: dict[str, Doc] = {}
    for event in sorted(events, key=lambda e: (e["at"], e["status"])):  # on equal times, withdrawn wins
        latest[event["purpose"]] = event
    return latest


def compute(subject: SubjectRow, flows: list[Doc], entities: dict[str, Stored], tree: CategoryTree) -> DsarReport:
    """The report for `subject`, given the flows downstream of its records and the entities they name."""
    granted = {purpose for purpose, event in latest_consents(subject.consents).items() if event["status"] == "granted"}
    outgoing: dict[str, list[tuple[Doc, str | None, str | None]]] = defaultdict(list)  # with basis and condition
    for flow in sorted(flows, key=lambda f: f["id"]):
        outgoing[flow["from"]].append((flow, *effective(flow, entities)))

    arrived: dict[tuple[str, str], tuple[tuple[str, ...], Doc | None, Doc | None]] = {}
    for record in subject.records:
        for category in record["categories"]:
            arrived.setdefault((record["system"], category), ((), None, record))
    suspended: dict[str, set[str]] = defaultdict(set)
    disclosed: dict[tuple[str, str], dict[str, tuple[str, ...]]] = defaultdict(dict)  # (party, flow) -> category -> chain
    frontier = dict(arrived)
    for _ in range(MAX_DEPTH):
        following: dict[tuple[str, str], tuple[tuple[str, ...], Doc | None, Doc | None]] = {}
        for (node, held), (path, _, _) in sorted(frontier.items()):
            for flow, basis, condition in outgoing.get(node, ()):
                for carried in flow["categories"]:
                    category = tree.narrower(held, carried)
                    if category is None:
                        continue
                    if flow["purpose"] not in granted and (
                            basis == CONSENT or (condition == EXPLICIT_CONSENT and tree.is_("special", category))):
                        suspended[flow["id"]].add(category)
                        continue
                    target, chain = flow["to"], path + (flow["id"],)
                    if entities[target].type == "party":
                        earlier = disclosed[(target, flow["id"])].get(category)
                        disclosed[(target, flow["id"])][category] = min(chain, earlier or chain)
                    key = (target, category)
                    if any((target, c) in arrived for c in tree.ancestors.get(category, (category,))):
                        continue  # the target already holds this data, or broader data covering it
                    if key not in following or chain < following[key][0]:
                        following[key] = (chain, flow, None)
        if not following:
            break
        arrived.update(following)
        frontier = following

    holdings = []
    for (node, category), (path, flow, record) in sorted(arrived.items()):
        if entities[node].type != "system":
            continue
        declared = covering(entities[node].doc, category, tree)
        flow_basis, flow_condition = effective(flow, entities) if flow else (None, None)
        holdings.append(SubjectHolding(
            system=node, category=category,
            purposes=tuple(declared["purposes"]) if declared and declared.get("purposes") else
            ((flow["purpose"],) if flow else ()),
            legal_basis=declared.get("legal_basis") if declared else flow_basis,
            condition=declared.get("condition") if declared else flow_condition,
            retention=declared.get("retention") if declared else None,
            path=path, source=record.get("source") if record else None))
    recipients = []
    for (party, flow_id), chains in sorted(disclosed.items()):
        flow = entities[flow_id].doc
        basis, condition = effective(flow, entities)
        agreement = entities.get(flow.get("agreement") or "")
        recipients.append(Recipient(
            party=party, flow=flow_id, categories=tuple(sorted(chains)), purpose=flow["purpose"],
            legal_basis=basis, condition=condition, agreement=flow.get("agreement"),
            transfer_mechanism=flow.get("transfer_mechanism") or (agreement.doc.get("transfer_mechanism") if agreement else None),
            path=min(chains.values())))
    return DsarReport(subject=subject, holdings=holdings, recipients=recipients,
                      suspended=[SuspendedFlow(flow=f, purpose=entities[f].doc["purpose"], categories=tuple(sorted(cats)))
                                 for f, cats in sorted(suspended.items())],
                      entities=entities)


def erasure_plan(report: DsarReport, today: date) -> ErasurePlan:
    """What to delete where, what to keep and why, and whom to tell."""
    since = {r["system"]: date.fromisoformat(r["since"]) for r in report.subject.records if r.get("since")}
    erase, keep = defaultdict(list), []
    for holding in report.holdings:
        reason = KEEP_BASES.get(holding.legal_basis or "") or KEEP_CONDITIONS.get(holding.condition or "")
        until = None
        if reason and holding.retention and holding.system in since:
            until = since[holding.system] + isodate.parse_duration(holding.retention)
            if until < today:
                reason = None
        if reason:
            keep.append(Retained(holding.system, holding.category, reason + (
                f", retention {holding.retention} from {since[holding.system]}" if until else
                ", until the retention period (not recorded) has run"), until))
        else:
            erase[holding.system].append(holding.category)
    return ErasurePlan(report=report, erase=[(s, tuple(c)) for s, c in sorted(erase.items())], keep=keep,
                       notify=report.recipients)


def effective(flow: Doc, entities: dict[str, Stored]) -> tuple[str | None, str | None]:
    """A flow's legal basis and condition: its own, or else its agreement's."""
    agreement = entities.get(flow.get("agreement") or "")
    terms = agreement.doc if agreement else {}
    return flow.get("legal_basis") or terms.get("legal_basis"), flow.get("condition") or terms.get("condition")


def covering(system: Doc, category: str, tree: CategoryTree) -> Doc | None:
    """The system's declaration nearest above (or at) `category`, if any."""
    held = {h["category"]: h for h in system.get("holds", ())}
    return next((held[c] for c in tree.ancestors.get(category, (category,)) if c in held), None)
