"""The ASGI application: GraphQL (and GraphiQL in a browser) at /graphql, a health check at /healthz,
the lineage page at / and the pages' files under /static (`registry.web`).

The store is opened in the lifespan and closed at shutdown: one store (one Neo4j driver) per
process and no other state, so several replicas can serve one database. Everything the app
needs comes from the `Settings` it is created with (the composition root validated them).
"""

from __future__ import annotations

import contextlib

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

from registry.api.context import Context
from registry.api.schema import schema
from registry.auth.roles import Principal
from registry.bootstrap import open_registry
from registry.settings import Settings
from registry.subjects.service import SubjectService
from registry.web import Pages


class RegistryGraphQL(GraphQL):
    def __init__(self, state: dict, pages: Pages):
        super().__init__(schema, graphql_ide="graphiql")
        self._state = state
        self._pages = pages

    async def render_graphql_ide(self, request):
        """GraphiQL from this app's own files (strawberry's page loads it from a CDN)."""
        return await self._pages.graphiql(request)

    async def get_context(self, request, response) -> Context:
        state = self._state
        return Context(registry=state["registry"], subjects=state["subjects"], principal=state["principal"],
                       compliance=state["compliance"], request=request, response=response)


def create_app(settings: Settings) -> Starlette:
    """The API over the registry that `settings` name, opened at start-up."""
    state: dict = {}
    compliance = settings.compliance()  # an unusable countries file stops the start, not a request
    hasher = settings.key_hasher()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        registry = state["registry"] = open_registry(settings)
        state["subjects"] = SubjectService(registry, hasher)
        state["principal"] = Principal("api", frozenset(settings.api_roles))
        state["compliance"] = compliance
        try:
            yield
        finally:
            state.clear()
            registry.store.close()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": state["registry"].store.version()})

    pages = Pages(settings.web_assets)
    graphql = RegistryGraphQL(state, pages)
    return Starlette(routes=[Route("/graphql", graphql, methods=["GET", "POST"]),
                             Route("/healthz", healthz), *pages.routes()], lifespan=lifespan)
