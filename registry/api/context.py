"""Per-request state: the registry and its services (subjects, audit log, tokens), the caller
(`principal`, authenticated by `registry.api.authentication` or the CLI's operator), the
compliance settings, and a loader that batches entity lookups."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from starlette.concurrency import run_in_threadpool
from strawberry.dataloader import DataLoader

from graph.store import Stored
from registry.api.cost import Budget
from registry.audit import AuditTrail
from registry.auth.roles import Principal
from registry.auth.tokens import Tokens
from registry.compliance.settings import Settings as ComplianceSettings
from registry.service import Registry
from registry.subjects.service import SubjectService

T = TypeVar("T")


@dataclass
class Context:
    registry: Registry
    principal: Principal
    subjects: SubjectService | None = None
    compliance: ComplianceSettings = field(default_factory=ComplianceSettings.packaged)
    """Country lists, controller and subject categories, from the composition root's settings."""
    request: Any = None
    response: Any = None
    audit: AuditTrail | None = None
    tokens: Tokens | None = None
    budget: Budget | None = field(default=None, init=False)
    """What the request's operation may still cost (`registry.api.cost`), set as it starts."""
    entities: DataLoader[str, Stored | None] = field(init=False)

    @property
    def actor(self) -> str:
        return self.principal.name

    def __post_init__(self):
        if self.subjects is None:
            self.subjects = SubjectService(self.registry)
        if self.audit is None:
            self.audit = AuditTrail(self.registry.store)
        if self.tokens is None:
            self.tokens = Tokens(self.registry.store)

        # The loader knows the registry, not the context: a context that its own loader refers to
        # is a reference cycle, and all a request made would wait for the garbage collector.
        self.entities = DataLoader(load_fn=functools.partial(_fetch, self.registry))

    async def call(self, function: Callable[..., T], *args, **kwargs) -> T:
        """Run a (blocking) registry call off the event loop."""
        return await run_in_threadpool(function, *args, **kwargs)


async def _fetch(registry: Registry, ids: list[str]) -> list[Stored | None]:
    found = await run_in_threadpool(registry.entities, ids)
    return [found.get(id_) for id_ in ids]
