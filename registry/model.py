"""The registry's entities and their validation, in the bundle's field names.

Each entity has a stable string `id` (unique across the whole registry), a `name` and an
optional `description`. Missing legal bases are allowed: the registry records reality, gaps
included. Models are strict about shape (unknown fields, bad enum values, dates, ISO 8601
durations, ISO 3166 country codes) and leave references to `registry.bundle`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

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

    def to_doc(self) -> dict[str, Any]:
        """The stored and exported form: bundle field names, absent values left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class DataCategory(Entity):
    parent: Id | None = None
    special: bool = False
    criminal: bool = False
    npi: bool = False


class Purpose(Entity):
    pass


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
    owner: str | None = None
    country: Country
    holds: list[DeclaredHolding] = Field(default_factory=list)


class Party(Entity):
    kind: Literal["reinsurer", "regulator", "broker", "tpa", "processor", "affiliate", "auditor",
                  "law-enforcement", "other"]
    country: Country
    role: Literal["controller", "processor", "joint-controller"]


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
