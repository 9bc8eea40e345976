"""Authentication over HTTP: every request that can execute GraphQL needs credentials.

`Authentication` is ASGI middleware. For a request that is not public it asks the `Verifier`
(`registry.auth.callers`, run off the event loop: it may query the store or fetch the identity
provider's keys) who is calling, and puts the `Principal` in `request.state.principal`; without
valid credentials it answers 401 with a GraphQL-shaped body and `WWW-Authenticate: Bearer`:

    {"errors": [{"message": "credentials are required: …", "extensions": {"code": "UNAUTHENTICATED"}}]}

Public (no credentials needed, no registry data in them): `/`, `/healthz`, anything under
`/static/`, paths added to `public_paths`, and `GET`/`HEAD /graphql` without a `query`
parameter (the GraphiQL page; a GET executes GraphQL only with one).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from registry.auth.callers import Unauthenticated, Verifier

__all__ = ["Authentication", "PUBLIC_PATHS", "is_public"]

PUBLIC_PATHS = frozenset({"/", "/healthz"})
PUBLIC_PREFIXES = ("/static/",)


def is_public(request: Request, public_paths: frozenset[str] = PUBLIC_PATHS) -> bool:
    path = request.url.path
    if path in public_paths or path.startswith(PUBLIC_PREFIXES):
        return True
    return path == "/graphql" and request.method in ("GET", "HEAD") and "query" not in request.query_params


class Authentication:
    def __init__(self, app: ASGIApp, verifier: Callable[[], Verifier], public_paths: frozenset[str] = PUBLIC_PATHS):
        """`verifier` returns the verifier (the app builds it in its lifespan, once the store is open)."""
        self.app = app
        self.verifier = verifier
        self.public_paths = public_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and is_public(Request(scope), self.public_paths):
            await self.app(scope, receive, send)
            return
        try:
            principal = await run_in_threadpool(self.verifier().principal,
                                                HTTPConnection(scope).headers.get("authorization"))
        except Unauthenticated as error:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4401, "reason": "unauthenticated"})
                return
            await _refuse(error)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def _refuse(error: Unauthenticated) -> JSONResponse:
    challenge = 'Bearer realm="dsa-registry"'
    if error.presented:
        description = str(error).replace('"', "'")
        challenge += f', error="invalid_token", error_description="{description}"'
    return JSONResponse({"errors": [{"message": str(error), "extensions": {"code": "UNAUTHENTICATED"}}]},
                        status_code=401, headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"})
