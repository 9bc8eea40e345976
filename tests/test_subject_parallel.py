"""A large subject file is checked in worker processes (`registry.subjects.parallel`): what the
store gets, and every refusal, are exactly those of the check in one process."""

import json
import os
import signal

import orjson
import pytest

from graph.auditlog import AuditQuery
from graph.store import StoreError
from registry.auth.roles import Principal
from registry.subjects import files, model, parallel
from registry.subjects.keys import KeyHasher, KeyMismatch
from registry.subjects.model import SubjectsInvalid
from registry.subjects.service import SubjectService
from tests.subject_graphs import SUBJECT, bundles

DPO = Principal.of("alice", "dpo")
SECRET = b"test-secret-test-secret-test-secret"


def varied(i: int) -> dict:
    """Subjects of every shape a file holds: records with and without categories, dates and
    sources; consents with notices and expiry; disclosures; lookup keys, or none."""
    subject = {"id": f"V-{i:05d}", "kind": ("policyholder", "insured", "claimant")[i % 3],
               "records": [{"system": "crm", "since": "2020-03-01"}]}
    if i % 2:
        subject["records"].append({"system": "claims", "categories": ["health.diagnosis"], "source": "broker",
                                   "since": "2021-01-01", "until": "2024-12-31"})
    if i % 3 == 0:
        subject["consents"] = [{"purpose": "marketing", "status": "granted", "at": "2024-01-10T10:00:00+01:00",
                                "notice": "v2", "channel": "web", "expires": "2026-01-10T10:00:00+01:00"},
                               {"purpose": "wellness", "status": "withdrawn", "at": "2025-02-01T00:00:00Z"}]
    if i % 5 == 0:
        subject["disclosures"] = [{"flow": "fraud", "at": "2025-03-01T12:00:00Z", "reference": f"LKA-{i}"}]
    if i % 4:
        subject["keys"] = {"email": f" V{i}@Example.org ", "national_id": f"de {i:08d}"}
    return subject


@pytest.fixture
def service(registry):
    registry.load(bundles(), actor="test")
    return SubjectService(registry, KeyHasher(SECRET))


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(parallel, "CHUNK", 64)  # many chunks, so that order across workers matters


def write(path, lines: list) -> object:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def _die(chunk, detailed, checker=None):
    os.kill(os.getpid(), signal.SIGKILL)


def checker(service, path) -> model.Checker:
    return model.Checker(str(path), service.store.types_by_id(), service.hasher, service._case_flows())


def test_workers_give_the_rows_of_a_check_in_one_process_in_order(service, tmp_path, small_chunks):
    path = write(tmp_path / "varied.jsonl", [varied(i) for i in range(1000)])
    alone = [orjson.dumps(row) for row in model.rows(files.read_subjects(path), checker(service, path))]
    spread = list(parallel.rows(files.read_subjects(path), checker(service, path), 2))
    assert [row.json for row in spread] == alone and len(alone) == 1000
    assert [row.id for row in spread] == [f"V-{i:05d}" for i in range(1000)]


def test_a_file_checked_by_workers_is_stored_as_one_checked_in_one_process(service, store, tmp_path, small_chunks):
    path = write(tmp_path / "varied.jsonl", [varied(i) for i in range(300)])
    assert service.load(path, principal=DPO, workers=2) == 300
    one = store.subject("V-00003")
    assert one.kind == "policyholder" and [r["system"] for r in one.records] == ["crm", "claims"]
    assert [c["status"] for c in one.consents] == ["granted", "withdrawn"]
    assert service.find(principal=DPO, email="v3@example.org").id == "V-00003"
    assert [d["reference"] for d in store.subject("V-00005").disclosures] == ["LKA-5"]
    assert store.subject("V-00004").key_hashes == []
    assert [e.after for e in store.audit(AuditQuery(entity="varied.jsonl", limit=10))] == [{"subjects": 300}]


def test_invalid_lines_spread_over_chunks_are_reported_as_by_one_process_and_nothing_is_loaded(
        service, store, tmp_path, small_chunks):
    lines = [varied(i) for i in range(600)]
    for i in range(5, 600, 4):  # 149 bad lines, more than are reported, in every chunk
        lines[i] = {**lines[i], "records": [{"system": "archive"}]} if i % 8 == 1 else {**lines[i], "kind": 7}
    lines[300] = "{not json"
    path = write(tmp_path / "bad.jsonl", lines)
    with pytest.raises(SubjectsInvalid) as alone:
        list(model.rows(files.read_subjects(path), checker(service, path)))
    with pytest.raises(SubjectsInvalid) as spread:
        service.load(path, principal=DPO, workers=2)
    assert str(spread.value) == str(alone.value)
    assert len(spread.value.problems) == model.MAX_REPORTED and spread.value.more == 150 - model.MAX_REPORTED
    assert "did you mean" in str(spread.value) or "unknown system 'archive'" in str(spread.value)
    assert store.subject("V-00000") is None and store.count_subjects(["crm"]) == 0


def test_a_line_that_is_not_utf8_is_reported_in_its_place(service, store, tmp_path, small_chunks):
    path = write(tmp_path / "latin1.jsonl", [varied(i) for i in range(200)])
    path.write_bytes(path.read_bytes().replace(b'"V-00150"', b'"V-\xe900150"'))
    with pytest.raises(SubjectsInvalid) as alone:
        list(model.rows(files.read_subjects(path), checker(service, path)))
    with pytest.raises(SubjectsInvalid) as spread:
        service.load(path, principal=DPO, workers=2)
    assert str(spread.value) == str(alone.value)
    assert "latin1.jsonl:151:" in str(spread.value) and "not UTF-8" in str(spread.value)
    assert store.subject("V-00000") is None


def test_keys_hashed_by_workers_under_another_secret_than_the_stores_are_refused(registry, store, tmp_path,
                                                                                small_chunks):
    registry.load(bundles(), actor="test")
    first = write(tmp_path / "first.jsonl", [varied(1)])
    SubjectService(registry, KeyHasher(SECRET)).load(first, principal=DPO)
    other = SubjectService(registry, KeyHasher(b"another-secret-another-secret-0123"))
    with pytest.raises(KeyMismatch):
        other.load(write(tmp_path / "keys.jsonl", [varied(i) for i in range(2, 200)]), principal=DPO, workers=2)
    assert store.subject("V-00002") is None
    without_keys = write(tmp_path / "plain.jsonl", [varied(i) for i in range(4, 400, 4)])  # i % 4 == 0: no keys
    assert other.load(without_keys, principal=DPO, workers=2) == 99


def test_small_files_and_single_cpus_are_checked_in_the_calling_process(monkeypatch):
    assert parallel.workers_for(parallel.PARALLEL_BYTES - 1) == 0
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {0})
    assert parallel.workers_for(10 * parallel.PARALLEL_BYTES) == 0
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: set(range(64)))
    assert parallel.workers_for(parallel.PARALLEL_BYTES) == parallel.MAX_WORKERS


def test_the_example_subject_loads_the_same_either_way(service, store, tmp_path):
    path = write(tmp_path / "one.jsonl", [SUBJECT])
    assert service.load(path, principal=DPO, workers=2) == 1
    assert store.subject("C-1").records[1]["source"] == "broker"


def test_a_worker_that_dies_stops_the_load_in_one_line_and_nothing_is_loaded(service, store, tmp_path,
                                                                              small_chunks, monkeypatch):
    monkeypatch.setattr(parallel, "_check", _die)  # pickled by name: the workers run `_die`
    path = write(tmp_path / "varied.jsonl", [varied(i) for i in range(300)])
    with pytest.raises(StoreError, match=r"^nothing of .*varied.jsonl was loaded: a process checking it stopped"):
        service.load(path, principal=DPO, workers=2)
    assert store.subject("V-00000") is None


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as found:
            return [int(child) for child in found.read().split()]
    except FileNotFoundError:
        return []


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_a_load_killed_while_workers_check_leaves_no_process_behind(tmp_path):
    """`kill -9` of `subjects load` while its workers check the file: the workers and their fork
    server end too, so nothing keeps the command's output open (a shell or supervisor waiting for
    it returns) or goes on using the CPU."""
    import subprocess
    import time

    from bench.integrity import Backend, _fresh, cli, subject_file

    backend = Backend(path=tmp_path / "store.db")
    _fresh(backend, str(tmp_path)).store.close()
    path = subject_file(tmp_path, "crm", 60_000, purpose="service")
    process = cli(backend, "subjects", "load", "--workers", "2", str(path))
    deadline, helpers = time.monotonic() + 60, []
    while time.monotonic() < deadline and process.poll() is None:  # until a worker checks lines
        helpers = [(server, _children(server)) for server in _children(process.pid)]
        if any(workers for _, workers in helpers):
            break
        time.sleep(0.05)
    assert process.poll() is None and any(workers for _, workers in helpers), "no worker started"
    process.send_signal(signal.SIGKILL)
    try:
        process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.stdout.close()
        process.stderr.close()
        pytest.fail("the killed load's workers kept its output open")
    left = {pid for server, workers in helpers for pid in (server, *workers)}
    while left and time.monotonic() < deadline:
        left = {pid for pid in left if _running(pid)}
        time.sleep(0.05)
    assert not left
