"""How a document becomes a Neo4j node and the relationships it declares (see `graph.neo4j.store`).

Every relationship belongs to the document that names its other end, and is rebuilt whenever
that document changes: a flow owns `SENDS`, `TO`, `CARRIES`, `FOR`, `LEGAL_BASIS`,
`CONDITION`, `ADDITIONAL_BASIS`, `CONCERNS` (its subject categories) and `UNDER`; a system its
`HOLDS`; an agreement its `PARTY`, `COVERS`, `FOR`, `LEGAL_BASIS`, `CONDITION` and
`ADDITIONAL_BASIS`; a category or purpose its `PARENT`. The graph is therefore a function of
the stored documents, whatever order they were written in. A flow with a status or dates also
has the property `conditional: true` (indexed), so the traversals find the only flows that can
be out of force without reading every flow.

>>> [r.type for r in relationships("flow", {"id": "f", "from": "a", "to": "b", "categories": ["c"], "purpose": "p"})]
['SENDS', 'TO', 'CARRIES', 'FOR']
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from graph.changes import encode
from graph.flows import FLOW_WINDOW
from graph.store import Doc

LABELS = {
    "category": "DataCategory",
    "purpose": "Purpose",
    "subject-category": "DataSubjectCategory",
    "legal-basis": "LegalBasis",
    "system": "System",
    "party": "Party",
    "agreement": "Agreement",
    "flow": "Flow",
}
"""Entity type -> node label. Every entity node also has the label `Entity` (ids are unique across types)."""

RELATIONSHIP_TYPES = ("PARENT", "HOLDS", "PARTY", "COVERS", "FOR", "LEGAL_BASIS", "CONDITION",
                      "ADDITIONAL_BASIS", "SENDS", "TO", "CARRIES", "CONCERNS", "UNDER")

_HOLDS_FIELDS = ("purposes", "legal_basis", "condition", "additional_bases", "retention", "subject_categories")


class Relationship(NamedTuple):
    type: str
    start: str
    end: str
    properties: dict[str, Any]


def properties(type_: str, doc: Doc) -> dict[str, Any]:
    """The node's properties: the document's plain fields for Cypher, plus `type` and the whole `doc`."""
    props = {key: value for key, value in doc.items() if _storable(value)}
    props.update(id=doc["id"], type=type_, doc=encode(doc))
    if type_ == "flow" and any(key in doc for key in FLOW_WINDOW):
        props["conditional"] = True
    return props


def relationships(type_: str, doc: Doc) -> Iterator[Relationship]:
    """The relationships `doc` declares, each from the node named first in the model."""
    id_ = doc["id"]
    if type_ in ("category", "purpose"):
        yield from _to(id_, "PARENT", [doc.get("parent")])
    elif type_ in ("system", "party"):
        for held in doc.get("holds") or ():
            if isinstance(held, dict) and _is_id(held.get("category")):
                props = {key: held[key] for key in _HOLDS_FIELDS if _storable(held.get(key))}
                yield Relationship("HOLDS", id_, held["category"], props)
    elif type_ == "agreement":
        yield from _to(id_, "PARTY", doc.get("parties"))
        yield from _to(id_, "COVERS", doc.get("categories"))
        yield from _to(id_, "FOR", doc.get("purposes"))
        yield from _to(id_, "LEGAL_BASIS", [doc.get("legal_basis")])
        yield from _to(id_, "CONDITION", [doc.get("condition")])
        yield from _to(id_, "ADDITIONAL_BASIS", dict.fromkeys(doc.get("additional_bases") or ()))
    elif type_ == "flow":
        if _is_id(doc.get("from")):
            yield Relationship("SENDS", doc["from"], id_, {})
        yield from _to(id_, "TO", [doc.get("to")])
        yield from _to(id_, "CARRIES", dict.fromkeys(doc.get("categories") or ()))
        yield from _to(id_, "FOR", [doc.get("purpose")])
        yield from _to(id_, "LEGAL_BASIS", [doc.get("legal_basis")])
        yield from _to(id_, "CONDITION", [doc.get("condition")])
        yield from _to(id_, "ADDITIONAL_BASIS", dict.fromkeys(doc.get("additional_bases") or ()))
        yield from _to(id_, "CONCERNS", dict.fromkeys(doc.get("subject_categories") or ()))
        yield from _to(id_, "UNDER", [doc.get("agreement")])


def _to(start: str, type_: str, ends) -> Iterator[Relationship]:
    return (Relationship(type_, start, end, {}) for end in ends or () if _is_id(end))


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _storable(value: Any) -> bool:
    """Neo4j properties hold scalars and lists of one scalar type (no maps, no nulls)."""
    if isinstance(value, list):
        return len({type(item) for item in value}) <= 1 and all(map(_scalar, value))
    return _scalar(value)


def _scalar(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return -2**63 <= value < 2**63
    return isinstance(value, (str, bool, float))
