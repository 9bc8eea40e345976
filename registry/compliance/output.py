"""Compliance records as plain JSON, with the GraphQL API's camelCase field names.

>>> from registry.compliance.ropa import Retention
>>> plain(Retention("health", "P10Y"))
{'category': 'health', 'period': 'P10Y'}
>>> camel("entity_kind")
'entityKind'
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from typing import Any


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def plain(value: Any) -> Any:
    """Dataclasses as dicts with camelCase keys; dates and times as ISO 8601 text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {camel(f.name): plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def dumps(value: Any) -> str:
    return json.dumps(plain(value), indent=2, ensure_ascii=False) + "\n"
