"""GraphQL input types for the upsert mutations, mirroring the bundle format."""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Any, Optional

import strawberry

from registry import filters
from registry.api.enums import (AgreementKind, AgreementStatus, FlowScope, FlowStatus, LegalBasisKind, PartyKind,
                                PartyRole, Regime, RetentionFrom, TransferMechanism, value_of)


@strawberry.input
class CategoryInput:
    id: strawberry.ID
    name: str
    description: Optional[str] = None
    parent: Optional[strawberry.ID] = None
    special: bool = False
    criminal: bool = False
    npi: bool = False
    health: bool = False


@strawberry.input
class PurposeInput:
    id: strawberry.ID
    name: str
    description: Optional[str] = None
    parent: Optional[strawberry.ID] = None
    insurance_function: bool = False
    consent_validity: Optional[str] = strawberry.field(
        default=None, description="How long a consent to it counts (ISO 8601 duration, e.g. P24M).")


@strawberry.input
class SubjectCategoryInput:
    id: strawberry.ID
    name: str
    description: Optional[str] = None


@strawberry.input
class LegalBasisInput:
    id: strawberry.ID
    name: str
    kind: LegalBasisKind
    reference: str
    description: Optional[str] = None
    consent: bool = False


@strawberry.input
class DeclaredHoldingInput:
    category: strawberry.ID
    purposes: list[strawberry.ID] = strawberry.field(default_factory=list)
    legal_basis: Optional[strawberry.ID] = None
    condition: Optional[strawberry.ID] = None
    additional_bases: list[strawberry.ID] = strawberry.field(default_factory=list)
    retention: Optional[str] = None
    retention_from: RetentionFrom = strawberry.field(default=RetentionFrom.END,
                                                     description="`END` (of the relationship) or `COLLECTION`.")
    subject_categories: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input(description="Decisions taken about people by automated means alone (GDPR Art. 22).")
class AutomatedDecisionsInput:
    description: str
    logic: str
    consequences: str


@strawberry.input
class SystemInput:
    id: strawberry.ID
    name: str
    country: str
    description: Optional[str] = None
    owner: Optional[str] = None
    jurisdictions: Optional[list[Regime]] = strawberry.field(
        default=None, description="The regimes that govern it; by default derived from the country.")
    dpf_certified: bool = False
    dpf_uk_extension: bool = False
    security_measures: Optional[str] = None
    dpia: Optional[str] = None
    lia: Optional[str] = None
    automated_decisions: Optional[AutomatedDecisionsInput] = None
    holds: list[DeclaredHoldingInput] = strawberry.field(default_factory=list)


@strawberry.input
class PartyInput:
    id: strawberry.ID
    name: str
    kind: PartyKind
    country: str
    role: PartyRole
    description: Optional[str] = None
    jurisdictions: Optional[list[Regime]] = strawberry.field(
        default=None, description="The regimes that govern it; by default derived from the country.")
    dpf_certified: bool = False
    dpf_uk_extension: bool = False


@strawberry.input
class AgreementInput:
    id: strawberry.ID
    name: str
    kind: AgreementKind
    parties: list[strawberry.ID]
    effective: datetime.date
    description: Optional[str] = None
    categories: list[strawberry.ID] = strawberry.field(default_factory=list)
    purposes: list[strawberry.ID] = strawberry.field(default_factory=list)
    legal_basis: Optional[strawberry.ID] = None
    condition: Optional[strawberry.ID] = None
    additional_bases: list[strawberry.ID] = strawberry.field(default_factory=list)
    transfer_mechanism: Optional[TransferMechanism] = None
    expires: Optional[datetime.date] = None
    status: AgreementStatus = AgreementStatus.ACTIVE
    document: Optional[str] = None


@strawberry.input
class FlowInput:
    id: strawberry.ID
    name: str
    from_: strawberry.ID = strawberry.field(name="from")
    to: strawberry.ID
    categories: list[strawberry.ID]
    purpose: strawberry.ID
    description: Optional[str] = None
    legal_basis: Optional[strawberry.ID] = None
    condition: Optional[strawberry.ID] = None
    additional_bases: list[strawberry.ID] = strawberry.field(default_factory=list)
    agreement: Optional[strawberry.ID] = None
    transfer_mechanism: Optional[TransferMechanism] = None
    frequency: Optional[str] = None
    status: FlowStatus = FlowStatus.ACTIVE
    since: Optional[datetime.date] = None
    until: Optional[datetime.date] = None
    subject_categories: list[strawberry.ID] = strawberry.field(default_factory=list)
    scope: FlowScope = strawberry.field(default=FlowScope.ALL, description="`ALL` (every subject's data) or `CASE` "
                                                                       "(only where a disclosure is recorded).")
    dpia: Optional[str] = None
    lia: Optional[str] = None


@strawberry.input(description="Which flows or holdings to keep: every criterion given must hold. `partyKind`, "
                              "`country` and `outsideEea` are about the receiving end (a flow's `to`, a holding's "
                              "holder).")
class FlowFilter:
    from_: Optional[strawberry.ID] = strawberry.field(name="from", default=None,
                                                      description="Sent by this system or party.")
    to: Optional[strawberry.ID] = strawberry.field(default=None, description="Received (held) by this system or party.")
    category: Optional[strawberry.ID] = strawberry.field(
        default=None, description="Carrying data of this category (it, an ancestor or a descendant).")
    purpose: Optional[strawberry.ID] = strawberry.field(
        default=None, description="For this purpose or a narrower one.")
    party_kind: Optional[PartyKind] = strawberry.field(default=None,
                                                       description="The receiving end is a party of this kind.")
    country: Optional[str] = strawberry.field(
        default=None, description="The receiving end is in this country (ISO 3166-1 alpha-2).")
    outside_eea: Optional[bool] = strawberry.field(
        default=None, description="true: the receiving end is outside the EEA; false: inside it.")

    def to_domain(self) -> filters.FlowFilter:
        return filters.FlowFilter(sender=self.from_, receiver=self.to, category=self.category, purpose=self.purpose,
                                  party_kind=value_of(self.party_kind), country=self.country,
                                  outside_eea=self.outside_eea)


def to_raw(value: Any) -> Any:
    """An input object as bundle data: bundle field names, unset values left out."""
    if isinstance(value, list):
        return [to_raw(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "__strawberry_definition__"):
        return {("from" if key == "from_" else key): to_raw(item)
                for key, item in vars(value).items() if item is not None}
    return value
