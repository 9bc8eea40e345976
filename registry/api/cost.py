"""What a GraphQL operation may cost, worked out from its text and variables before anything runs,
and charged again with the real size of each list of `Query` asked for without `first`.

The estimate counts the values an answer can hold and the registry-wide computations it asks for:

- a field of a scalar or an enum costs 1; an object field 1 plus its selection;
- a list field costs 1 plus its selection times the list's expected size: its `limit` or `first`
  argument when the query gives one (a number, or a variable with the request's value or the
  variable's default), else `ROOT_LIST` for a list of `Query` (`systems`, `holders` …) and
  `NESTED_LIST` for a list inside an answer (a holding's `path`); a page of a list (a connection)
  is sized by its own `first`, and its `nodes` count that many;
- a list of `Query` asked for without `first` holds every item: once it has been found, the
  operation is charged for the items it really has beyond `ROOT_LIST`, before their fields resolve;
- each field of `COMPUTED` (one traversal or report over the whole registry: `holders`, `lineage`,
  `findings`, `ropa`, `dsar` …, or a whole bundle validated against it: `importBundle`) adds
  `COMPUTATION`;
- aliases count again (each is computed again), fragments count where they are spread, the
  fields of `__schema` and `__type` count nothing (the schema bounds them).

An operation over the limit is refused before it runs, with one error that gives its cost and
the limit (`extensions.code` `QUERY_TOO_COSTLY`, `extensions.cost`, `extensions.limit`); a list
that the real sizes take over the limit resolves to that error instead of its items.

>>> from registry.api.schema import schema
>>> from graphql import parse
>>> operation_cost(schema._schema, parse("{ holders(category: \\"contact\\") { nodes { holder { ... on System { id } } path } } }"))
11302
>>> operation_cost(schema._schema, parse("{ systems { nodes { id holds { category } } } }"))
1202
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (DocumentNode, ExecutionResult, FieldNode, FragmentDefinitionNode, FragmentSpreadNode,
                     GraphQLError, GraphQLInterfaceType, GraphQLObjectType, GraphQLSchema, GraphQLUnionType,
                     InlineFragmentNode, IntValueNode, OperationDefinitionNode, SelectionSetNode, VariableNode,
                     get_named_type, is_list_type, is_non_null_type, type_from_ast)
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.types.base import get_object_definition

from registry.api.paging import Connection

__all__ = ["COMPUTATION", "COMPUTED", "DEFAULT_MAX_COST", "NESTED_LIST", "ROOT_LIST", "Budget", "Sized",
           "cost_limit", "operation_cost", "size_lists"]

DEFAULT_MAX_COST = 50_000
"""The default limit (`DSA_REGISTRY_MAX_QUERY_COST`): four registry-wide computations with their
answers, or every system with its holdings."""
ROOT_LIST = 100
NESTED_LIST = 10
COMPUTATION = 10_000
COMPUTED = frozenset({"holders", "holdings", "lineage", "lineageExport", "dsar", "erasurePlan", "findings", "impact",
                      "breachImpact", "ropa", "importBundle"})
_SIZES = ("limit", "first")


def operation_cost(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode | None = None,
                   variables: Mapping[str, Any] | None = None) -> int:
    """The cost of `operation` (by default the document's most costly one) with the request's
    `variables`, as the module docstring defines it."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [operation] if operation else [d for d in document.definitions
                                               if isinstance(d, OperationDefinitionNode)]
    costs = [_Estimate(schema, fragments, _sizes(op, variables)).selection(
        schema.get_root_type(op.operation), op.selection_set, True) for op in operations]
    return max(costs, default=0)


def _sizes(operation: OperationDefinitionNode, variables: Mapping[str, Any] | None) -> dict[str, int]:
    """The whole-number values of the operation's variables: the request's, else their defaults."""
    values = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        value = (variables or {}).get(name)
        if value is None and isinstance(definition.default_value, IntValueNode):
            value = int(definition.default_value.value)
        if isinstance(value, int) and not isinstance(value, bool):
            values[name] = value
    return values


class _Estimate:
    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode],
                 variables: Mapping[str, int], root_list: int = ROOT_LIST):
        self.schema, self.fragments, self.variables, self.root_list = schema, fragments, variables, root_list
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
        expected = self.root_list if root else NESTED_LIST
        inner = self.selection(named, node.selection_set,
                               page=self.size(node, expected) if _connection(named) else None)
        cost = 1 + inner
        if is_list_type(type_):
            cost = 1 + self.size(node, page if name == "nodes" and page is not None else expected) * max(inner, 1)
        if root and name in COMPUTED:
            cost += COMPUTATION
        return cost

    def size(self, node: FieldNode, expected: int) -> int:
        """The list's `first` or `limit`, a number or a variable's; `expected` without one."""
        for argument in node.arguments or ():
            if argument.name.value in _SIZES:
                value = argument.value
                if isinstance(value, IntValueNode):
                    return max(int(value.value), 0)
                if isinstance(value, VariableNode) and value.name.value in self.variables:
                    return max(self.variables[value.name.value], 0)
        return expected


def _connection(type_) -> bool:
    """A page of a list (`registry.api.paging.Connection`): its `nodes` are as many as its `first`."""
    return isinstance(type_, GraphQLObjectType) and "nodes" in type_.fields and "pageInfo" in type_.fields


@dataclass
class Budget:
    """What a request's operation costs so far (`spent`) against the most it may (`limit`)."""

    spent: int
    limit: int

    def refusal(self, name: str, node=None, extra: str = "") -> GraphQLError:
        return GraphQLError(
            f"{name} would cost {self.spent:,}{extra}, over the limit of {self.limit:,} "
            "(DSA_REGISTRY_MAX_QUERY_COST): ask for fewer aliases or fields, or page with `first`", node,
            extensions={"code": "QUERY_TOO_COSTLY", "cost": self.spent, "limit": self.limit})


@functools.cache
def cost_limit(max_cost: int) -> type[SchemaExtension]:
    """The schema extension that refuses operations costing more than `max_cost` before they run
    (with the request's variables), and leaves the request's `Budget` on its context (as
    `context.budget`, where the context has one) for `Sized` to charge real sizes to."""

    class CostLimit(SchemaExtension):
        def on_execute(self):
            execution = self.execution_context
            operation = _operation(execution.graphql_document, execution.operation_name)
            if operation is not None:
                cost = _known_cost(execution.schema._schema, execution.graphql_document, operation,
                                   execution.variables)
                budget = Budget(cost, max_cost)
                if hasattr(execution.context, "budget"):
                    execution.context.budget = budget
                if cost > max_cost:
                    name = f"operation {operation.name.value!r}" if operation.name else "the operation"
                    execution.result = ExecutionResult(None, [budget.refusal(name, operation)])
            yield

    CostLimit.__name__ = CostLimit.__qualname__ = f"CostLimit{max_cost}"
    return CostLimit


_COSTS: dict[int, tuple[weakref.ref, dict]] = {}
"""Costs worked out, by document (its id, with a weak reference to tell a new document at a
reused id), then by schema, operation and the sizes its variables give: the parse cache hands
repeated queries the same document, so theirs are worked out once."""
_COSTS_KEPT = 1024


def _known_cost(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
                variables: Mapping[str, Any] | None) -> int:
    entry = _COSTS.get(id(document))
    if entry is None or entry[0]() is not document:
        if len(_COSTS) >= _COSTS_KEPT:
            _COSTS.clear()
        entry = _COSTS[id(document)] = (weakref.ref(document), {})
    key = (id(schema), id(operation), tuple(sorted(_sizes(operation, variables).items())))
    if key not in entry[1]:
        entry[1][key] = operation_cost(schema, document, operation, variables)
    return entry[1][key]


def _operation(document: DocumentNode | None, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)] if document else []
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name and op.name.value == name), None)


class Sized(FieldExtension):
    """Charges a list of `Query` asked for without `first` with the items it really has: once
    found, each item beyond `ROOT_LIST` costs what the estimate gave each of the `ROOT_LIST`;
    over the request's limit, the field resolves to the `QUERY_TOO_COSTLY` error and none of the
    items' fields resolve."""

    def resolve(self, next_, source: Any, info, **kwargs: Any) -> Any:
        return self._charge(next_(source, info, **kwargs), info, kwargs)

    async def resolve_async(self, next_, source: Any, info, **kwargs: Any) -> Any:
        return self._charge(await next_(source, info, **kwargs), info, kwargs)

    @staticmethod
    def _charge(found: Any, info, kwargs: dict[str, Any]) -> Any:
        budget = getattr(info.context, "budget", None)
        if budget is None or not isinstance(found, Connection) or kwargs.get("first") is not None:
            return found
        items = len(found.nodes)
        if items > ROOT_LIST:
            raw = info._raw_info  # graphql-core's: the field's node, the fragments, the raw variables
            node, parent = raw.field_nodes[0], raw.parent_type
            sizes = _sizes(raw.operation, raw.variable_values)
            real = _Estimate(raw.schema, raw.fragments, sizes, root_list=items).field(parent, node, True)
            estimated = _Estimate(raw.schema, raw.fragments, sizes).field(parent, node, True)
            budget.spent += real - estimated
            if budget.spent > budget.limit:
                raise budget.refusal("the operation", node, f" with the {items:,} items of `{info.field_name}`")
        return found


def size_lists(query: type) -> None:
    """Give every field of the root type `query` the `Sized` extension (once, before the schema is built)."""
    for field in get_object_definition(query, strict=True).fields:
        if not any(isinstance(e, Sized) for e in field.extensions):
            field.extensions.append(Sized())
