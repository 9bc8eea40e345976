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
from registry.api.inputs import (AgreementInput, CategoryInput, FlowInput, LegalBasisInput, PartyInput, PurposeInput,
                                 SubjectCategoryInput, SystemInput, to_raw)
from registry.api.types import (Agreement, ChangeSummary, DataCategory, Flow, Holding, LegalBasis,
                                LineageGraph, Node, Party, Purpose, SubjectCategory, System, to_holding, to_lineage,
                                to_node)
from registry.api.audit import AuditQuery
from registry.api.errors import domain_errors, should_mask
from registry.api.execution import RegistryExecutionContext
from registry.api.paging import page
from registry.api.compliance import BreachImpact, ComplianceQuery
from registry.api.cost import DEFAULT_MAX_COST, cost_limit
from registry.api.limits import QueryCache
from registry.api.scalars import OVERRIDES
from registry.errors import DomainError
from registry.api.enums import Direction
from registry.api.exports import ExportQuery
from registry.api.permissions import authorize
from registry.api.subjects import SubjectMutation, SubjectQuery
from registry.api.tokens import TokenMutation, TokenQuery


async def _list(info: strawberry.Info, type_: str) -> list:
    docs = await info.context.call(info.context.registry.list, type_)
    return [to_node(Stored(type_, doc)) for doc in docs]


@strawberry.type
class RegistryQuery:
    @strawberry.field
    async def categories(self, info: strawberry.Info) -> list[DataCategory]:
        return await _list(info, "category")

    @strawberry.field
    async def purposes(self, info: strawberry.Info) -> list[Purpose]:
        return await _list(info, "purpose")

    @strawberry.field
    async def subject_categories(self, info: strawberry.Info) -> list[SubjectCategory]:
        return await _list(info, "subject-category")

    @strawberry.field
    async def legal_bases(self, info: strawberry.Info) -> list[LegalBasis]:
        return await _list(info, "legal-basis")

    @strawberry.field
    async def systems(self, info: strawberry.Info) -> list[System]:
        return await _list(info, "system")

    @strawberry.field
    async def parties(self, info: strawberry.Info) -> list[Party]:
        return await _list(info, "party")

    @strawberry.field
    async def agreements(self, info: strawberry.Info) -> list[Agreement]:
        return await _list(info, "agreement")

    @strawberry.field
    async def flows(self, info: strawberry.Info) -> list[Flow]:
        return await _list(info, "flow")

    @strawberry.field(description="Any entity by id; null when there is none.")
    async def node(self, info: strawberry.Info, id: strawberry.ID) -> Optional[Node]:
        return to_node(await info.context.entities.load(id))

    @strawberry.field(description="Who holds a category (its ancestors, and with `includeDescendants` its "
                                  "descendants), and why, on day `asOf` (default today, UTC): one holding per "
                                  "declaration and per incoming flow in force that day, sorted by holder, category "
                                  "and flow; `offset` and `limit` page through them.")
    @domain_errors
    async def holders(self, info: strawberry.Info, category: strawberry.ID, include_descendants: bool = True,
                      as_of: Optional[datetime.date] = None, offset: int = 0,
                      limit: Optional[int] = None) -> list[Holding]:
        views = await info.context.call(info.context.registry.holders, category, include_descendants, as_of)
        return [to_holding(view) for view in page(views, offset, limit)]

    @strawberry.field(description="Everything one system or party holds on day `asOf`, and why (paged like "
                                  "`holders`).")
    @domain_errors
    async def holdings(self, info: strawberry.Info, holder: strawberry.ID, as_of: Optional[datetime.date] = None,
                       offset: int = 0, limit: Optional[int] = None) -> list[Holding]:
        views = await info.context.call(info.context.registry.holdings, holder, as_of)
        return [to_holding(view) for view in page(views, offset, limit)]

    @strawberry.field(description="The flows in force on day `asOf` (default today, UTC) reached from a system or "
                                  "party, within `depth` flows, following only flows that carry one of `categories` "
                                  "(an ancestor or a descendant of one); with `includeProposed`, the planned flows "
                                  "too (`proposed: true`).")
    @domain_errors
    async def lineage(self, info: strawberry.Info, from_: Annotated[strawberry.ID, strawberry.argument(name="from")],
                      direction: Direction = Direction.DOWNSTREAM, depth: Optional[int] = None,
                      categories: Optional[list[strawberry.ID]] = None, as_of: Optional[datetime.date] = None,
                      include_proposed: bool = False) -> LineageGraph:
        found = await info.context.call(info.context.registry.lineage, from_, direction.value, depth, categories,
                                        as_of, include_proposed)
        return to_lineage(found)


async def _upsert(info: strawberry.Info, type_: str, value) -> Node:
    stored = await info.context.call(info.context.registry.upsert, type_, to_raw(value), actor=info.context.actor)
    return to_node(stored)


async def _delete(info: strawberry.Info, type_: str, id_: str) -> Node:
    stored = await info.context.call(info.context.registry.delete, type_, id_, actor=info.context.actor)
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
    async def delete_category(self, info: strawberry.Info, id: strawberry.ID) -> DataCategory:
        return await _delete(info, "category", id)

    @strawberry.mutation
    @domain_errors
    async def delete_purpose(self, info: strawberry.Info, id: strawberry.ID) -> Purpose:
        return await _delete(info, "purpose", id)

    @strawberry.mutation
    @domain_errors
    async def delete_subject_category(self, info: strawberry.Info, id: strawberry.ID) -> SubjectCategory:
        return await _delete(info, "subject-category", id)

    @strawberry.mutation
    @domain_errors
    async def delete_legal_basis(self, info: strawberry.Info, id: strawberry.ID) -> LegalBasis:
        return await _delete(info, "legal-basis", id)

    @strawberry.mutation
    @domain_errors
    async def delete_system(self, info: strawberry.Info, id: strawberry.ID) -> System:
        return await _delete(info, "system", id)

    @strawberry.mutation
    @domain_errors
    async def delete_party(self, info: strawberry.Info, id: strawberry.ID) -> Party:
        return await _delete(info, "party", id)

    @strawberry.mutation
    @domain_errors
    async def delete_agreement(self, info: strawberry.Info, id: strawberry.ID) -> Agreement:
        return await _delete(info, "agreement", id)

    @strawberry.mutation
    @domain_errors
    async def delete_flow(self, info: strawberry.Info, id: strawberry.ID) -> Flow:
        return await _delete(info, "flow", id)

    @strawberry.mutation(description="Load a YAML or JSON bundle: validated whole, applied in one transaction; "
                                     "with `replace`, everything else is deleted.")
    @domain_errors
    async def import_bundle(self, info: strawberry.Info, yaml: str, replace: bool = False) -> ChangeSummary:
        result = await info.context.call(info.context.registry.load, [("bundle", yaml)], actor=info.context.actor,
                                         replace=replace)
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
            functools.partial(AddValidationRules, [*_LIMITS, cost_limit(max_cost)]),
            *([] if introspection else [DisableIntrospection]),
            functools.partial(MaxTokensLimiter, max_token_count=5000),
            functools.partial(MaskErrors, should_mask_error=should_mask, error_message="internal error"),
        ],
    )


schema = make_schema()
