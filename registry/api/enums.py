"""The schema's enumerations: kinds, roles, statuses, severities, regimes …

Those the domain model defines as `Literal`s are made from them (`from_literal`), so the API
cannot drift from what bundles accept: a value `reinsurance-treaty` is the GraphQL enum value
`REINSURANCE_TREATY`, and serialises back from the stored string.

>>> PartyKind("law-enforcement").name, AgreementKind.REINSURANCE_TREATY.value
('LAW_ENFORCEMENT', 'reinsurance-treaty')
"""

from __future__ import annotations

from enum import Enum
from typing import Any, get_args

import strawberry

from graph.auditlog import AUDIT_TYPES
from graph.auditlog import AuditAction as AuditActions
from registry.auth.roles import ROLES
from registry.compliance.findings import SEVERITIES
from registry.model import Agreement as AgreementModel
from registry.model import FlowScope as FlowScopes
from registry.model import FlowStatus as FlowStatuses
from registry.model import LegalBasis as LegalBasisModel
from registry.model import Party as PartyModel
from registry.model import Regime as Regimes
from registry.model import RetentionFrom as RetentionFroms
from registry.model import TransferMechanism as TransferMechanisms

__all__ = ["AgreementKind", "AgreementStatus", "AuditAction", "AuditEntityType", "ConsentLack", "ConsentStatus",
           "ConsentState", "Direction", "FindingEntityKind", "FlowScope",
           "FlowStatus", "HolderKind", "LegalBasisKind", "LineageFormat", "PartyKind", "PartyRole", "Regime",
           "RetentionFrom", "Role", "Severity", "TransferMechanism", "from_literal", "value_of"]


def _values(model, field: str) -> tuple[str, ...]:
    annotation = model.model_fields[field].annotation
    return get_args(next((a for a in get_args(annotation) if get_args(a)), annotation)) or get_args(annotation)


def from_literal(name: str, values, description: str) -> type[Enum]:
    """A GraphQL enum whose values are `values` (strings), named in upper case with `_` for `-`."""
    return strawberry.enum(Enum(name, {value.upper().replace("-", "_"): value for value in values},
                                module=__name__), description=description)


def value_of(value: Any) -> Any:
    """The stored string of an enum value (and of each in a list); anything else unchanged."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [value_of(item) for item in value]
    return value


PartyKind = from_literal("PartyKind", _values(PartyModel, "kind"), "What kind of outside party.")
PartyRole = from_literal("PartyRole", _values(PartyModel, "role"),
                         "A party's role under GDPR Art. 4(7)-(8) and 26: controller, processor or joint controller.")
AgreementKind = from_literal("AgreementKind", _values(AgreementModel, "kind"),
                             "Data-sharing agreement, Art. 28 processing agreement, reinsurance treaty …")
AgreementStatus = from_literal("AgreementStatus", _values(AgreementModel, "status"), "Where an agreement stands.")
LegalBasisKind = from_literal("LegalBasisKind", _values(LegalBasisModel, "kind"),
                              "An Art. 6(1) lawful basis, an Art. 9(2) / 10 condition, or a GLBA exception.")
FlowStatus = from_literal("FlowStatus", get_args(FlowStatuses),
                          "`PROPOSED` (planned, carries no data), `ACTIVE`, `SUSPENDED` or `ENDED`.")
FlowScope = from_literal("FlowScope", get_args(FlowScopes),
                         "Whose data a flow carries: `ALL` (every subject's data its source holds, e.g. a nightly "
                         "feed) or `CASE` (only the data of subjects for whom a disclosure on it is recorded, e.g. "
                         "a fraud referral).")
RetentionFrom = from_literal("RetentionFrom", get_args(RetentionFroms),
                             "What a retention period runs from: `END` (of the relationship: contract ended, claim "
                             "closed; the safe default) or `COLLECTION` (when the data was collected).")
TransferMechanism = from_literal("TransferMechanism", get_args(TransferMechanisms),
                                 "The safeguard of a transfer to a third country (GDPR Art. 45-49).")
Regime = from_literal("Regime", get_args(Regimes), "A privacy regime: EU GDPR, UK GDPR, GLBA Title V, NAIC #672.")
Severity = from_literal("Severity", SEVERITIES, "How serious a compliance finding is.")
FindingEntityKind = from_literal("FindingEntityKind", ("flow", "holding", "agreement", "system", "party"),
                                 "What a finding is about (`HOLDING`: a system's declared holding).")
HolderKind = from_literal("HolderKind", ("system", "party"), "An internal system or an outside party.")
AuditAction = from_literal("AuditAction", get_args(AuditActions), "What an audit entry records.")
AuditEntityType = from_literal("AuditEntityType", AUDIT_TYPES,
                               "What an audit entry is about: an entity of the registry, a data subject, a consent, "
                               "a subject file, a disclosure or an API token.")
ConsentStatus = from_literal("ConsentStatus", ("granted", "withdrawn"), "A consent event: given or withdrawn.")
ConsentState = from_literal("ConsentStandingStatus", ("granted", "withdrawn", "expired"),
                            "Where a consent stands on a day: `GRANTED`, `WITHDRAWN`, or `EXPIRED` (its `expires` "
                            "or the purpose's consentValidity has run out).")
ConsentLack = from_literal("ConsentLack", ("withdrawn", "expired", "missing"),
                           "How the consent data rests on lacks on a day: `WITHDRAWN`, `EXPIRED`, or `MISSING` "
                           "(never given).")
Role = from_literal("Role", tuple(ROLES), "An API caller's role (see README, Roles).")


@strawberry.enum
class Direction(Enum):
    DOWNSTREAM = "downstream"
    UPSTREAM = "upstream"
    BOTH = "both"


@strawberry.enum(description="A lineage export format: GraphML (Gephi, yEd), DOT (Graphviz), Mermaid (Markdown), "
                             "Cytoscape JSON (Cytoscape, Cytoscape.js).")
class LineageFormat(Enum):
    GRAPHML = "graphml"
    DOT = "dot"
    MERMAID = "mermaid"
    CYTOSCAPE_JSON = "cytoscape-json"
