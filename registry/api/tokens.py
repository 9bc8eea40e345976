"""GraphQL for API tokens (tokens:manage, the admin role): list, create (the token is in the answer,
once), revoke."""

from __future__ import annotations

import datetime
from typing import Optional

import strawberry

from graph.store import TokenRow
from registry.api.errors import domain_errors


@strawberry.type(description="An API token as stored: never the token itself.")
class ApiToken:
    name: str
    role: str
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
    async def api_tokens(self, info: strawberry.Info) -> list[ApiToken]:
        context = info.context
        return [to_token(row) for row in await context.call(context.tokens.list, principal=context.principal)]


@strawberry.type
class TokenMutation:
    @strawberry.mutation(description="Create an API token for one role, accepted through `expires` (UTC) or until "
                                     "revoked; audited.")
    @domain_errors
    async def create_api_token(self, info: strawberry.Info, name: str, role: str,
                               expires: Optional[datetime.date] = None) -> IssuedToken:
        context = info.context
        issued = await context.call(context.tokens.create, principal=context.principal, name=name, role=role,
                                    expires=expires)
        return IssuedToken(token=issued.token, api_token=to_token(issued.row))

    @strawberry.mutation(description="Revoke the API token `name` (it is refused from the next request on); audited.")
    @domain_errors
    async def revoke_api_token(self, info: strawberry.Info, name: str) -> ApiToken:
        context = info.context
        return to_token(await context.call(context.tokens.revoke, principal=context.principal, name=name))
