"""An immutable in-memory view of the registry: documents, the category tree and the flows.

The embedded backend rebuilds one from disk whenever the store's version changes; the
traversals in `graph.traversal` read it. They walk each node's flows from plain lists
(`out_flows`, `in_flows`): a networkx graph of them cost more to make than the rest of the
snapshot, and its edge views more than the step a walk takes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import TypeVar

from graph.flows import FLOW_WINDOW, effective_terms, in_force, planned
from graph.store import Doc, Stored


T = TypeVar("T")
_MISSING = object()
_ANSWERS = 1024
"""Answers a snapshot keeps (`Snapshot.answer`); all are dropped when it is full."""


class Snapshot:
    def __init__(self, entities: dict[str, Stored]):
        self.entities = entities
        self.by_type: dict[str, list[Doc]] = defaultdict(list)
        """Each entity type's documents, sorted by id."""
        self.parent: dict[str, str | None] = {}
        self.children: dict[str, list[str]] = defaultdict(list)
        self.declared: dict[str, list[tuple[str, Doc]]] = defaultdict(list)
        """category -> (system id, holds entry) for every declaration of exactly that category."""
        self.carried: dict[str, list[Doc]] = defaultdict(list)
        """category -> flows that carry exactly that category."""
        self.out_flows: dict[str, list[Doc]] = defaultdict(list)
        """node -> the flows that leave it, in flow-id order: what a walk downstream reads."""
        self.in_flows: dict[str, list[Doc]] = defaultdict(list)
        """node -> the flows that reach it, in flow-id order."""
        self._overlapping: dict[str, frozenset[str]] = {}
        self.chain_cache: dict[tuple[str, frozenset[str]], dict[str, tuple[str, ...]]] = {}
        """Per category and set of flows out of force, the best chain of flows to each node (see
        `graph.traversal`); the snapshot never changes, so neither do they."""
        self.conditional: list[Doc] = []
        """Flows with a status or dates: the only ones that can be out of force."""
        self._excluded: dict[tuple[date, bool], frozenset[str]] = {}
        self._terms: dict[str, dict] = {}
        self._answers: dict[tuple, object] = {}
        for stored in entities.values():
            doc = stored.doc
            if stored.type == "category":
                self.parent[doc["id"]] = doc.get("parent")
                if doc.get("parent"):
                    self.children[doc["parent"]].append(doc["id"])
            elif stored.type in ("system", "party"):
                for held in doc.get("holds", ()):
                    self.declared[held["category"]].append((doc["id"], held))
        for stored in sorted(entities.values(), key=lambda s: s.id):
            self.by_type[stored.type].append(stored.doc)
            if stored.type == "flow":
                doc = stored.doc
                self.out_flows[doc["from"]].append(doc)
                self.in_flows[doc["to"]].append(doc)
                for category in doc["categories"]:
                    self.carried[category].append(doc)
                if any(key in doc for key in FLOW_WINDOW):
                    self.conditional.append(doc)

    def excluded(self, on: date, include_proposed: bool = False) -> frozenset[str]:
        """The ids of the flows that carry no data on day `on` (and, with `include_proposed`, are
        not planned then either)."""
        key = (on, include_proposed)
        if key not in self._excluded:
            if len(self._excluded) > 256:
                self._excluded.clear()
            self._excluded[key] = frozenset(
                flow["id"] for flow in self.conditional
                if not (in_force(flow, on) or (include_proposed and planned(flow, on))))
        return self._excluded[key]

    def answer(self, key: tuple, work: Callable[[], T]) -> T:
        """`work()`'s answer, kept for the life of the snapshot under `key` (the question and every
        argument it depends on): the snapshot never changes, so neither does an answer from it.
        Callers must not change what they get, or must copy it."""
        found = self._answers.get(key, _MISSING)
        if found is _MISSING:
            if len(self._answers) >= _ANSWERS:
                self._answers.clear()
            found = self._answers[key] = work()
        return found

    def terms(self, flow: Doc) -> dict:
        """The flow's effective terms (`graph.flows.effective_terms`), worked out once per snapshot."""
        found = self._terms.get(flow["id"])
        if found is None:
            stored = self.entities.get(flow.get("agreement") or "")
            agreement = stored.doc if stored is not None and stored.type == "agreement" else None
            found = self._terms[flow["id"]] = effective_terms(flow, agreement)
        return found

    def ancestors(self, category: str) -> list[str]:
        """`category` and its ancestors, nearest first (parent cycles are refused at load)."""
        chain, seen = [category], {category}
        while (parent := self.parent.get(chain[-1])) and parent not in seen:
            chain.append(parent)
            seen.add(parent)
        return chain

    def descendants(self, category: str) -> set[str]:
        """`category` and all categories below it."""
        found, todo = {category}, [category]
        while todo:
            for child in self.children.get(todo.pop(), ()):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        return found

    def overlapping(self, category: str) -> frozenset[str]:
        """Categories whose data overlaps `category`'s: itself, its ancestors and its descendants."""
        if category not in self._overlapping:
            self._overlapping[category] = frozenset(self.ancestors(category)) | self.descendants(category)
        return self._overlapping[category]
