"""Per-request state: the registry, the caller, and a loader that batches entity lookups."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from starlette.concurrency import run_in_threadpool
from strawberry.dataloader import DataLoader

from graph.store import Stored
from registry.service import Registry

T = TypeVar("T")


@dataclass
class Context:
    registry: Registry
    actor: str
    request: Any = None
    response: Any = None
    entities: DataLoader[str, Stored | None] = field(init=False)

    def __post_init__(self):
        async def fetch(ids: list[str]) -> list[Stored | None]:
            found = await self.call(self.registry.entities, ids)
            return [found.get(id_) for id_ in ids]

        self.entities = DataLoader(load_fn=fetch)

    async def call(self, function: Callable[..., T], *args, **kwargs) -> T:
        """Run a (blocking) registry call off the event loop."""
        return await run_in_threadpool(function, *args, **kwargs)
