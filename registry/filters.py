"""Filters of flows and holdings: which sender, receiver, category, purpose, and where the
receiving end is (party kind, country, inside or outside the EEA).

Every criterion given must hold (they combine with AND); one not given (None) keeps
everything. The criteria about a place or a kind (`party_kind`, `country`, `outside_eea`)
are about the receiving end: a flow's recipient (`to`), a holding's holder. A category keeps
what carries data of it (the category, an ancestor or a descendant, as `lineage` follows
them); a purpose keeps what serves it or a narrower purpose (a purpose covers its
descendants). A holding's sender is the system or party its incoming flow comes from, so a
declaration has none.

>>> FlowFilter().given, FlowFilter(country="US", outside_eea=True).given
(False, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, get_args

from graph.store import Doc, Stored
from registry.categories import Tree
from registry.errors import InvalidArgument, NotFound
from registry.model import Party, _country

if TYPE_CHECKING:
    from registry.service import HoldingView, Registry

PARTY_KINDS = get_args(Party.model_fields["kind"].annotation)


@dataclass(frozen=True)
class FlowFilter:
    """Which flows, or holdings, to keep (see the module docstring)."""

    sender: str | None = None
    """The system or party data comes from."""
    receiver: str | None = None
    """The system or party data goes to (a holding's holder)."""
    category: str | None = None
    purpose: str | None = None
    party_kind: str | None = None
    """The receiving end is a party of this kind (`reinsurer`, `broker` …)."""
    country: str | None = None
    """The receiving end is in this country (ISO 3166-1 alpha-2)."""
    outside_eea: bool | None = None
    """True: the receiving end is outside the EEA; False: inside it."""

    @property
    def given(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))

    @property
    def about_receiver(self) -> bool:
        return any(v is not None for v in (self.party_kind, self.country, self.outside_eea))


InEea = Callable[[str], bool]


class Matcher:
    """`FlowFilter` as predicates over flow documents and holdings, checked against the registry
    once. Every problem is reported in one message, each named by the API's name of its criterion
    (`from`, `to`, `category`, `purpose`, `partyKind`, `country`, `outsideEea`): `NotFound` when
    they are all unknown ids, else `InvalidArgument` (a bad country, kind or missing EEA list)."""

    def __init__(self, registry: Registry, wanted: FlowFilter, in_eea: InEea | None = None):
        unknown, invalid = [], []
        for name, id_, types in (("from", wanted.sender, ("system", "party")),
                                 ("to", wanted.receiver, ("system", "party")),
                                 ("category", wanted.category, ("category",)),
                                 ("purpose", wanted.purpose, ("purpose",))):
            if id_ is not None:
                try:
                    registry.entity(id_, *types)
                except NotFound as error:
                    unknown.append(f"{name}: {error}")
        if wanted.country is not None:
            try:
                _country(wanted.country)
            except ValueError as error:
                invalid.append(f"country: {error}")
        if wanted.party_kind is not None and wanted.party_kind not in PARTY_KINDS:
            invalid.append(f"partyKind: {wanted.party_kind!r} is not one of {', '.join(PARTY_KINDS)}")
        if wanted.outside_eea is not None and in_eea is None:
            invalid.append("outsideEea: no list of EEA countries was given")
        if unknown or invalid:
            raise (InvalidArgument if invalid else NotFound)("; ".join(unknown + invalid))
        self.wanted, self.in_eea = wanted, in_eea
        self.categories = (Tree(registry.list("category")).overlapping.get(wanted.category, frozenset())
                           if wanted.category is not None else None)
        self.purposes = (frozenset(id_ for id_, chain in Tree(registry.list("purpose"), ()).ancestors.items()
                                   if wanted.purpose in chain) if wanted.purpose is not None else None)

    def receiver(self, end: Stored | None) -> bool:
        """Whether the receiving end `end` is of the kind, in the country and the territory asked for."""
        wanted = self.wanted
        if not wanted.about_receiver:
            return True
        if end is None:
            return False
        if wanted.party_kind is not None and (end.type != "party" or end.doc.get("kind") != wanted.party_kind):
            return False
        country = end.doc.get("country")
        if wanted.country is not None and country != wanted.country:
            return False
        return wanted.outside_eea is None or self.in_eea(country) != wanted.outside_eea

    def flow(self, doc: Doc, ends: dict[str, Stored]) -> bool:
        wanted = self.wanted
        return ((wanted.sender is None or doc["from"] == wanted.sender)
                and (wanted.receiver is None or doc["to"] == wanted.receiver)
                and (self.categories is None or not self.categories.isdisjoint(doc["categories"]))
                and (self.purposes is None or doc["purpose"] in self.purposes)
                and self.receiver(ends.get(doc["to"])))

    def holding(self, view: HoldingView) -> bool:
        wanted, h = self.wanted, view.holding
        if wanted.sender is not None:
            flow = view.entity(h.flow)
            if flow is None or flow.doc["from"] != wanted.sender:
                return False
        return ((wanted.receiver is None or h.holder == wanted.receiver)
                and (self.categories is None or h.category in self.categories)
                and (self.purposes is None or not self.purposes.isdisjoint(h.purposes))
                and self.receiver(view.entity(h.holder)))
