"""GraphQL for data subjects: DSAR reports and documents, erasure plans and erasure, consents,
disclosures and the list of subjects (subject-data permission).

Reports are flat (ids, not nested objects, where the issue's shape asks for them) so that a
DSAR portal gets its answer in milliseconds; names come with `node(id:)` or the HTML rendering.
"""

from __future__ import annotations

import datetime
import functools
from enum import Enum
from typing import Optional

import strawberry

from registry.subjects import dsar as domain
from registry import paging
from registry.api.enums import ConsentState as ConsentStanding
from registry.api.enums import ConsentLack, ConsentStatus, RetentionFrom, TransferMechanism
from registry.api.errors import domain_errors
from registry.api.lazy import lazy
from registry.api.paging import PageInfo
from registry.compliance.settings import DEFAULT_CONTROLLER
from registry.errors import InvalidArgument
from registry.subjects.erasure import retention_end
from registry.subjects.language import language
from registry.subjects.render import NO_CONTROLLER, render
from registry.subjects.words import Words
from registry.api.types import Agreement, Holder, Nodes, Party, SystemOrParty, to_holder


REPORT_QUERY = """
query ($subject: ID, $email: String, $asOf: Date) { dsar(subject: $subject, email: $email, asOf: $asOf) {
  subject { id kind records { system categories since until source } }
  asOf
  holdings { system { id kind name country } category purposes legalBasis condition retention retentionFrom
             retainedUntil path source onBehalfOf consentLacking }
  recipients { party { id name kind country role } flow categories purposes legalBasis condition agreement { id name }
               transferMechanism path onBehalfOf }
  potentialRecipients { party { id name kind country role } flow categories purposes legalBasis condition
                        agreement { id name } transferMechanism path caseFlows onBehalfOf }
  processedFor
  disclosures { flow party { id name } receiver { __typename ... on System { id name } ... on Party { id name } } at
                reference categories purpose }
  suspendedFlows { id purpose categories expired }
  consents { purpose status at notice channel expires }
  currentConsents { purpose status at notice channel expires }
  consentStates { purpose status at expires }
  sources { party { id name } system categories }
  automatedDecisions { system description logic consequences }
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
    since: Optional[datetime.date] = strawberry.field(description="When the data was collected.")
    source: Optional[strawberry.ID] = strawberry.field(description="The party that supplied the data.")
    until: Optional[datetime.date] = strawberry.field(
        default=None, description="When the relationship the record serves ended (contract ended, claim closed).")


@strawberry.type(description="One consent event: granted or withdrawn, when, under which notice, through which channel.")
class ConsentEvent:
    purpose: strawberry.ID
    status: ConsentStatus
    at: datetime.datetime
    notice: Optional[str]
    channel: Optional[str]
    expires: Optional[datetime.datetime] = strawberry.field(
        default=None, description="When a granted consent runs out (the purpose's consentValidity may end it sooner).")


@strawberry.type(description="A disclosure of the subject's data on a flow of scope CASE.")
class Disclosure:
    flow: strawberry.ID
    at: datetime.datetime
    reference: Optional[str] = strawberry.field(description="The case number or file reference.")


@strawberry.type(description="A data subject: a policyholder, claimant, beneficiary, prospect …")
class DataSubject:
    id: strawberry.ID
    kind: str
    records: list[SubjectRecord]
    consents: list[ConsentEvent] = strawberry.field(description="The whole history, oldest first (Art. 7(1)).")
    disclosures: list[Disclosure] = strawberry.field(
        default_factory=list, description="Disclosures on flows of scope CASE, oldest first.")


@strawberry.type(description="A page of data subjects, by id.")
class SubjectConnection:
    nodes: list[DataSubject]
    page_info: PageInfo

    @strawberry.field(description="How many subjects the registry records.")
    async def total_count(self, info: strawberry.Info) -> int:
        context = info.context
        return await context.call(context.subjects.total, principal=context.principal)


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
    retention_from: RetentionFrom = strawberry.field(description="What retention runs from: `END` (of the "
                                                                 "relationship) or `COLLECTION`.")
    retained_until: Optional[datetime.date] = strawberry.field(
        description="The last day it must be kept; null while the event retention runs from is not recorded.")
    on_behalf_of: Optional[strawberry.ID] = strawberry.field(
        description="The controller we hold it for as its processor (its record's source, under a data processing "
                    "agreement): not ours to answer for, but the controller's (Art. 28(3)(e)); null for our own.")
    consent_lacking: Optional[ConsentLack] = strawberry.field(
        description="Set where it rests on a consent (Art. 6(1)(a), Art. 9(2)(a), NAIC #672) that stands on the "
                    "report's day for none of its purposes: it is held all the same, and should be erased or another "
                    "basis recorded (Art. 7(3), 17(1)(b)).")


@strawberry.type(description="A party the subject's data was disclosed to through one flow (Art. 15(1)(c)).")
class Recipient:
    party: Party
    flow: strawberry.ID
    categories: list[strawberry.ID]
    purposes: list[strawberry.ID]
    legal_basis: Optional[strawberry.ID]
    condition: Optional[strawberry.ID]
    agreement: Optional[Agreement]
    transfer_mechanism: Optional[TransferMechanism] = strawberry.field(
        description="The safeguard of a transfer to a third country (Art. 45-49).")
    path: list[strawberry.ID]
    case_flows: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="For a potential recipient: the flows of scope CASE on its path without a "
                                          "disclosure of the subject.")
    on_behalf_of: Optional[strawberry.ID] = strawberry.field(
        default=None, description="The controller for whom we passed the data on as its processor; null for our own.")


@strawberry.type(description="A recorded disclosure of the subject's data: the accounting of disclosures.")
class DisclosureRecord:
    flow: strawberry.ID
    party: Optional[Party] = strawberry.field(
        description="The recipient the flow disclosed the data to; null for a case flow into one of our own "
                    "systems (see `receiver`) or a flow no longer in the registry.")
    receiver: Optional[SystemOrParty] = strawberry.field(
        description="Where the flow took the data: the recipient party, or our own system for a case flow inside "
                    "the organisation (a referral to the investigations unit); null for a flow no longer in the "
                    "registry.")
    at: datetime.datetime
    reference: Optional[str]
    categories: list[strawberry.ID]
    purpose: Optional[strawberry.ID]
    on_behalf_of: Optional[strawberry.ID] = strawberry.field(
        default=None, description="The controller whose data it disclosed, all of it held for that controller as its "
                                  "processor (the controller accounts for it); null where any is ours.")


@strawberry.type(description="Where the subject's consent to a purpose stands on the report's day.")
class ConsentState:
    purpose: strawberry.ID
    status: ConsentStanding
    at: datetime.datetime = strawberry.field(description="When the deciding event happened.")
    expires: Optional[datetime.datetime] = strawberry.field(description="When the standing or expired grant runs out.")


@strawberry.type(description="Decisions a system takes about people by automated means alone (Art. 15(1)(h), 22).")
class AutomatedDecision:
    system: strawberry.ID
    description: str
    logic: str
    consequences: str


@strawberry.type(description="A flow that carries none of the subject's consent-based data: consent is not given.")
class SuspendedFlow:
    id: strawberry.ID
    purpose: strawberry.ID
    categories: list[strawberry.ID] = strawberry.field(description="The subject's categories it withholds.")
    expired: bool = strawberry.field(description="The consent it rests on was given but has expired.")
    on_behalf_of: Optional[strawberry.ID] = strawberry.field(
        default=None, description="The controller whose processing it would be, on its instructions, as its processor; "
                                  "null for our own.")


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
    as_of: datetime.date
    holdings: list[SubjectHolding]
    recipients: list[Recipient] = strawberry.field(
        description="Recipients the subject's data has reached: through flows of scope ALL and recorded disclosures.")
    potential_recipients: list[Recipient] = strawberry.field(
        description="Recipients reachable only through flows of scope CASE without a disclosure of the subject.")
    disclosures: list[DisclosureRecord]
    suspended_flows: list[SuspendedFlow]
    consents: list[ConsentEvent] = strawberry.field(description="The consent history, oldest first.")
    current_consents: list[ConsentEvent] = strawberry.field(description="The latest event per purpose.")
    consent_states: list[ConsentState] = strawberry.field(
        description="Per purpose, whether consent stands on asOf (the purpose hierarchy and expiry applied).")
    sources: list[DataSource]
    automated_decisions: list[AutomatedDecision]
    legal_bases: list[strawberry.ID]
    rights: list[Right]
    generated_at: datetime.datetime
    processed_for: list[strawberry.ID] = strawberry.field(
        description="The controllers for whom we process some of the subject's data as their processor (the "
                    "holdings and recipients marked onBehalfOf): for that data the request is theirs to answer.")


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


def _day(text: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(text) if text else None


def _moment(text: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(text) if text else None


def to_subject(row) -> DataSubject:
    return DataSubject(
        id=row.id, kind=row.kind,
        records=[SubjectRecord(system=r["system"], categories=r["categories"], source=r.get("source"),
                               since=_day(r.get("since")), until=_day(r.get("until"))) for r in row.records],
        consents=[to_consent(e) for e in row.consents],
        disclosures=[Disclosure(flow=d["flow"], at=_moment(d["at"]), reference=d.get("reference"))
                     for d in row.disclosures])


def to_consent(event: dict) -> ConsentEvent:
    return ConsentEvent(purpose=event["purpose"], status=event["status"], at=_moment(event["at"]),
                        notice=event.get("notice"), channel=event.get("channel"), expires=_moment(event.get("expires")))


def to_recipient(r: domain.Recipient, nodes: Nodes) -> Recipient:
    return Recipient(party=nodes[r.party], flow=r.flow, categories=list(r.categories), purposes=[r.purpose],
                     legal_basis=r.legal_basis, condition=r.condition, agreement=nodes[r.agreement],
                     transfer_mechanism=r.transfer_mechanism, path=list(r.path), case_flows=list(r.case_flows),
                     on_behalf_of=r.on_behalf_of)


@functools.cache
def _right(right: str) -> Right:
    """A right's entry in English (the same for every report, so made once; read, never changed)."""
    _title, reference, text = _ENGLISH.right(right)
    return Right(right=right, reference=reference, text=text)


_ENGLISH = Words(language("en"))


class _Parts:
    """What a GraphQL report's fields are made from (its "document" for `lazy`): the domain
    report and the GraphQL objects of the entities it names, each made once for all its fields."""

    __slots__ = ("report", "nodes", "holders")

    def __init__(self, report: domain.DsarReport):
        self.report = report
        self.nodes, self.holders = Nodes(report.entities), Nodes(report.entities, to_holder)


def _party(node: object) -> Party | None:
    """`node` if it is a party (a recipient), else None (one of our systems, or nothing)."""
    return node if isinstance(node, Party) else None


def _latest(report: domain.DsarReport) -> list[ConsentEvent]:
    latest: dict[str, dict] = {}
    for event in sorted(report.subject.consents, key=lambda e: (e["at"], e["status"])):  # equal times: withdrawn wins
        latest[event["purpose"]] = event
    return [to_consent(e) for _, e in sorted(latest.items())]


def _holdings(parts: _Parts) -> list[SubjectHolding]:
    holders = parts.holders
    return [SubjectHolding(system=holders[h.system], category=h.category, purposes=list(h.purposes),
                           legal_basis=h.legal_basis, condition=h.condition, retention=h.retention,
                           path=list(h.path), source=h.source, retention_from=h.retention_from,
                           retained_until=retention_end(h.retention, h.retention_from, collected=h.collected,
                                                        ended=h.ended) if h.retention else None,
                           on_behalf_of=h.on_behalf_of, consent_lacking=h.consent_lacking)
            for h in parts.report.holdings]


def _automated(report: domain.DsarReport) -> list[AutomatedDecision]:
    return [AutomatedDecision(system=system, **{k: report.entities[system].doc["automated_decisions"][k]
                                                for k in ("description", "logic", "consequences")})
            for system in report.automated_decisions]


_REPORT = lazy(DsarReport, {
    "subject": lambda p: to_subject(p.report.subject),
    "as_of": lambda p: p.report.as_of,
    "holdings": _holdings,
    "recipients": lambda p: [to_recipient(r, p.nodes) for r in p.report.recipients],
    "potential_recipients": lambda p: [to_recipient(r, p.nodes) for r in p.report.potential_recipients],
    "disclosures": lambda p: [DisclosureRecord(flow=d.flow, party=_party(p.nodes[d.receiver]),
                                               receiver=p.nodes[d.receiver], at=d.at, reference=d.reference,
                                               categories=list(d.categories), purpose=d.purpose,
                                               on_behalf_of=d.on_behalf_of)
                              for d in p.report.disclosures],
    "suspended_flows": lambda p: [SuspendedFlow(id=s.flow, purpose=s.purpose, categories=list(s.categories),
                                                expired=s.expired, on_behalf_of=s.on_behalf_of)
                                  for s in p.report.suspended],
    "consents": lambda p: [to_consent(e) for e in p.report.subject.consents],
    "current_consents": lambda p: _latest(p.report),
    "consent_states": lambda p: [ConsentState(purpose=purpose, status=s.status, at=_moment(s.event["at"]),
                                              expires=s.expires) for purpose, s in sorted(p.report.consents.items())],
    "sources": lambda p: [DataSource(party=p.nodes[party], system=system, categories=list(categories))
                          for party, system, categories in p.report.sources],
    "automated_decisions": lambda p: _automated(p.report),
    "legal_bases": lambda p: p.report.legal_bases,
    "processed_for": lambda p: p.report.processed_for,
    "rights": lambda p: [_right(right) for right, _reference in p.report.rights],
    "generated_at": lambda p: datetime.datetime.now(datetime.timezone.utc),
}, eager=("generated_at",))


def to_report(report: domain.DsarReport) -> DsarReport:
    """The GraphQL report: each field is made when first asked for (`registry.api.lazy`), so a
    query that asks for the holdings and recipients does not convert the rest; `generatedAt`
    is the time it was made."""
    return _REPORT(_Parts(report))


@strawberry.enum
class DocumentFormat(Enum):
    HTML = "html"
    MARKDOWN = "markdown"


@strawberry.type(description="What erasing a subject removed from the registry (the audit log keeps the same proof).")
class ErasureDone:
    subject: strawberry.ID
    erased: list[strawberry.ID] = strawberry.field(description="Systems whose records of the subject were removed.")
    kept: list[strawberry.ID] = strawberry.field(description="Systems where data must be kept (Art. 17(3)): their "
                                                             "records stay; empty when the whole subject went.")
    consents: int
    keys: int
    disclosures: int
    audit_documents: int = strawberry.field(
        description="Audit entries about the subject whose documents were erased with it (their seals stay, so the "
                    "log still verifies); 0 when data is kept.")
    audit_documents_kept: int = strawberry.field(
        description="Audit entries about the subject written before audit documents were sealed: their documents "
                    "stay in the hash chain.")
    residue: Optional[str] = strawberry.field(
        description="Where copies of the erased data may still be for a while (the store's logs); null: nowhere "
                    "the store knows of.")


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

    @strawberry.field(description="The DSAR report as the document to send (HTML or Markdown, from the same data), in "
                                  "`lang` (en or de, optionally with a region such as de-AT; default the configured "
                                  "document language). Needs a configured controller. Audited like `dsar`.")
    @domain_errors
    async def dsar_document(self, info: strawberry.Info, subject: Optional[strawberry.ID] = None,
                            email: Optional[str] = None, as_of: Optional[datetime.date] = None,
                            format: DocumentFormat = DocumentFormat.HTML, lang: Optional[str] = None) -> str:
        context = info.context
        settings = context.compliance
        if settings.controller == DEFAULT_CONTROLLER:
            raise InvalidArgument(NO_CONTROLLER)
        language(lang or settings.document_language)
        report = await context.call(context.subjects.report, principal=context.principal, subject=subject,
                                    email=email, as_of=as_of)
        return await context.call(render, report, context.registry.entities, format.value,
                                  controller=settings.controller, lang=lang or settings.document_language,
                                  dpo=settings.dpo, countries=settings.countries)

    @strawberry.field(description="Data subjects by id, a page at a time (`after`: the previous page's endCursor); "
                                  "every page read is audited.")
    @domain_errors
    async def subjects(self, info: strawberry.Info, first: int = 100, after: Optional[str] = None
                       ) -> SubjectConnection:
        context = info.context
        this = paging.list_id("subjects")
        rows, more = await context.call(context.subjects.list, principal=context.principal, limit=first,
                                        after=paging.key_after(after, this) if after is not None else None)
        return SubjectConnection(nodes=[to_subject(row) for row in rows], page_info=PageInfo(
            has_next_page=more, end_cursor=paging.key_cursor(this, rows[-1].id) if rows else None))

    @strawberry.field(description="What to erase where, what to keep and why, and whom to notify.")
    @domain_errors
    async def erasure_plan(self, info: strawberry.Info, subject: strawberry.ID,
                           today: Optional[datetime.date] = None) -> ErasurePlan:
        context = info.context
        plan = await context.call(context.subjects.erasure_plan, principal=context.principal, subject=subject,
                                  today=today)
        entities = plan.report.entities
        nodes = Nodes(entities)
        return ErasurePlan(subject=to_subject(plan.report.subject),
                           erase=[ErasureStep(system=to_holder(entities[s]), categories=list(c)) for s, c in plan.erase],
                           keep=[RetainedData(system=k.system, category=k.category, reason=k.reason, until=k.until)
                                 for k in plan.keep],
                           notify=[to_recipient(r, nodes) for r in plan.notify])


@strawberry.type
class SubjectMutation:
    @strawberry.mutation(description="Record a consent event for a subject and purpose (default time: now); a grant "
                                     "may say when it expires.")
    @domain_errors
    async def set_consent(self, info: strawberry.Info, subject: strawberry.ID, purpose: strawberry.ID,
                          status: ConsentStatus, at: Optional[datetime.datetime] = None,
                          notice: Optional[str] = None, channel: Optional[str] = None,
                          expires: Optional[datetime.datetime] = None) -> DataSubject:
        context = info.context
        return to_subject(await context.call(context.subjects.set_consent, principal=context.principal,
                                             subject=subject, purpose=purpose, status=status.value, at=at,
                                             notice=notice, channel=channel, expires=expires))

    @strawberry.mutation(description="Record a disclosure of a subject's data on a flow of scope CASE (a fraud "
                                     "referral, a large-loss file; default time: now). Audited.")
    @domain_errors
    async def record_disclosure(self, info: strawberry.Info, subject: strawberry.ID, flow: strawberry.ID,
                                at: Optional[datetime.datetime] = None, reference: Optional[str] = None) -> DataSubject:
        context = info.context
        return to_subject(await context.call(context.subjects.disclose, principal=context.principal,
                                             subject=subject, flow=flow, at=at, reference=reference))

    @strawberry.mutation(description="Record that a subject's erasure plan (as of `today`, default today) has been "
                                     "carried out: the subject's records, consents, lookup keys and disclosures go "
                                     "from the registry, and the documents of the audit entries about it (their "
                                     "seals stay), except records where data must be kept (Art. 17(3)). The "
                                     "audit log keeps a proof without personal data.")
    @domain_errors
    async def erase_subject(self, info: strawberry.Info, subject: strawberry.ID,
                            today: Optional[datetime.date] = None) -> ErasureDone:
        context = info.context
        _plan, done = await context.call(context.subjects.erase, principal=context.principal, subject=subject,
                                         today=today)
        return ErasureDone(subject=subject, erased=list(done.systems), kept=list(done.kept), consents=done.consents,
                           keys=done.keys, disclosures=done.disclosures, audit_documents=done.audit_documents,
                           audit_documents_kept=done.audit_documents_kept, residue=done.residue)

    @strawberry.mutation(description="Withdraw a subject's consent for a purpose, now (Art. 7(3)).")
    @domain_errors
    async def withdraw_consent(self, info: strawberry.Info, subject: strawberry.ID, purpose: strawberry.ID,
                               notice: Optional[str] = None, channel: Optional[str] = None) -> DataSubject:
        context = info.context
        return to_subject(await context.call(context.subjects.set_consent, principal=context.principal,
                                             subject=subject, purpose=purpose, status="withdrawn",
                                             notice=notice, channel=channel))
