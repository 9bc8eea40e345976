"""Bundles: parsing YAML/JSON and validating them completely before anything is applied.

Every problem is collected, not just the first: shape and type errors from the models,
duplicate ids, redefined built-ins, ids taken by another entity type, references that do not
resolve (in the bundle or the existing registry), category and purpose parent cycles and trees
deeper than `registry.categories.MAX_DEPTH`, dates out of order. Each names the file, line and
column, the entity (`flow 'claims-to-coral'`, or `flows[3]` while it has no id), the field and
the reason, with a "did you mean" for a near miss; problems come in file order. `Definitions`
says where each entity of a set of bundles is defined (for SARIF).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from pydantic import ValidationError

from graph.store import Doc, Stored
from registry.categories import shape_problems
from registry.legal_bases import BUILTIN_LEGAL_BASES
from registry.model import MODELS, SECTIONS, Entity
from registry.sources import BundleInvalid, Problem, Source, Where
from registry.suggest import hint, model_message

__all__ = ["BundleInvalid", "Definitions", "Item", "Problem", "Source", "entities_in", "items_of", "references",
           "section_of", "validate"]

_SECTION_OF = {type_: section for section, type_ in SECTIONS.items()}
_NODES = ("system", "party")
SUGGESTIONS = 200
"""Unknown ids given a "did you mean" per validation (each costs a search of the registry's ids)."""
_SUBJECTS = ("subject-category",)


class Item(NamedTuple):
    """One entity to validate: its document, where it is in it, its type and its raw data."""

    source: Source
    where: Where
    """`("flows", 3)`; empty for an entity given alone (a GraphQL input)."""
    type: str
    raw: Any

    @property
    def entity(self) -> str | None:
        """`flow 'claims-to-coral'`, or `flows[3]` while the item has no usable id."""
        id_ = self.raw.get("id") if isinstance(self.raw, dict) else None
        if isinstance(id_, str) and id_:
            return f"{self.type} {id_!r}"
        return dotted(self.where) or None

    def problem(self, field: Where, message: str, *, key: bool = False) -> Problem:
        """A problem with `field` of this item, at its line and column (its key's with `key`)."""
        line, column = self.source.position(self.where + field, key) or (None, None)
        return Problem(self.source.name, message, line, column, self.entity, dotted(field) or None)


def dotted(where: Where) -> str:
    """`("holds", 1, "retention")` as `holds[1].retention`."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in where).lstrip(".")


def entities_in(data: Any, source: Source) -> list[Item]:
    """Every item of a bundle, in dependency order."""
    if data is None:
        return []
    if not isinstance(data, dict):
        raise BundleInvalid([Problem(source.name, "a bundle must be a mapping with lists such as "
                                                  "`categories:`, `systems:` and `flows:`", *_at(source, ()))])
    problems = [Problem(source.name, f"unknown section; expected one of {', '.join(SECTIONS)}{hint(key, SECTIONS)}",
                        *_at(source, (key,), key=True), field=str(key))
                for key in data if key not in SECTIONS]
    items = []
    for section, type_ in SECTIONS.items():
        listed = data.get(section)
        if listed is None:
            continue
        if not isinstance(listed, list):
            problems.append(Problem(source.name, "must be a list", *_at(source, (section,)), field=section))
            continue
        items.extend(Item(source, (section, i), type_, raw) for i, raw in enumerate(listed))
    if problems:
        raise BundleInvalid(problems)
    return items


def _at(source: Source, where: Where, key: bool = False) -> tuple[int | None, int | None]:
    return source.position(where, key) or (None, None)


def validate(items: Iterable[Item], existing: dict[str, str], parents: dict[str, str | None]) -> list[Stored]:
    """Validated documents for `items`, given the `existing` registry (id -> type) and its
    category and purpose trees (id -> parent).

    Raises `BundleInvalid` with every problem found, in file order.
    """
    items = list(items)
    problems: list[Problem] = []
    valid: list[tuple[Item, Entity]] = []
    invalid: list[Item] = []
    for item in items:
        try:
            valid.append((item, MODELS[item.type].model_validate(item.raw)))
        except ValidationError as error:
            problems.extend(item.problem(tuple(d["loc"]), model_message(MODELS[item.type], d),
                                         key=d["type"] == "extra_forbidden") for d in error.errors())
            if isinstance(item.raw, dict):
                invalid.append(item)

    defined = dict(existing)
    defined.update((id_, "legal-basis") for id_ in BUILTIN_LEGAL_BASES)
    first_seen: dict[str, Item] = {}
    for item, entity in valid:
        if entity.id in first_seen:
            first = first_seen[entity.id]
            line = (first.source.position(first.where + ("id",)) or (None,))[0]
            where = f"{first.source.name}:{line}" if line else f"{first.source.name}: {dotted(first.where)}"
            problems.append(item.problem(("id",), f"duplicate id {entity.id!r} (also at {where})"))
        elif entity.id in BUILTIN_LEGAL_BASES:
            problems.append(item.problem(("id",), f"{entity.id!r} is a built-in legal basis and cannot be redefined"))
        elif existing.get(entity.id, item.type) != item.type:
            problems.append(item.problem(("id",), f"id {entity.id!r} is already used by a {existing[entity.id]}"))
        first_seen.setdefault(entity.id, item)
        defined.setdefault(entity.id, item.type)

    defined.update((item.raw["id"], item.type) for item in invalid
                   if isinstance(item.raw.get("id"), str) and item.raw["id"] not in defined)
    docs = [(item, entity.to_doc()) for item, entity in valid]
    unresolved = _Unresolved(defined)
    for item in invalid:
        problems.extend(unresolved(item, item.raw))
    for item, doc in docs:
        problems.extend(unresolved(item, doc))
        if item.type == "flow" and doc["from"] == doc["to"]:
            problems.append(item.problem(("to",), "a flow must go to another system or party than it comes from"))
        if item.type == "agreement" and doc.get("expires") and doc["expires"] < doc["effective"]:
            problems.append(item.problem(("expires",), f"{doc['expires']} is before `effective` {doc['effective']}"))
        if item.type == "flow" and doc.get("since") and doc.get("until") and doc["until"] < doc["since"]:
            problems.append(item.problem(("until",), f"{doc['until']} is before `since` {doc['since']}"))
    problems.extend(_parent_cycles([(item, doc) for item, doc in docs if item.type in ("category", "purpose")],
                                   parents))
    if problems:
        order = {source: n for n, source in enumerate(dict.fromkeys(item.source.name for item in items))}
        problems.sort(key=lambda p: (order.get(p.source, -1), p.line or 0, p.column or 0))
        raise BundleInvalid(problems)
    return [Stored(item.type, doc) for item, doc in docs]


def references(type_: str, doc: Doc) -> Iterator[tuple[Where, tuple[str, ...], str]]:
    """(field, allowed entity types, referenced id) for every reference in a document."""
    bases = ("legal-basis",)
    if type_ in ("category", "purpose") and doc.get("parent"):
        yield ("parent",), (type_,), doc["parent"]
    elif type_ == "system":
        for i, held in enumerate(doc.get("holds", ())):
            yield ("holds", i, "category"), ("category",), held["category"]
            yield from _listed(("holds", i, "purposes"), ("purpose",), held.get("purposes", ()))
            yield from _optional(("holds", i), held, {"legal_basis": bases, "condition": bases})
            yield from _listed(("holds", i, "additional_bases"), bases, held.get("additional_bases", ()))
            yield from _listed(("holds", i, "subject_categories"), _SUBJECTS, held.get("subject_categories", ()))
    elif type_ == "agreement":
        yield from _listed(("parties",), ("party",), doc["parties"])
        yield from _listed(("categories",), ("category",), doc.get("categories", ()))
        yield from _listed(("purposes",), ("purpose",), doc.get("purposes", ()))
        yield from _optional((), doc, {"legal_basis": bases, "condition": bases})
        yield from _listed(("additional_bases",), bases, doc.get("additional_bases", ()))
    elif type_ == "flow":
        yield ("from",), _NODES, doc["from"]
        yield ("to",), _NODES, doc["to"]
        yield from _listed(("categories",), ("category",), doc["categories"])
        yield ("purpose",), ("purpose",), doc["purpose"]
        yield from _optional((), doc, {"legal_basis": bases, "condition": bases, "agreement": ("agreement",)})
        yield from _listed(("additional_bases",), bases, doc.get("additional_bases", ()))
        yield from _listed(("subject_categories",), _SUBJECTS, doc.get("subject_categories", ()))


class _Unresolved:
    """References that name nothing, or something of the wrong type, with a "did you mean"
    among the ids of the right type. Also used, as far as its shape allows, on an item that
    failed validation, so one pass reports everything."""

    def __init__(self, defined: dict[str, str]):
        self.defined = defined
        self._ids: dict[str, list[str]] | None = None
        self._hints: dict[tuple[str, tuple[str, ...]], str] = {}

    def __call__(self, item: Item, doc: Doc) -> list[Problem]:
        problems = []
        try:
            for field, allowed, target in references(item.type, doc):
                found = self.defined.get(target) if isinstance(target, str) else None
                if found is None:
                    problems.append(item.problem(field, f"unknown {' or '.join(allowed)} {target!r}"
                                                        + self._hint(target, allowed)))
                elif found not in allowed:
                    problems.append(item.problem(field, f"{target!r} is a {found}, not a {' or '.join(allowed)}"))
        except (KeyError, TypeError, AttributeError):
            pass  # the shape errors already name what is missing
        return problems

    def _hint(self, target: Any, allowed: tuple[str, ...]) -> str:
        if not isinstance(target, str):
            return ""
        key = (target, allowed)
        if key not in self._hints and len(self._hints) < SUGGESTIONS:
            if self._ids is None:
                self._ids = defaultdict(list)
                for id_, type_ in self.defined.items():
                    self._ids[type_].append(id_)
            self._hints[key] = hint(target, (id_ for type_ in allowed for id_ in self._ids[type_]))
        return self._hints.get(key, "")


class Definitions:
    """Where the entities of a set of bundles are defined, for placing findings on their lines.

    Any section's entities are found by id (ids are unique across the registry); an entry of
    one of an entity's lists that names a category (a system's `holds` entry) by its id and
    category.
    """

    def __init__(self, items: Iterable[Item]):
        self._items = {item.raw["id"]: item for item in items
                       if isinstance(item.raw, dict) and isinstance(item.raw.get("id"), str)}

    def locate(self, entity_id: str, category: str | None = None) -> tuple[Source, int, int] | None:
        """(document, line, column) of the entity's id, or of the `category` value of its entry
        for `category`; None when no bundle defines the entity or its document has no lines."""
        item = self._items.get(entity_id)
        if item is None:
            return None
        where: Where = ("id",)
        if category is not None:
            where = next(((field, i, "category") for field, listed in item.raw.items() if isinstance(listed, list)
                          for i, entry in enumerate(listed)
                          if isinstance(entry, dict) and entry.get("category") == category), where)
        position = item.source.position(item.where + where)
        return (item.source, *position) if position else None


def items_of(sources: Iterable[Source]) -> list[Item]:
    """Every item of several bundles, parsed. Raises `BundleInvalid` with the problems of every
    document that cannot be read as a bundle."""
    items, problems = [], []
    for source in sources:
        try:
            items.extend(entities_in(source.parse(), source))
        except BundleInvalid as error:
            problems.extend(error.problems)
    if problems:
        raise BundleInvalid(problems)
    return items


def section_of(type_: str) -> str:
    return _SECTION_OF[type_]


def _listed(field: Where, allowed: tuple[str, ...], ids: Iterable[str]):
    return (((*field, i), allowed, id_) for i, id_ in enumerate(ids))


def _optional(prefix: Where, doc: Doc, fields: dict[str, tuple[str, ...]]):
    return (((*prefix, field), allowed, doc[field]) for field, allowed in fields.items() if doc.get(field))


def _parent_cycles(nodes: list[tuple[Item, Doc]], existing: dict[str, str | None]) -> list[Problem]:
    # The existing trees have no cycle, so any cycle passes through one of the bundle's categories
    # or purposes (ids are unique across types, so both trees share one map). Linear in the trees' size.
    parent = dict(existing)
    parent.update((doc["id"], doc.get("parent")) for _, doc in nodes)
    found = shape_problems(parent, [doc["id"] for _, doc in nodes])
    return [item.problem(("parent",), found[doc["id"]]) for item, doc in nodes if doc["id"] in found]
