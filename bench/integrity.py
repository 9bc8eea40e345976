"""Integrity under concurrent writers and under `kill -9`, with figures.

Races: two writers start together (a barrier), each through a store of its own (two SQLite
connections on one file, or two Neo4j drivers, as a server and a CLI would), in pairs that used
to leave references to nothing: a purpose deleted while a flow naming it is upserted, a system
deleted (or replaced away) while a subject file naming it loads, a purpose deleted while a
consent for it is recorded, two categories made each other's parent. After every round: no
dangling reference (`dangling`), and the export loads back into an empty registry.

Crashes: `load --replace` and `subjects load` run as CLI processes killed (SIGKILL) after a
random delay; after each, the store equals the state before or the state after the command
(exports and subject samples compared) and the audit chain verifies.

    python -m bench.integrity --rounds 100 --kills 20                  # embedded, in a temporary directory
    python -m bench.integrity --neo4j bolt://127.0.0.1:7687 --rounds 50 --kills 10
    python -m bench.integrity --unchecked …   # the same races without the in-transaction check

The test suite runs a few rounds of each (`tests/test_races.py`, `tests/test_crash_safety.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from graph.embedded import EmbeddedStore
from graph.store import GraphStore, IntegrityError
from graph.subjects import SUBJECT_BATCH
from registry.audit import AuditTrail
from registry.auth.roles import Principal
from registry.bundle import BundleInvalid, references
from registry.errors import InvalidArgument, NotFound
from registry.service import Registry
from registry.subjects.model import SubjectsInvalid
from registry.subjects.service import SubjectService

ROOT = Path(__file__).resolve().parent.parent
ADMIN = Principal("bench", frozenset({"admin"}))
REFUSED = (InvalidArgument, NotFound, IntegrityError, SubjectsInvalid, BundleInvalid)
"""What a writer that lost a race may get: a clear refusal, never anything else."""

BASE = {
    "categories": [{"id": "contact", "name": "Contact details"}],
    "purposes": [{"id": "service", "name": "Service"}],
    "systems": [{"id": "crm", "name": "CRM", "country": "DE"}, {"id": "dwh", "name": "DWH", "country": "DE"}],
    "parties": [{"id": "re", "name": "Reinsurer", "kind": "reinsurer", "country": "US", "role": "controller"}],
    "flows": [{"id": "f-base", "name": "Base", "from": "crm", "to": "dwh", "categories": ["contact"],
               "purpose": "service"}],
}


# --- stores ---------------------------------------------------------------------------------------

@dataclass
class Backend:
    """Opens stores on one registry: an SQLite file, or a Neo4j database (`uri`)."""

    path: Path | None = None
    uri: str | None = None
    wipe: Callable[[], None] | None = None

    @property
    def location(self) -> str:
        return self.uri or str(self.path)

    def open(self) -> GraphStore:
        if self.uri:
            from graph.neo4j.store import Neo4jStore
            return Neo4jStore.from_uri(self.uri, **_credentials())
        return EmbeddedStore(self.path)

    def reset(self) -> None:
        """Empty the registry (a new file, or a wiped database)."""
        if self.uri:
            self.wipe()
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)


def _credentials() -> dict[str, str | None]:
    """`NEO4J_USER`, `NEO4J_PASSWORD` and `NEO4J_DATABASE`, as the CLI reads them too."""
    return {"user": os.environ.get("NEO4J_USER"), "password": os.environ.get("NEO4J_PASSWORD"),
            "database": os.environ.get("NEO4J_DATABASE")}


def neo4j_wiper(uri: str) -> Callable[[], None]:
    """Empties the database `uri` names (constraints and indexes stay)."""
    from neo4j import GraphDatabase
    from graph.neo4j.connection import Connection

    connection = Connection.parse(uri, **_credentials())

    def wipe() -> None:
        with GraphDatabase.driver(connection.uri, auth=connection.auth) as driver, \
                driver.session(database=connection.database) as session:  # IN TRANSACTIONS: auto-commit only
            session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()
    return wipe


# --- invariants -----------------------------------------------------------------------------------

def dangling(store: GraphStore, gone: list[str] = ()) -> list[str]:
    """References to nothing: documents naming an id that is not stored (or is of another type),
    parent cycles, and subject records or consents naming one of `gone` (ids the round deleted)."""
    types = store.types_by_id()
    found = [f"{type_} {doc['id']!r} → {target!r}" for type_ in ("category", "purpose", "system", "party",
                                                                  "agreement", "flow")
             for doc in store.list(type_) for _, allowed, target in references(type_, doc)
             if types.get(target) not in allowed]
    parents = {doc["id"]: doc.get("parent") for type_ in ("category", "purpose") for doc in store.list(type_)}
    for start in parents:
        seen, node = set(), start
        while node in parents and node not in seen:
            seen.add(node)
            node = parents[node]
        if node == start:
            found.append(f"parent cycle through {start!r}")
    for id_ in gone:
        if id_ not in types and (store.count_subjects([id_]) or store.count_consenting([id_])):
            found.append(f"subject data names deleted {id_!r}")
    return found


def loads_back(registry: Registry) -> bool:
    """Whether the registry's export loads into an empty registry."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Registry(EmbeddedStore(Path(tmp) / "scratch.db"))
        try:
            scratch.load_data(registry.export(), source="export", actor="bench")
            return True
        except Exception:  # noqa: BLE001 — any failure is the finding
            return False
        finally:
            scratch.store.close()


# --- races ----------------------------------------------------------------------------------------

def subject_file(directory: Path, system: str, count: int, purpose: str | None = None) -> Path:
    path = directory / f"subjects-{system}.jsonl"
    with path.open("w") as out:
        for i in range(count):
            consents = [{"purpose": purpose, "status": "granted", "at": "2025-01-01T00:00:00Z"}] if purpose else []
            out.write(json.dumps({"id": f"S-{system}-{i:06d}", "kind": "policyholder", "records": [{"system": system}],
                                  "consents": consents}) + "\n")
    return path


def _delete_purpose_vs_upsert_flow(a: Registry, b: Registry, n: int, _: Path):
    a.upsert("purpose", {"id": f"p{n}", "name": "Temporary"}, actor="bench")
    flow = {"id": f"f{n}", "name": "Racing", "from": "crm", "to": "dwh", "categories": ["contact"], "purpose": f"p{n}"}
    return (lambda: a.delete("purpose", f"p{n}", actor="a"), lambda: b.upsert("flow", flow, actor="b")), [f"p{n}"]


def _delete_system_vs_subject_load(a: Registry, b: Registry, n: int, tmp: Path):
    a.upsert("system", {"id": f"s{n}", "name": "Temporary", "country": "DE"}, actor="bench")
    path = subject_file(tmp, f"s{n}", 3000)
    return (lambda: a.delete("system", f"s{n}", actor="a"),
            lambda: SubjectService(b).load(path, principal=ADMIN)), [f"s{n}"]


def _replace_vs_subject_load(a: Registry, b: Registry, n: int, tmp: Path):
    bundle = a.export()  # everything but the system the subjects are loaded into
    a.upsert("system", {"id": f"s{n}", "name": "Temporary", "country": "DE"}, actor="bench")
    path = subject_file(tmp, f"s{n}", 3000)
    return (lambda: a.load_data(bundle, source="bundle.yaml", actor="a", replace=True),
            lambda: SubjectService(b).load(path, principal=ADMIN)), [f"s{n}"]


def _delete_purpose_vs_consent(a: Registry, b: Registry, n: int, tmp: Path):
    a.upsert("purpose", {"id": f"p{n}", "name": "Temporary"}, actor="bench")
    SubjectService(a).load(subject_file(tmp, "crm", 1), principal=ADMIN)
    return (lambda: a.delete("purpose", f"p{n}", actor="a"),
            lambda: SubjectService(b).set_consent(principal=ADMIN, subject="S-crm-000000", purpose=f"p{n}",
                                                  status="withdrawn")), [f"p{n}"]


def _parent_cycle(a: Registry, b: Registry, n: int, _: Path):
    for id_ in (f"x{n}", f"y{n}"):
        a.upsert("category", {"id": id_, "name": id_}, actor="bench")
    return (lambda: a.upsert("category", {"id": f"x{n}", "name": "x", "parent": f"y{n}"}, actor="a"),
            lambda: b.upsert("category", {"id": f"y{n}", "name": "y", "parent": f"x{n}"}, actor="b")), []


RACES = {
    "deletePurpose | upsertFlow": _delete_purpose_vs_upsert_flow,
    "deleteSystem | subjects load": _delete_system_vs_subject_load,
    "load --replace | subjects load": _replace_vs_subject_load,
    "deletePurpose | withdrawConsent": _delete_purpose_vs_consent,
    "upsertCategory | upsertCategory (cycle)": _parent_cycle,
}


@dataclass
class RaceFigures:
    rounds: int = 0
    both: int = 0
    """Rounds where both writers succeeded (no conflict, or they did not overlap)."""
    refused: int = 0
    """Rounds where one writer was refused with a clear error."""
    broken: int = 0
    """Rounds that left a dangling reference or an export that does not load back."""
    errors: Counter | None = None


def race(backend: Backend, name: str, rounds: int, *, unchecked: bool = False,
         rng: random.Random | None = None) -> RaceFigures:
    """Run one race pair `rounds` times on a fresh registry; the figures."""
    rng = rng or random.Random(11)
    backend.reset()
    figures = RaceFigures(errors=Counter())
    with tempfile.TemporaryDirectory() as tmp, _unchecked(unchecked):
        stores = [backend.open(), backend.open()]
        try:
            a, b = Registry(stores[0]), Registry(stores[1])
            a.load_data(BASE, source="base.yaml", actor="bench")
            for n in range(rounds):
                (first, second), gone = RACES[name](a, b, n, Path(tmp))
                outcomes = _together(first, second, skew=rng.uniform(-0.004, 0.004))
                figures.rounds += 1
                failed = [o for o in outcomes if o is not None]
                for error in failed:
                    figures.errors[type(error).__name__] += 1
                unexpected = [e for e in failed if not isinstance(e, REFUSED)]
                if unexpected:
                    raise unexpected[0]
                problems = dangling(a.store, gone)
                if problems or not loads_back(a):
                    figures.broken += 1
                    if not unchecked:
                        raise AssertionError(f"{name}, round {n}: {problems or 'export does not load back'}")
                    _repair(a, backend)
                elif failed:
                    figures.refused += 1
                else:
                    figures.both += 1
        finally:
            for store in stores:
                store.close()
    return figures


def _together(*work: Callable[[], object], skew: float = 0.0) -> list[BaseException | None]:
    """Run `work` in threads released together (the second `skew` seconds later, or earlier);
    what each raised (None for success)."""
    barrier = threading.Barrier(len(work))
    outcomes: list[BaseException | None] = [None] * len(work)

    def run(i: int, job: Callable[[], object]) -> None:
        barrier.wait()
        delay = skew if i == 1 else -skew
        if delay > 0:
            time.sleep(delay)
        try:
            job()
        except BaseException as error:  # noqa: BLE001 — reported to the caller
            outcomes[i] = error

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(work)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@contextmanager
def _unchecked(on: bool) -> Iterator[None]:
    """With `on`, writes skip the in-transaction checks (to measure what they prevent)."""
    if not on:
        yield
        return
    from graph.embedded import subjects as embedded_subjects
    saved = Registry._write, embedded_subjects.SubjectTables._check_named
    Registry._write = lambda self, check, *, actor: self.store.write(check.upserts, check.deletes, actor=actor)
    embedded_subjects.SubjectTables._check_named = lambda self, *batch: None
    try:
        yield
    finally:
        Registry._write, embedded_subjects.SubjectTables._check_named = saved


def _repair(registry: Registry, backend: Backend) -> None:
    """After a broken round (only without the checks): start again from the base registry."""
    backend.reset() if backend.uri else None
    registry.load_data(BASE, source="base.yaml", actor="bench", replace=True, force=True)


# --- crashes --------------------------------------------------------------------------------------

def state(store: GraphStore, sample: list[str]) -> tuple:
    """What a crash must leave whole: the registry's export, how many subjects each system holds,
    and some subjects in full."""
    registry = Registry(store)
    systems = [doc["id"] for doc in store.list("system")]
    return (registry.export(), {s: store.count_subjects([s]) for s in systems},
            [store.subject(id_) for id_ in sample])


def _settled(store: GraphStore, sample: list[str]) -> tuple:
    """`state` once two reads 0.2 s apart agree. A Neo4j server may still be committing the last
    transaction of a client killed after it sent the commit, and `state` reads in several
    transactions: one read could see part of it before and part after."""
    now = state(store, sample)
    while True:
        time.sleep(0.2)
        again = state(store, sample)
        if again == now:
            return now
        now = again


def big_bundle(flows: int) -> dict:
    """The base registry and `flows` more flows (a load that takes a while)."""
    bundle = json.loads(json.dumps(BASE))
    bundle["flows"] += [{"id": f"bulk-{i:05d}", "name": f"Bulk {i}", "from": "crm", "to": "dwh",
                         "categories": ["contact"], "purpose": "service"} for i in range(flows)]
    return bundle


def cli(backend: Backend, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSA_REGISTRY_")}
    env["DSA_REGISTRY_ROLES"] = "admin"
    return subprocess.Popen([sys.executable, "-m", "registry.cli", "--store", backend.location, *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@dataclass
class CrashFigures:
    runs: int = 0
    before: int = 0
    """Killed runs that left the state before the command."""
    after: int = 0
    """Killed runs that left the state after it (the kill came after the commit)."""
    finished: int = 0
    """Runs that ended before the kill came."""
    resumed: int = 0
    """Killed subject loads that left whole batches applied and the load recorded as pending, which
    running the command again completed (the state after)."""
    torn: int = 0
    """Runs that left anything else (must stay 0)."""
    unverified: int = 0
    """Runs after which the audit chain did not verify (must stay 0)."""


def crashes(backend: Backend, kind: str, kills: int, *, size: int, rng: random.Random | None = None) -> CrashFigures:
    """Kill `kind` ("load --replace" or "subjects load") `kills` times at random points."""
    rng = rng or random.Random(7)
    figures = CrashFigures()
    with tempfile.TemporaryDirectory() as tmp:
        registry = _fresh(backend, tmp)
        try:
            if kind == "load --replace":
                path = Path(tmp) / "big.json"
                path.write_text(json.dumps(big_bundle(size)))
                command, sample = ["load", "--replace", str(path)], ["S-dwh-000000"]
            else:
                path = subject_file(Path(tmp), "crm", size, purpose="service")
                command, sample = ["subjects", "load", str(path)], ["S-crm-000000", f"S-crm-{size - 1:06d}"]
            started = time.monotonic()
            _finish(cli(backend, *command))
            full = time.monotonic() - started
            after = state(registry.store, sample)
            for _ in range(kills):
                registry = _undo(backend, registry, kind, tmp)
                before = state(registry.store, sample)
                process = cli(backend, *command)
                time.sleep(rng.uniform(0.2, full * 1.1))
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    try:  # a helper process that outlived the command would keep its output open
                        process.communicate(timeout=60)
                    except subprocess.TimeoutExpired:
                        raise RuntimeError(f"{kind} killed with -9 left processes behind that keep its output "
                                           "open after 60 s") from None
                    ended = "killed"
                else:
                    process.communicate()
                    ended = "finished"
                figures.runs += 1
                now = _settled(registry.store, sample)
                if ended == "finished":
                    figures.finished += 1
                elif now == before:
                    figures.before += 1
                elif now == after:
                    figures.after += 1
                elif kind == "subjects load" and _resumed(backend, registry, command, size, sample, after):
                    figures.resumed += 1
                else:
                    figures.torn += 1
                if not AuditTrail(registry.store).verify(principal=ADMIN).intact:
                    figures.unverified += 1
        finally:
            registry.store.close()
    return figures


def _resumed(backend: Backend, registry: Registry, command: list[str], size: int, sample: list[str],
             after: tuple) -> bool:
    """Whether a killed subject load left whole batches (`SUBJECT_BATCH`) recorded as pending, and
    running it again completed it."""
    pending, *more = registry.store.pending_loads() or (None,)
    held = registry.store.count_subjects(["crm"])
    if pending is None or more or held != pending.applied or held % SUBJECT_BATCH or pending.subjects != size:
        return False
    _finish(cli(backend, *command))
    return not registry.store.pending_loads() and state(registry.store, sample) == after


def _finish(process: subprocess.Popen) -> None:
    out, err = process.communicate(timeout=600)
    if process.returncode != 0:
        raise RuntimeError(f"the command failed: {err or out}")


def _fresh(backend: Backend, tmp: str) -> Registry:
    """An empty store with the base registry and ten subjects in `dwh`."""
    backend.reset()
    registry = Registry(backend.open())
    registry.load_data(BASE, source="base.yaml", actor="bench")
    SubjectService(registry).load(subject_file(Path(tmp), "dwh", 10), principal=ADMIN)
    return registry


def _undo(backend: Backend, registry: Registry, kind: str, tmp: str) -> Registry:
    """Back to the state before the command: the base registry, or no subjects in crm."""
    if kind == "load --replace":
        registry.load_data(BASE, source="base.yaml", actor="bench", replace=True)
        return registry
    registry.store.close()  # subjects cannot be deleted through the registry: start again
    return _fresh(backend, tmp)


# --- figures --------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--neo4j", metavar="URI", help="Run on this Neo4j database (it is wiped!) instead of SQLite.")
    parser.add_argument("--rounds", type=int, default=100, help="Rounds per race pair.")
    parser.add_argument("--kills", type=int, default=20, help="Killed runs per command.")
    parser.add_argument("--unchecked", action="store_true", help="Races without the in-transaction checks.")
    parser.add_argument("--only", choices=["races", "crashes"], help="Run only one half.")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        backend = Backend(uri=options.neo4j, wipe=neo4j_wiper(options.neo4j)) if options.neo4j \
            else Backend(path=Path(tmp) / "registry.db")
        name = "neo4j" if options.neo4j else "embedded"
        if options.only != "crashes":
            for pair in RACES:
                started = time.monotonic()
                f = race(backend, pair, options.rounds, unchecked=options.unchecked)
                print(f"{name} race {pair!r}: {f.rounds} rounds, {f.both} both applied, {f.refused} one refused, "
                      f"{f.broken} broken{' (unchecked)' if options.unchecked else ''}; errors {dict(f.errors)}; "
                      f"{time.monotonic() - started:.1f} s", flush=True)
        if options.only != "races" and not options.unchecked:
            for kind, size in (("load --replace", 3000), ("subjects load", 60_000)):
                started = time.monotonic()
                f = crashes(backend, kind, options.kills, size=size)
                print(f"{name} kill -9 during {kind!r} ({size} items): {f.runs} runs: {f.before} left the state "
                      f"before, {f.after} the state after, {f.resumed} whole batches completed by loading again, "
                      f"{f.finished} finished first, {f.torn} torn, "
                      f"{f.unverified} audit chains broken; {time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
