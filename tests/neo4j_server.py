"""Pytest plugin: a real Neo4j server for the session and a clean `neo4j_store` for each test.

With `NEO4J_URI` set (and `NEO4J_USER` / `NEO4J_PASSWORD`, optionally `NEO4J_DATABASE`) the
tests use that server and empty its database before every test: point it at a throw-away
one. Otherwise `scripts/neo4j-test-server` is started once per session and stopped at its
end. When no server can be had the Neo4j tests fail; they are never skipped.

`TestServer` starts further private servers for tests that need to kill or lock one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import GraphDatabase

from graph.neo4j.connection import Connection
from graph.neo4j.store import Neo4jStore

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "neo4j-test-server"
START_TIMEOUT = float(os.environ.get("NEO4J_TEST_SERVER_TIMEOUT", "900"))
"""Seconds to wait for the Bolt URI; the first start builds the launcher with Maven."""

WIPE = "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"


class ServerError(Exception):
    pass


class TestServer:
    """One `scripts/neo4j-test-server` process, started by `TestServer(*args)`, ready when built."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, *args: str, timeout: float = START_TIMEOUT):
        self.args = args
        self._log = tempfile.TemporaryFile(mode="w+", prefix="neo4j-test-server-", suffix=".log")
        try:
            # A session of its own, so that stopping it also stops a Maven build it may have started.
            self._process = subprocess.Popen([str(SCRIPT), *args], stdout=subprocess.PIPE, stderr=self._log,
                                             stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        except OSError as error:
            self._log.close()
            raise ServerError(f"cannot run {SCRIPT}: {error}") from None
        try:
            self.uri = self._first_line(timeout)
        except BaseException:
            self.stop()
            raise

    def _first_line(self, timeout: float) -> str:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(self._process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        line = lines[0].strip() if lines else ""
        if not line.startswith("bolt://"):
            reason = f"did not start within {timeout:.0f} s" if reader.is_alive() else \
                f"exited with status {self._process.poll()}" if self._process.poll() is not None else \
                f"printed {line!r} instead of a bolt:// URI"
            raise ServerError(f"{SCRIPT.name} {' '.join(self.args)} {reason}; its log ends with:\n{self.log(40)}")
        return line

    def log(self, lines: int = 40) -> str:
        self._log.seek(0)
        return "".join(self._log.readlines()[-lines:])

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM (a clean shutdown), then SIGKILL if it does not end in time."""
        self._signal(signal.SIGTERM)
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._process.stdout.close()
        self._log.close()

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown hook runs."""
        self._signal(signal.SIGKILL)
        self._process.wait()

    def _signal(self, sig: int) -> None:
        if self._process.poll() is None:
            try:
                os.killpg(self._process.pid, sig)  # the process group this object started
            except ProcessLookupError:
                pass


@pytest.fixture(scope="session")
def neo4j_uri() -> Iterator[str]:
    """The Bolt URI of the session's server (credentials, if any, come from the environment)."""
    if os.environ.get("NEO4J_URI"):
        yield os.environ["NEO4J_URI"]
        return
    try:
        server = TestServer()
    except ServerError as error:
        pytest.fail(f"no Neo4j server for the neo4j tests: {error}", pytrace=False)
    try:
        yield server.uri
    finally:
        server.stop()


def credentials() -> dict[str, str | None]:
    """The credentials for a server of one's own (`NEO4J_URI`): `NEO4J_USER`, `NEO4J_PASSWORD`,
    `NEO4J_DATABASE`, as `Neo4jStore.from_uri` and `Connection.parse` take them."""
    return {"user": os.environ.get("NEO4J_USER"), "password": os.environ.get("NEO4J_PASSWORD"),
            "database": os.environ.get("NEO4J_DATABASE")}


@pytest.fixture(scope="session")
def _neo4j_wiper(neo4j_uri):
    connection = Connection.parse(neo4j_uri, **credentials())
    with GraphDatabase.driver(connection.uri, auth=connection.auth) as driver:
        def wipe() -> None:
            with driver.session(database=connection.database) as session:
                session.run(WIPE).consume()
        yield wipe


@pytest.fixture
def neo4j_store(neo4j_uri, _neo4j_wiper) -> Iterator[Neo4jStore]:
    """A store on an empty database (constraints and indexes stay)."""
    _neo4j_wiper()
    store = Neo4jStore.from_uri(neo4j_uri, **credentials())
    yield store
    store.close()
