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
from registry import compliance
from registry.api.errors import domain_errors
from registry.api.paging import page
from registry.api.types import DataCategory, Flow, Holder, Node, Purpose, to_holder, to_node


@strawberry.type(description="A compliance finding: what is wrong, where, why it matters, and how to fix it.")
class Finding:
    rule: str = strawberry.field(description="The rule's stable id, e.g. `missing-legal-basis`.")
    severity: str = strawberry.field(description="`error`, `warning` or `info`.")
    message: str
    reference: str = strawberry.field(description="The legal source, e.g. GDPR Art. 9(2).")
    entity_kind: str = strawberry.field(
        description="`flow`, `holding` (of the system `entityId`), `agreement` or `system`.")
    entity_id: strawberry.ID
    category: Optional[strawberry.ID] = strawberry.field(description="For a holding, its category.")
    remedy: str
    subject_count: Optional[int] = strawberry.field(
        description="How many data subjects are concerned, for rules that count them; null otherwise.")


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


@strawberry.type(description="A notification a breach calls for: whom to notify, under which law, by when.")
class NotificationDuty:
    id: str
    notify: str
    reference: str
    deadline: Optional[datetime.datetime] = strawberry.field(
        description="UTC; null where the law sets no fixed time (see `timing`).")
    timing: str
    reason: str


@strawberry.type
class BreachImpact:
    detected_at: datetime.datetime = strawberry.field(description="When the breach became known, in UTC.")
    breached: list[Holder]
    high_risk: bool
    exposed: list[ExposedCategory]
    recipients: list[BreachRecipient]
    duties: list[NotificationDuty]
    subject_count: int = strawberry.field(
        description="Data subjects with a record in the breached systems (or the systems that fed a breached party).")
    subject_systems: Private[list[str]]

    @strawberry.field(description="The ids of the affected data subjects (subject-data permission; audited).")
    @domain_errors
    async def subjects(self, info: strawberry.Info, limit: int = 1000) -> list[strawberry.ID]:
        context = info.context
        return await context.call(context.subjects.affected, principal=context.principal,
                                  systems=self.subject_systems, limit=limit)


@strawberry.type
class RopaRecipient:
    kind: str = strawberry.field(description="The category of recipient: the party's kind.")
    id: strawberry.ID
    name: str
    country: str
    third_country: bool = strawberry.field(description="Outside the EEA.")


@strawberry.type
class RopaTransfer:
    flow: strawberry.ID
    recipient: strawberry.ID
    country: str
    safeguard: Optional[str] = strawberry.field(description="Null when the transfer has none.")


@strawberry.type
class RopaRetention:
    category: strawberry.ID
    period: Optional[str] = strawberry.field(description="ISO 8601 duration; null when none is declared.")


@strawberry.type(description="One processing activity (system × purpose) with the Art. 30(1) fields.")
class ProcessingActivity:
    system: strawberry.ID
    system_name: str
    purpose: strawberry.ID
    purpose_name: str
    purpose_description: Optional[str]
    controller: str
    joint_controllers: list[str]
    subject_categories: list[str]
    data_categories: list[strawberry.ID]
    recipients: list[RopaRecipient]
    transfers: list[RopaTransfer]
    retention: list[RopaRetention]
    security_measures: Optional[str]
    legal_bases: list[strawberry.ID]


@strawberry.type(description="Processing on behalf of a controller under a data processing agreement (Art. 30(2)).")
class ProcessorActivity:
    agreement: strawberry.ID
    processor: str
    controller: str
    controller_country: str
    processing: list[str]
    data_categories: list[strawberry.ID]
    systems: list[strawberry.ID]
    transfers: list[RopaTransfer]
    security_measures: list[str]


@strawberry.type(description="The record of processing activities (GDPR Art. 30).")
class RecordOfProcessing:
    controller: str
    activities: list[ProcessingActivity]
    processor_activities: list[ProcessorActivity]


@strawberry.type
class ComplianceQuery:
    @strawberry.field(description="Compliance findings as of `asOf` (default today, UTC), at or above `severity` "
                                  "(`error`, `warning`, `info`; default all), optionally of one `rule`; most severe "
                                  "first, then by rule and entity; `offset` and `limit` page through them.")
    @domain_errors
    async def findings(self, info: strawberry.Info, severity: Optional[str] = None, rule: Optional[str] = None,
                       as_of: Optional[datetime.date] = None, offset: int = 0,
                       limit: Optional[int] = None) -> list[Finding]:
        found = await info.context.call(compliance.findings, info.context.registry, as_of=as_of, severity=severity,
                                        rule=rule, settings=info.context.compliance)
        return [to_finding(finding) for finding in page(found, offset, limit)]

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
                                  "downstream, and whom to notify by when.")
    @domain_errors
    async def breach_impact(self, info: strawberry.Info, detected_at: datetime.datetime,
                            systems: Optional[list[strawberry.ID]] = None,
                            parties: Optional[list[strawberry.ID]] = None) -> BreachImpact:
        found = await info.context.call(compliance.breach_impact, info.context.registry, systems=systems or (),
                                        parties=parties or (), detected_at=detected_at)
        return BreachImpact(
            detected_at=found.detected_at, breached=[to_holder(stored) for stored in found.breached],
            high_risk=found.high_risk,
            exposed=[ExposedCategory(category=to_node(Stored("category", e.category)), high_risk=e.high_risk)
                     for e in found.exposed],
            recipients=[BreachRecipient(holder=to_holder(r.holder), flows=r.flows,
                                        categories=[to_node(Stored("category", doc)) for doc in r.categories])
                        for r in found.recipients],
            duties=[NotificationDuty(id=d.id, notify=d.notify, reference=d.reference, deadline=d.deadline,
                                     timing=d.timing, reason=d.reason) for d in found.duties],
            subject_count=found.subject_count, subject_systems=found.subject_systems)

    @strawberry.field(description="The record of processing activities (GDPR Art. 30): controller and processor view.")
    @domain_errors
    async def ropa(self, info: strawberry.Info) -> RecordOfProcessing:
        found = await info.context.call(compliance.ropa, info.context.registry, settings=info.context.compliance)
        return RecordOfProcessing(
            controller=found.controller,
            activities=[ProcessingActivity(**{**vars(a), "recipients": [RopaRecipient(**vars(r)) for r in a.recipients],
                                              "transfers": [RopaTransfer(**vars(t)) for t in a.transfers],
                                              "retention": [RopaRetention(**vars(r)) for r in a.retention]})
                        for a in found.activities],
            processor_activities=[ProcessorActivity(**{**vars(p), "transfers": [RopaTransfer(**vars(t))
                                                                                 for t in p.transfers]})
                                  for p in found.processor_activities])


def to_finding(finding: compliance.Finding) -> Finding:
    return Finding(**vars(finding))
