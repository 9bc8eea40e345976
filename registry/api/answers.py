"""GraphQL answers derived from the graph: holdings (who holds a category, and why), lineage as a
flat node and edge list, and what a change did. The entities they name are the objects of
`registry.api.types`.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Callable, Optional

import strawberry

from graph.store import Doc, Lineage
from registry.api.enums import FlowStatus, TransferMechanism
from registry.api.kept import ByIdentity, kept
from registry.api.types import (Agreement, DataCategory, Flow, Holder, LegalBasis, Nodes, Purpose, SubjectCategory,
                                SystemOrParty)

if TYPE_CHECKING:
    from registry.service import HoldingView


@strawberry.enum(description="Where a holding's term comes from.")
class TermSource(Enum):
    DECLARATION = "declaration"
    FLOW = "flow"
    AGREEMENT = "agreement"


@kept
@strawberry.type(description="Why a holder holds a category: its own declaration, or an incoming flow in force. "
                              "The terms are the effective ones (the flow's, else its agreement's), each with "
                              "its source.")
class Holding:
    holder: SystemOrParty = strawberry.field(description="The system or party that holds the data.")
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
    transfer_mechanism: Optional[TransferMechanism]
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
    status: FlowStatus = strawberry.field(description="`ACTIVE`, or `PROPOSED` for a planned flow (`includeProposed`).")
    proposed: bool


@strawberry.type(description="A system or party in a lineage, with its distance from the start.")
class LineageNode(Holder):
    distance: Optional[int] = strawberry.field(description="The fewest flows between the start and this node (0: the "
                                                           "start); null in the whole registry (no start).")


@kept
@strawberry.type(description="Nodes and edges reached from a system or party, or the whole registry: the shape a "
                              "visualisation draws.")
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


_HOLDINGS: ByIdentity = ByIdentity()


def holding_converter() -> Callable[[HoldingView], Holding]:
    """A function that turns holding views into `Holding`s, built whole (plain attributes resolve
    faster than per-field methods), each entity converted once however many holdings name it, and
    each holding once while the store keeps it (`registry.api.kept`)."""
    nodes = Nodes({})

    def convert(view: HoldingView) -> Holding:
        return _HOLDINGS.get(view.holding, make, view)

    def make(view: HoldingView) -> Holding:
        nonlocal nodes
        if nodes.entities is not view.entities:
            nodes = Nodes(view.entities)
        h, node = view.holding, nodes.__getitem__
        return Holding(holder=node(h.holder), category=node(h.category), declared=h.flow is None,
                       flow=node(h.flow), purposes=list(map(node, h.purposes)),
                       legal_basis=node(h.legal_basis), legal_basis_source=h.legal_basis_source,
                       condition=node(h.condition), condition_source=h.condition_source,
                       additional_bases=list(map(node, h.additional_bases)),
                       additional_bases_source=h.additional_bases_source,
                       transfer_mechanism=h.transfer_mechanism,
                       transfer_mechanism_source=h.transfer_mechanism_source,
                       agreement=node(h.agreement), retention=h.retention,
                       subject_categories=list(map(node, h.subject_categories)), path=list(h.path))

    return convert


_LINEAGES: ByIdentity = ByIdentity()


def to_lineage(lineage: Lineage) -> LineageGraph:
    """The GraphQL graph of `lineage`: made once while the stored lineage lives (a store keeps its
    lineages until the next write, `registry.api.kept`)."""
    return _LINEAGES.get(lineage, _lineage_graph, lineage)


def _lineage_graph(lineage: Lineage) -> LineageGraph:
    return LineageGraph(
        nodes=[LineageNode(id=node.id, kind=node.type, name=node.doc["name"], country=node.doc["country"],
                           distance=lineage.distances.get(node.id)) for node in lineage.nodes],
        edges=[to_edge(doc) for doc in lineage.edges], truncated=lineage.truncated)


def to_edge(doc: Doc) -> LineageEdge:
    status = doc.get("status", "active")
    return LineageEdge(id=doc["id"], from_=doc["from"], to=doc["to"], categories=doc["categories"],
                       purpose=doc["purpose"], legal_basis=doc.get("legal_basis"), condition=doc.get("condition"),
                       agreement=doc.get("agreement"), status=status, proposed=status == "proposed")
