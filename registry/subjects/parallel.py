"""Checking a large subject file in worker processes.

Checking a subject (the model's validation, the registry's references, the HMAC of its lookup
keys) costs some 50 µs of CPU, most of what a load costs; the store only applies what comes out.
`rows` spreads that over worker processes, `CHUNK` lines at a time, and gives exactly what
`model.rows` gives, in the same order: the same rows (encoded as the store stages them), and on
invalid lines the same problems, the same first `model.MAX_REPORTED` with details and the same
count of the rest.

The workers are started by a fork server (`multiprocessing`'s "forkserver"), never forked from
the caller, which may be a server with threads. They get the checker once, with the lookup-key
secret resolved; the check that this secret is the one the store's keys were hashed with runs
in the caller, the first time a worker reports that it hashed a key (as `model.Checker` does
it on its first hash). Lines that could not be read (an exception in place of a line) are
checked in the caller, in order.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from multiprocessing.connection import Connection

import orjson

from graph.store import StoreError
from graph.subjects import EncodedSubject
from registry.subjects import keys, model

__all__ = ["CHUNK", "MAX_WORKERS", "PARALLEL_BYTES", "rows", "workers_for"]

CHUNK = 2_000
"""Lines a worker checks at a time."""
MAX_WORKERS = 8
PARALLEL_BYTES = 8 * 1024 * 1024
"""Files smaller than this (about 30,000 subjects) are checked in the caller: starting workers
costs about a second."""

_checker: model.Checker | None = None  # a worker's


def workers_for(size: int) -> int:
    """How many worker processes check a file of `size` bytes: none below `PARALLEL_BYTES` or
    with one CPU, else the CPUs this process may run on, at most `MAX_WORKERS`."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return 0 if size < PARALLEL_BYTES or cpus < 2 else min(cpus, MAX_WORKERS)


def rows(lines: Iterable[tuple[int, object]], checker: model.Checker, workers: int,
         verify: Callable[[], None] = lambda: None) -> Iterator[EncodedSubject]:
    """`model.rows(lines, checker)` checked by `workers` processes: the rows as `EncodedSubject`s;
    raises `model.SubjectsInvalid` at the end if any line was invalid, and `StoreError` if a worker
    dies. `checker` goes to the workers, so its hasher must be a `keys.KeyHasher` (which travels
    with its secret); `verify()` is called when a worker first reports that it hashed a key (it
    raises `keys.KeyMismatch` for a secret the store's keys were not hashed with)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["registry.subjects.parallel"])
    reported, verified = model.Reported(), False
    local = _flagged(checker)
    lifeline, held = context.Pipe(duplex=False)  # each worker gets the reading end; only this process writes
    with lifeline, held, ProcessPoolExecutor(workers, mp_context=context, initializer=_start,
                                             initargs=(checker, lifeline)) as pool:
        pending: deque[Future | tuple] = deque()
        chunks = _chunks(iter(lines))
        try:
            while True:
                while len(pending) < 2 * workers:
                    chunk = next(chunks, None)
                    if chunk is None:
                        break
                    readable = all(not isinstance(raw, Exception) for _, raw in chunk)
                    pending.append(pool.submit(_check, chunk, reported.detailed) if readable
                                   else _check(chunk, reported.detailed, local))
                if not pending:
                    break
                done = pending.popleft()
                try:
                    encoded, found, hashed = done.result() if isinstance(done, Future) else done
                except BrokenProcessPool:
                    raise StoreError(f"nothing of {checker.source} was loaded: a process checking it stopped "
                                     "(killed, or out of memory?)") from None
                if hashed and not verified:  # as the caller's checker would on its first hash
                    verify()
                    verified = True
                if found.count:
                    reported.add(found.problems, found.more)
                elif not reported.count:
                    yield from map(EncodedSubject, *encoded)
        finally:
            for future in pending:
                if isinstance(future, Future):
                    future.cancel()
    reported.raise_any()


def _chunks(lines: Iterator[tuple[int, object]]) -> Iterator[list[tuple[int, object]]]:
    while chunk := list(islice(lines, CHUNK)):
        yield chunk


class _Flagged:
    """A key hasher that notes whether it hashed anything."""

    def __init__(self, hasher: keys.KeyHasher):
        self.hasher, self.used = hasher, False

    def hash(self, name: str, value: str) -> str:
        self.used = True
        return self.hasher.hash(name, value)


def _flagged(checker: model.Checker) -> model.Checker:
    return dataclasses.replace(checker, hasher=_Flagged(checker.hasher))


def _start(checker: model.Checker, lifeline: Connection) -> None:
    global _checker
    _checker = _flagged(checker)
    threading.Thread(target=_end_with_caller, args=(lifeline,), name="lifeline", daemon=True).start()


def _end_with_caller(lifeline: Connection) -> None:
    """Exit when the caller is gone: its end of `lifeline` closes when it ends in any way, `kill -9`
    too. Without this a worker would wait for work forever (it holds its own task queue's writing
    end) and, with the fork server, keep the caller's standard output and error open."""
    try:
        lifeline.recv()
    except (EOFError, OSError):
        pass
    os._exit(1)


def _check(chunk: list[tuple[int, object]], detailed: bool, checker: model.Checker | None = None
           ) -> tuple[tuple[list[str], list[bytes], list[bool]], model.Reported, bool]:
    """(encoded rows, the chunk's problems as reported, whether a key was hashed) for one chunk;
    the rows stop at its first invalid line. The rows come as the columns of their `EncodedSubject`s
    (ids, JSON, whether keyed): lists of plain values pickle four times faster than named tuples."""
    checker = checker or _checker
    checker.hasher.used = False
    ids: list[str] = []
    encoded: list[bytes] = []
    keyed: list[bool] = []
    reported = model.Reported()
    for number, raw in chunk:
        row, found = checker.check(number, raw, detailed=detailed and reported.detailed)
        if found:
            reported.add(found)
        elif not reported.count:
            ids.append(row.id)
            encoded.append(orjson.dumps(row))
            keyed.append(bool(row.key_hashes))
    return (ids, encoded, keyed), reported, checker.hasher.used
