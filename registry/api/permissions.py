"""Every field the roles govern is checked before it resolves, against `registry.auth.roles.FIELDS`.

`authorize(Query, Mutation, …)` gives every field of the root types (and the fields of other
types that `FIELDS` names) the `Authorized` extension. A field refused to the caller resolves to
an error with `extensions.code` `FORBIDDEN` that names the permission, never whether the object
asked for exists; a root field without an entry in `FIELDS` is refused to everyone.

    { systems { id } dsar(subject: "C-1") { subject { id } } }   # as a viewer:
    # data.systems as usual; dsar null with "'token:ci' (roles: viewer) lacks the
    # 'subject-data:read' permission" (FORBIDDEN)
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.extensions import FieldExtension
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case

from registry.auth.roles import FIELDS, Forbidden, field_permission, require

__all__ = ["Authorized", "authorize"]

ROOTS = ("Query", "Mutation")
NO_ENTRY = "an entry in registry.auth.roles.FIELDS"


class Authorized(FieldExtension):
    """Refuses the field `type_name.field` unless `info.context.principal` holds the permission
    `FIELDS` gives it."""

    def __init__(self, type_name: str, field: str):
        self.field = f"{type_name}.{field}"
        self.permission = field_permission(type_name, field)

    def resolve(self, next_, source: Any, info, **kwargs: Any) -> Any:
        self._check(info)
        return next_(source, info, **kwargs)

    async def resolve_async(self, next_, source: Any, info, **kwargs: Any) -> Any:
        self._check(info)
        return await next_(source, info, **kwargs)

    def _check(self, info) -> None:
        try:
            if self.permission is None:
                raise Forbidden(f"{self.field} is not available: it has no permission ({NO_ENTRY})")
            require(info.context.principal, self.permission)
        except Forbidden as error:
            raise GraphQLError(str(error), extensions={"code": "FORBIDDEN"}) from None


def graphql_name(field) -> str:
    return field.graphql_name or to_camel_case(field.python_name)


def authorize(*types: type) -> None:
    """Give the governed fields of `types` the `Authorized` extension (once, before the schema is built).

    Raises `LookupError` when `FIELDS` names a field that none of `types` has."""
    names = set()
    for type_ in types:
        definition = get_object_definition(type_, strict=True)
        governed = FIELDS.get(definition.name, {})
        for field in definition.fields:
            name = graphql_name(field)
            names.add((definition.name, name))
            if (definition.name in ROOTS or name in governed) and not any(
                    isinstance(e, Authorized) for e in field.extensions):
                field.extensions.append(Authorized(definition.name, name))
    missing = [f"{type_}.{field}" for type_, fields in FIELDS.items() for field in fields
               if (type_, field) not in names]
    if missing:
        raise LookupError(f"registry.auth.roles.FIELDS names fields the schema lacks: {', '.join(missing)}")
