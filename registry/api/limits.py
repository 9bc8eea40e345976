"""Bounds on what one HTTP request may cost the server before any GraphQL runs.

- `BodyLimit` (ASGI middleware): a request whose body (or URL query string) is larger than
  `DSA_REGISTRY_MAX_REQUEST_BYTES` is answered 413 with one GraphQL-style error
  (`extensions.code` `REQUEST_TOO_LARGE`), whether it declares its length or streams it.
- `QueryCache` (schema extension): parses and validates a query text once and keeps the result
  in a bounded LRU cache, but only for texts up to `CACHED_QUERY_CHARS` (governance tools and
  portals repeat short queries; a long one would pin its size in memory for as long as it stays
  cached), so the caches hold at most `CACHE_ENTRIES` × `CACHED_QUERY_CHARS` of text and what it
  parses to. A text longer than `MAX_QUERY_CHARS` is refused before parsing (`QUERY_TOO_LARGE`):
  large values (a bundle for `importBundle`) travel as variables, which are not parsed as GraphQL.

>>> QueryCache.cached_texts() <= CACHE_ENTRIES, CACHED_QUERY_CHARS, MAX_QUERY_CHARS
(True, 16384, 524288)
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from graphql import GraphQLError, parse
from starlette.responses import JSONResponse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

__all__ = ["BodyLimit", "CACHED_QUERY_CHARS", "CACHE_ENTRIES", "DEFAULT_MAX_REQUEST_BYTES", "MAX_QUERY_CHARS",
           "QueryCache"]

DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024
"""The default of `DSA_REGISTRY_MAX_REQUEST_BYTES`: room for a large bundle as a variable."""
CACHED_QUERY_CHARS = 16 * 1024
MAX_QUERY_CHARS = 512 * 1024
CACHE_ENTRIES = 256


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse requests larger than `max_bytes` with 413 (see the module docstring)."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if len(scope.get("query_string", b"")) > self.max_bytes or (declared.isdigit()
                                                                     and int(declared) > self.max_bytes):
            return await self._refuse(scope, receive, send)
        received, started = 0, False

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def sending(message):
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except _TooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope, receive, send):
        response = JSONResponse({"errors": [{
            "message": f"the request is larger than {self.max_bytes:,} bytes (DSA_REGISTRY_MAX_REQUEST_BYTES)",
            "extensions": {"code": "REQUEST_TOO_LARGE", "limit": self.max_bytes}}]},
            status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)


@functools.lru_cache(maxsize=CACHE_ENTRIES)
def _parsed(query: str, max_tokens: int | None):
    return parse(query, max_tokens=max_tokens)


@functools.lru_cache(maxsize=CACHE_ENTRIES)
def _validated(schema, query: str, max_tokens: int | None, rules) -> tuple[GraphQLError, ...]:
    """The errors of the text `_parsed` caches, keyed by the text as that cache is: a document's own
    hash walks its whole tree (graphql-core's nodes are frozen dataclasses), 100 calls a DSAR query."""
    return tuple(validate_document(schema, _parsed(query, max_tokens), rules))


class QueryCache(SchemaExtension):
    """Parse and validate short query texts once (see the module docstring); pass the class, or a
    factory: the caches live at module level, shared by every request."""

    _key: tuple[str, int | None] | None = None  # the parse cache's key of this request's document

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query or ""
        if len(query) > MAX_QUERY_CHARS:
            raise GraphQLError(f"the query text is {len(query):,} characters long, over the limit of "
                               f"{MAX_QUERY_CHARS:,}: pass large values as variables",
                               extensions={"code": "QUERY_TOO_LARGE", "limit": MAX_QUERY_CHARS})
        if len(query) <= CACHED_QUERY_CHARS and set(context.parse_options) <= {"max_tokens"}:
            self._key = (query, context.parse_options.get("max_tokens"))
            context.graphql_document = self._document = _parsed(*self._key)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if self._key is not None and context.graphql_document is self._document:
            context.pre_execution_errors = list(_validated(context.schema._schema, *self._key,
                                                           tuple(context.validation_rules)))
        yield

    @staticmethod
    def cached_texts() -> int:
        """How many parsed texts the cache holds."""
        return _parsed.cache_info().currsize
