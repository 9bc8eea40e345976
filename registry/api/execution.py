"""How GraphQL results are completed: strawberry's graphql-core executor, with a shortcut for lists of ids.

Lineage, holdings and DSAR answers carry thousands of ids in lists (paths, categories,
purposes), and graphql-core completes every item as a value of its own, which is most of the
time such an answer takes. A list of `ID!` or `String!` whose items are all `str` completes to
itself (both scalars serialise a string unchanged), so it is returned as it is.
"""

from __future__ import annotations

from graphql import GraphQLID, GraphQLString, is_non_null_type
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

_TEXT = (GraphQLID, GraphQLString)


class RegistryExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def complete_list_value(self, return_type, field_details_list, info, path, result, position_context):
        item = return_type.of_type
        if (type(result) is list and is_non_null_type(item) and item.of_type in _TEXT
                and all(type(value) is str for value in result)):
            return result
        return super().complete_list_value(return_type, field_details_list, info, path, result, position_context)
