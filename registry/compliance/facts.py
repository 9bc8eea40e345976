"""What the compliance rules share, computed once per evaluation from the registry's documents.

The documents come from `Registry.list`, the same on every backend, so every answer derived
from them is too. Everything is as of one day (`as_of`):

- *Live* flows are those in force that day (`graph.flows.in_force`): only they carry data.
  *Checked* flows (`flows`) are the live ones and those planned that day (`status: proposed`),
  which the rules check too (a DPO reviews a plan before it goes live). Flows ended, suspended
  or outside their `since`/`until` that day are neither.
- Each flow's *effective* terms are its own, or else (term by term) its agreement's.
- Each system and party has its regimes (`registry.compliance.regimes`); a flow or holding is
  governed by the GDPR (or the UK GDPR) for the categories of data that regime reaches there:
  all of them where an end is under it, else those that came from a node under it through
  live flows.
- A system *holds* a category it declares, or receives through a chain of live flows that
  starts at a declaration or at a party (a lineage gap: anything else, a cycle nothing feeds).
"""

from __future__ import annotations

import operator
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from functools import cached_property

from graph.flows import effective_terms, in_force, planned
from graph.store import ENTITY_TYPES, Doc
from registry import legal_bases, processing
from registry.categories import CategoryTree, Tree
from registry.compliance.regimes import GDPR_FAMILY, Bits, Network, jurisdictions
from registry.compliance.transfers import Countries, Decision

ART_6 = frozenset({"lawful-basis"})


class Facts:
    def __init__(self, docs: Mapping[str, list[Doc]], as_of: date, countries: Countries):
        self.as_of = as_of
        self.day = as_of.isoformat()
        """`as_of` as ISO 8601 text, as documents write dates."""
        self.countries = countries
        self.tree = CategoryTree(docs["category"])
        self.purpose_tree = Tree(docs["purpose"], ["insurance_function"])
        self.categories = _by_id(docs["category"])
        self.purposes = _by_id(docs["purpose"])
        self.subject_categories = _by_id(docs.get("subject-category", []))
        self.bases = _by_id(docs["legal-basis"])
        self.systems = _by_id(docs["system"])
        self.parties = _by_id(docs["party"])
        self.agreements = _by_id(docs["agreement"])
        self.live: list[Doc] = [flow for flow in docs["flow"] if in_force(flow, as_of)]
        """The flows in force on `as_of`: the ones that carry data."""
        self.proposed: frozenset[str] = frozenset(flow["id"] for flow in docs["flow"] if planned(flow, as_of))
        """The ids of the flows planned on `as_of`: checked, findings at most warnings, no data."""
        live = {flow["id"] for flow in self.live}
        self.flows: list[Doc] = [flow for flow in docs["flow"] if flow["id"] in live or flow["id"] in self.proposed]
        """The flows the rules check: live and planned ones, sorted by id."""
        self.ends: dict[str, Doc] = {**self.systems, **self.parties}
        self.regimes: dict[str, tuple[str, ...]] = {id_: jurisdictions(doc, countries) for id_, doc in self.ends.items()}
        self.declared: dict[str, set[str]] = {
            id_: {held["category"] for held in doc.get("holds", ())} for id_, doc in self.systems.items()}
        self.bits = Bits(self.tree, [c for flow in docs["flow"] for c in flow["categories"]]
                         + [c for held in self.declared.values() for c in held])
        """The categories as bits: the tree's, and any other a flow or declaration names."""
        network = Network(self.live, self.bits)
        self.fed = network.spread({id_: self.bits.of(held) for id_, held in self.declared.items()}, set(self.parties))
        """Per node, the categories (`bits`) it declares or receives through a chain starting at a declaration or a party."""
        self.regime_data: dict[str, dict[str, int]] = {
            regime: network.spread({}, {id_ for id_, found in self.regimes.items() if regime in found})
            for regime in GDPR_FAMILY}
        """Per GDPR-family regime and node, the categories (`bits`) that reached it from a node under the regime."""
        self._adequacy: dict[tuple[str, bool, bool, str], Decision | None] = {}
        """Per country, certifications and regime: the decision (many ends share a country)."""
        self._terms: dict[str, dict] = {}
        self._recorded: dict[str, tuple[str | None, str | None, tuple[str, ...]]] = {}
        self._regime: dict[str, tuple[str, list[str]] | None] = {}
        self._third: dict[str, frozenset[str]] = {}
        self._carrying: dict[str, list[tuple[Doc, str, list[str]]]] = {}
        self.territory: dict[str, frozenset[str]] = {regime: countries.territory(regime) for regime in GDPR_FAMILY}
        """Per GDPR-family regime, the countries of its territory (`Countries.territory`)."""

        self.kept: dict[object, object] = {}
        """Answers derived from these facts alone, by whoever derives them (`registry.compliance.findings`
        keeps each built-in rule's findings here), and the findings other rules made on them (each kept
        as the one object for its value): they last as long as the facts."""

    @classmethod
    def of(cls, registry, as_of: date, countries: Countries) -> Facts:
        """The facts of `registry`'s documents as of `as_of`. Facts are a function of the documents,
        the day and the country lists alone, so the last few are kept: when `Registry.list` gives
        back the very same document objects as before (a store that keeps an unchanging snapshot
        in memory hands out its documents until a write replaces it), the facts built from them
        are reused. A store that reads new documents each time gets new facts each time."""
        docs = {type_: registry.list(type_) for type_ in ENTITY_TYPES}
        key = (as_of, id(countries))  # the entry keeps `countries` alive, so its id stays its own
        with _KEPT_LOCK:
            kept = _KEPT.get(key)
            if kept is not None:
                _KEPT.move_to_end(key)
        if kept is not None and kept[0] is countries and _same(kept[1], docs):
            return kept[2]
        facts = cls(docs, as_of, countries)
        with _KEPT_LOCK:
            _KEPT[key] = (countries, docs, facts)
            _KEPT.move_to_end(key)
            while len(_KEPT) > _KEPT_SIZE:
                _KEPT.popitem(last=False)
        return facts

    # --- terms ---------------------------------------------------------------------------

    def agreement(self, flow: Doc) -> Doc | None:
        return self.agreements.get(flow.get("agreement") or "")

    def terms(self, flow: Doc) -> dict:
        """The flow's effective terms with their sources (`graph.flows.effective_terms`)."""
        if flow["id"] not in self._terms:
            self._terms[flow["id"]] = effective_terms(flow, self.agreement(flow))
        return self._terms[flow["id"]]

    def basis(self, flow: Doc) -> str | None:
        """The flow's effective legal basis: its own, or else its agreement's."""
        return self.terms(flow)["legal_basis"][0]

    def condition(self, flow: Doc) -> str | None:
        """The flow's effective Art. 9(2) / Art. 10 condition: its own, or else its agreement's."""
        return self.terms(flow)["condition"][0]

    def mechanism(self, flow: Doc) -> str | None:
        """The flow's transfer mechanism: its own, or else its agreement's."""
        return self.terms(flow)["transfer_mechanism"][0]

    def recorded(self, doc: Doc, flow: bool = True) -> tuple[str | None, str | None, tuple[str, ...]]:
        """(legal basis, condition, additional bases) of a flow (effective) or of a declaration."""
        if flow:
            found = self._recorded.get(doc["id"])
            if found is None:  # `terms` without their sources, which every rule asks for (tens of thousands of flows)
                agreement = self.agreement(doc) or {}
                additional = doc.get("additional_bases") or agreement.get("additional_bases")
                found = self._recorded[doc["id"]] = (doc.get("legal_basis") or agreement.get("legal_basis") or None,
                                                     doc.get("condition") or agreement.get("condition") or None,
                                                     tuple(additional) if additional else ())
            return found
        return doc.get("legal_basis"), doc.get("condition"), tuple(doc.get("additional_bases", ()))

    def kind(self, basis: str | None) -> str | None:
        return legal_bases.kind(self.bases, basis)

    def art_6_basis(self, basis: str | None, additional: Iterable[str]) -> str | None:
        """The GDPR Art. 6(1) basis among those recorded (`registry.legal_bases.art_6_basis`)."""
        return legal_bases.art_6_basis(self.bases, basis, additional)

    def art_9_condition(self, condition: str | None, additional: Iterable[str]) -> str | None:
        """The Art. 9(2) condition among those recorded (`registry.legal_bases.art_9_condition`)."""
        return legal_bases.art_9_condition(self.bases, condition, additional)

    def consent_relied_on(self, recorded: tuple[str | None, str | None, tuple[str, ...]], category: str) -> str | None:
        """The consent that `category`'s data rests on under `recorded` terms (`Facts.recorded`),
        or None (`registry.legal_bases.consent_relied_on`)."""
        return legal_bases.consent_relied_on(self.bases, *recorded, special=self.tree.is_("special", category),
                                             health=self.tree.is_("health", category))

    # --- regimes ---------------------------------------------------------------------------

    def under(self, node: str, regime: str) -> bool:
        return regime in self.regimes.get(node, ())

    def flow_regime(self, flow: Doc) -> tuple[str, list[str]] | None:
        """The first GDPR-family regime governing the flow, with the categories it governs: all of
        them where an end is under it, else those that came from a node under it (worked out once
        per flow: every rule asks)."""
        found = self._regime.get(flow["id"], _UNKNOWN)
        if found is _UNKNOWN:
            found = self._regime[flow["id"]] = self._first_regime(flow)
        return found

    def _first_regime(self, flow: Doc) -> tuple[str, list[str]] | None:
        ends = self.regimes.get(flow["from"], ()) + self.regimes.get(flow["to"], ())
        for regime in GDPR_FAMILY:
            categories = (list(flow["categories"]) if regime in ends
                          else self._reached(flow, self.regime_data[regime].get(flow["from"], 0)))
            if categories:
                return regime, categories
        return None

    def _reached(self, flow: Doc, held: int) -> list[str]:
        """The flow's categories whose data overlaps `held` (`bits`)."""
        if not held:
            return []
        overlap = self.bits.overlap
        return [c for c in flow["categories"] if overlap[c] & held]

    @cached_property
    def gdpr_flows(self) -> list[tuple[Doc, str, list[str]]]:
        """(flow, regime, categories it governs) for every checked flow the GDPR or the UK GDPR
        governs (`flow_regime`), in the order of `flows`: worked out once, every GDPR rule walks it."""
        return [(flow, *found) for flow in self.flows if (found := self.flow_regime(flow))]

    def gdpr_carrying(self, flag: str) -> list[tuple[Doc, str, list[str]]]:
        """(flow, regime, the categories it governs that carry `flag`) for each flow of `gdpr_flows`
        that carries any (`carried`): worked out once per flag, for the rules on special-category
        and criminal-offence data, which only such flows can break."""
        if flag not in self._carrying:
            flagged = self.tree.flagged[flag]
            self._carrying[flag] = [(flow, regime, found) for flow, regime, governed in self.gdpr_flows
                                    if not flagged.isdisjoint(governed)
                                    and (found := [c for c in governed if c in flagged])]
        return self._carrying[flag]

    def holding_regime(self, system: str, category: str) -> str | None:
        """The first GDPR-family regime governing a declared holding: the system's, or the one
        that data of the category came from."""
        return next((regime for regime in GDPR_FAMILY
                     if self.under(system, regime)
                     or self.bits.overlap[category] & self.regime_data[regime].get(system, 0)), None)

    # --- transfers ---------------------------------------------------------------------------

    def exported(self, flow: Doc, regime: str) -> list[str]:
        """The categories a flow takes out of `regime`'s territory while the regime governs them
        (its Art. 44 transfer, onward transfers included): data its sender holds under the regime,
        going to an end located outside the territory."""
        if self.ends[flow["to"]]["country"] in self.territory[regime]:
            return []
        if self.under(flow["from"], regime):
            return list(flow["categories"])
        return self._reached(flow, self.regime_data[regime].get(flow["from"], 0))

    def onward(self, flow: Doc, regime: str) -> bool:
        """Whether the flow passes on, from a sender not under the regime, data it received under it."""
        return not self.under(flow["from"], regime)

    def adequacy(self, node: str, regime: str) -> Decision | None:
        """The adequacy decision of `regime` covering an end on the evaluation date, if any."""
        doc = self.ends[node]
        key = (doc["country"], bool(doc.get("dpf_certified")), bool(doc.get("dpf_uk_extension")), regime)
        if key not in self._adequacy:
            certified = [flag for flag in ("dpf_certified", "dpf_uk_extension") if doc.get(flag)]
            self._adequacy[key] = self.countries.decision_for(doc["country"], self.as_of, certified, regime)
        return self._adequacy[key]

    def third_country(self, node: str, regime: str) -> bool:
        """Outside the regime's territory and without an adequacy decision covering it (Art. 45)."""
        return node in self.third_countries(regime)

    def third_countries(self, regime: str) -> frozenset[str]:
        """The systems and parties that are in a third country for `regime` (`third_country`)."""
        if regime not in self._third:
            self._third[regime] = frozenset(
                node for node, doc in self.ends.items()
                if doc["country"] not in self.territory[regime] and self.adequacy(node, regime) is None)
        return self._third[regime]

    # --- lineage -----------------------------------------------------------------------------

    def holds_data_of(self, node: str, category: str) -> bool:
        """Whether `node` declares data of `category` (it, an ancestor or a descendant), or
        receives it through a chain of live flows that starts at a declaration or a party."""
        return bool(self.bits.overlap[category] & self.fed.get(node, 0))

    def is_party(self, node: str) -> bool:
        return node in self.parties

    @cached_property
    def as_processor(self) -> dict[str, tuple[str, ...]]:
        """The agreements under which we are a processor, by id, with the controllers they name
        (`registry.processing.as_processor`)."""
        return processing.as_processor(self.agreements.values(), lambda id_: self.parties.get(id_, {}).get("role"))

    def holdings(self) -> Iterator[tuple[str, Doc]]:
        """Every declared holding: (system id, `holds` entry)."""
        for id_, doc in self.systems.items():
            for held in doc.get("holds", ()):
                yield id_, held

    def carried(self, flow: Doc, flag: str, among: Iterable[str] | None = None) -> list[str]:
        """The flow's categories (or those of `among`) that carry `flag` (`special`, `criminal`,
        `npi`, `health`), inherited included."""
        flagged = self.tree.flagged[flag]
        return [c for c in (flow["categories"] if among is None else among) if c in flagged]

    @cached_property
    def in_eea(self) -> frozenset[str]:
        """The systems and parties located in the EEA."""
        return frozenset(id_ for id_, doc in self.ends.items() if self.countries.in_eea(doc["country"]))


_UNKNOWN = object()

_KEPT_SIZE = 2
"""Facts kept (`Facts.of`): a day or two of one registry, or today's of two (a large registry's are tens of MB)."""
_KEPT: OrderedDict[tuple[date, int], tuple[Countries, dict[str, list[Doc]], Facts]] = OrderedDict()
_KEPT_LOCK = threading.Lock()


def _same(kept: Mapping[str, list[Doc]], docs: Mapping[str, list[Doc]]) -> bool:
    """Whether every list in `docs` holds the very objects of `kept`'s, in the same order."""
    for type_, found in docs.items():
        before = kept.get(type_)
        if before is None or len(before) != len(found) or not all(map(operator.is_, before, found)):
            return False
    return len(kept) == len(docs)


def _by_id(docs: list[Doc]) -> dict[str, Doc]:
    return {doc["id"]: doc for doc in docs}
