"""`dsa-registry serve --workers N`: N server processes on one port, each with a store of its own,
each answering correctly and seeing what the others write."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tests.test_cli import cli
from tests.test_serve import Server, post

SYSTEMS = "{ systems(first: 100) { totalCount nodes { id } } }"


def workers_of(server: Server) -> list[int]:
    """The worker processes uvicorn's supervisor spawned for `server` (its children running spawn_main)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == server.process.pid and b"spawn_main" in command:
            found.append(int(entry.name))
    return sorted(found)


def alone(worker: int, others: list[int], ask):
    """`ask()` while every worker but `worker` is stopped (SIGSTOP), so that `worker` answers it."""
    for other in others:
        os.kill(other, signal.SIGSTOP)
    try:
        return ask()
    finally:
        for other in others:
            os.kill(other, signal.SIGCONT)


def token_of(server: Server) -> str:
    return next(line for line in server.lines if line.startswith("created the admin token")).split()[-1]


def test_two_workers_each_answer_and_see_each_others_writes(tmp_path):
    server = Server("--demo", "--workers", "2", cwd=tmp_path)
    try:
        assert "Serving with 2 processes" in server.lines
        token = token_of(server)
        first, second = workers = started(server, token)
        expected = json.loads(cli("query", SYSTEMS, cwd=tmp_path).stdout)  # the store itself, read by the CLI
        assert expected["data"]["systems"]["totalCount"] == 17
        for worker in workers:
            others = [w for w in workers if w != worker]
            assert alone(worker, others, lambda: post(server.url, SYSTEMS, token)) == (200, expected)
        added = 'mutation { upsertSystem(input: {id: "written-by-one", name: "Written by one worker", country: "DE"}) { id } }'
        assert alone(first, [second], lambda: post(server.url, added, token)) == \
            (200, {"data": {"upsertSystem": {"id": "written-by-one"}}})
        status, body = alone(second, [first], lambda: post(server.url, SYSTEMS, token))
        assert status == 200 and body["data"]["systems"]["totalCount"] == 18
        assert {"id": "written-by-one"} in body["data"]["systems"]["nodes"]
    finally:
        server.stop()
    assert workers_of(server) == []


def started(server: Server, token: str) -> list[int]:
    """The two workers, once each has answered a request on its own."""
    deadline = time.monotonic() + 60
    while len(workers := workers_of(server)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(workers) == 2, workers
    for worker in workers:
        assert alone(worker, [w for w in workers if w != worker],
                     lambda: post(server.url, "{ __typename }", token)) == (200, {"data": {"__typename": "Query"}})
    return workers


def test_workers_out_of_range_are_refused_in_one_line(tmp_path):
    result = cli("serve", "--port", "0", "--workers", "0", cwd=tmp_path)
    assert result.returncode == 2 and "Invalid value for '--workers': 0 is not in the range 1<=x<=64" in result.stderr
    assert "GraphiQL" not in result.stderr
