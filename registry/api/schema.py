"""The GraphQL schema: queries and mutations, each one registry call, composed from the
registry's own (here) and those of each capability (`registry.api.subjects` …). Every field of
`Query` and `Mutation` is governed by `registry.auth.roles.FIELDS` (`registry.api.permissions`).

`schema` is the API as served by default; `make_schema(introspection=False)` the one
`serve --production` serves.
"""

from __future__ import annotations

import datetime
import functools
from typing import Annotated, Optional

import strawberry
from graphql import GraphQLError
from strawberry.tools import merge_types
from strawberry.extensions import (AddValidationRules, DisableIntrospection, MaskErrors, MaxAliasesLimiter,
                                   MaxTokensLimiter, QueryDepthLimiter)

from graph.store import Stored
from registry.api.inputs import (AgreementInput, CategoryInput, FlowFilter, FlowInput, LegalBasisInput, PartyInput,
                                 PurposeInput, SubjectCategoryInput, SystemInput, to_raw)
from registry.api.answers import ChangeSummary, Holding, LineageGraph, holding_converter, to_lineage
from registry.api.types import (Agreement, DataCategory, Flow, LegalBasis, Node, Party, Purpose, SubjectCategory,
                                System, to_node)
from registry.api.audit import AuditQuery
from registry.api.errors import domain_errors, should_mask
from registry.api.execution import RegistryExecutionContext
from registry.api.paging import After, Connection, First, to_connection
from registry.paging import list_id, paginate
from registry.api.compliance import BreachImpact, ComplianceQuery
from registry.api.cost import DEFAULT_MAX_COST, cost_limit, size_lists
from registry.api.limits import QueryCache
from registry.api.scalars import OVERRIDES
from registry.errors import DomainError
from registry.api.enums import Direction, value_of
from registry.api.exports import ExportQuery
from registry.api.permissions import authorize
from registry.api.subjects import SubjectMutation, SubjectQuery
from registry.api.tokens import TokenMutation, TokenQuery
from registry.auth.roles import SUBJECT_WRITE, require


async def _entities(info: strawberry.Info, type_: str, first: int | None, after: str | None) -> Connection:
    docs = await info.context.call(info.context.registry.list, type_)
    found = paginate(docs, first=first, after=after, list_id=list_id(type_), key=_id)
    return to_connection(found, lambda doc: to_node(Stored(type_, doc)))


def _id(doc) -> str:
    return doc["id"]


def _holding_key(view) -> str:
    return "\x1f".join(view.holding.sort_key())


def _wanted(filter: FlowFilter | None):
    return filter.to_domain() if filter is not None else None


def _arguments(filter: FlowFilter | None) -> dict:
    """The filter as arguments of `list_id` (a cursor made under another filter is refused)."""
    return {f"filter.{name}": value for name, value in vars(filter.to_domain()).items()} if filter is not None else {}


@strawberry.type
class RegistryQuery:
    @strawberry.field(description="Data categories, by id.")
    @domain_errors
    async def categories(self, info: strawberry.Info, first: First = None, after: After = None
                         ) -> Connection[DataCategory]:
        return await _entities(info, "category", first, after)

    @strawberry.field(description="Purposes, by id.")
    @domain_errors
    async def purposes(self, info: strawberry.Info, first: First = None, after: After = None) -> Connection[Purpose]:
        return await _entities(info, "purpose", first, after)

    @strawberry.field(description="Categories of data subjects, by id.")
    @domain_errors
    async def subject_categories(self, info: strawberry.Info, first: First = None, after: After = None
                                 ) -> Connection[SubjectCategory]:
        return await _entities(info, "subject-category", first, after)

    @strawberry.field(description="Legal bases and conditions (built-in and declared), by id.")
    @domain_errors
    async def legal_bases(self, info: strawberry.Info, first: First = None, after: After = None
                          ) -> Connection[LegalBasis]:
        return await _entities(info, "legal-basis", first, after)

    @strawberry.field(description="Internal systems, by id.")
    @domain_errors
    async def systems(self, info: strawberry.Info, first: First = None, after: After = None) -> Connection[System]:
        return await _entities(info, "system", first, after)

    @strawberry.field(description="Outside parties, by id.")
    @domain_errors
    async def parties(self, info: strawberry.Info, first: First = None, after: After = None) -> Connection[Party]:
        return await _entities(info, "party", first, after)

    @strawberry.field(description="Agreements, by id.")
    @domain_errors
    async def agreements(self, info: strawberry.Info, first: First = None, after: After = None
                         ) -> Connection[Agreement]:
        return await _entities(info, "agreement", first, after)

    @strawberry.field(description="Flows, by id, all of them whatever their status and dates; with `filter`, those "
                                  "it keeps.")
    @domain_errors
    async def flows(self, info: strawberry.Info, filter: Optional[FlowFilter] = None, first: First = None,
                    after: After = None) -> Connection[Flow]:
        context = info.context
        docs = await context.call(context.registry.flows, _wanted(filter), in_eea=context.compliance.countries.in_eea)
        found = paginate(docs, first=first, after=after, list_id=list_id("flows", **_arguments(filter)), key=_id)
        return to_connection(found, lambda doc: to_node(Stored("flow", doc)))

    @strawberry.field(description="Any entity by id; null when there is none.")
    async def node(self, info: strawberry.Info, id: strawberry.ID) -> Optional[Node]:
        return to_node(await info.context.entities.load(id))

    @strawberry.field(description="Who holds a category (its ancestors, and with `includeDescendants` its "
                                  "descendants), and why, on day `asOf` (default today, UTC): one holding per "
                                  "declaration and per incoming flow in force that day, sorted by holder, category "
                                  "and flow; with `filter`, those it keeps (`from`: arrived from that sender; `to`: "
                                  "held by that holder).")
    @domain_errors
    async def holders(self, info: strawberry.Info, category: strawberry.ID, include_descendants: bool = True,
                      as_of: Optional[datetime.date] = None, filter: Optional[FlowFilter] = None,
                      first: First = None, after: After = None) -> Connection[Holding]:
        context = info.context
        views = await context.call(context.registry.holders, category, include_descendants, as_of, _wanted(filter),
                                   in_eea=context.compliance.countries.in_eea)
        found = paginate(views, first=first, after=after, key=_holding_key,
                         list_id=list_id("holders", category=category, include_descendants=include_descendants,
                                         as_of=as_of, **_arguments(filter)))
        return to_connection(found, holding_converter())

    @strawberry.field(description="Everything one system or party holds on day `asOf`, and why, sorted like "
                                  "`holders`.")
    @domain_errors
    async def holdings(self, info: strawberry.Info, holder: strawberry.ID, as_of: Optional[datetime.date] = None,
                       first: First = None, after: After = None) -> Connection[Holding]:
        views = await info.context.call(info.context.registry.holdings, holder, as_of)
        found = paginate(views, first=first, after=after, key=_holding_key,
                         list_id=list_id("holdings", holder=holder, as_of=as_of))
        return to_connection(found, holding_converter())

    @strawberry.field(description="The flows in force on day `asOf` (default today, UTC) reached from a system or "
                                  "party (`from`; `direction` default DOWNSTREAM), within `depth` flows, following "
                                  "only flows that carry one of `categories` (an ancestor or a descendant of one); "
                                  "with `includeProposed`, the planned flows too (`proposed: true`). Without `from`, "
                                  "the whole registry as one flat node and edge list: every system and party and "
                                  "every such flow (with `categories`, the flows carrying one of them, their ends "
                                  "and the systems that declare such data), without distances.")
    @domain_errors
    async def lineage(self, info: strawberry.Info,
                      from_: Annotated[Optional[strawberry.ID], strawberry.argument(name="from")] = None,
                      direction: Optional[Direction] = None, depth: Optional[int] = None,
                      categories: Optional[list[strawberry.ID]] = None, as_of: Optional[datetime.date] = None,
                      include_proposed: bool = False) -> LineageGraph:
        found = await info.context.call(info.context.registry.lineage, from_, value_of(direction), depth, categories,
                                        as_of, include_proposed)
        return to_lineage(found)


async def _upsert(info: strawberry.Info, type_: str, value) -> Node:
    stored = await info.context.call(info.context.registry.upsert, type_, to_raw(value), actor=info.context.actor)
    return to_node(stored)


FORCE = strawberry.argument(description="Delete although data subjects' records or consents refer to it (they "
                                        "are kept; audited with the number of subjects). Needs the "
                                        "`subject-data:write` permission. Documents that refer to it must be "
                                        "changed first, whatever this says.")


async def _delete(info: strawberry.Info, type_: str, id_: str, force: bool) -> Node:
    if force:
        require(info.context.principal, SUBJECT_WRITE)
    stored = await info.context.call(info.context.registry.delete, type_, id_, actor=info.context.actor, force=force)
    return to_node(stored)


@strawberry.type
class RegistryMutation:
    @strawberry.mutation
    @domain_errors
    async def upsert_category(self, info: strawberry.Info, input: CategoryInput) -> DataCategory:
        return await _upsert(info, "category", input)

    @strawberry.mutation
    @domain_errors
    async def upsert_purpose(self, info: strawberry.Info, input: PurposeInput) -> Purpose:
        return await _upsert(info, "purpose", input)

    @strawberry.mutation
    @domain_errors
    async def upsert_subject_category(self, info: strawberry.Info, input: SubjectCategoryInput) -> SubjectCategory:
        return await _upsert(info, "subject-category", input)

    @strawberry.mutation
    @domain_errors
    async def upsert_legal_basis(self, info: strawberry.Info, input: LegalBasisInput) -> LegalBasis:
        return await _upsert(info, "legal-basis", input)

    @strawberry.mutation
    @domain_errors
    async def upsert_system(self, info: strawberry.Info, input: SystemInput) -> System:
        return await _upsert(info, "system", input)

    @strawberry.mutation
    @domain_errors
    async def upsert_party(self, info: strawberry.Info, input: PartyInput) -> Party:
        return await _upsert(info, "party", input)

    @strawberry.mutation
    @domain_errors
    async def upsert_agreement(self, info: strawberry.Info, input: AgreementInput) -> Agreement:
        return await _upsert(info, "agreement", input)

    @strawberry.mutation
    @domain_errors
    async def upsert_flow(self, info: strawberry.Info, input: FlowInput) -> Flow:
        return await _upsert(info, "flow", input)

    @strawberry.mutation(description="Delete a category; refused while anything refers to it.")
    @domain_errors
    async def delete_category(self, info: strawberry.Info, id: strawberry.ID,
                              force: Annotated[bool, FORCE] = False) -> DataCategory:
        return await _delete(info, "category", id, force)

    @strawberry.mutation
    @domain_errors
    async def delete_purpose(self, info: strawberry.Info, id: strawberry.ID,
                             force: Annotated[bool, FORCE] = False) -> Purpose:
        return await _delete(info, "purpose", id, force)

    @strawberry.mutation
    @domain_errors
    async def delete_subject_category(self, info: strawberry.Info, id: strawberry.ID,
                                      force: Annotated[bool, FORCE] = False) -> SubjectCategory:
        return await _delete(info, "subject-category", id, force)

    @strawberry.mutation
    @domain_errors
    async def delete_legal_basis(self, info: strawberry.Info, id: strawberry.ID,
                                 force: Annotated[bool, FORCE] = False) -> LegalBasis:
        return await _delete(info, "legal-basis", id, force)

    @strawberry.mutation
    @domain_errors
    async def delete_system(self, info: strawberry.Info, id: strawberry.ID,
                            force: Annotated[bool, FORCE] = False) -> System:
        return await _delete(info, "system", id, force)

    @strawberry.mutation
    @domain_errors
    async def delete_party(self, info: strawberry.Info, id: strawberry.ID,
                           force: Annotated[bool, FORCE] = False) -> Party:
        return await _delete(info, "party", id, force)

    @strawberry.mutation
    @domain_errors
    async def delete_agreement(self, info: strawberry.Info, id: strawberry.ID,
                               force: Annotated[bool, FORCE] = False) -> Agreement:
        return await _delete(info, "agreement", id, force)

    @strawberry.mutation
    @domain_errors
    async def delete_flow(self, info: strawberry.Info, id: strawberry.ID,
                          force: Annotated[bool, FORCE] = False) -> Flow:
        return await _delete(info, "flow", id, force)

    @strawberry.mutation(description="Load a YAML or JSON bundle: validated whole, applied in one transaction; "
                                     "with `replace`, everything else is deleted (refused for entities that data "
                                     "subjects' records or consents refer to, unless `force`).")
    @domain_errors
    async def import_bundle(self, info: strawberry.Info, yaml: str, replace: bool = False,
                            force: Annotated[bool, FORCE] = False) -> ChangeSummary:
        if force:
            require(info.context.principal, SUBJECT_WRITE)
        result = await info.context.call(info.context.registry.load, [("bundle", yaml)], actor=info.context.actor,
                                         replace=replace, force=force)
        return ChangeSummary(created=result.created, updated=result.updated, deleted=result.deleted,
                             unchanged=result.unchanged)


class RegistrySchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Log what went wrong inside, not the callers' mistakes."""
        unexpected = [e for e in errors if not (e.extensions or {}).get("code") and e.original_error is not None
                      and not isinstance(_cause(e), DomainError)]
        super().process_errors(unexpected, execution_context)


def _cause(error: GraphQLError) -> BaseException | None:
    """What went wrong underneath the GraphQL errors that wrap it (a variable's value is wrapped twice)."""
    cause = error.original_error
    while isinstance(cause, GraphQLError) and cause.original_error is not None:
        cause = cause.original_error
    return cause


# The limits' rule classes are made once: the validation cache is keyed by them, and limiters made
# per request would make new ones each time (and so never hit the cache).
_LIMITS = [*QueryDepthLimiter(max_depth=12).validation_rules, *MaxAliasesLimiter(max_alias_count=30).validation_rules]

Query = merge_types("Query", (RegistryQuery, SubjectQuery, ComplianceQuery, ExportQuery, AuditQuery, TokenQuery))
Mutation = merge_types("Mutation", (RegistryMutation, SubjectMutation, TokenMutation))
authorize(Query, Mutation, BreachImpact)
size_lists(Query)


@functools.cache
def make_schema(*, introspection: bool = True, max_cost: int = DEFAULT_MAX_COST) -> RegistrySchema:
    """The schema with its limits (`max_cost`: `registry.api.cost`); without `introspection`,
    `__schema` and `__type` are refused. Made once per set of arguments."""
    return RegistrySchema(
        query=Query,
        mutation=Mutation,
        types=[DataCategory, Purpose, SubjectCategory, LegalBasis, System, Party, Agreement, Flow],
        execution_context_class=RegistryExecutionContext,
        scalar_overrides=OVERRIDES,  # dates within registry.bounds
        extensions=[  # factories: one instance per request
            QueryCache,  # governance tools and portals repeat their (short) queries
            functools.partial(AddValidationRules, _LIMITS),
            cost_limit(max_cost),  # with the request's variables, once they are known
            *([] if introspection else [DisableIntrospection]),
            functools.partial(MaxTokensLimiter, max_token_count=5000),
            functools.partial(MaskErrors, should_mask_error=should_mask, error_message="internal error"),
        ],
    )


schema = make_schema()
