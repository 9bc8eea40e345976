"""What a GraphQL operation may cost, worked out from its text before anything runs.

The estimate counts the values an answer can hold and the registry-wide computations it asks for:

- a field of a scalar or an enum costs 1; an object field 1 plus its selection;
- a list field costs 1 plus its selection times the list's expected size: its `limit` or `first`
  argument when the query gives a number, else `ROOT_LIST` for a list of `Query`
  (`systems`, `holders` …) and `NESTED_LIST` for a list inside an answer (a holding's `path`);
  a page of a list (a connection) is sized by its own `first`, and its `nodes` count that many;
- each field of `COMPUTED` (one traversal or report over the whole registry: `holders`, `lineage`,
  `findings`, `ropa`, `dsar` …, or a whole bundle validated against it: `importBundle`) adds
  `COMPUTATION`;
- aliases count again (each is computed again), fragments count where they are spread, the
  fields of `__schema` and `__type` count nothing (the schema bounds them).

An operation over the limit is refused before it runs, with one error that gives its cost and
the limit (`extensions.code` `QUERY_TOO_COSTLY`, `extensions.cost`, `extensions.limit`).

>>> from registry.api.schema import schema
>>> from graphql import parse
>>> operation_cost(schema._schema, parse("{ holders(category: \\"contact\\") { nodes { holder { ... on System { id } } path } } }"))
11302
>>> operation_cost(schema._schema, parse("{ systems { nodes { id holds { category } } } }"))
1202
"""

from __future__ import annotations

import functools

from graphql import (DocumentNode, FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLError,
                     GraphQLInterfaceType, GraphQLObjectType, GraphQLSchema, GraphQLUnionType, InlineFragmentNode,
                     IntValueNode, OperationDefinitionNode, SelectionSetNode, ValidationRule, get_named_type, is_list_type,
                     is_non_null_type, type_from_ast)

__all__ = ["COMPUTATION", "COMPUTED", "DEFAULT_MAX_COST", "NESTED_LIST", "ROOT_LIST", "cost_limit", "operation_cost"]

DEFAULT_MAX_COST = 50_000
"""The default limit (`DSA_REGISTRY_MAX_QUERY_COST`): four registry-wide computations with their
answers, or every system with its holdings."""
ROOT_LIST = 100
NESTED_LIST = 10
COMPUTATION = 10_000
COMPUTED = frozenset({"holders", "holdings", "lineage", "lineageExport", "dsar", "erasurePlan", "findings", "impact",
                      "breachImpact", "ropa", "importBundle"})
_SIZES = ("limit", "first")


def operation_cost(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode | None = None
                   ) -> int:
    """The cost of `operation` (by default the document's most costly one), as the module docstring defines it."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [operation] if operation else [d for d in document.definitions
                                               if isinstance(d, OperationDefinitionNode)]
    costs = [_Estimate(schema, fragments).selection(schema.get_root_type(op.operation), op.selection_set, True)
             for op in operations]
    return max(costs, default=0)


class _Estimate:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]):
        self.schema, self.fragments = schema, fragments
        self._spreading: set[str] = set()

    def selection(self, parent, selection_set: SelectionSetNode | None, root: bool = False,
                  page: int | None = None) -> int:
        """The cost of a selection on `parent`; `page` is the expected size of a connection's `nodes`."""
        if selection_set is None or not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)):
            return 0
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(parent, node, root, page)
            elif isinstance(node, InlineFragmentNode):
                on = type_from_ast(self.schema, node.type_condition) if node.type_condition else parent
                total += self.selection(on or parent, node.selection_set, root, page)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in self._spreading:  # other rules report these
                    continue
                self._spreading.add(name)
                on = type_from_ast(self.schema, fragment.type_condition)
                total += self.selection(on or parent, fragment.selection_set, root, page)
                self._spreading.discard(name)
        return total

    def field(self, parent, node: FieldNode, root: bool, page: int | None = None) -> int:
        name = node.name.value
        definition = getattr(parent, "fields", {}).get(name)  # a union has none but `__typename`
        if name.startswith("__") or definition is None:
            return 0
        type_ = definition.type.of_type if is_non_null_type(definition.type) else definition.type
        named = get_named_type(type_)
        expected = ROOT_LIST if root else NESTED_LIST
        inner = self.selection(named, node.selection_set,
                               page=_size(node, expected) if _connection(named) else None)
        cost = 1 + inner
        if is_list_type(type_):
            cost = 1 + _size(node, page if name == "nodes" and page is not None else expected) * max(inner, 1)
        if root and name in COMPUTED:
            cost += COMPUTATION
        return cost


def _connection(type_) -> bool:
    """A page of a list (`registry.api.paging.Connection`): its `nodes` are as many as its `first`."""
    return isinstance(type_, GraphQLObjectType) and "nodes" in type_.fields and "pageInfo" in type_.fields


def _size(node: FieldNode, expected: int) -> int:
    for argument in node.arguments or ():
        if argument.name.value in _SIZES and isinstance(argument.value, IntValueNode):
            return max(int(argument.value.value), 0)
    return expected


@functools.cache
def cost_limit(max_cost: int) -> type[ValidationRule]:
    """The validation rule that refuses operations costing more than `max_cost` (one class per
    limit, so that the validation cache, keyed by its rules, keeps hitting)."""

    class CostLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args) -> None:
            context = self.context
            cost = operation_cost(context.schema, context.document, node)
            if cost > max_cost:
                name = f"operation {node.name.value!r}" if node.name else "the operation"
                self.report_error(GraphQLError(
                    f"{name} would cost {cost:,}, over the limit of {max_cost:,} (DSA_REGISTRY_MAX_QUERY_COST): "
                    "ask for fewer aliases or fields, or page with `first`", node,
                    extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": max_cost}))

    CostLimit.__name__ = CostLimit.__qualname__ = f"CostLimit{max_cost}"
    return CostLimit
