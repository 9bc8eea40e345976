"""How GraphQL results are completed: strawberry's graphql-core executor, with two shortcuts.

Holdings, lineage and DSAR answers are thousands of plain values: attributes of result objects
(ids, names, dates) and lists of ids (paths, categories, purposes). graphql-core builds a
resolve-info object for every field and completes every list item as a value of its own, which
is most of the time such an answer takes. So:

- a field without a resolver (strawberry marks its resolver `_is_default`) whose type is a
  scalar, an enum or a list of ids is read and serialised directly, unless a schema extension
  wraps resolvers (as middleware);
- a list of `ID!` or `String!` whose items are all `str` completes to itself (both scalars
  serialise a string unchanged).

Anything else, and any value these shortcuts do not expect (a null, a value the scalar refuses),
takes graphql-core's own path, which produces the usual result or error.
"""

from __future__ import annotations

from graphql import GraphQLID, GraphQLString, Undefined, is_leaf_type, is_list_type, is_non_null_type
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

_TEXT = (GraphQLID, GraphQLString)


def _text_list(type_) -> bool:
    return is_non_null_type(type_) and type_.of_type in _TEXT


class RegistryExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def execute_field(self, parent_type, source, field_details_list, path, position_context):
        field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        middleware = self.middleware_manager
        if (field_def is not None and getattr(field_def.resolve, "_is_default", False)
                and (middleware is None or not middleware.middlewares)):
            type_ = field_def.type.of_type if is_non_null_type(field_def.type) else field_def.type
            if is_leaf_type(type_):
                try:
                    value = field_def.resolve(source, None)
                    if value is not None:
                        serialized = type_.serialize(value)
                        if serialized is not None and serialized is not Undefined:
                            return serialized
                except Exception:  # noqa: BLE001 - graphql-core's path below reports it properly
                    pass
            elif is_list_type(type_) and _text_list(type_.of_type):
                value = field_def.resolve(source, None)
                if type(value) is list and all(type(item) is str for item in value):
                    return value
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def complete_list_value(self, return_type, field_details_list, info, path, result, position_context):
        if type(result) is list and _text_list(return_type.of_type) and all(type(item) is str for item in result):
            return result
        return super().complete_list_value(return_type, field_details_list, info, path, result, position_context)
