"""Several server processes on one listening socket (`serve --workers N`, `DSA_REGISTRY_WORKERS`).

Python answers one request at a time per process, so a machine with several cores serves more
callers with several processes. uvicorn's supervisor (`uvicorn.supervisors.Multiprocess`) starts
them, each accepting on the socket the parent opened, and restarts one that dies or hangs. Each
worker builds the app from the `Settings` the composition root checked, which travel to it
inside the configuration uvicorn hands to its spawned processes (nothing reads the environment
again), and opens a store of its own in the app's lifespan: the embedded store is SQLite in WAL
mode, which lets several processes read while one writes (a write waits for another at most
`DSA_REGISTRY_BUSY_TIMEOUT`), and each notices the others' writes by the store's version; a
Neo4j store gets one driver per process.
"""

from __future__ import annotations

import functools
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

from registry.api.access_log import LOG_CONFIG
from registry.settings import Settings

__all__ = ["WorkerConfig", "listen", "run"]


HEALTHCHECK_SECONDS = 30
"""How long a worker may leave the supervisor's ping unanswered before it is replaced as hung:
uvicorn's 5 s default is shorter than a worker's start (imports, the store opened) on a busy machine."""


class WorkerConfig(uvicorn.Config):
    """A uvicorn configuration whose app each process builds with `create_app(settings)`."""

    def __init__(self, settings: Settings, **options):
        options.setdefault("timeout_worker_healthcheck", HEALTHCHECK_SECONDS)
        super().__init__("registry.api.app:create_app", factory=True, **options)
        self.settings = settings

    def load_app(self):
        from registry.api.app import create_app

        return functools.partial(create_app, self.settings)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket whose connections send without Nagle's delay (`TCP_NODELAY`, which
    accepted sockets inherit from it). asyncio sets that only on sockets it made itself; without
    it, every response after the first on a kept-alive connection waited about 40 ms for the
    client's delayed acknowledgement of its headers before its body went out. Raises `OSError`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.create_server((host, port), family=family, backlog=2048)
    listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return listening


def run(settings: Settings, listening: socket.socket, **options) -> None:
    """Serve on `listening` with `settings.workers` processes until a signal stops them;
    `options` go to `uvicorn.Config` (TLS files, log level …)."""
    options.setdefault("log_config", LOG_CONFIG)  # no query strings in the access log: they may carry e-mail addresses
    options.setdefault("ws", "none")  # no subscriptions; uvicorn would log a WebSocket handshake's query string
    config = WorkerConfig(settings, workers=settings.workers, **options)
    if settings.workers == 1:
        uvicorn.Server(config).run(sockets=[listening])
    else:
        Multiprocess(config, sockets=[listening]).run()
