"""Input documents: their text, their data, and where everything in them is.

Files are UTF-8 text (a leading byte-order mark is skipped); a bundle is YAML, or JSON when its
text starts with `{`. Reading and parsing refuse, each with one `Problem` naming the file, line and
column: text that is not UTF-8, invalid syntax, a key given twice in one mapping, nesting deeper
than `MAX_DEPTH` levels, integers of more than `MAX_DIGITS` digits. Line and column of every key
and value (`Source.position`) are worked out only when asked for (error messages, SARIF), from
the YAML node tree; JSON goes through the same composer, so a JSON document that YAML cannot
read (surrogate escapes such as `\\ud83d`) has its problems reported without line numbers.

>>> source = Source("a.yaml", "flows:\\n  - id: f1\\n    to: crm\\n")
>>> source.parse()
{'flows': [{'id': 'f1', 'to': 'crm'}]}
>>> source.position(("flows", 0, "to")), source.position(("flows", 0, "from"))
((3, 9), (2, 5))
>>> Source("b.yaml", "id: a\\nid: b\\n").parse()
Traceback (most recent call last):
registry.sources.BundleInvalid: b.yaml:2:1: duplicate key 'id' (first at line 1)
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import yaml

MAX_DEPTH = 64
"""Deepest nesting of lists and mappings a document may have (a bundle needs 6)."""
MAX_DIGITS = 4300
"""Longest integer literal, in digits: Python's own limit for converting text to integers."""

Where = tuple[str | int, ...]
"""A path into a document: mapping keys and list positions, `("flows", 3, "agreement")`."""

_INT = "tag:yaml.org,2002:int"
_MERGE = "tag:yaml.org,2002:merge"


class Problem(NamedTuple):
    """One thing wrong with an input: where it is (file, line, column, entity, field) and why.

    `str()` gives the one line users see, `file:line:column: entity: field: reason`, leaving out
    what is unknown.
    """

    source: str
    message: str
    line: int | None = None
    column: int | None = None
    entity: str | None = None
    """The entity concerned, `flow 'claims-to-coral'` (or `flows[3]` while it has no id)."""
    field: str | None = None
    """The field within the entity (or document), `holds[1].retention`."""

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        return ": ".join(shown(part) for part in (where, self.entity, self.field, self.message) if part)


def shown(text: str) -> str:
    r"""`text` on one line as a terminal shows it: control, format (bidi) and separator characters
    escaped, so that input cannot break or forge lines of a message.

    >>> shown("flows[0].a\nb\u202e")
    'flows[0].a\\nb\\u202e'
    """
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class BundleInvalid(ValueError):
    """A bundle (or one entity) failed validation; nothing was applied."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe YAML that leaves dates as text, so the models validate them with a location."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(eq=False)
class Source:
    """A named document: a file (`path`) or text given directly (`text` None: no document,
    such as a GraphQL input object)."""

    name: str
    text: str | None = None
    path: Path | None = None

    @classmethod
    def read(cls, path: Path) -> Source:
        """The file's text. Raises `BundleInvalid` when it cannot be read or is not UTF-8."""
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise BundleInvalid([Problem(str(path), f"cannot read the file: {error.strerror}")]) from None
        return cls(str(path), decode(raw, str(path)), path)

    def parse(self) -> Any:
        """The document's data. Raises `BundleInvalid` with the problem's line and column."""
        text = self.text or ""
        if text.lstrip().startswith("{"):
            return self._json(text)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            if problems := self._refusals(node):
                raise BundleInvalid(problems)
            return loader.construct_document(node)
        except yaml.YAMLError as error:
            raise BundleInvalid([self._yaml_problem(error)]) from None
        except RecursionError:  # the pure-Python parser, where libyaml is missing
            raise BundleInvalid([Problem(self.name, f"nested deeper than {MAX_DEPTH} levels")]) from None
        finally:
            loader.dispose()

    def position(self, where: Where, key: bool = False) -> tuple[int, int] | None:
        """(line, column), from 1, of the value at `where` (of its key with `key`), or of the
        nearest enclosing value the document has; None when nothing is known."""
        values, keys = self._positions
        if key and where in keys:
            return keys[where]
        while where not in values and where:
            where = where[:-1]
        return values.get(where)

    @cached_property
    def _positions(self) -> tuple[dict[Where, tuple[int, int]], dict[Where, tuple[int, int]]]:
        values: dict[Where, tuple[int, int]] = {}
        keys: dict[Where, tuple[int, int]] = {}
        try:
            root = yaml.compose(self.text or "", Loader=_Loader)
        except (yaml.YAMLError, RecursionError):
            return values, keys
        for where, key, node in _walk(root):
            values.setdefault(where, _mark(node.start_mark))
            if key is not None:
                keys.setdefault(where, _mark(key.start_mark))
        return values, keys

    def _json(self, text: str) -> Any:
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicates, parse_int=_int)
        except json.JSONDecodeError as error:
            raise BundleInvalid([Problem(self.name, f"invalid JSON: {error.msg}", error.lineno, error.colno)]) from None
        except (_Refused, RecursionError) as error:
            message = str(error) if isinstance(error, _Refused) else f"nested deeper than {MAX_DEPTH} levels"
            raise BundleInvalid(self._located_refusals() or [Problem(self.name, message)]) from None
        if _depth(data) > MAX_DEPTH:
            raise BundleInvalid(self._located_refusals()
                                or [Problem(self.name, f"nested deeper than {MAX_DEPTH} levels")])
        return data

    def _located_refusals(self) -> list[Problem]:
        """The refusals of the document as YAML reads it, with their lines (none if YAML cannot)."""
        try:
            return self._refusals(yaml.compose(self.text or "", Loader=_Loader))
        except (yaml.YAMLError, RecursionError):
            return []

    def _refusals(self, root: yaml.Node | None) -> list[Problem]:
        """Keys given twice, integers too long, nesting too deep: what parsing refuses."""
        problems = []
        for where, key, node in _walk(root):
            if len(where) >= MAX_DEPTH and isinstance(node, (yaml.SequenceNode, yaml.MappingNode)):
                return [*problems, self._at(node, f"nested deeper than {MAX_DEPTH} levels")]
            if isinstance(node, yaml.ScalarNode) and node.tag == _INT and len(node.value) > MAX_DIGITS:
                problems.append(self._at(node, f"an integer of {len(node.value)} digits (at most {MAX_DIGITS})"))
            elif isinstance(node, yaml.MappingNode):
                first: dict[tuple[str, str], yaml.Node] = {}
                for key_node, _ in node.value:
                    if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE:
                        seen = first.setdefault((key_node.tag, key_node.value), key_node)
                        if seen is not key_node:
                            problems.append(self._at(key_node, f"duplicate key {key_node.value!r} "
                                                               f"(first at line {seen.start_mark.line + 1})"))
        return sorted(problems, key=lambda p: (p.line or 0, p.column or 0))

    def _at(self, node: yaml.Node, message: str) -> Problem:
        return Problem(self.name, message, *_mark(node.start_mark))

    def _yaml_problem(self, error: yaml.YAMLError) -> Problem:
        if isinstance(error, yaml.reader.ReaderError):  # a character YAML does not allow
            before = (self.text or "")[:error.position]
            line, column = before.count("\n") + 1, error.position - (before.rfind("\n") + 1) + 1
            character = f"#x{error.character:04x}" if isinstance(error.character, int) else repr(error.character)
            return Problem(self.name, f"invalid YAML: character {character}: {error.reason}", line, column)
        mark = getattr(error, "problem_mark", None)
        reason = getattr(error, "problem", None) or str(error)
        return Problem(self.name, f"invalid YAML: {reason}", *(_mark(mark) if mark else (None, None)))


def decode(raw: bytes, source: str, line: int | None = None) -> str:
    """UTF-8 text without a leading byte-order mark. Raises `BundleInvalid` naming the first
    byte that is not UTF-8 (`line`: the number of the first line in `raw`, for a line-by-line reader)."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and line in (None, 1):
        raise BundleInvalid([Problem(source, "UTF-16 text (it starts with a UTF-16 byte-order mark); "
                                             "save the file as UTF-8", 1, 1)])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        before = raw[:error.start]
        start = before.rfind(b"\n") + 1
        column = len(before[start:].decode("utf-8")) + 1
        raise BundleInvalid([Problem(source, f"not UTF-8 text (byte 0x{raw[error.start]:02x}); save the file as UTF-8",
                                     (line or 1) + before.count(b"\n"), column)]) from None


def _walk(root: yaml.Node | None) -> Iterator[tuple[Where, yaml.Node | None, yaml.Node]]:
    """(path, key node or None, node) for every node in document order. A node reached again
    through an alias is given once more but not entered again, so aliases cost nothing."""
    entered: set[int] = set()
    stack: list[tuple[Where, yaml.Node | None, yaml.Node]] = [((), None, root)] if root is not None else []
    while stack:
        where, key, node = stack.pop()
        yield where, key, node
        if id(node) in entered:
            continue
        entered.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend(((*where, i), None, child) for i, child in reversed(list(enumerate(node.value))))
        elif isinstance(node, yaml.MappingNode):
            stack.extend(((*where, k.value if isinstance(k, yaml.ScalarNode) else "?"), k, v)
                         for k, v in reversed(node.value))


def _mark(mark) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


class _Refused(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) < len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise _Refused(f"duplicate key {twice!r}")
    return result


def _int(text: str) -> int:
    if len(text) > MAX_DIGITS:
        raise _Refused(f"an integer of {len(text)} digits (at most {MAX_DIGITS})")
    return int(text)


def _depth(data: Any) -> int:
    """How deeply lists and mappings nest in JSON data (1 for a flat one, 0 for a scalar)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                stack.extend((child, depth + 1) for child in children)
    return deepest
