"""How GraphQL results are completed: strawberry's graphql-core executor, with a plain path for
answers built whole.

Holdings, lineage, DSAR answers and pages of entities are thousands of plain objects: strawberry
types filled in by the resolver, whose fields are attributes (no resolver, no extension, no
arguments). graphql-core builds a resolve-info object for every field of every object and
completes every list item as a value of its own, which is most of the time such an answer
takes (about 20 µs a field on a busy machine). So a value whose whole selection is plain is
completed by a *plan*, made once per selection and kept for the requests that repeat its query:

- a plan applies to a value whose selection (fragments, aliases, `__typename`, `@skip` and
  `@include`, resolved by graphql-core's own field collection) reaches only plain fields, while
  no schema extension wraps resolvers (as middleware) and nothing is `@defer`red;
- it reads the attributes with one generated function per object type (`_object_plan`), checks
  each object's type as graphql-core does (`is_type_of`; a union's member by the object's class),
  serialises leaves with their scalar or enum, passes lists of ids through, and reuses the dict it
  made for an object met again in the request (a category many holdings name): that memo is the
  request's own (`memo`, passed down the plan), so a plan keeps no answer alive after its request;
- anything it does not expect (a null where the type forbids one, a value a scalar refuses, an
  object of the wrong type) abandons the plan for that value, which then takes graphql-core's own
  path and gets the usual result or error. Reading plain attributes has no side effects (a
  `registry.api.lazy` object makes a field on its first read and keeps it), so abandoning loses
  nothing but time.

A plan is the same for every request with the same query text, the same selection in it and
the same values of the variables its directives read: `registry.api.plan_cache` keeps them.

A field a plan cannot take (a resolver, arguments) leaves its value to graphql-core, whose
completion of the values below it tries plans again; plain leaves there are read directly too.
`tests/test_execution.py` compares both paths, data and errors, on every query shape.
"""

from __future__ import annotations

import collections
import functools
import itertools
from collections.abc import Callable
from typing import Any

from graphql import (GraphQLBoolean, GraphQLID, GraphQLString, Undefined, is_abstract_type, is_enum_type, is_leaf_type,
                     is_list_type, is_non_null_type, is_object_type)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from registry.api.kept import KEPT, ByIdentity, KeptList
from registry.api.plan_cache import MISSING, PLANS, KeptPlans, place

__all__ = ["RegistryExecutionContext"]

_TEXT = (GraphQLID, GraphQLString)
_SAME = {GraphQLID: str, GraphQLString: str, GraphQLBoolean: bool}
"""Scalars whose values of this Python type serialise to themselves (a plan copies them as they are)."""
_STR = frozenset({str})
"""`set(map(type, value)) <= _STR`: every item of `value` is a string (twice as fast as `all(...)`)."""
_IDS = object()
"""A step's `same` for a list of ids or strings: a list of strings is the answer as it is."""
Plan = Callable[[Any, dict], Any]
"""`plan(value, memo)`: the completed value; `memo` is the request's (objects met again, per object plan)."""
_slots = itertools.count()


class _Abandon(Exception):
    """The value is not what the plan expects: complete it on graphql-core's path."""


class _NoPlan(Exception):
    """The selection reaches something a plan cannot do."""


def _text_list(type_) -> bool:
    return is_non_null_type(type_) and type_.of_type in _TEXT


def _plain(field_def, node) -> str | None:
    """The attribute a field reads, when it is a plain one (no resolver, extension or argument)."""
    definition = (field_def.extensions or {}).get("strawberry-definition")
    if (definition is None or not definition.is_basic_field or field_def.args or node.arguments
            or not getattr(field_def.resolve, "_is_default", False)):
        return None
    return definition.python_name


class RegistryExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._plans: dict[tuple, Plan | None] = {}  # this request's, by selection list identity
        self._kept: list = []  # the selections planned, alive while their ids key `_plans`
        self._memo: collections.defaultdict = collections.defaultdict(dict)  # objects completed, per object plan
        self._kept_plans: KeptPlans | None | bool = False  # this query's, across requests (False: not looked up)
        self._keeping = False  # whether the plan being compiled is kept across requests

    @property
    def _wrapped(self) -> bool:
        middleware = self.middleware_manager
        return middleware is not None and bool(middleware.middlewares)

    def build_response(self, data):
        """The response, once the answer is complete: the memo goes then, since graphql-core's
        execution context is in a reference cycle (its `async_helpers` are its own bound methods)
        and all it still held, the whole answer, would wait for the garbage collector (each
        collection then walking it: 5-15 ms pauses on large DSARs). Deferred parts completed
        later start a new memo."""
        self._memo = collections.defaultdict(dict)
        return super().build_response(data)

    # --- the plain path ----------------------------------------------------------------------

    def complete_value(self, return_type, field_details_list, info, path, result, position_context):
        if result is not None and not isinstance(result, Exception):
            plan = self._plan(return_type, field_details_list)
            if plan is not None:
                try:
                    return plan(result, self._memo)
                except _Abandon:
                    pass
        return super().complete_value(return_type, field_details_list, info, path, result, position_context)

    def _plan(self, type_, field_details_list) -> Plan | None:
        key = (type_, id(field_details_list))
        try:
            return self._plans[key]
        except KeyError:
            pass
        plan = None
        named = type_
        while is_non_null_type(named) or is_list_type(named):
            named = named.of_type
        if not is_leaf_type(named) and not self._wrapped:
            kept = self._kept_for_query()
            where = place(type_, field_details_list) if kept is not None else None
            plan = kept.get(where) if where is not None else MISSING
            if plan is MISSING:
                self._keeping = where is not None
                try:
                    plan = self._compile(type_, field_details_list)
                except _NoPlan:
                    plan = None
                if where is not None:
                    kept.keep(where, plan)
        self._plans[key] = plan
        self._kept.append(field_details_list)
        return plan

    def _kept_for_query(self) -> KeptPlans | None:
        """The plans kept for this request's query text and its directives' variable values; None
        when they cannot be kept (`registry.api.plan_cache`)."""
        if self._kept_plans is False:
            self._kept_plans = PLANS.plans(self.operation, self.fragments, self.variable_values.coerced)
        return self._kept_plans

    def _compile(self, type_, selection) -> Plan:
        """The plan of a value of `type_`: it refuses (abandons) a null when `type_` is non-null."""
        required = is_non_null_type(type_)
        named = type_.of_type if required else type_
        if is_list_type(named):
            item = self._compile(named.of_type, selection)
            text = _text_list(named.of_type)
            kept = getattr(item, "kept", None)
            if kept is not None:  # items completed in an earlier request are looked up here, without a call
                found, lists = kept.get, ByIdentity()

                def each(value, memo):
                    done = []
                    for one in value:
                        again = found(id(one))
                        done.append(again[1] if again is not None and again[0]() is one else item(one, memo))
                    return done

                def completed(value, memo):  # a list kept whole (`SameItems`): completed once too
                    if type(value) is KeptList:
                        return lists.get(value, lambda value: each(value, memo), value)
                    return each(value, memo)
            else:
                def completed(value, memo):
                    return [item(one, memo) for one in value]

            def items(value, memo):
                if type(value) is list or type(value) is tuple or type(value) is KeptList:
                    if text and set(map(type, value)) <= _STR:  # ids, paths: themselves
                        return list(value)
                    return completed(value, memo)
                if value is None and not required:
                    return None
                raise _Abandon
            return items
        if is_leaf_type(named):
            return _leaf(named, required)
        if is_object_type(named):
            return self._object(named, selection, required)
        if is_abstract_type(named):
            return self._abstract(named, selection, required)
        raise _NoPlan

    def _object(self, type_, selection, required: bool) -> Plan:
        fields, defers, _ = self.collect_subfields(type_, selection)
        if defers:
            raise _NoPlan
        steps = []  # (response key, attribute or None for __typename, type copied as is, nullable, plan)
        for key, field_details_list in fields.items():
            node = field_details_list[0].node
            name = node.name.value
            if name == "__typename":
                steps.append((key, None, None, False, type_.name))
                continue
            field_def = type_.fields.get(name)
            attribute = _plain(field_def, node) if field_def is not None else None
            if attribute is None or not attribute.isidentifier():
                raise _NoPlan
            named = field_def.type.of_type if is_non_null_type(field_def.type) else field_def.type
            same = _IDS if is_list_type(named) and _text_list(named.of_type) else _SAME.get(named)
            steps.append((key, attribute, same, not is_non_null_type(field_def.type),
                          self._compile(field_def.type, field_details_list)))
        definition = (type_.extensions or {}).get("strawberry-definition")
        keep = self._keeping and getattr(getattr(definition, "origin", None), KEPT, False)
        return _object_plan(type_.is_type_of, steps, required, keep)

    def _abstract(self, type_, selection, required: bool) -> Plan:
        origins = {}
        for member in self.schema.get_possible_types(type_):
            definition = (member.extensions or {}).get("strawberry-definition")
            if definition is None:
                raise _NoPlan
            origins[definition.origin] = self._object(member, selection, required)
        by_class: dict[type, Plan] = {}

        def complete(value, memo):
            plan = by_class.get(type(value))
            if plan is None:  # the member the value's class is, or derives from (as strawberry resolves it)
                if value is None:
                    if required:
                        raise _Abandon
                    return None
                matching = [p for origin, p in origins.items() if isinstance(value, origin)]
                if len(matching) != 1:
                    raise _Abandon
                plan = by_class[type(value)] = matching[0]
            return plan(value, memo)
        return complete

    # --- graphql-core's path: plain leaves and lists of ids read directly ----------------------

    def execute_field(self, parent_type, source, field_details_list, path, position_context):
        field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        if field_def is not None and not self._wrapped and _plain(field_def, field_details_list[0].node):
            nullable = not is_non_null_type(field_def.type)
            type_ = field_def.type if nullable else field_def.type.of_type
            if is_leaf_type(type_) or (is_list_type(type_) and _text_list(type_.of_type)):
                value = field_def.resolve(source, None)
                if value is None and nullable:
                    return None
                try:
                    return _leaf(type_, not nullable)(value) if is_leaf_type(type_) else _ids(value)
                except _Abandon:
                    pass
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def complete_list_value(self, return_type, field_details_list, info, path, result, position_context):
        if type(result) is list and _text_list(return_type.of_type) and set(map(type, result)) <= _STR:
            return result
        return super().complete_list_value(return_type, field_details_list, info, path, result, position_context)


def _object_plan(check, steps, required: bool, keep: bool = False) -> Plan:
    """The plan of an object: one straight-line function reading each attribute (made with `exec`
    from names the schema and graphql-core's parser vouch for: response keys are GraphQL names,
    attributes Python identifiers), since a loop over the fields costs twice as much.

    An object met again in the request (a category or purpose that many holdings name) gets the
    dict made the first time: the request's `memo` keeps the object with it (under this plan's
    slot), so its id cannot be reused while the request lasts. With `keep` (a plan kept across
    requests, of a type marked `registry.api.kept.kept`), the dict is kept in the plan instead,
    for as long as the object lives (`registry.api.kept.ByIdentity`), and later requests get it too."""
    completions: ByIdentity = ByIdentity()
    env = {"_Abandon": _Abandon, "check": check, "checked": set(), "slot": next(_slots), "STR": _STR,
           "kept": completions.made, "keep": completions.keep}
    lines = ["def complete(value, memo):",
             "    if value is None:",
             "        raise _Abandon" if required else "        return None"]
    if keep:
        lines += ["    key = id(value)",
                  "    again = kept.get(key)",
                  "    if again is not None and again[0]() is value:",
                  "        return again[1]"]
    else:
        lines += ["    done, key = memo[slot], id(value)",
                  "    again = done.get(key)",
                  "    if again is not None and again[0] is value:",
                  "        return again[1]"]
    lines += ["    if type(value) not in checked:  # strawberry's is_type_of depends on the class alone",
              "        if check is not None and not check(value, None):",
              "            raise _Abandon",
              "        checked.add(type(value))"]
    entries = []
    for i, (key, attribute, same, nullable, plan) in enumerate(steps):
        if attribute is None:
            entries.append(f"{key!r}: {plan!r}")
            continue
        env[f"plan{i}"], env[f"same{i}"] = plan, same
        lines.append(f"    v{i} = value.{attribute}")
        if same is _IDS:  # a list of strings as it is (as graphql-core's path gives it, `complete_list_value`)
            entries.append(f"{key!r}: v{i} if type(v{i}) is list and set(map(type, v{i})) <= STR "
                           f"else plan{i}(v{i}, memo)")
        elif same is not None:  # a null where the type allows one is itself too
            null = f" or v{i} is None" if nullable else ""
            entries.append(f"{key!r}: v{i} if type(v{i}) is same{i}{null} else plan{i}(v{i}, memo)")
        else:
            entries.append(f"{key!r}: None if v{i} is None else plan{i}(v{i}, memo)" if nullable
                           else f"{key!r}: plan{i}(v{i}, memo)")
    lines.append("    completed = {" + ", ".join(entries) + "}")
    if keep:
        lines.append("    keep(value, completed)")
    else:
        lines.append("    done[key] = (value, completed)")
    lines.append("    return completed")
    exec(_code("\n".join(lines)), env)  # noqa: S102 - generated from checked names only, see above
    complete = env["complete"]
    if keep:
        complete.kept = completions.made  # for the plan of a list of them (`_compile`)
    return complete


@functools.lru_cache(maxsize=1024)
def _code(source: str):
    """Plans' code, compiled once per shape (requests repeat their queries)."""
    return compile(source, "<plan>", "exec")


def _ids(value):
    if type(value) is list and set(map(type, value)) <= _STR:
        return value
    raise _Abandon


@functools.cache
def _leaf(type_, required: bool = True) -> Plan:
    """Serialise a value of a scalar or enum; abandon what it refuses (and a null when `required`).
    An enum's name for each text value it accepted is kept (its members are few, and each of tens of
    thousands of findings names its severity and entity kind)."""
    serialize = type_.serialize
    text = type_ in _TEXT
    names: dict[str, Any] | None = {} if is_enum_type(type_) else None

    def complete(value, memo=None):
        if text and type(value) is str:
            return value
        if value is None:
            if required:
                raise _Abandon
            return None
        if names is not None and type(value) is str and (name := names.get(value)) is not None:
            return name
        try:
            serialized = serialize(value)
        except Exception:  # noqa: BLE001 - graphql-core's path reports it properly
            raise _Abandon from None
        if serialized is None or serialized is Undefined:
            raise _Abandon
        if names is not None and type(value) is str:
            names[value] = serialized
        return serialized
    return complete

