"""GraphQL input types for the upsert mutations, mirroring the bundle format."""

from __future__ import annotations

import datetime
from typing import Any, Optional

import strawberry


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
    kind: str
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
    retention_from: str = strawberry.field(default="end", description="`end` (of the relationship) or `collection`.")
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
    jurisdictions: Optional[list[str]] = strawberry.field(
        default=None, description="`gdpr`, `uk-gdpr`, `glba`, `naic`; by default derived from the country.")
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
    kind: str
    country: str
    role: str
    description: Optional[str] = None
    jurisdictions: Optional[list[str]] = strawberry.field(
        default=None, description="`gdpr`, `uk-gdpr`, `glba`, `naic`; by default derived from the country.")
    dpf_certified: bool = False
    dpf_uk_extension: bool = False


@strawberry.input
class AgreementInput:
    id: strawberry.ID
    name: str
    kind: str
    parties: list[strawberry.ID]
    effective: datetime.date
    description: Optional[str] = None
    categories: list[strawberry.ID] = strawberry.field(default_factory=list)
    purposes: list[strawberry.ID] = strawberry.field(default_factory=list)
    legal_basis: Optional[strawberry.ID] = None
    condition: Optional[strawberry.ID] = None
    additional_bases: list[strawberry.ID] = strawberry.field(default_factory=list)
    transfer_mechanism: Optional[str] = None
    expires: Optional[datetime.date] = None
    status: str = "active"
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
    transfer_mechanism: Optional[str] = None
    frequency: Optional[str] = None
    status: str = "active"
    since: Optional[datetime.date] = None
    until: Optional[datetime.date] = None
    subject_categories: list[strawberry.ID] = strawberry.field(default_factory=list)
    scope: str = strawberry.field(default="all", description="`all` (every subject's data) or `case` (only where a "
                                                             "disclosure is recorded).")
    dpia: Optional[str] = None
    lia: Optional[str] = None


def to_raw(value: Any) -> Any:
    """An input object as bundle data: bundle field names, unset values left out."""
    if isinstance(value, list):
        return [to_raw(item) for item in value]
    if hasattr(value, "__strawberry_definition__"):
        return {("from" if key == "from_" else key): to_raw(item)
                for key, item in vars(value).items() if item is not None}
    return value
