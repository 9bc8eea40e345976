"""The registry's entities and their validation, in the bundle's field names.

Each entity has a stable string `id` (unique across the whole registry), a `name` and an
optional `description`. Missing legal bases are allowed: the registry records reality, gaps
included. Models are strict about shape (unknown fields, bad enum values, dates, ISO 8601
durations, ISO 3166 country codes), sizes and ranges (`registry.bounds`: printable ids, text
lengths, dates, retention periods) and leave references to `registry.bundle`.
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Annotated, Any, ClassVar, Literal

import pycountry
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from registry import bounds

Id = Annotated[str, StringConstraints(min_length=1, max_length=bounds.MAX_ID), AfterValidator(bounds.printable)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=bounds.MAX_NAME, strip_whitespace=True)]
"""A name: at most `bounds.MAX_NAME` characters."""
LongText = Annotated[str, StringConstraints(max_length=bounds.MAX_TEXT)]
"""A description, a notice, security measures: at most `bounds.MAX_TEXT` characters."""
Day = Annotated[date, AfterValidator(bounds.day)]
"""A date between `bounds.EARLIEST` and `bounds.LATEST`."""


def _country(code: str) -> str:
    if pycountry.countries.get(alpha_2=code) is None or code != code.upper():
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


Country = Annotated[str, AfterValidator(_country)]
Duration = Annotated[str, AfterValidator(bounds.duration)]
"""An ISO 8601 duration from zero to `bounds.MAX_RETENTION_YEARS` years."""
TransferMechanism = Literal["adequacy", "scc", "bcr", "derogation"]
Regime = Literal["gdpr", "uk-gdpr", "glba", "naic"]
"""The privacy regimes the registry knows: the EU GDPR, the UK GDPR, GLBA Title V and the NAIC
#672 regulation (the states' rules for insurers, health information included)."""
FlowStatus = Literal["proposed", "active", "suspended", "ended"]
FlowScope = Literal["all", "case"]
RetentionFrom = Literal["collection", "end"]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=2048, strip_whitespace=True)]
"""A reference to a document: free text (an internal id) or a URL."""


class Entity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: Id
    name: Text
    description: LongText | None = None

    sparse: ClassVar[frozenset[str]] = frozenset()
    """Fields stored only when they differ from their default (a false flag, an empty list, a
    flow's `active` status), so documents written before the field existed stay unchanged."""

    def to_doc(self) -> dict[str, Any]:
        """The stored and exported form: bundle field names, absent values (and sparse fields at
        their default) left out."""
        doc = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        _drop_defaults(doc, self, self.sparse)
        return doc


def _drop_defaults(doc: dict[str, Any], model: BaseModel, sparse: frozenset[str]) -> None:
    for key, default in _defaults(type(model), sparse):
        if key in doc and doc[key] == default:
            del doc[key]


@functools.cache
def _defaults(cls: type[BaseModel], sparse: frozenset[str]) -> tuple[tuple[str, Any], ...]:
    """(stored key, default value) of each sparse field, worked out once per model."""
    return tuple((cls.model_fields[name].alias or name, cls.model_fields[name].get_default(call_default_factory=True))
                 for name in sorted(sparse))


class DataCategory(Entity):
    sparse = frozenset({"health"})

    parent: Id | None = None
    special: bool = False
    """GDPR Art. 9 special category (health, genetic, biometric … data)."""
    criminal: bool = False
    npi: bool = False
    health: bool = False
    """Health information (NAIC #672 Art. V and any health-specific rule); descendants inherit it.
    Not every special category is health information (a voiceprint is biometric)."""


class Purpose(Entity):
    sparse = frozenset({"insurance_function"})

    parent: Id | None = None
    """The broader purpose this one refines (`marketing` for `marketing.advertising`): an agreement
    or scope that names a purpose covers its descendants, and so does a data subject's consent.
    Parent cycles are refused."""
    insurance_function: bool = False
    """An insurance function (claims, underwriting, reinsurance, fraud prevention, regulatory
    reporting …) for which NAIC Model #672 lets health information be disclosed without authorisation."""
    consent_validity: Annotated[str, AfterValidator(bounds.validity)] | None = None
    """How long a consent to this purpose counts, from when it was given (ISO 8601, e.g. `P24M`: a
    NAIC #672 authorisation is valid for at most 24 months); a consent event's own `expires`, when
    earlier, ends it sooner."""


class SubjectCategory(Entity):
    """A category of data subjects (policyholders, claimants, beneficiaries, prospects, employees
    …): named on declared holdings and flows, used per activity by the Art. 30 record, and the
    `kind` of a data subject."""


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
    additional_bases: list[Id] = Field(default_factory=list)
    """Bases other regimes need beside `legal_basis` and `condition`: a GLBA exception, the NAIC
    #672 authorisation, a national condition."""
    retention: Duration | None = None
    retention_from: RetentionFrom = "end"
    """The event `retention` runs from: `end` (the default, the safe choice), the end of the
    relationship (a subject record's `until`: contract ended, claim closed), or `collection`, when
    the data was collected (the record's `since`)."""
    subject_categories: list[Id] = Field(default_factory=list)
    """Whose data it is: ids of subject categories."""


_ENDS_SPARSE = frozenset({"dpf_certified", "dpf_uk_extension"})


class AutomatedDecisions(BaseModel):
    """Decision-making based solely on automated processing, profiling included (GDPR Art. 22(1)),
    as Art. 15(1)(h) asks it to be explained to the people concerned."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: Text
    """What is decided, e.g. "Term life applications up to EUR 250,000 are accepted or declined"."""
    logic: Text
    """Meaningful information about the logic involved."""
    consequences: Text
    """The significance and the envisaged consequences for the person."""


class System(Entity):
    sparse = _ENDS_SPARSE

    owner: LongText | None = None
    country: Country
    jurisdictions: list[Regime] | None = None
    """The regimes that govern it; by default derived from `country` (EEA: gdpr, GB: uk-gdpr, US:
    glba and naic). Set it to add one, e.g. gdpr for a US portal offering policies to EU
    residents (GDPR Art. 3(2))."""
    dpf_certified: bool = False
    """Run by a US organisation certified under the EU-US Data Privacy Framework."""
    dpf_uk_extension: bool = False
    """Run by a US organisation that also joined the UK Extension to the Data Privacy Framework."""
    security_measures: LongText | None = None
    """The technical and organisational security measures, for the Art. 30 record."""
    dpia: Reference | None = None
    """The data protection impact assessment (GDPR Art. 35): an id or a URL."""
    lia: Reference | None = None
    """The legitimate interests assessment (GDPR Art. 6(1)(f)): an id or a URL."""
    automated_decisions: AutomatedDecisions | None = None
    """Decisions it takes about people by automated means alone (GDPR Art. 22), which a DSAR
    report must describe (Art. 15(1)(h))."""
    holds: list[DeclaredHolding] = Field(default_factory=list)

    def to_doc(self) -> dict[str, Any]:
        doc = super().to_doc()
        for held, model in zip(doc.get("holds", ()), self.holds):
            _drop_defaults(held, model, _HOLDS_SPARSE)
        return doc


_HOLDS_SPARSE = frozenset({"additional_bases", "subject_categories", "retention_from"})


class Party(Entity):
    sparse = _ENDS_SPARSE

    kind: Literal["reinsurer", "regulator", "broker", "tpa", "processor", "affiliate", "auditor",
                  "law-enforcement", "other"]
    country: Country
    role: Literal["controller", "processor", "joint-controller"]
    jurisdictions: list[Regime] | None = None
    """The regimes that govern it; by default derived from `country` (see `System.jurisdictions`)."""
    dpf_certified: bool = False
    """Certified under the EU-US Data Privacy Framework (counts as adequate for a US recipient)."""
    dpf_uk_extension: bool = False
    """Also joined the UK Extension to the Data Privacy Framework (adequate under UK GDPR)."""


class Agreement(Entity):
    sparse = frozenset({"additional_bases"})

    kind: Literal["dsa", "dpa", "reinsurance-treaty", "regulatory", "joint-controller", "other"]
    parties: list[Id] = Field(min_length=1)
    categories: list[Id] = Field(default_factory=list)
    purposes: list[Id] = Field(default_factory=list)
    legal_basis: Id | None = None
    condition: Id | None = None
    additional_bases: list[Id] = Field(default_factory=list)
    transfer_mechanism: TransferMechanism | None = None
    effective: Day
    expires: Day | None = None
    status: Literal["draft", "active", "terminated"] = "active"
    document: LongText | None = None

    def expired(self, on: date) -> bool:
        return self.expires is not None and on > self.expires


class Flow(Entity):
    sparse = frozenset({"status", "additional_bases", "subject_categories", "scope"})

    source: Id = Field(alias="from")
    target: Id = Field(alias="to")
    categories: list[Id] = Field(min_length=1)
    purpose: Id
    legal_basis: Id | None = None
    condition: Id | None = None
    additional_bases: list[Id] = Field(default_factory=list)
    agreement: Id | None = None
    transfer_mechanism: TransferMechanism | None = None
    frequency: LongText | None = None
    status: FlowStatus = "active"
    """`proposed` (planned: checked, but carries no data yet), `active`, `suspended` or `ended` (with
    `until`: it carried data up to that day); see `graph.flows.in_force`."""
    since: Day | None = None
    """The first day the flow carries data."""
    until: Day | None = None
    """The last day the flow carries data."""
    subject_categories: list[Id] = Field(default_factory=list)
    """Whose data it carries: ids of subject categories. A data subject's data travels on it only
    when the subject's `kind` is one of them (none listed: every subject's)."""
    scope: FlowScope = "all"
    """`all` (the default): it carries the data of every subject whose data its source holds (a
    nightly feed). `case`: only of the subjects for whom a disclosure on it is recorded (a fraud
    referral, a large-loss file to a facultative reinsurer); for the others it is a possibility,
    reported as such (`potentialRecipients`)."""
    dpia: Reference | None = None
    lia: Reference | None = None


MODELS: dict[str, type[Entity]] = {
    "category": DataCategory,
    "purpose": Purpose,
    "subject-category": SubjectCategory,
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
    "subject_categories": "subject-category",
    "legal_bases": "legal-basis",
    "systems": "system",
    "parties": "party",
    "agreements": "agreement",
    "flows": "flow",
}
"""Bundle section -> entity type."""
