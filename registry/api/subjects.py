"""GraphQL for data subjects: DSAR reports, erasure plans and consents (subject-data permission).

Reports are flat (ids, not nested objects, where the issue's shape asks for them) so that a
DSAR portal gets its answer in milliseconds; names come with `node(id:)` or the HTML rendering.
"""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Optional

import strawberry

from registry.subjects import dsar as domain
from registry.api.errors import domain_errors
from registry.api.types import Agreement, Holder, Party, to_holder, to_node


REPORT_QUERY = """
query ($subject: ID, $email: String) { dsar(subject: $subject, email: $email) {
  subject { id kind records { system categories since source } }
  holdings { system { id kind name country } category purposes legalBasis condition retention path source }
  recipients { party { id name kind country role } flow categories purposes legalBasis condition agreement { id name }
               transferMechanism path }
  suspendedFlows { id purpose categories }
  consents { purpose status at notice channel }
  currentConsents { purpose status at notice channel }
  sources { party { id name } system categories }
  legalBases
  rights { right reference text }
  generatedAt
} }
"""
"""The whole report, as `dsa-registry dsar --format json` prints it."""


@strawberry.type
class SubjectRecord:
    system: strawberry.ID
    categories: list[strawberry.ID]
    since: Optional[datetime.date]
    source: Optional[strawberry.ID] = strawberry.field(description="The party that supplied the data.")


@strawberry.type(description="One consent event: granted or withdrawn, when, under which notice, through which channel.")
class ConsentEvent:
    purpose: strawberry.ID
    status: str
    at: datetime.datetime
    notice: Optional[str]
    channel: Optional[str]


@strawberry.type(description="A data subject: a policyholder, claimant, beneficiary, prospect …")
class DataSubject:
    id: strawberry.ID
    kind: str
    records: list[SubjectRecord]
    consents: list[ConsentEvent] = strawberry.field(description="The whole history, oldest first (Art. 7(1)).")


@strawberry.type(description="A category of the subject's data held in a system, and why.")
class SubjectHolding:
    system: Holder
    category: strawberry.ID
    purposes: list[strawberry.ID]
    legal_basis: Optional[strawberry.ID]
    condition: Optional[strawberry.ID]
    retention: Optional[str] = strawberry.field(description="ISO 8601 retention period (Art. 15(1)(d)).")
    path: list[strawberry.ID] = strawberry.field(description="The flows that brought it from the subject's records.")
    source: Optional[strawberry.ID] = strawberry.field(description="The party that supplied it (Art. 15(1)(g)).")


@strawberry.type(description="A party the subject's data was disclosed to through one flow (Art. 15(1)(c)).")
class Recipient:
    party: Party
    flow: strawberry.ID
    categories: list[strawberry.ID]
    purposes: list[strawberry.ID]
    legal_basis: Optional[strawberry.ID]
    condition: Optional[strawberry.ID]
    agreement: Optional[Agreement]
    transfer_mechanism: Optional[str] = strawberry.field(description="The Art. 46 safeguard, for a third country.")
    path: list[strawberry.ID]


@strawberry.type(description="A flow that carries none of the subject's consent-based data: consent is not given.")
class SuspendedFlow:
    id: strawberry.ID
    purpose: strawberry.ID
    categories: list[strawberry.ID] = strawberry.field(description="The subject's categories it withholds.")


@strawberry.type(description="Data not collected from the subject: who supplied it, to which system.")
class DataSource:
    party: Party
    system: strawberry.ID
    categories: list[strawberry.ID]


@strawberry.type
class Right:
    right: str
    reference: str
    text: str


@strawberry.type(description="Everything GDPR Art. 15(1)-(2) asks for, derived from the registry.")
class DsarReport:
    subject: DataSubject
    holdings: list[SubjectHolding]
    recipients: list[Recipient]
    suspended_flows: list[SuspendedFlow]
    consents: list[ConsentEvent] = strawberry.field(description="The consent history, oldest first.")
    current_consents: list[ConsentEvent] = strawberry.field(description="The latest event per purpose.")
    sources: list[DataSource]
    legal_bases: list[strawberry.ID]
    rights: list[Right]
    generated_at: datetime.datetime


@strawberry.type(description="Data the subject asked to erase that must be kept, and why (Art. 17(3)).")
class RetainedData:
    system: strawberry.ID
    category: strawberry.ID
    reason: str
    until: Optional[datetime.date]


@strawberry.type
class ErasureStep:
    system: Holder
    categories: list[strawberry.ID]


@strawberry.type(description="Where to delete, what to keep and why, and whom to notify (Art. 17 and 19).")
class ErasurePlan:
    subject: DataSubject
    erase: list[ErasureStep]
    keep: list[RetainedData]
    notify: list[Recipient] = strawberry.field(description="Recipients to tell about the erasure (Art. 19).")


def to_subject(row) -> DataSubject:
    return DataSubject(
        id=row.id, kind=row.kind,
        records=[SubjectRecord(system=r["system"], categories=r["categories"], source=r.get("source"),
                               since=datetime.date.fromisoformat(r["since"]) if r.get("since") else None)
                 for r in row.records],
        consents=[to_consent(e) for e in row.consents])


def to_consent(event: dict) -> ConsentEvent:
    return ConsentEvent(purpose=event["purpose"], status=event["status"], at=datetime.datetime.fromisoformat(event["at"]),
                        notice=event.get("notice"), channel=event.get("channel"))


def to_recipient(r: domain.Recipient, entities) -> Recipient:
    return Recipient(party=to_node(entities[r.party]), flow=r.flow, categories=list(r.categories), purposes=[r.purpose],
                     legal_basis=r.legal_basis, condition=r.condition, agreement=to_node(entities.get(r.agreement or "")),
                     transfer_mechanism=r.transfer_mechanism, path=list(r.path))


def to_report(report: domain.DsarReport) -> DsarReport:
    entities = report.entities
    return DsarReport(
        subject=to_subject(report.subject),
        holdings=[SubjectHolding(system=to_holder(entities[h.system]), category=h.category, purposes=list(h.purposes),
                                 legal_basis=h.legal_basis, condition=h.condition, retention=h.retention,
                                 path=list(h.path), source=h.source) for h in report.holdings],
        recipients=[to_recipient(r, entities) for r in report.recipients],
        suspended_flows=[SuspendedFlow(id=s.flow, purpose=s.purpose, categories=list(s.categories))
                         for s in report.suspended],
        consents=[to_consent(e) for e in report.subject.consents],
        current_consents=[to_consent(e) for _, e in sorted(report.consent_state.items())],
        sources=[DataSource(party=to_node(entities[party]), system=system, categories=list(categories))
                 for party, system, categories in report.sources],
        legal_bases=report.legal_bases,
        rights=[Right(right=right, reference=reference, text=text) for right, reference, text in domain.RIGHTS],
        generated_at=datetime.datetime.now(datetime.timezone.utc))


@strawberry.type
class SubjectQuery:
    @strawberry.field(description="The DSAR report for a subject, by id or by e-mail (needs the subject-data "
                                  "permission; every lookup is audited), following the flows in force on `asOf` "
                                  "(default today, UTC).")
    @domain_errors
    async def dsar(self, info: strawberry.Info, subject: Optional[strawberry.ID] = None,
                   email: Optional[str] = None, as_of: Optional[datetime.date] = None) -> DsarReport:
        context = info.context
        return to_report(await context.call(context.subjects.report, principal=context.principal,
                                            subject=subject, email=email, as_of=as_of))

    @strawberry.field(description="What to erase where, what to keep and why, and whom to notify.")
    @domain_errors
    async def erasure_plan(self, info: strawberry.Info, subject: strawberry.ID,
                           today: Optional[datetime.date] = None) -> ErasurePlan:
        context = info.context
        plan = await context.call(context.subjects.erasure_plan, principal=context.principal, subject=subject,
                                  today=today)
        entities = plan.report.entities
        return ErasurePlan(subject=to_subject(plan.report.subject),
                           erase=[ErasureStep(system=to_holder(entities[s]), categories=list(c)) for s, c in plan.erase],
                           keep=[RetainedData(system=k.system, category=k.category, reason=k.reason, until=k.until)
                                 for k in plan.keep],
                           notify=[to_recipient(r, entities) for r in plan.notify])


@strawberry.enum
class ConsentStatus(Enum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


@strawberry.type
class SubjectMutation:
    @strawberry.mutation(description="Record a consent event for a subject and purpose (default time: now).")
    @domain_errors
    async def set_consent(self, info: strawberry.Info, subject: strawberry.ID, purpose: strawberry.ID,
                          status: ConsentStatus, at: Optional[datetime.datetime] = None,
                          notice: Optional[str] = None, channel: Optional[str] = None) -> DataSubject:
        context = info.context
        return to_subject(await context.call(context.subjects.set_consent, principal=context.principal,
                                             subject=subject, purpose=purpose, status=status.value, at=at,
                                             notice=notice, channel=channel))

    @strawberry.mutation(description="Withdraw a subject's consent for a purpose, now (Art. 7(3)).")
    @domain_errors
    async def withdraw_consent(self, info: strawberry.Info, subject: strawberry.ID, purpose: strawberry.ID,
                               notice: Optional[str] = None, channel: Optional[str] = None) -> DataSubject:
        context = info.context
        return to_subject(await context.call(context.subjects.set_consent, principal=context.principal,
                                             subject=subject, purpose=purpose, status="withdrawn",
                                             notice=notice, channel=channel))
