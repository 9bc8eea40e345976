"""What a GraphQL operation may cost, worked out from its text before anything runs.

The estimate counts the values an answer can hold and the registry-wide computations it asks for:

- a field of a scalar or an enum costs 1; an object field 1 plus its selection;
- a list field costs 1 plus its selection times the list's expected size: its `limit` or `first`
  argument when the query gives a number, else `ROOT_LIST` for a list of `Query`
  (`systems`, `holders` …) and `NESTED_LIST` for a list inside an answer (a holding's `path`);
- each field of `COMPUTED` (one traversal or report over the whole registry: `holders`, `lineage`,
  `findings`, `ropa`, `dsar` …) adds `COMPUTATION`;
- aliases count again (each is computed again), fragments count where they are spread, the
  fields of `__schema` and `__type` count nothing (the schema bounds them).

An operation over the limit is refused before it runs, with one error that gives its cost and
the limit (`extensions.code` `QUERY_TOO_COSTLY`, `extensions.cost`, `extensions.limit`).

>>> from registry.api.schema import schema
>>> from graphql import parse
>>> operation_cost(schema._schema, parse("{ holders(category: \\"contact\\") { holder { id } path } }"))
11301
>>> operation_cost(schema._schema, parse("{ systems { id holds { category } } }"))
1201
"""

from __future__ import annotations

import functools

from graphql import (DocumentNode, FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLError,
                     GraphQLInterfaceType, GraphQLObjectType, GraphQLSchema, InlineFragmentNode, IntValueNode,
                     OperationDefinitionNode, SelectionSetNode, ValidationRule, get_named_type, is_list_type,
                     is_non_null_type, type_from_ast)

__all__ = ["COMPUTATION", "COMPUTED", "DEFAULT_MAX_COST", "NESTED_LIST", "ROOT_LIST", "cost_limit", "operation_cost"]

DEFAULT_MAX_COST = 50_000
"""The default limit (`DSA_REGISTRY_MAX_QUERY_COST`): four registry-wide computations with their
answers, or every system with its holdings."""
ROOT_LIST = 100
NESTED_LIST = 10
COMPUTATION = 10_000
COMPUTED = frozenset({"holders", "holdings", "lineage", "lineageExport", "dsar", "erasurePlan", "findings", "impact",
                      "breachImpact", "ropa"})
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

    def selection(self, parent, selection_set: SelectionSetNode | None, root: bool = False) -> int:
        if selection_set is None or not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            return 0
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(parent, node, root)
            elif isinstance(node, InlineFragmentNode):
                on = type_from_ast(self.schema, node.type_condition) if node.type_condition else parent
                total += self.selection(on or parent, node.selection_set, root)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in self._spreading:  # other rules report these
                    continue
                self._spreading.add(name)
                on = type_from_ast(self.schema, fragment.type_condition)
                total += self.selection(on or parent, fragment.selection_set, root)
                self._spreading.discard(name)
        return total

    def field(self, parent, node: FieldNode, root: bool) -> int:
        name = node.name.value
        definition = parent.fields.get(name)
        if name.startswith("__") or definition is None:
            return 0
        type_ = definition.type.of_type if is_non_null_type(definition.type) else definition.type
        inner = self.selection(get_named_type(type_), node.selection_set)
        cost = 1 + inner
        if is_list_type(type_):
            cost = 1 + _size(node, ROOT_LIST if root else NESTED_LIST) * max(inner, 1)
        if root and name in COMPUTED:
            cost += COMPUTATION
        return cost


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
                    "ask for fewer aliases or fields, or page with `limit`", node,
                    extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": max_cost}))

    CostLimit.__name__ = CostLimit.__qualname__ = f"CostLimit{max_cost}"
    return CostLimit
