"""`kill -9` at random points of imports and subject loads, on both backends: CLI processes
(`load --replace` with a few thousand flows, `subjects load` with tens of thousands of subjects)
killed after a random delay leave the store exactly as before the command or as after it
(exports and subjects compared), or, for a subject load of several batches, whole batches recorded
as a pending load that loading the file again completes; and the audit chain verifies. A handful of runs here;
`python -m bench.integrity --only crashes --kills N` runs more and prints the figures."""

from __future__ import annotations

import random

import pytest

from bench.integrity import Backend, crashes
from tests.test_races import backend  # noqa: F401 — the fixture

SIZES = {  # (backend, command) -> flows or subjects: a load of a few seconds
    ("embedded", "load --replace"): 2000, ("embedded", "subjects load"): 30_000,
    ("neo4j", "load --replace"): 600, ("neo4j", "subjects load"): 6000,
}


@pytest.mark.parametrize("kind", ["load --replace", "subjects load"])
def test_a_killed_command_leaves_the_state_before_or_after_it(backend: Backend, kind):  # noqa: F811
    size = SIZES["neo4j" if backend.uri else "embedded", kind]
    kills = 2 if backend.uri else 3  # a Neo4j run costs more (connection, schema check): < 60 s per backend
    figures = crashes(backend, kind, kills, size=size, rng=random.Random(len(kind)))
    assert figures.runs == kills
    assert figures.torn == 0 and figures.unverified == 0
    assert figures.before + figures.after + figures.resumed + figures.finished == kills
