"""Timing and memory: repeat a call, keep its latencies, and summarise them as a record.

A record is one row of the benchmark's answer (`--json`): a question asked of a backend through
one layer, with latency percentiles in milliseconds, the size of the answer and the resident
memory of the process that answered.

>>> summary([1.0, 2.0, 3.0, 4.0])["p50_ms"]
2.5
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psutil

Record = dict[str, Any]


@dataclass(frozen=True)
class Budget:
    """How long to repeat one question through one layer: `runs` times after a warm-up, but
    stop early after `seconds` (at least `minimum` runs are always made)."""

    runs: int = 50
    seconds: float = 20.0
    minimum: int = 5


@dataclass
class Sample:
    times_ms: list[float] = field(default_factory=list)
    items: int = 0
    answer: Any = None
    """The warm-up's answer, kept to compare backends."""


def percentile(times: list[float], q: float) -> float:
    """The `q`-th percentile (0-100) by linear interpolation between closest ranks."""
    ordered = sorted(times)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(times: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(times), 3), "p95_ms": round(percentile(times, 95), 3),
            "p99_ms": round(percentile(times, 99), 3)}


def rss_mb(pid: int | None = None, children: bool = False) -> float:
    """The resident memory of process `pid` (this one by default), with `children` that of all its
    descendants too (a server's worker processes), in MB (10^6 bytes)."""
    process = psutil.Process(pid)
    family = [process, *(process.children(recursive=True) if children else ())]
    total = 0
    for member in family:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:  # a worker that ended meanwhile
            pass
    return round(total / 1e6, 1)


def _schedule(budget: Budget) -> Iterator[int]:
    """The run numbers 0, 1, … that `budget` allows."""
    started = time.perf_counter()
    for i in range(budget.runs):
        if i >= budget.minimum and time.perf_counter() - started > budget.seconds:
            return
        yield i


def repeat(call: Callable[[int], Any], size: Callable[[Any], int], budget: Budget,
           tick: Callable[[], None] = lambda: None) -> Sample:
    """Call `call(i)` once to warm up, then for i = 0, 1, … within `budget`, timing each call."""
    sample = Sample()
    sample.answer = call(0)
    sample.items = size(sample.answer)
    for i in _schedule(budget):
        begin = time.perf_counter()
        call(i)
        sample.times_ms.append((time.perf_counter() - begin) * 1000)
        tick()
    return sample


async def repeat_async(call: Callable[[int], Awaitable[Any]], size: Callable[[Any], int], budget: Budget,
                       tick: Callable[[], None] = lambda: None) -> Sample:
    """`repeat` for a coroutine function, all in the running event loop (as in a server)."""
    sample = Sample()
    sample.answer = await call(0)
    sample.items = size(sample.answer)
    for i in _schedule(budget):
        begin = time.perf_counter()
        await call(i)
        sample.times_ms.append((time.perf_counter() - begin) * 1000)
        tick()
    return sample


def record(question: str, backend: str, layer: str, sample: Sample, rss: float, **extra: Any) -> Record:
    return {"question": question, "backend": backend, "layer": layer, **summary(sample.times_ms),
            "items": sample.items, "rss_mb": rss, "runs": len(sample.times_ms), **extra}


def once(question: str, backend: str, layer: str, seconds: float, items: int, rss: float, **extra: Any) -> Record:
    """A record of work done once (an import, a load): its duration in every percentile, and its rate."""
    ms = round(seconds * 1000, 1)
    return {"question": question, "backend": backend, "layer": layer, "p50_ms": ms, "p95_ms": ms, "p99_ms": ms,
            "items": items, "rss_mb": rss, "runs": 1, "per_s": round(items / seconds) if seconds else None, **extra}


def run_sync(coroutine):
    """Run a coroutine to completion in a fresh event loop."""
    return asyncio.run(coroutine)
