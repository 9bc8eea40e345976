"""GraphQL for data subjects: DSAR reports and documents, erasure plans and erasure, consents,
disclosures and the list of subjects (subject-data permission). Their types: `types`.
"""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Optional

import strawberry

from registry import paging
from registry.api.enums import ConsentStatus
from registry.api.errors import domain_errors
from registry.api.paging import PageInfo
from registry.api.subjects.types import (DataSubject, DsarReport, ErasurePlan, ErasureStep, RetainedData,
                                         SubjectConnection, to_recipient, to_report, to_subject)
from registry.api.types import Nodes, to_holder
from registry.compliance.settings import DEFAULT_CONTROLLER
from registry.errors import InvalidArgument
from registry.subjects.language import language
from registry.subjects.render import NO_CONTROLLER, render


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
