"""The ASGI application: GraphQL (and GraphiQL in a browser) at /graphql, a health check at /healthz.

The store is opened in the lifespan and closed at shutdown: one store (one Neo4j driver) per
process and no other state, so several replicas can serve one database.
"""

from __future__ import annotations

import contextlib
from typing import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

from registry.api.context import Context
from registry.api.schema import schema
from registry.service import Registry

API_ACTOR = "api"


class RegistryGraphQL(GraphQL):
    def __init__(self, registry: Callable[[], Registry]):
        super().__init__(schema, graphql_ide="graphiql")
        self._registry = registry

    async def get_context(self, request, response) -> Context:
        return Context(registry=self._registry(), actor=API_ACTOR, request=request, response=response)


def create_app(open_registry: Callable[[], Registry]) -> Starlette:
    """The API over the registry that `open_registry` opens at start-up."""
    state: dict[str, Registry] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        state["registry"] = open_registry()
        try:
            yield
        finally:
            state.pop("registry").store.close()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": state["registry"].store.version()})

    graphql = RegistryGraphQL(lambda: state["registry"])
    return Starlette(routes=[Route("/graphql", graphql, methods=["GET", "POST"]),
                             Route("/healthz", healthz)], lifespan=lifespan)
