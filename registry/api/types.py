"""GraphQL object types of the registry's entities, built from stored documents (answers derived
from them, holdings and lineage, are in `registry.api.answers`).

References between entities (a flow's purpose, a category's parent) resolve through the
per-request `EntityLoader` in the context, so a response fetches each entity at most once.
Kinds, roles and statuses are enums (`registry.api.enums`); the objects keep the stored strings,
which serialise as the enum's values (`reinsurance-treaty` as `REINSURANCE_TREATY`).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Annotated, Any, Optional, Union

import strawberry
from strawberry import Private

from graph.store import Doc, Stored
from registry.api.enums import (AgreementKind, AgreementStatus, FlowScope, FlowStatus, HolderKind, LegalBasisKind,
                                PartyKind, PartyRole, Regime, RetentionFrom, TransferMechanism)
from registry.api.lazy import lazy
from registry.compliance.regimes import jurisdictions


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


def _regimes(info: strawberry.Info, country: str, declared: list[str] | None) -> list[Regime]:
    return list(jurisdictions({"country": country, "jurisdictions": declared}, info.context.compliance.countries))


@strawberry.type(description="A legal basis or condition for processing, with its legal reference.")
class LegalBasis(Node):
    kind: LegalBasisKind
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
    retention_from: RetentionFrom = strawberry.field(
        default="end", description="What retention runs from: `END` (of the relationship: contract ended, claim "
                                   "closed; the default) or `COLLECTION`.")

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

    @strawberry.field(description="The regimes governing it: those set on it, or else its country's.")
    def jurisdictions(self, info: strawberry.Info) -> list[Regime]:
        return _regimes(info, self.country, self.declared_jurisdictions)


@strawberry.type(description="An external party: reinsurer, regulator, broker, TPA, processor, affiliate …")
class Party(Node):
    kind: PartyKind
    country: str
    role: PartyRole
    dpf_certified: bool = strawberry.field(description="Certified under the EU-US Data Privacy Framework.")
    dpf_uk_extension: bool = strawberry.field(description="Also in the UK Extension to the Data Privacy Framework.")
    declared_jurisdictions: Private[Optional[list[str]]]

    @strawberry.field(description="The regimes governing it: those set on it, or else its country's.")
    def jurisdictions(self, info: strawberry.Info) -> list[Regime]:
        return _regimes(info, self.country, self.declared_jurisdictions)


@strawberry.type(description="A data-sharing agreement, processing agreement, treaty or mandate.")
class Agreement(Node):
    kind: AgreementKind
    party_ids: Private[list[str]]
    category_ids: Private[list[str]]
    purpose_ids: Private[list[str]]
    legal_basis_id: Private[Optional[str]]
    condition_id: Private[Optional[str]]
    additional_basis_ids: Private[list[str]]
    transfer_mechanism: Optional[TransferMechanism]
    effective: datetime.date
    expires: Optional[datetime.date] = strawberry.field(description="The last day the agreement is in force.")
    status: AgreementStatus
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


SystemOrParty = Annotated[Union[System, Party], strawberry.union(
    "SystemOrParty", description="A system or a party: ask for its fields with `... on System { owner }`, "
                                 "`... on Party { role }`.")]


@strawberry.type(description="A system or party as an end of flows: what holdings and lineage point at.")
class Holder:
    id: strawberry.ID
    kind: HolderKind
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
    transfer_mechanism: Optional[TransferMechanism]
    frequency: Optional[str]
    status: FlowStatus
    since: Optional[datetime.date] = strawberry.field(description="The first day the flow carries data.")
    until: Optional[datetime.date] = strawberry.field(description="The last day the flow carries data.")
    dpia: Optional[str]
    lia: Optional[str]
    scope: FlowScope = strawberry.field(
        default="all", description="`ALL`: it carries every subject's data its source holds; `CASE`: only the data "
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


def _field(key: str, default=None):
    return lambda doc: doc.get(key, default)


def _list(key: str):
    return lambda doc: doc.get(key, [])


def _day(key: str):
    return lambda doc: _date(doc.get(key))


def _holds(doc: Doc) -> list[DeclaredHolding]:
    return [DeclaredHolding(category_id=h["category"], purpose_ids=h.get("purposes", []),
                            legal_basis_id=h.get("legal_basis"), condition_id=h.get("condition"),
                            additional_basis_ids=h.get("additional_bases", []),
                            subject_category_ids=h.get("subject_categories", []), retention=h.get("retention"),
                            retention_from=h.get("retention_from", "end"))
            for h in doc.get("holds", ())]


def _automated(doc: Doc) -> AutomatedDecisionMaking | None:
    found = doc.get("automated_decisions")
    return AutomatedDecisionMaking(**found) if found else None


_COMMON = {"id": _field("id"), "name": _field("name"), "description": _field("description")}
_ENDS = {"country": _field("country"), "dpf_certified": _field("dpf_certified", False),
         "dpf_uk_extension": _field("dpf_uk_extension", False), "declared_jurisdictions": _field("jurisdictions")}
_TERMS = {"legal_basis_id": _field("legal_basis"), "condition_id": _field("condition"),
          "additional_basis_ids": _list("additional_bases"), "transfer_mechanism": _field("transfer_mechanism")}

_EAGER = ("id", "name")
_STORED = {  # entity type -> how each field of its GraphQL object comes from the stored document
    "category": lazy(DataCategory, {**_COMMON, "parent_id": _field("parent"), "special": _field("special", False),
                                    "criminal": _field("criminal", False), "npi": _field("npi", False),
                                    "health": _field("health", False)}, _EAGER),
    "purpose": lazy(Purpose, {**_COMMON, "parent_id": _field("parent"),
                              "insurance_function": _field("insurance_function", False),
                              "consent_validity": _field("consent_validity")}, _EAGER),
    "subject-category": lazy(SubjectCategory, _COMMON, _EAGER),
    "legal-basis": lazy(LegalBasis, {**_COMMON, "kind": _field("kind"), "reference": _field("reference"),
                                     "consent": _field("consent", False)}, _EAGER),
    "system": lazy(System, {**_COMMON, **_ENDS, "owner": _field("owner"), "security_measures": _field("security_measures"),
                            "dpia": _field("dpia"), "lia": _field("lia"), "holds": _holds,
                            "automated_decisions": _automated}, _EAGER),
    "party": lazy(Party, {**_COMMON, **_ENDS, "kind": _field("kind"), "role": _field("role")}, _EAGER),
    "agreement": lazy(Agreement, {**_COMMON, **_TERMS, "kind": _field("kind"), "party_ids": _field("parties"),
                                  "category_ids": _list("categories"), "purpose_ids": _list("purposes"),
                                  "effective": _day("effective"), "expires": _day("expires"),
                                  "status": _field("status", "active"), "document": _field("document")}, _EAGER),
    "flow": lazy(Flow, {**_COMMON, **_TERMS, "from_id": _field("from"), "to_id": _field("to"),
                        "category_ids": _field("categories"), "purpose_id": _field("purpose"),
                        "agreement_id": _field("agreement"), "subject_category_ids": _list("subject_categories"),
                        "frequency": _field("frequency"), "status": _field("status", "active"),
                        "since": _day("since"), "until": _day("until"), "dpia": _field("dpia"),
                        "lia": _field("lia"), "scope": _field("scope", "all")}, _EAGER),
}


def to_node(stored: Stored | None):
    """The GraphQL object for a stored entity (None for None): its fields are read from the
    document when first asked for (`registry.api.lazy`)."""
    if stored is None:
        return None
    make = _STORED.get(stored.type)
    if make is None:
        raise ValueError(f"unknown entity type {stored.type!r}")
    return make(stored.doc)


def _date(text: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(text) if text else None


def to_holder(stored: Stored) -> Holder:
    return Holder(id=stored.id, kind=stored.type, name=stored.doc["name"], country=stored.doc["country"])


class Nodes(dict):
    """The GraphQL objects of the entities an answer names (`entities`: id -> `Stored`), each made
    once, on first use, by `make` (`to_node`, `to_holder`): `nodes[id]`, None for None or for an id
    `entities` lacks. A system that holds ten of a subject's categories is then one object, which
    the answer completes once."""

    def __init__(self, entities: dict[str, Stored], make: Callable[[Stored], Any] = to_node):
        super().__init__({None: None})
        self.entities, self.make = entities, make

    def __missing__(self, id_: str):
        stored = self.entities.get(id_)
        node = self[id_] = self.make(stored) if stored is not None else None
        return node
