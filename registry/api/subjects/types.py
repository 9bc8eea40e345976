"""GraphQL types of data subjects, their DSAR reports and erasure plans, and their making from
the domain's answers (`registry.subjects.dsar`, `registry.subjects.erasure`); the fields that
ask for them are `registry.api.subjects`.

Reports are flat (ids, not nested objects, where the issue's shape asks for them) so that a
DSAR portal gets its answer in milliseconds; names come with `node(id:)` or the HTML rendering.
"""

from __future__ import annotations

import datetime
import functools
from typing import Optional

import strawberry

from registry.api.enums import ConsentState as ConsentStanding
from registry.api.enums import ConsentLack, ConsentStatus, RetentionFrom, TransferMechanism
from registry.api.lazy import lazy
from registry.api.paging import PageInfo
from registry.api.types import Agreement, Holder, Nodes, Party, SystemOrParty, to_holder
from registry.subjects import dsar as domain
from registry.subjects.erasure import retention_end
from registry.subjects.language import language
from registry.subjects.words import Words


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
