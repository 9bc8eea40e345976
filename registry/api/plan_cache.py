"""The plans of `registry.api.execution`, kept across requests.

A plan is the same for every request with the same query text, the same selection in it (the
offsets of its fields) and the same values of the variables its directives read (`@skip`,
`@include`, `@defer`), whether or not the text was parsed again. `PLANS` keeps them by those, at
most `PLANNED_TEXTS` operations (the least recently used goes first) of texts up to
`PLANNED_CHARS` characters, and `PLANS_PER_TEXT` plans and directive-value combinations for each
(more start afresh). A longer text, a document without locations, with fragment variables or a
selection under `@defer` gets plans for its request only. Safe across threads
(`schema.execute_sync` may run in several at once).

Plans hold schema types and classes, never answers: what a completion meets stays in its own
memo (`RegistryExecutionContext`).
"""

from __future__ import annotations

import collections
import threading
from typing import Any

from graphql import FragmentSpreadNode, ListValueNode, ObjectValueNode, VariableNode

__all__ = ["KeptPlans", "MISSING", "PLANNED_CHARS", "PLANNED_TEXTS", "PLANS", "PLANS_PER_TEXT", "place"]

PLANNED_TEXTS = 256
PLANNED_CHARS = 16 * 1024
"""As long as the texts `registry.api.limits` caches the parse of."""
PLANS_PER_TEXT = 64
MISSING = object()
"""`KeptPlans.get`'s answer for a selection not planned yet."""


def place(type_, field_details_list) -> tuple | None:
    """Where a selection is in its text: its type and its fields' offsets; None for a selection
    that is not the text's alone (no locations, fragment variables, under `@defer`)."""
    starts = []
    for details in field_details_list:
        loc = details.node.loc
        if loc is None or details.defer_usage is not None or details.fragment_variable_values is not None:
            return None
        starts.append(loc.start)
    return type_, tuple(starts)


class KeptPlans:
    """The plans kept for one operation of a text and one set of values of its directives'
    variables, by `place`; a plan is None for a selection known to have none."""

    __slots__ = ("plans",)

    def __init__(self):
        self.plans: dict[tuple, Any] = {}

    def get(self, where: tuple):
        """The plan kept for `where`, or `MISSING`."""
        return self.plans.get(where, MISSING)

    def keep(self, where: tuple, plan) -> None:
        with PLANS.lock:
            if len(self.plans) >= PLANS_PER_TEXT:
                self.plans.clear()
            self.plans[where] = plan


class _Operation:
    """One operation of a text: the variables its directives read, and its plans per their values."""

    __slots__ = ("names", "switched")

    def __init__(self, operation, fragments):
        self.names = _directive_variables(operation, fragments)
        self.switched: dict[tuple, KeptPlans] = {}

    def plans(self, variables: dict) -> KeptPlans | None:
        if self.names is None:
            return None
        values = tuple((type(value), value) for value in (variables.get(name, MISSING) for name in self.names))
        try:
            found = self.switched.get(values)
        except TypeError:  # an unhashable value (a custom directive's list): plans for this request only
            return None
        if found is None:
            with PLANS.lock:
                if len(self.switched) >= PLANS_PER_TEXT:
                    self.switched.clear()
                found = self.switched.setdefault(values, KeptPlans())
        return found


class _Plans:
    def __init__(self):
        self.lock = threading.Lock()
        self.operations: collections.OrderedDict[tuple, _Operation] = collections.OrderedDict()

    def plans(self, operation, fragments, variables: dict) -> KeptPlans | None:
        """The plans kept for `operation` (with the document's `fragments`) and the values of
        `variables` its directives read; None when they cannot be kept."""
        loc = operation.loc
        if loc is None or len(loc.source.body) > PLANNED_CHARS:
            return None
        key = (loc.source.body, loc.start)
        with self.lock:
            found = self.operations.get(key)
            if found is not None:
                self.operations.move_to_end(key)
        if found is None:
            made = _Operation(operation, fragments)
            with self.lock:
                found = self.operations.setdefault(key, made)
                self.operations.move_to_end(key)
                while len(self.operations) > PLANNED_TEXTS:
                    self.operations.popitem(last=False)
        return found.plans(variables)


PLANS = _Plans()


def _directive_variables(operation, fragments) -> tuple[str, ...] | None:
    """The names of the variables that directives in the operation and its fragments read (sorted);
    None when fragments take variables of their own (their values vary per spread)."""
    names: set[str] = set()

    def value(node) -> None:
        if isinstance(node, VariableNode):
            names.add(node.name.value)
        elif isinstance(node, ListValueNode):
            for one in node.values:
                value(one)
        elif isinstance(node, ObjectValueNode):
            for one in node.fields:
                value(one.value)

    def selections(selection_set) -> bool:
        for selection in selection_set.selections if selection_set is not None else ():
            if isinstance(selection, FragmentSpreadNode) and selection.arguments:
                return False
            for directive in selection.directives or ():
                for argument in directive.arguments or ():
                    value(argument.value)
            if not selections(getattr(selection, "selection_set", None)):
                return False
        return True

    for details in fragments.values():
        definition = getattr(details, "definition", details)
        if definition.variable_definitions or not selections(definition.selection_set):
            return None
    if not selections(operation.selection_set):
        return None
    return tuple(sorted(names))
