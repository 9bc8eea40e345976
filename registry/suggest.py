""""Did you mean …?": the nearest known word to a misspelt id, field name or value.

Candidates for fields and values come from a model's JSON schema, so every model (and every
field added later) gets them without a list of its own.

>>> hint("dpa-cloud", ["dpa-cloudco", "dsa-hanse"])
" (did you mean 'dpa-cloudco'?)"
>>> hint("nowhere", ["crm", "dwh"])
''
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

CUTOFF = 0.7
"""How alike (difflib's ratio, 0 to 1, ignoring case) a candidate must be to be suggested; for
words of up to four characters, where one wrong letter weighs more, 0.65 (`crn` for `crm`)."""


def nearest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like `word`, if one is alike enough.

    >>> nearest("SCC", ["adequacy", "scc"]), nearest("crn", ["crm"]), nearest("p1", ["p2"])
    ('scc', 'crm', None)
    """
    by_folded: dict[str, str] = {}
    for candidate in candidates:
        by_folded.setdefault(candidate.casefold(), candidate)
    found = difflib.get_close_matches(word.casefold(), by_folded, n=1, cutoff=CUTOFF if len(word) > 4 else 0.65)
    return by_folded[found[0]] if found else None


def hint(word: Any, candidates: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the nearest candidate, or nothing."""
    match = nearest(word, candidates) if isinstance(word, str) else None
    return f" (did you mean {match!r}?)" if match else ""


def model_message(model: type[BaseModel], detail: dict) -> str:
    """A pydantic error detail as one short reason, with a suggestion for an unknown field or
    a value outside a fixed set."""
    loc, kind = detail["loc"], detail["type"]
    if kind == "extra_forbidden":
        return "unknown field" + hint(loc[-1], fields(model, loc[:-1]))
    if kind == "missing":
        return "required field is missing"
    message = detail["msg"].removeprefix("Value error, ")
    if kind in ("literal_error", "enum"):
        message += hint(detail.get("input"), choices(model, loc))
    return message


def fields(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names (as written in documents) of the object at `loc` in `model`."""
    return list(_at(model, loc).get("properties", ()))


def choices(model: type[BaseModel], loc: tuple) -> list[str]:
    """The allowed values of the field at `loc` in `model`, when they are a fixed set."""
    node = _at(model, loc)
    return [value for value in node.get("enum", ()) if isinstance(value, str)]


@functools.cache
def _schema(model: type[BaseModel]) -> dict:
    return model.model_json_schema(by_alias=True)


def _at(model: type[BaseModel], loc: tuple) -> dict:
    root = _schema(model)
    node = _resolve(root, root)
    for part in loc:
        node = _resolve(root, node.get("items", {}) if isinstance(part, int) else node.get("properties", {}).get(part, {}))
    return node


def _resolve(root: dict, node: dict) -> dict:
    """The schema `node` stands for: references followed, the non-null branch of an optional."""
    while True:
        if "$ref" in node:
            node = root.get("$defs", {}).get(node["$ref"].rsplit("/", 1)[-1], {})
        elif "anyOf" in node:
            node = next((option for option in node["anyOf"] if option.get("type") != "null"), {})
        else:
            return node
