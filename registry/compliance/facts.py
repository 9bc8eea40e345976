"""What the compliance rules share, computed once per evaluation from the registry's documents.

The documents come from `Registry.list`, the same on every backend, so every answer derived
from them is too. Precomputed here: the category tree, each flow's effective legal basis and
condition (its own, or else its agreement's), the categories each system or party declares,
receives, and receives from the EEA, and the ends that are third countries without adequacy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date

from graph.store import ENTITY_TYPES, Doc
from registry.categories import CategoryTree
from registry.compliance.transfers import Countries, Decision


class Facts:
    def __init__(self, docs: Mapping[str, list[Doc]], as_of: date, countries: Countries):
        self.as_of = as_of
        self.countries = countries
        self.tree = CategoryTree(docs["category"])
        self.categories = _by_id(docs["category"])
        self.purposes = _by_id(docs["purpose"])
        self.bases = _by_id(docs["legal-basis"])
        self.systems = _by_id(docs["system"])
        self.parties = _by_id(docs["party"])
        self.agreements = _by_id(docs["agreement"])
        self.flows: list[Doc] = docs["flow"]
        self.ends: dict[str, Doc] = {**self.systems, **self.parties}
        self.declared: dict[str, set[str]] = {
            id_: {held["category"] for held in doc.get("holds", ())} for id_, doc in self.systems.items()}
        self.received: dict[str, set[str]] = defaultdict(set)
        self.received_from_eea: dict[str, set[str]] = defaultdict(set)
        eea = {id_ for id_, doc in self.ends.items() if countries.in_eea(doc["country"])}
        for flow in self.flows:
            self.received[flow["to"]].update(flow["categories"])
            if flow["from"] in eea:
                self.received_from_eea[flow["to"]].update(flow["categories"])
        self.in_eea = frozenset(eea)
        decisions: dict[tuple[str, bool], Decision | None] = {}
        self.adequacy: dict[str, Decision | None] = {}
        """Each end outside the EEA: the adequacy decision covering it, or None."""
        for id_, doc in self.ends.items():
            if id_ not in eea:
                key = (doc["country"], bool(doc.get("dpf_certified")))
                if key not in decisions:
                    decisions[key] = countries.decision_for(key[0], as_of, key[1])
                self.adequacy[id_] = decisions[key]

    @classmethod
    def of(cls, registry, as_of: date, countries: Countries) -> Facts:
        return cls({type_: registry.list(type_) for type_ in ENTITY_TYPES}, as_of, countries)

    def agreement(self, flow: Doc) -> Doc | None:
        return self.agreements.get(flow.get("agreement") or "")

    def basis(self, flow: Doc) -> str | None:
        """The flow's effective legal basis: its own, or else its agreement's."""
        return flow.get("legal_basis") or (self.agreement(flow) or {}).get("legal_basis")

    def condition(self, flow: Doc) -> str | None:
        """The flow's effective Art. 9(2) / Art. 10 condition: its own, or else its agreement's."""
        return flow.get("condition") or (self.agreement(flow) or {}).get("condition")

    def kind(self, basis: str | None) -> str | None:
        return self.bases[basis]["kind"] if basis in self.bases else None

    def holds_data_of(self, node: str, category: str) -> bool:
        """Whether `node` declares or receives data of `category` (it, an ancestor or a descendant)."""
        return (self.tree.overlaps(category, self.declared.get(node, set()))
                or self.tree.overlaps(category, self.received.get(node, set())))

    def third_country(self, node: str) -> bool:
        """Outside the EEA and without an adequacy decision covering it (GDPR Art. 45)."""
        return node not in self.in_eea and self.adequacy.get(node) is None

    def mechanism(self, flow: Doc) -> str | None:
        """The flow's transfer mechanism: its own, or else its agreement's."""
        return flow.get("transfer_mechanism") or (self.agreement(flow) or {}).get("transfer_mechanism")

    def onward(self, flow: Doc) -> bool:
        """Whether the flow passes on, from outside the EEA, data its sender received from the EEA."""
        sender = flow["from"]
        return sender not in self.in_eea and any(
            self.tree.overlaps(c, self.received_from_eea.get(sender, set())) for c in flow["categories"])

    def transfer(self, flow: Doc) -> bool:
        """A GDPR transfer (Art. 44): to an end outside the EEA, from the EEA or onward."""
        return flow["to"] not in self.in_eea and (flow["from"] in self.in_eea or self.onward(flow))

    def is_party(self, node: str) -> bool:
        return node in self.parties

    def holdings(self) -> Iterator[tuple[str, Doc]]:
        """Every declared holding: (system id, `holds` entry)."""
        for id_, doc in self.systems.items():
            for held in doc.get("holds", ()):
                yield id_, held

    def carried(self, flow: Doc, flag: str) -> list[str]:
        """The flow's categories that carry `flag` (`special`, `criminal`, `npi`), inherited included."""
        return [c for c in flow["categories"] if self.tree.is_(flag, c)]


def _by_id(docs: list[Doc]) -> dict[str, Doc]:
    return {doc["id"]: doc for doc in docs}
