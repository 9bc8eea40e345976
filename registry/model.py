"""The registry's entities and their validation, in the bundle's field names.

Each entity has a stable string `id` (unique across the whole registry), a `name` and an
optional `description`. Missing legal bases are allowed: the registry records reality, gaps
included. Models are strict about shape (unknown fields, bad enum values, dates, ISO 8601
durations, ISO 3166 country codes) and leave references to `registry.bundle`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar, Literal

import isodate
import pycountry
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

Id = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


def _country(code: str) -> str:
    if pycountry.countries.get(alpha_2=code) is None or code != code.upper():
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _duration(text: str) -> str:
    try:
        isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as P10Y or P6M") from None
    return text


Country = Annotated[str, AfterValidator(_country)]
Duration = Annotated[str, AfterValidator(_duration)]
TransferMechanism = Literal["adequacy", "scc", "bcr", "derogation"]


class Entity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: Id
    name: Text
    description: str | None = None

    sparse: ClassVar[frozenset[str]] = frozenset()
    """Flags stored only when true, so documents written before the flag existed stay unchanged."""

    def to_doc(self) -> dict[str, Any]:
        """The stored and exported form: bundle field names, absent values (and false sparse flags) left out."""
        doc = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        for flag in self.sparse:
            if doc.get(flag) is False:
                del doc[flag]
        return doc


class DataCategory(Entity):
    parent: Id | None = None
    special: bool = False
    criminal: bool = False
    npi: bool = False


class Purpose(Entity):
    sparse = frozenset({"insurance_function"})

    insurance_function: bool = False
    """An insurance function (claims, underwriting, reinsurance, fraud prevention, regulatory
    reporting …) for which NAIC Model #672 lets health information be disclosed without authorisation."""


class LegalBasis(Entity):
    kind: Literal["lawful-basis", "special-condition", "glba"]
    reference: Text
    consent: bool = False


class DeclaredHolding(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    category: Id
    purposes: list[Id] = Field(default_factory=list)
    legal_basis: Id | None = None
    condition: Id | None = None
    retention: Duration | None = None


class System(Entity):
    sparse = frozenset({"dpf_certified"})

    owner: str | None = None
    country: Country
    dpf_certified: bool = False
    """Run by a US organisation certified under the EU-US Data Privacy Framework."""
    security_measures: str | None = None
    """The technical and organisational security measures, for the Art. 30 record."""
    holds: list[DeclaredHolding] = Field(default_factory=list)


class Party(Entity):
    sparse = frozenset({"dpf_certified"})

    kind: Literal["reinsurer", "regulator", "broker", "tpa", "processor", "affiliate", "auditor",
                  "law-enforcement", "other"]
    country: Country
    role: Literal["controller", "processor", "joint-controller"]
    dpf_certified: bool = False
    """Certified under the EU-US Data Privacy Framework (counts as adequate for a US recipient)."""


class Agreement(Entity):
    kind: Literal["dsa", "dpa", "reinsurance-treaty", "regulatory", "joint-controller", "other"]
    parties: list[Id] = Field(min_length=1)
    categories: list[Id] = Field(default_factory=list)
    purposes: list[Id] = Field(default_factory=list)
    legal_basis: Id | None = None
    condition: Id | None = None
    transfer_mechanism: TransferMechanism | None = None
    effective: date
    expires: date | None = None
    status: Literal["draft", "active", "terminated"] = "active"
    document: str | None = None

    def expired(self, on: date) -> bool:
        return self.expires is not None and on > self.expires


class Flow(Entity):
    source: Id = Field(alias="from")
    target: Id = Field(alias="to")
    categories: list[Id] = Field(min_length=1)
    purpose: Id
    legal_basis: Id | None = None
    condition: Id | None = None
    agreement: Id | None = None
    transfer_mechanism: TransferMechanism | None = None
    frequency: str | None = None


MODELS: dict[str, type[Entity]] = {
    "category": DataCategory,
    "purpose": Purpose,
    "legal-basis": LegalBasis,
    "system": System,
    "party": Party,
    "agreement": Agreement,
    "flow": Flow,
}
"""Entity type -> model, in dependency order."""

SECTIONS: dict[str, str] = {
    "categories": "category",
    "purposes": "purpose",
    "legal_bases": "legal-basis",
    "systems": "system",
    "parties": "party",
    "agreements": "agreement",
    "flows": "flow",
}
"""Bundle section -> entity type."""
