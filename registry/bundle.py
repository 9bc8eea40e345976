"""Bundles: parsing YAML/JSON and validating them completely before anything is applied.

Every problem is collected, not just the first: shape and type errors from the models,
duplicate ids, redefined built-ins, ids taken by another entity type, references that do not
resolve (in the bundle or the existing registry), category and purpose parent cycles, dates
out of order. Each names where it is (`flows[3].to`) and why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import yaml
from pydantic import ValidationError

from graph.store import Doc, Stored
from registry.legal_bases import BUILTIN_LEGAL_BASES
from registry.model import MODELS, SECTIONS, Entity

_SECTION_OF = {type_: section for section, type_ in SECTIONS.items()}
_NODES = ("system", "party")
_SUBJECTS = ("subject-category",)


class _Loader(yaml.SafeLoader):
    """Safe YAML that leaves dates as text, so the models validate them with a location."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class Problem(NamedTuple):
    source: str
    location: str
    message: str

    def __str__(self) -> str:
        return ": ".join(part for part in self if part)


class Item(NamedTuple):
    """One entity to validate: where it comes from, its type and its raw data."""

    source: str
    location: str
    type: str
    raw: Any

    def problem(self, field: str):
        return lambda message: Problem(self.source, f"{self.location}.{field}" if self.location else field, message)


class BundleInvalid(ValueError):
    """A bundle (or one entity) failed validation; nothing was applied."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


def parse(text: str, source: str) -> Any:
    """The data in a YAML or JSON document."""
    try:
        if text.lstrip().startswith("{"):
            return json.loads(text)
        return yaml.load(text, Loader=_Loader)
    except json.JSONDecodeError as error:
        raise BundleInvalid([Problem(source, f"line {error.lineno}, column {error.colno}", f"invalid JSON: {error.msg}")]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(error, "problem", None) or str(error)
        raise BundleInvalid([Problem(source, where, f"invalid YAML: {reason}")]) from None


def entities_in(data: Any, source: str) -> list[Item]:
    """Every item of a bundle, in dependency order."""
    if data is None:
        return []
    if not isinstance(data, dict):
        raise BundleInvalid([Problem(source, "", "a bundle must be a mapping with lists such as "
                                                 "`categories:`, `systems:` and `flows:`")])
    problems = [Problem(source, str(key), f"unknown section; expected one of {', '.join(SECTIONS)}")
                for key in data if key not in SECTIONS]
    items = []
    for section, type_ in SECTIONS.items():
        listed = data.get(section)
        if listed is None:
            continue
        if not isinstance(listed, list):
            problems.append(Problem(source, section, "must be a list"))
            continue
        items.extend(Item(source, f"{section}[{i}]", type_, raw) for i, raw in enumerate(listed))
    if problems:
        raise BundleInvalid(problems)
    return items


def validate(items: Iterable[Item], existing: dict[str, str], parents: dict[str, str | None]) -> list[Stored]:
    """Validated documents for `items`, given the `existing` registry (id -> type) and its
    category and purpose trees (id -> parent).

    Raises `BundleInvalid` with every problem found.
    """
    problems: list[Problem] = []
    valid: list[tuple[Item, Entity]] = []
    invalid: list[Item] = []
    for item in items:
        try:
            valid.append((item, MODELS[item.type].model_validate(item.raw)))
        except ValidationError as error:
            problems.extend(_pydantic_problems(item, error))
            if isinstance(item.raw, dict):
                invalid.append(item)

    defined = dict(existing)
    defined.update((id_, "legal-basis") for id_ in BUILTIN_LEGAL_BASES)
    first_seen: dict[str, Item] = {}
    for item, entity in valid:
        problem = item.problem("id")
        if entity.id in first_seen:
            seen = first_seen[entity.id]
            problems.append(problem(f"duplicate id {entity.id!r} (also at {seen.source}: {seen.location})"))
        elif entity.id in BUILTIN_LEGAL_BASES:
            problems.append(problem(f"{entity.id!r} is a built-in legal basis and cannot be redefined"))
        elif existing.get(entity.id, item.type) != item.type:
            problems.append(problem(f"id {entity.id!r} is already used by a {existing[entity.id]}"))
        first_seen.setdefault(entity.id, item)
        defined.setdefault(entity.id, item.type)

    defined.update((item.raw["id"], item.type) for item in invalid
                   if isinstance(item.raw.get("id"), str) and item.raw["id"] not in defined)
    docs = [(item, entity.to_doc()) for item, entity in valid]
    for item in invalid:
        problems.extend(_unresolved(item, item.raw, defined))
    for item, doc in docs:
        problems.extend(_unresolved(item, doc, defined))
        if item.type == "flow" and doc["from"] == doc["to"]:
            problems.append(item.problem("to")("a flow must go to another system or party than it comes from"))
        if item.type == "agreement" and doc.get("expires") and doc["expires"] < doc["effective"]:
            problems.append(item.problem("expires")(f"{doc['expires']} is before `effective` {doc['effective']}"))
        if item.type == "flow" and doc.get("since") and doc.get("until") and doc["until"] < doc["since"]:
            problems.append(item.problem("until")(f"{doc['until']} is before `since` {doc['since']}"))
    problems.extend(_parent_cycles([(item, doc) for item, doc in docs if item.type in ("category", "purpose")],
                                   parents))
    if problems:
        raise BundleInvalid(problems)
    return [Stored(item.type, doc) for item, doc in docs]


def references(type_: str, doc: Doc) -> Iterator[tuple[str, tuple[str, ...], str]]:
    """(field location, allowed entity types, referenced id) for every reference in a document."""
    bases = ("legal-basis",)
    if type_ in ("category", "purpose") and doc.get("parent"):
        yield "parent", (type_,), doc["parent"]
    elif type_ == "system":
        for i, held in enumerate(doc.get("holds", ())):
            yield f"holds[{i}].category", ("category",), held["category"]
            yield from _listed(f"holds[{i}].purposes", ("purpose",), held.get("purposes", ()))
            yield from _optional(f"holds[{i}].", held, {"legal_basis": bases, "condition": bases})
            yield from _listed(f"holds[{i}].additional_bases", bases, held.get("additional_bases", ()))
            yield from _listed(f"holds[{i}].subject_categories", _SUBJECTS, held.get("subject_categories", ()))
    elif type_ == "agreement":
        yield from _listed("parties", ("party",), doc["parties"])
        yield from _listed("categories", ("category",), doc.get("categories", ()))
        yield from _listed("purposes", ("purpose",), doc.get("purposes", ()))
        yield from _optional("", doc, {"legal_basis": bases, "condition": bases})
        yield from _listed("additional_bases", bases, doc.get("additional_bases", ()))
    elif type_ == "flow":
        yield "from", _NODES, doc["from"]
        yield "to", _NODES, doc["to"]
        yield from _listed("categories", ("category",), doc["categories"])
        yield "purpose", ("purpose",), doc["purpose"]
        yield from _optional("", doc, {"legal_basis": bases, "condition": bases, "agreement": ("agreement",)})
        yield from _listed("additional_bases", bases, doc.get("additional_bases", ()))
        yield from _listed("subject_categories", _SUBJECTS, doc.get("subject_categories", ()))


def _unresolved(item: Item, doc: Doc, defined: dict[str, str]) -> list[Problem]:
    """References that name nothing, or something of the wrong type. Also used, as far as
    its shape allows, on an item that failed validation, so one pass reports everything."""
    problems = []
    try:
        for field, allowed, target in references(item.type, doc):
            found = defined.get(target) if isinstance(target, str) else None
            if found is None:
                problems.append(item.problem(field)(f"unknown {' or '.join(allowed)} {target!r}"))
            elif found not in allowed:
                problems.append(item.problem(field)(f"{target!r} is a {found}, not a {' or '.join(allowed)}"))
    except (KeyError, TypeError, AttributeError):
        pass  # the shape errors already name what is missing
    return problems


def section_of(type_: str) -> str:
    return _SECTION_OF[type_]


def _listed(field: str, allowed: tuple[str, ...], ids: Iterable[str]):
    return ((f"{field}[{i}]", allowed, id_) for i, id_ in enumerate(ids))


def _optional(prefix: str, doc: Doc, fields: dict[str, tuple[str, ...]]):
    return ((prefix + field, allowed, doc[field]) for field, allowed in fields.items() if doc.get(field))


def _parent_cycles(nodes: list[tuple[Item, Doc]], existing: dict[str, str | None]) -> list[Problem]:
    # The existing trees have no cycle, so any cycle passes through one of the bundle's categories
    # or purposes (ids are unique across types, so both trees share one map).
    parent = dict(existing)
    parent.update((doc["id"], doc.get("parent")) for _, doc in nodes)
    problems = []
    for item, doc in nodes:
        chain, node = [doc["id"]], doc.get("parent")
        while node in parent and node not in chain:
            chain.append(node)
            node = parent[node]
        if node == doc["id"]:
            problems.append(item.problem("parent")("parent cycle: " + " → ".join(chain + [node])))
    return problems


def _pydantic_problems(item: Item, error: ValidationError) -> list[Problem]:
    problems = []
    for detail in error.errors():
        where = (item.location + "".join(f"[{part}]" if isinstance(part, int) else f".{part}"
                                         for part in detail["loc"])).lstrip(".")
        if detail["type"] == "extra_forbidden":
            message = "unknown field"
        elif detail["type"] == "missing":
            message = "required field is missing"
        else:
            message = detail["msg"].removeprefix("Value error, ")
        problems.append(Problem(item.source, where, message))
    return problems
