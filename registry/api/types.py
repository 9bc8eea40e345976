"""GraphQL object types, built from stored documents.

References between entities (a flow's purpose, a category's parent) resolve through the
per-request `EntityLoader` in the context, so a response fetches each entity at most once.
Kinds that contain hyphens (`reinsurance-treaty`, `legal-basis`) are strings, as in bundles.
"""

from __future__ import annotations

import datetime
from enum import Enum
from typing import TYPE_CHECKING, Optional

import strawberry
from strawberry import Private

from graph.store import Doc, Lineage, Stored
from registry.compliance.regimes import jurisdictions

if TYPE_CHECKING:
    from registry.service import HoldingView


async def load(info: strawberry.Info, id_: str | None):
    """The GraphQL object for entity `id_`, through the request's batching loader."""
    return to_node(await info.context.entities.load(id_)) if id_ else None


async def load_many(info: strawberry.Info, ids: list[str]) -> list:
    return [to_node(stored) for stored in await info.context.entities.load_many(ids)]


@strawberry.interface(description="Any registry entity, looked up by its id with `node(id:)`.")
class Node:
    id: strawberry.ID
    name: str
    description: Optional[str]


@strawberry.type(description="A data category; a holding or flow of a category covers all its descendants.")
class DataCategory(Node):
    special: bool = strawberry.field(description="GDPR Art. 9 special category data.")
    criminal: bool = strawberry.field(description="GDPR Art. 10 criminal offence data.")
    npi: bool = strawberry.field(description="GLBA nonpublic personal information.")
    health: bool = strawberry.field(description="Health information (NAIC #672 Art. V); descendants inherit it.")
    parent_id: Private[Optional[str]]

    @strawberry.field
    async def parent(self, info: strawberry.Info) -> Optional[DataCategory]:
        return await load(info, self.parent_id)


@strawberry.type(description="A purpose; an agreement or scope that names it covers its descendants.")
class Purpose(Node):
    insurance_function: bool = strawberry.field(
        description="An insurance function (claims, underwriting, reinsurance …): NAIC Model #672 lets health "
                    "information be disclosed for it without the consumer's authorisation.")
    parent_id: Private[Optional[str]]
    consent_validity: Optional[str] = strawberry.field(
        default=None, description="How long a consent to it counts, from when it was given (ISO 8601, e.g. P24M); "
                                  "inherited by narrower purposes that set none.")

    @strawberry.field(description="The broader purpose this one refines.")
    async def parent(self, info: strawberry.Info) -> Optional[Purpose]:
        return await load(info, self.parent_id)


@strawberry.type(description="A category of data subjects: policyholders, claimants, beneficiaries, prospects …")
class SubjectCategory(Node):
    pass


@strawberry.enum(description="Where a holding's term comes from.")
class TermSource(Enum):
    DECLARATION = "declaration"
    FLOW = "flow"
    AGREEMENT = "agreement"


def _regimes(info: strawberry.Info, country: str, declared: list[str] | None) -> list[str]:
    return list(jurisdictions({"country": country, "jurisdictions": declared}, info.context.compliance.countries))


@strawberry.type(description="A legal basis or condition for processing, with its legal reference.")
class LegalBasis(Node):
    kind: str = strawberry.field(description="`lawful-basis`, `special-condition` or `glba`.")
    reference: str
    consent: bool = strawberry.field(description="Whether the basis rests on the data subject's consent.")


@strawberry.type(description="A category a system declares it holds.")
class DeclaredHolding:
    category_id: Private[str]
    purpose_ids: Private[list[str]]
    legal_basis_id: Private[Optional[str]]
    condition_id: Private[Optional[str]]
    additional_basis_ids: Private[list[str]]
    subject_category_ids: Private[list[str]]
    retention: Optional[str] = strawberry.field(description="ISO 8601 duration, e.g. P10Y.")
    retention_from: str = strawberry.field(
        default="end", description="What retention runs from: `end` (of the relationship: contract ended, claim "
                                   "closed; the default) or `collection`.")

    @strawberry.field
    async def category(self, info: strawberry.Info) -> DataCategory:
        return await load(info, self.category_id)

    @strawberry.field(description="Bases other regimes need (a GLBA exception, the NAIC authorisation).")
    async def additional_bases(self, info: strawberry.Info) -> list[LegalBasis]:
        return await load_many(info, self.additional_basis_ids)

    @strawberry.field(description="Whose data it is.")
    async def subject_categories(self, info: strawberry.Info) -> list[SubjectCategory]:
        return await load_many(info, self.subject_category_ids)

    @strawberry.field
    async def purposes(self, info: strawberry.Info) -> list[Purpose]:
        return await load_many(info, self.purpose_ids)

    @strawberry.field
    async def legal_basis(self, info: strawberry.Info) -> Optional[LegalBasis]:
        return await load(info, self.legal_basis_id)

    @strawberry.field
    async def condition(self, info: strawberry.Info) -> Optional[LegalBasis]:
        return await load(info, self.condition_id)


@strawberry.type(description="Decisions a system takes about people by automated means alone (GDPR Art. 22), as "
                             "a DSAR report explains them (Art. 15(1)(h)).")
class AutomatedDecisionMaking:
    description: str = strawberry.field(description="What is decided.")
    logic: str = strawberry.field(description="Meaningful information about the logic involved.")
    consequences: str = strawberry.field(description="The significance and envisaged consequences for the person.")


@strawberry.type(description="An internal system of the insurer.")
class System(Node):
    owner: Optional[str]
    country: str
    dpf_certified: bool = strawberry.field(description="Run by a US organisation certified under the EU-US Data "
                                                       "Privacy Framework.")
    dpf_uk_extension: bool = strawberry.field(description="Also in the UK Extension to the Data Privacy Framework.")
    security_measures: Optional[str] = strawberry.field(description="Technical and organisational security "
                                                                    "measures (Art. 30(1)(g)).")
    dpia: Optional[str] = strawberry.field(description="The data protection impact assessment (id or URL).")
    lia: Optional[str] = strawberry.field(description="The legitimate interests assessment (id or URL).")
    holds: list[DeclaredHolding]
    declared_jurisdictions: Private[Optional[list[str]]]
    automated_decisions: Optional[AutomatedDecisionMaking] = None

    @strawberry.field(description="The regimes governing it (`gdpr`, `uk-gdpr`, `glba`, `naic`): those set on it, "
                                  "or else its country's.")
    def jurisdictions(self, info: strawberry.Info) -> list[str]:
        return _regimes(info, self.country, self.declared_jurisdictions)


@strawberry.type(description="An external party: reinsurer, regulator, broker, TPA, processor, affiliate …")
class Party(Node):
    kind: str
    country: str
    role: str
    dpf_certified: bool = strawberry.field(description="Certified under the EU-US Data Privacy Framework.")
    dpf_uk_extension: bool = strawberry.field(description="Also in the UK Extension to the Data Privacy Framework.")
    declared_jurisdictions: Private[Optional[list[str]]]

    @strawberry.field(description="The regimes governing it (`gdpr`, `uk-gdpr`, `glba`, `naic`): those set on it, "
                                  "or else its country's.")
    def jurisdictions(self, info: strawberry.Info) -> list[str]:
        return _regimes(info, self.country, self.declared_jurisdictions)


@strawberry.type(description="A data-sharing agreement, processing agreement, treaty or mandate.")
class Agreement(Node):
    kind: str
    party_ids: Private[list[str]]
    category_ids: Private[list[str]]
    purpose_ids: Private[list[str]]
    legal_basis_id: Private[Optional[str]]
    condition_id: Private[Optional[str]]
    additional_basis_ids: Private[list[str]]
    transfer_mechanism: Optional[str]
    effective: datetime.date
    expires: Optional[datetime.date] = strawberry.field(description="The last day the agreement is in force.")
    status: str
    document: Optional[str]

    @strawberry.field(description="Whether `expires` has passed (today, UTC).")
    def expired(self) -> bool:
        return self.expires is not None and datetime.datetime.now(datetime.timezone.utc).date() > self.expires

    @strawberry.field
    async def parties(self, info: strawberry.Info) -> list[Party]:
        return await load_many(info, self.party_ids)

    @strawberry.field
    async def categories(self, info: strawberry.Info) -> list[DataCategory]:
        return await load_many(info, self.category_ids)

    @strawberry.field
    async def purposes(self, info: strawberry.Info) -> list[Purpose]:
        return await load_many(info, self.purpose_ids)

    @strawberry.field
    async def legal_basis(self, info: strawberry.Info) -> Optional[LegalBasis]:
        return await load(info, self.legal_basis_id)

    @strawberry.field
    async def condition(self, info: strawberry.Info) -> Optional[LegalBasis]:
        return await load(info, self.condition_id)

    @strawberry.field
    async def additional_bases(self, info: strawberry.Info) -> list[LegalBasis]:
        return await load_many(info, self.additional_basis_ids)


@strawberry.type(description="A system or party as an end of flows: what holdings and lineage point at.")
class Holder:
    id: strawberry.ID
    kind: str = strawberry.field(description="`system` or `party`.")
    name: str
    country: str


@strawberry.type(description="One lineage edge: data moving from one system or party to another.")
class Flow(Node):
    from_id: Private[str]
    to_id: Private[str]
    category_ids: Private[list[str]]
    purpose_id: Private[str]
    legal_basis_id: Private[Optional[str]]
    condition_id: Private[Optional[str]]
    agreement_id: Private[Optional[str]]
    additional_basis_ids: Private[list[str]]
    subject_category_ids: Private[list[str]]
    transfer_mechanism: Optional[str]
    frequency: Optional[str]
    status: str = strawberry.field(description="`proposed` (planned, carries no data), `active`, `suspended` or "
                                               "`ended`.")
    since: Optional[datetime.date] = strawberry.field(description="The first day the flow carries data.")
    until: Optional[datetime.date] = strawberry.field(description="The last day the flow carries data.")
    dpia: Optional[str]
    lia: Optional[str]
    scope: str = strawberry.field(
        default="all", description="`all`: it carries every subject's data its source holds; `case`: only the data "
                                   "of subjects for whom a disclosure on it is recorded (a fraud referral).")

    @strawberry.field
    async def additional_bases(self, info: strawberry.Info) -> list[LegalBasis]:
        return await load_many(info, self.additional_basis_ids)

    @strawberry.field(description="Whose data it carries (none listed: every subject's).")
    async def subject_categories(self, info: strawberry.Info) -> list[SubjectCategory]:
        return await load_many(info, self.subject_category_ids)

    @strawberry.field(name="from")
    async def from_(self, info: strawberry.Info) -> Holder:
        return to_holder(await info.context.entities.load(self.from_id))

    @strawberry.field
    async def to(self, info: strawberry.Info) -> Holder:
        return to_holder(await info.context.entities.load(self.to_id))

    @strawberry.field
    async def categories(self, info: strawberry.Info) -> list[DataCategory]:
        return await load_many(info, self.category_ids)

    @strawberry.field
    async def purpose(self, info: strawberry.Info) -> Purpose:
        return await load(info, self.purpose_id)

    @strawberry.field
    async def legal_basis(self, info: strawberry.Info) -> Optional[LegalBasis]:
        return await load(info, self.legal_basis_id)

    @strawberry.field
    async def condition(self, info: strawberry.Info) -> Optional[LegalBasis]:
        return await load(info, self.condition_id)

    @strawberry.field
    async def agreement(self, info: strawberry.Info) -> Optional[Agreement]:
        return await load(info, self.agreement_id)


@strawberry.type(description="Why a holder holds a category: its own declaration, or an incoming flow in force. "
                              "The terms are the effective ones (the flow's, else its agreement's), each with "
                              "its source.")
class Holding:
    holder: Holder
    category: DataCategory = strawberry.field(description="The category actually declared or carried.")
    declared: bool
    flow: Optional[Flow] = strawberry.field(description="The incoming flow; null for a declaration.")
    purposes: list[Purpose]
    legal_basis: Optional[LegalBasis]
    legal_basis_source: Optional[TermSource]
    condition: Optional[LegalBasis] = strawberry.field(description="The Art. 9(2) / Art. 10 condition.")
    condition_source: Optional[TermSource]
    additional_bases: list[LegalBasis] = strawberry.field(
        description="Bases other regimes need (a GLBA exception, the NAIC authorisation).")
    additional_bases_source: Optional[TermSource]
    transfer_mechanism: Optional[str] = strawberry.field(description="`adequacy`, `scc`, `bcr` or `derogation`.")
    transfer_mechanism_source: Optional[TermSource]
    agreement: Optional[Agreement] = strawberry.field(description="The agreement the incoming flow relies on.")
    retention: Optional[str] = strawberry.field(description="ISO 8601 retention period of a declaration.")
    subject_categories: list[SubjectCategory] = strawberry.field(description="Whose data it is.")
    path: list[strawberry.ID] = strawberry.field(
        description="Flow ids of one shortest chain carrying the data from its origin, ending with `flow`.")


@strawberry.type
class LineageEdge:
    id: strawberry.ID
    from_: strawberry.ID = strawberry.field(name="from")
    to: strawberry.ID
    categories: list[strawberry.ID]
    purpose: strawberry.ID
    legal_basis: Optional[strawberry.ID]
    condition: Optional[strawberry.ID]
    agreement: Optional[strawberry.ID]
    status: str = strawberry.field(description="`active`, or `proposed` for a planned flow (`includeProposed`).")
    proposed: bool


@strawberry.type(description="A system or party in a lineage, with its distance from the start.")
class LineageNode(Holder):
    distance: int = strawberry.field(description="The fewest flows between the start and this node (0: the start).")


@strawberry.type(description="Nodes and edges reached from a system or party: the shape a visualisation draws.")
class LineageGraph:
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    truncated: bool = strawberry.field(description="The depth bound (or the 64-flow cap) cut the answer: flows go "
                                                   "on beyond its farthest nodes.")


@strawberry.type(description="What a change did.")
class ChangeSummary:
    created: int
    updated: int
    deleted: int
    unchanged: int


def to_node(stored: Stored | None):
    """The GraphQL object for a stored entity (None for None)."""
    if stored is None:
        return None
    doc, common = stored.doc, dict(id=stored.doc["id"], name=stored.doc["name"],
                                   description=stored.doc.get("description"))
    match stored.type:
        case "category":
            return DataCategory(**common, special=doc.get("special", False), criminal=doc.get("criminal", False),
                                npi=doc.get("npi", False), health=doc.get("health", False), parent_id=doc.get("parent"))
        case "purpose":
            return Purpose(**common, insurance_function=doc.get("insurance_function", False),
                           parent_id=doc.get("parent"), consent_validity=doc.get("consent_validity"))
        case "subject-category":
            return SubjectCategory(**common)
        case "legal-basis":
            return LegalBasis(**common, kind=doc["kind"], reference=doc["reference"], consent=doc.get("consent", False))
        case "system":
            return System(**common, owner=doc.get("owner"), country=doc["country"],
                          dpf_certified=doc.get("dpf_certified", False),
                          dpf_uk_extension=doc.get("dpf_uk_extension", False),
                          security_measures=doc.get("security_measures"), dpia=doc.get("dpia"), lia=doc.get("lia"),
                          declared_jurisdictions=doc.get("jurisdictions"),
                          automated_decisions=AutomatedDecisionMaking(**doc["automated_decisions"])
                          if doc.get("automated_decisions") else None, holds=[
                DeclaredHolding(category_id=h["category"], purpose_ids=h.get("purposes", []),
                                legal_basis_id=h.get("legal_basis"), condition_id=h.get("condition"),
                                additional_basis_ids=h.get("additional_bases", []),
                                subject_category_ids=h.get("subject_categories", []),
                                retention=h.get("retention"), retention_from=h.get("retention_from", "end"))
                for h in doc.get("holds", ())])
        case "party":
            return Party(**common, kind=doc["kind"], country=doc["country"], role=doc["role"],
                         dpf_certified=doc.get("dpf_certified", False),
                         dpf_uk_extension=doc.get("dpf_uk_extension", False),
                         declared_jurisdictions=doc.get("jurisdictions"))
        case "agreement":
            return Agreement(**common, kind=doc["kind"], party_ids=doc["parties"], category_ids=doc.get("categories", []),
                             purpose_ids=doc.get("purposes", []), legal_basis_id=doc.get("legal_basis"),
                             condition_id=doc.get("condition"), additional_basis_ids=doc.get("additional_bases", []),
                             transfer_mechanism=doc.get("transfer_mechanism"),
                             effective=datetime.date.fromisoformat(doc["effective"]), expires=_date(doc.get("expires")),
                             status=doc["status"], document=doc.get("document"))
        case "flow":
            return Flow(**common, from_id=doc["from"], to_id=doc["to"], category_ids=doc["categories"],
                        purpose_id=doc["purpose"], legal_basis_id=doc.get("legal_basis"),
                        condition_id=doc.get("condition"), agreement_id=doc.get("agreement"),
                        additional_basis_ids=doc.get("additional_bases", []),
                        subject_category_ids=doc.get("subject_categories", []),
                        transfer_mechanism=doc.get("transfer_mechanism"), frequency=doc.get("frequency"),
                        status=doc.get("status", "active"), since=_date(doc.get("since")),
                        until=_date(doc.get("until")), dpia=doc.get("dpia"), lia=doc.get("lia"),
                        scope=doc.get("scope", "all"))
    raise ValueError(f"unknown entity type {stored.type!r}")


def _date(text: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(text) if text else None


def to_holder(stored: Stored) -> Holder:
    return Holder(id=stored.id, kind=stored.type, name=stored.doc["name"], country=stored.doc["country"])


def _source(value: str | None) -> TermSource | None:
    return TermSource(value) if value else None


def to_holding(view: HoldingView) -> Holding:
    """Built whole: plain attributes resolve faster than per-field methods."""
    h = view.holding
    return Holding(holder=to_holder(view.entity(h.holder)), category=to_node(view.entity(h.category)),
                   declared=h.declared, flow=to_node(view.entity(h.flow)),
                   purposes=[to_node(view.entity(p)) for p in h.purposes],
                   legal_basis=to_node(view.entity(h.legal_basis)), legal_basis_source=_source(h.legal_basis_source),
                   condition=to_node(view.entity(h.condition)), condition_source=_source(h.condition_source),
                   additional_bases=[to_node(view.entity(b)) for b in h.additional_bases],
                   additional_bases_source=_source(h.additional_bases_source),
                   transfer_mechanism=h.transfer_mechanism,
                   transfer_mechanism_source=_source(h.transfer_mechanism_source),
                   agreement=to_node(view.entity(h.agreement)), retention=h.retention,
                   subject_categories=[to_node(view.entity(s)) for s in h.subject_categories], path=list(h.path))


def to_lineage(lineage: Lineage) -> LineageGraph:
    return LineageGraph(
        nodes=[LineageNode(id=node.id, kind=node.type, name=node.doc["name"], country=node.doc["country"],
                           distance=lineage.distances[node.id]) for node in lineage.nodes],
        edges=[to_edge(doc) for doc in lineage.edges], truncated=lineage.truncated)


def to_edge(doc: Doc) -> LineageEdge:
    status = doc.get("status", "active")
    return LineageEdge(id=doc["id"], from_=doc["from"], to=doc["to"], categories=doc["categories"],
                       purpose=doc["purpose"], legal_basis=doc.get("legal_basis"), condition=doc.get("condition"),
                       agreement=doc.get("agreement"), status=status, proposed=status == "proposed")
