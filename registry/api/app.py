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

from registry.auth.roles import Principal
from registry.api.context import Context
from registry.api.schema import schema
from registry.service import Registry
from registry.subjects.service import SubjectService


class RegistryGraphQL(GraphQL):
    def __init__(self, state: dict):
        super().__init__(schema, graphql_ide="graphiql")
        self._state = state

    async def get_context(self, request, response) -> Context:
        return Context(registry=self._state["registry"], subjects=self._state["subjects"], principal=Principal.api(),
                       request=request, response=response)


def create_app(open_registry: Callable[[], Registry]) -> Starlette:
    """The API over the registry that `open_registry` opens at start-up."""
    state: dict = {}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        registry = state["registry"] = open_registry()
        state["subjects"] = SubjectService(registry)
        try:
            yield
        finally:
            state.clear()
            registry.store.close()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": state["registry"].store.version()})

    graphql = RegistryGraphQL(state)
    return Starlette(routes=[Route("/graphql", graphql, methods=["GET", "POST"]),
                             Route("/healthz", healthz)], lifespan=lifespan)
