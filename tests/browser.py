"""Pytest plugin: a real headless Chromium (Debian's `chromium`, driven by Playwright through
`executable_path`: no test tool downloads a browser of its own) and a live server.

`browser` is one Chromium per test module; `page` a fresh tab (its own sessionStorage) per test that
records console errors and every request. `live_server(settings)` serves `create_app(settings)`
with uvicorn on a free loopback port in a thread. `ARTIFACTS` (build/test-artifacts/) keeps
screenshots. Playwright's synchronous API keeps an event loop running while the browser is
open, which `asyncio.run` refuses: browser tests live in modules of their own (`test_page*.py`,
`test_mermaid.py`), and the browser closes when its module ends. When Chromium is missing the browser tests fail; they are never skipped
(`scripts/setup test` installs it).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "build" / "test-artifacts"
CHROMIUM_FLAGS = ["--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--no-default-browser-check"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is not installed (scripts/setup test installs it)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


class Page:
    """A tab and what it did: `errors` (console errors, page errors), `requests` (URL, headers)."""

    def __init__(self, tab):
        self.tab = tab
        self.errors: list[str] = []
        self.requests: list[tuple[str, dict]] = []
        tab.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        tab.on("pageerror", lambda error: self.errors.append(str(error)))
        tab.on("request", lambda request: self.requests.append((request.url, request.headers)))


@pytest.fixture
def page(browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    try:
        yield Page(context.new_page())
    finally:
        context.close()


@contextlib.contextmanager
def live_server(app) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 until the block ends; yields the base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
