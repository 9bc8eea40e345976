"""GraphQL for compliance: findings, impact and breach analysis, and the Art. 30 record.

Each resolver is one call into `registry.compliance`; the answers are computed from the
registry's documents, so they are the same on every backend. Counts of data subjects come from
the store; the list of affected subjects needs the subject-data permission.
"""

from __future__ import annotations

import datetime
from typing import Optional

import strawberry
from strawberry import Private

from graph.store import Stored
from graph.subjects import Concerned
from registry import compliance
from registry.api.errors import domain_errors
from registry.api.enums import FindingEntityKind, PartyKind, PartyRole, Regime, Severity, value_of
from registry.api.kept import ByIdentity, SameItems, kept
from registry.api.paging import After, Connection, First, to_connection
from registry.api.types import DataCategory, Flow, Holder, Node, Purpose, to_holder, to_node
from registry.paging import list_id, paginate


@kept
@strawberry.type(description="A compliance finding: what is wrong, where, why it matters, and how to fix it.")
class Finding:
    rule: str = strawberry.field(description="The rule's stable id, e.g. `missing-legal-basis`.")
    severity: Severity
    message: str
    reference: str = strawberry.field(description="The legal source, e.g. GDPR Art. 9(2).")
    entity_kind: FindingEntityKind = strawberry.field(description="`HOLDING`: a holding of the system `entityId`.")
    entity_id: strawberry.ID
    category: Optional[strawberry.ID] = strawberry.field(description="For a holding, its category.")
    remedy: str
    subject_count: Optional[int] = strawberry.field(
        description="How many data subjects are concerned, for rules that count them; null otherwise.")
    regime: Optional[Regime] = strawberry.field(description="The regime the finding comes from.")


@strawberry.type(description="What depends on an agreement, party or system.")
class Impact:
    entity: Node
    flows: list[Flow] = strawberry.field(description="An agreement's flows, or those to and from a party or system.")
    categories: list[DataCategory]
    purposes: list[Purpose]
    holders: list[Holder] = strawberry.field(description="Systems and parties downstream holding that data.")
    findings: list[Finding] = strawberry.field(description="Findings, as of `asOf`, on those flows and the entity.")
    subject_count: int = strawberry.field(description="Data subjects with a record in the systems concerned.")


@strawberry.type
class ExposedCategory:
    category: DataCategory
    high_risk: bool = strawberry.field(description="Special-category (Art. 9) or criminal-offence (Art. 10) data.")


@strawberry.type(description="A system or party downstream that received exposed data, and through which flows.")
class BreachRecipient:
    holder: Holder
    categories: list[DataCategory]
    flows: list[strawberry.ID]


def _recipients(found) -> list[BreachRecipient]:
    return [BreachRecipient(holder=to_holder(r.holder), flows=r.flows,
                            categories=[to_node(Stored("category", doc)) for doc in r.categories]) for r in found]


@strawberry.type(description="A notification a breach calls for: whom to notify, under which law, by when.")
class NotificationDuty:
    id: str
    notify: str
    reference: str
    deadline: Optional[datetime.datetime] = strawberry.field(
        description="UTC; null where the law sets no fixed time (see `timing`).")
    timing: str
    reason: str
    duty_of: Optional[strawberry.ID] = strawberry.field(
        default=None, description="Whose duty it is: null for ours (the controller's); else the breached party that "
                                  "must notify (a processor telling us, GDPR Art. 33(2); an independent controller).")
    overdue: bool = strawberry.field(default=False, description="The deadline has already passed.")


@strawberry.type
class BreachImpact:
    detected_at: datetime.datetime = strawberry.field(description="When the breach became known, in UTC.")
    breached: list[Holder]
    high_risk: bool
    exposed: list[ExposedCategory]
    recipients: list[BreachRecipient] = strawberry.field(
        description="Received exposed data: through flows of scope ALL, or CASE with a recorded disclosure.")
    potential_recipients: list[BreachRecipient] = strawberry.field(
        description="May have received exposed data, or more of it than `recipients` says: the categories that "
                    "reach them only through flows of scope CASE without a recorded disclosure.")
    duties: list[NotificationDuty]
    subject_count: int = strawberry.field(
        description="Data subjects whose data the breached systems and parties may hold, as the flows in force "
                    "brought it: those with a record in a breached system or in a system upstream of one (of the "
                    "subject categories the flows on the way carry), and those with a disclosure recorded on a flow "
                    "of scope CASE on the way before the breach was detected.")
    concerned: Private[Concerned]

    @strawberry.field(description="The ids of the data subjects concerned, as `subjectCount` counts them "
                                  "(subject-data permission; audited).")
    @domain_errors
    async def subjects(self, info: strawberry.Info, limit: int = 1000) -> list[strawberry.ID]:
        context = info.context
        return await context.call(context.subjects.affected, principal=context.principal,
                                  concerned=self.concerned, limit=limit)


@strawberry.type(description="An entity's id next to its name (the id is null for a subject category from the "
                              "settings).")
class RopaName:
    id: Optional[strawberry.ID]
    name: str


@strawberry.type(description="A recipient (Art. 30(1)(d)).")
class RopaRecipient:
    kind: PartyKind = strawberry.field(description="The category of recipient: the party's kind.")
    id: strawberry.ID
    name: str
    country: str
    third_country: bool = strawberry.field(description="Outside the EEA.")
    role: PartyRole
    agreement: Optional[strawberry.ID]
    document: Optional[str] = strawberry.field(
        description="The agreement's document: for a processor, its Art. 28(3) contract.")
    via: Optional[strawberry.ID] = strawberry.field(
        description="The processor that passes the data on (a sub-processor's recipient); null otherwise.")


@strawberry.type(description="A transfer out of a regime's territory (Art. 30(1)(e)).")
class RopaTransfer:
    flow: strawberry.ID
    recipient: strawberry.ID
    recipient_name: str
    country: str
    regime: Regime = strawberry.field(description="`GDPR` (out of the EEA) or `UK_GDPR` (out of the UK).")
    safeguard: Optional[str] = strawberry.field(description="Null when the transfer has none.")
    agreement: Optional[strawberry.ID]
    document: Optional[str]
    via: Optional[strawberry.ID]


@strawberry.type
class RopaRetention:
    category: strawberry.ID
    period: Optional[str] = strawberry.field(description="ISO 8601 duration; null when none is declared.")


@strawberry.type(description="Data an activity receives from a party: its source.")
class RopaSource:
    party: strawberry.ID
    name: str
    country: str
    flow: strawberry.ID
    categories: list[strawberry.ID]


@strawberry.type(description="One processing activity (system × purpose) with the Art. 30(1) fields.")
class ProcessingActivity:
    system: strawberry.ID
    system_name: str
    purpose: strawberry.ID
    purpose_name: str
    purpose_description: Optional[str]
    controller: str
    joint_controllers: list[RopaName]
    subject_categories: list[RopaName]
    data_categories: list[RopaName]
    recipients: list[RopaRecipient]
    transfers: list[RopaTransfer]
    retention: list[RopaRetention]
    security_measures: Optional[str]
    legal_bases: list[RopaName] = strawberry.field(description="Art. 6(1) bases (and other regimes' bases).")
    conditions: list[RopaName] = strawberry.field(description="Art. 9(2) and Art. 10 conditions.")
    dpia: list[str]
    lia: list[str]
    sources: list[RopaSource]
    regimes: list[Regime]


@strawberry.type(description="Processing on behalf of a controller under a data processing agreement (Art. 30(2)).")
class ProcessorActivity:
    agreement: strawberry.ID
    agreement_name: str
    document: Optional[str]
    processor: str
    controller: str
    controller_country: str
    processing: list[str]
    data_categories: list[RopaName]
    systems: list[RopaName]
    transfers: list[RopaTransfer]
    security_measures: list[str]


@strawberry.type(description="The record of processing activities (GDPR Art. 30).")
class RecordOfProcessing:
    controller: str
    dpo: Optional[str]
    eu_representative: Optional[str]
    activities: list[ProcessingActivity]
    processor_activities: list[ProcessorActivity]


@strawberry.type
class ComplianceQuery:
    @strawberry.field(description="Compliance findings as of `asOf` (default today, UTC), at or above `severity` "
                                  "(default all), optionally of one `rule`; most severe first, then by rule and "
                                  "entity.")
    @domain_errors
    async def findings(self, info: strawberry.Info, severity: Optional[Severity] = None, rule: Optional[str] = None,
                       as_of: Optional[datetime.date] = None, first: First = None,
                       after: After = None) -> Connection[Finding]:
        severity = value_of(severity)
        found = await info.context.call(compliance.findings, info.context.registry, as_of=as_of, severity=severity,
                                        rule=rule, settings=info.context.compliance)
        page = paginate(found, first=first, after=after, key=_finding_key,
                        list_id=list_id("findings", severity=severity, rule=rule, as_of=as_of))
        return to_connection(page, to_finding, _FINDING_PAGES)

    @strawberry.field(description="What depends on exactly one of `agreement`, `party` or `system`.")
    @domain_errors
    async def impact(self, info: strawberry.Info, agreement: Optional[strawberry.ID] = None,
                     party: Optional[strawberry.ID] = None, system: Optional[strawberry.ID] = None,
                     as_of: Optional[datetime.date] = None) -> Impact:
        found = await info.context.call(compliance.impact, info.context.registry, agreement=agreement, party=party,
                                        system=system, as_of=as_of, settings=info.context.compliance)
        return Impact(entity=to_node(found.entity), flows=[to_node(Stored("flow", doc)) for doc in found.flows],
                      categories=[to_node(Stored("category", doc)) for doc in found.categories],
                      purposes=[to_node(Stored("purpose", doc)) for doc in found.purposes],
                      holders=[to_holder(stored) for stored in found.holders],
                      findings=[to_finding(finding) for finding in found.findings], subject_count=found.subject_count)

    @strawberry.field(description="What a breach of these systems and parties exposed, who received that data "
                                  "downstream through the flows in force on `asOf` (default: the day of "
                                  "`detectedAt`, UTC), and whom to notify by when.")
    @domain_errors
    async def breach_impact(self, info: strawberry.Info, detected_at: datetime.datetime,
                            systems: Optional[list[strawberry.ID]] = None,
                            parties: Optional[list[strawberry.ID]] = None,
                            as_of: Optional[datetime.date] = None) -> BreachImpact:
        found = await info.context.call(compliance.breach_impact, info.context.registry, systems=systems or (),
                                        parties=parties or (), detected_at=detected_at, as_of=as_of,
                                        settings=info.context.compliance)
        return BreachImpact(
            detected_at=found.detected_at, breached=[to_holder(stored) for stored in found.breached],
            high_risk=found.high_risk,
            exposed=[ExposedCategory(category=to_node(Stored("category", e.category)), high_risk=e.high_risk)
                     for e in found.exposed],
            recipients=_recipients(found.recipients), potential_recipients=_recipients(found.potential_recipients),
            duties=[NotificationDuty(id=d.id, notify=d.notify, reference=d.reference, deadline=d.deadline,
                                     timing=d.timing, reason=d.reason, duty_of=d.duty_of, overdue=d.overdue)
                    for d in found.duties],
            subject_count=found.subject_count, concerned=found.concerned)

    @strawberry.field(description="The record of processing activities (GDPR Art. 30): controller and processor "
                                  "view, from the flows in force on `asOf` (default today, UTC).")
    @domain_errors
    async def ropa(self, info: strawberry.Info, as_of: Optional[datetime.date] = None) -> RecordOfProcessing:
        found = await info.context.call(compliance.ropa, info.context.registry, settings=info.context.compliance,
                                        on=as_of)
        return to_record(found)


def _names(named: list) -> list[RopaName]:
    return [RopaName(id=n.id, name=n.name) for n in named]


def to_record(found: compliance.Ropa) -> RecordOfProcessing:
    """The record as GraphQL objects, built whole."""
    return RecordOfProcessing(
        controller=found.controller, dpo=found.dpo, eu_representative=found.eu_representative,
        activities=[ProcessingActivity(**{
            **vars(a), "joint_controllers": _names(a.joint_controllers),
            "subject_categories": _names(a.subject_categories), "data_categories": _names(a.data_categories),
            "legal_bases": _names(a.legal_bases), "conditions": _names(a.conditions),
            "recipients": [RopaRecipient(**vars(r)) for r in a.recipients],
            "transfers": [RopaTransfer(**vars(t)) for t in a.transfers],
            "retention": [RopaRetention(**vars(r)) for r in a.retention],
            "sources": [RopaSource(**vars(s)) for s in a.sources]}) for a in found.activities],
        processor_activities=[ProcessorActivity(**{
            **vars(p), "data_categories": _names(p.data_categories), "systems": _names(p.systems),
            "transfers": [RopaTransfer(**vars(t)) for t in p.transfers]}) for p in found.processor_activities])


def _finding_key(finding: compliance.Finding) -> str:
    return repr((finding.rule, finding.entity_kind, finding.entity_id, finding.category, finding.regime,
                 finding.message))


_FINDINGS: ByIdentity = ByIdentity()
_FINDING_PAGES: SameItems = SameItems()
"""Pages of findings asked again (a governance tool polling `findings`) get the same list."""


def to_finding(finding: compliance.Finding) -> Finding:
    """The GraphQL object of `finding`: made once while the finding lives (a rule's findings are
    kept until the next write, `registry.api.kept`)."""
    return _FINDINGS.get(finding, _made, finding)


def _made(finding: compliance.Finding) -> Finding:
    return Finding(**vars(finding))
