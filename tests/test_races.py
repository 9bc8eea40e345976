"""Concurrent writers cannot leave a reference to nothing, on either backend: each race pair of
`bench.integrity` (delete or replace against an upsert, a subject load or a consent; two parents
set at once) runs a few rounds, each writer through a store of its own, released together. After
every round nothing dangles and the export loads back; a writer that lost the race was refused
with a clear error. `python -m bench.integrity` runs more rounds and prints the figures."""

from __future__ import annotations

import pytest

from bench.integrity import RACES, Backend, race

ROUNDS = {"embedded": 6, "neo4j": 3}


@pytest.fixture(params=["embedded", "neo4j"])
def backend(request, tmp_path) -> Backend:
    if request.param == "embedded":
        return Backend(path=tmp_path / "registry.db")
    return Backend(uri=request.getfixturevalue("neo4j_uri"), wipe=request.getfixturevalue("_neo4j_wiper"))


@pytest.mark.parametrize("pair", RACES)
def test_no_interleaving_of_writers_leaves_a_dangling_reference(backend, pair):
    figures = race(backend, pair, ROUNDS["neo4j" if backend.uri else "embedded"])
    assert figures.broken == 0  # `race` also raises at the first broken round, naming it
    assert figures.rounds == figures.both + figures.refused
    assert set(figures.errors) <= {"InvalidArgument", "NotFound", "BundleInvalid", "SubjectsInvalid"}


def test_without_the_in_transaction_checks_the_races_run_to_the_end_and_count_what_broke(tmp_path):
    """`python -m bench.integrity --unchecked` measures what the checks prevent: it must run."""
    figures = race(Backend(path=tmp_path / "registry.db"), "deleteSystem | subjects load", 4, unchecked=True)
    assert figures.rounds == 4 == figures.both + figures.refused + figures.broken
