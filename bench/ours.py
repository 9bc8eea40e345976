"""Our side of one backend: the bundle import, the subject load, and each question through the
three layers: the direct service call, `schema.execute` (GraphQL without HTTP, one event loop as
in a server) and GraphQL over HTTP to a real uvicorn server on loopback, with 1, 4 and 16
concurrent clients for the throughput."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from registry.api.context import Context
from registry.api.schema import make_schema
from registry.auth.roles import Principal
from registry.bootstrap import open_registry
from registry.settings import Settings
from registry.subjects.service import SubjectService

from bench.measure import Budget, Record, Sample, once, repeat, repeat_async, rss_mb
from bench.questions import Ours, Picks, Question
from bench.servers import ApiServer


MAX_QUERY_COST = 100_000_000
"""The request cost limit (`DSA_REGISTRY_MAX_QUERY_COST`, at its highest) of the benchmark's
`schema.execute` and API server: it asks for whole answers, and `findings` over the whole `large`
group (about 21,000 items, cost about 157,000) is over the default limit a deployment pages under."""
schema = make_schema(max_cost=MAX_QUERY_COST)


class AnswerError(RuntimeError):
    """A question got errors instead of an answer."""


def open_ours(store: str, hmac_key: str) -> Ours:
    settings = Settings.load(store=store, hmac_key=hmac_key)
    registry = open_registry(settings)
    return Ours(registry=registry, subjects=SubjectService(registry, settings.key_hasher()),
                compliance=settings.compliance(), principal=Principal.of("bench", "viewer,dpo"))


def import_bundle(ours: Ours, bundle: dict, backend: str) -> Record:
    started = time.perf_counter()
    result = ours.registry.load_data(bundle, source="synthetic", actor="bench", replace=True)
    elapsed = time.perf_counter() - started
    return once("import", backend, "direct", elapsed, result.created + result.updated + result.unchanged, rss_mb())


def load_subjects(ours: Ours, path: Path, count: int, backend: str, read=None, applied=None) -> Record:
    """The subject load, timed; `read(bytes, size)` and `applied(subjects, total)` report its progress."""
    started = time.perf_counter()
    loaded = ours.subjects.load(path, principal=Principal.of("bench", "admin"), read=read, applied=applied)
    elapsed = time.perf_counter() - started
    return once("subject-load", backend, "direct", elapsed, loaded or count, rss_mb())


def direct(ours: Ours, question: Question, picks: Picks, budget: Budget, tick) -> Sample:
    return repeat(lambda i: question.direct(ours, picks, i), question.size, budget, tick)


def execute(ours: Ours, question: Question, picks: Picks, budget: Budget, tick) -> Sample:
    async def ask(i: int) -> dict:
        context = Context(registry=ours.registry, subjects=ours.subjects, principal=ours.principal,
                          compliance=ours.compliance)
        result = await schema.execute(question.query, variable_values=question.variables(picks, i),
                                      context_value=context)
        if result.errors:
            raise AnswerError(f"{question.name}: {result.errors[0].message}")
        return result.data

    return asyncio.run(repeat_async(ask, question.data_size, budget, tick))


@dataclass
class Http:
    """GraphQL over HTTP to `server`, with a bearer token when one is given (the API's authentication)."""

    server: ApiServer
    token: str | None = None

    def client(self, connections: int = 1) -> httpx2.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx2.AsyncClient(base_url=self.server.url, headers=headers, timeout=120,
                                  limits=httpx2.Limits(max_connections=connections))

    @staticmethod
    async def ask(client: httpx2.AsyncClient, question: Question, picks: Picks, i: int) -> dict:
        response = await client.post("/graphql", json={"query": question.query,
                                                       "variables": question.variables(picks, i)})
        if response.status_code != 200:
            raise AnswerError(f"{question.name} over HTTP: status {response.status_code}: {response.text[:200]}")
        body = response.json()
        if body.get("errors"):
            raise AnswerError(f"{question.name} over HTTP: {body['errors'][0].get('message')}")
        return body["data"]

    def latency(self, question: Question, picks: Picks, budget: Budget, tick) -> Sample:
        async def run() -> Sample:
            async with self.client() as client:
                return await repeat_async(lambda i: self.ask(client, question, picks, i), question.data_size,
                                          budget, tick)
        return asyncio.run(run())

    def throughput(self, question: Question, picks: Picks, clients: int, seconds: float,
                   limit: int = 20_000) -> tuple[Sample, float]:
        """`clients` concurrent clients asking for `seconds` (and at most `limit` requests in all);
        returns the latencies and the requests per second."""
        async def run() -> tuple[Sample, float]:
            sample = Sample()
            async with self.client(clients) as client:
                sample.items = question.data_size(await self.ask(client, question, picks, 0))
                counter = iter(range(limit))
                deadline = time.perf_counter() + seconds

                async def worker() -> None:
                    for i in counter:
                        if time.perf_counter() > deadline:
                            return
                        begin = time.perf_counter()
                        await self.ask(client, question, picks, i)
                        sample.times_ms.append((time.perf_counter() - begin) * 1000)

                started = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(clients)))
                elapsed = time.perf_counter() - started
            return sample, len(sample.times_ms) / elapsed
        return asyncio.run(run())


def layers(ours: Ours) -> dict[str, Callable[[Question, Picks, Budget, Any], Sample]]:
    return {"direct": lambda q, p, b, t: direct(ours, q, p, b, t),
            "execute": lambda q, p, b, t: execute(ours, q, p, b, t)}
