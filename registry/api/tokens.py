"""GraphQL for API tokens (tokens:manage, the admin role): list, create (the token is in the answer,
once), revoke."""

from __future__ import annotations

import datetime
from typing import Optional

import strawberry

from graph.store import TokenRow
from registry.api.enums import Role, value_of
from registry.api.errors import domain_errors
from registry.api.paging import After, Connection, First, to_connection
from registry.paging import list_id, paginate


@strawberry.type(description="An API token as stored: never the token itself.")
class ApiToken:
    name: str
    role: Role
    created: datetime.datetime
    created_by: str
    expires: Optional[datetime.date] = strawberry.field(description="The last day (UTC) it is accepted.")
    revoked: Optional[datetime.datetime]


@strawberry.type(description="A token just created: `token` is shown this once; only its hash is kept.")
class IssuedToken:
    token: str
    api_token: ApiToken


def to_token(row: TokenRow) -> ApiToken:
    return ApiToken(name=row.name, role=row.role, created=datetime.datetime.fromisoformat(row.created),
                    created_by=row.created_by,
                    expires=datetime.date.fromisoformat(row.expires) if row.expires else None,
                    revoked=datetime.datetime.fromisoformat(row.revoked) if row.revoked else None)


@strawberry.type
class TokenQuery:
    @strawberry.field(description="Every API token, revoked ones included, oldest first.")
    @domain_errors
    async def api_tokens(self, info: strawberry.Info, first: First = None, after: After = None
                         ) -> Connection[ApiToken]:
        context = info.context
        rows = await context.call(context.tokens.list, principal=context.principal)
        page = paginate(rows, first=first, after=after, list_id=list_id("apiTokens"),
                        key=lambda row: f"{row.created}\x1f{row.name}")
        return to_connection(page, to_token)


@strawberry.type
class TokenMutation:
    @strawberry.mutation(description="Create an API token for one role, accepted through `expires` (UTC) or until "
                                     "revoked; audited.")
    @domain_errors
    async def create_api_token(self, info: strawberry.Info, name: str, role: Role,
                               expires: Optional[datetime.date] = None) -> IssuedToken:
        context = info.context
        issued = await context.call(context.tokens.create, principal=context.principal, name=name, role=value_of(role),
                                    expires=expires)
        return IssuedToken(token=issued.token, api_token=to_token(issued.row))

    @strawberry.mutation(description="Revoke the API token `name` (it is refused from the next request on); audited.")
    @domain_errors
    async def revoke_api_token(self, info: strawberry.Info, name: str) -> ApiToken:
        context = info.context
        return to_token(await context.call(context.tokens.revoke, principal=context.principal, name=name))
