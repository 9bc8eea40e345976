"""The ASGI application: GraphQL (and GraphiQL in a browser) at /graphql, a health check at /healthz,
the lineage page at / and the pages' files under /static (`registry.web`).

The store is opened in the lifespan and closed at shutdown: one store (one Neo4j driver) per
process and no other state, so several replicas can serve one database. Everything the app
needs comes from the `Settings` it is created with (the composition root validated them);
what can be checked without the store (the identity provider's key file, the lookup-key
secret) is checked when the app is created, the rest when it starts.

Callers authenticate (`registry.api.authentication`); CORS is closed unless
`DSA_REGISTRY_CORS_ORIGINS` names origins; with `production`, introspection and GraphiQL are off.
Every request has a bounded cost: its size (`registry.api.limits`) and, before it runs, its
GraphQL operation's (`registry.api.cost`).
"""

from __future__ import annotations

import contextlib

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

from registry.api.authentication import Authentication
from registry.api.context import Context
from registry.api.cost import DEFAULT_MAX_COST
from registry.api.limits import BodyLimit
from registry.api.schema import make_schema
from registry.audit import AuditTrail
from registry.auth.callers import OidcVerifier, Verifier
from registry.auth.roles import Principal
from registry.auth.tokens import Tokens
from registry.bootstrap import open_registry
from registry.settings import Settings, SettingsError
from registry.subjects.service import SubjectService
from registry.web import Pages

NOBODY = Principal("unauthenticated", frozenset())


class RegistryGraphQL(GraphQL):
    def __init__(self, state: dict, pages: Pages, *, production: bool = False, max_cost: int = DEFAULT_MAX_COST):
        super().__init__(make_schema(introspection=not production, max_cost=max_cost),
                         graphql_ide=None if production else "graphiql")
        self._state = state
        self._pages = pages

    def encode_json(self, data: object) -> str:
        """The response's JSON, by orjson: 20,000 findings (7 MB) encode in about 11 ms, where the
        standard library's encoder takes about 105 ms. Text, as strawberry's multipart responses
        expect; non-ASCII characters as they are (UTF-8), not escaped."""
        return orjson.dumps(data).decode()

    async def render_graphql_ide(self, request):
        """GraphiQL from this app's own files (strawberry's page loads it from a CDN)."""
        return await self._pages.graphiql(request)

    async def get_context(self, request, response) -> Context:
        state = self._state
        principal = getattr(request.state, "principal", NOBODY)
        return Context(registry=state["registry"], subjects=state["subjects"], principal=principal,
                       compliance=state["compliance"], audit=state["audit"], tokens=state["tokens"],
                       request=request, response=response)


def create_app(settings: Settings) -> Starlette:
    """The API over the registry that `settings` name, opened at start-up.

    Raises `SettingsError` when the identity provider's JWKS file or the lookup-key secret is unusable.
    """
    state: dict = {}
    compliance = settings.compliance()  # an unusable countries file stops the start, not a request
    hasher = settings.key_hasher().load()  # a bad secret stops the start, not a request
    oidc = None
    if (config := settings.oidc()) is not None:
        try:
            oidc = OidcVerifier(config)
        except ValueError as error:
            raise SettingsError(f"DSA_REGISTRY_OIDC_JWKS_FILE: {error}") from None

    @contextlib.asynccontextmanager
    async def lifespan(app):
        registry = state["registry"] = open_registry(settings)
        try:
            state["subjects"] = SubjectService(registry, hasher)
            state["subjects"].check_key()
            state["audit"] = AuditTrail(registry.store)
            state["tokens"] = Tokens(registry.store)
            state["verifier"] = Verifier(registry.store, oidc=oidc, anonymous_viewer=settings.allow_anonymous_viewer)
            state["compliance"] = compliance
            yield
        finally:
            state.clear()
            registry.store.close()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": state["registry"].store.version()})

    pages = Pages(settings.web_assets)
    graphql = RegistryGraphQL(state, pages, production=settings.production, max_cost=settings.max_query_cost)
    middleware = [Middleware(BodyLimit, max_bytes=settings.max_request_bytes),
                  Middleware(Authentication, verifier=lambda: state["verifier"])]
    if settings.cors_origins:
        middleware.insert(0, Middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                                        allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"],
                                        max_age=600))
    return Starlette(routes=[Route("/graphql", graphql, methods=["GET", "POST"]),
                             Route("/healthz", healthz), *pages.routes()], middleware=middleware, lifespan=lifespan)
