"""The pages over HTTP (no browser): served by the API's app from its own files, never a CDN."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from graph.embedded import EmbeddedStore
from registry.api.app import create_app
from registry.settings import Settings, SettingsError
from registry.web import VENDOR, Pages
from tests.auth import bearer, issue


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(Settings.load(store=str(tmp_path / "registry.db")))) as client:
        client.store_path = tmp_path / "registry.db"
        yield client


def test_the_lineage_page_is_at_the_root_with_a_strict_content_security_policy(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    sources = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert sources and all(s.startswith(("/static/", "/graphql", "data:")) for s in sources), sources


def test_graphiql_is_served_from_the_app_for_browsers_and_graphql_still_answers(client):
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "/static/vendor/graphiql.min.js" in page.text
    assert not re.search(r"https?://", page.text), "no CDN, no outside address"
    query = {"query": "{ purposes { nodes { id } } }"}
    assert client.get("/graphql", params=query, headers={"Accept": "application/json"}).status_code == 401
    store = EmbeddedStore(client.store_path)
    token = issue(store, "viewer")
    store.close()
    answer = client.get("/graphql", params=query, headers={"Accept": "application/json", **bearer(token)})
    assert answer.status_code == 200 and answer.json() == {"data": {"purposes": {"nodes": []}}}


def test_every_vendor_file_is_served_and_nothing_else_of_node_modules(client):
    for name in VENDOR:
        response = client.get(f"/static/vendor/{name}")
        assert response.status_code == 200 and len(response.content) > 1000, name
    assert client.get("/static/vendor/package.json").status_code == 404
    assert client.get("/static/vendor/..%2Fpackage.json").status_code == 404
    assert client.get("/static/lineage.js").headers["content-type"].startswith(("text/javascript", "application/javascript"))


def test_without_the_npm_packages_the_pages_say_what_to_run_and_the_api_still_works(tmp_path):
    pages = Pages(tmp_path)
    assert pages.missing() == list(VENDOR.values())
    settings = Settings.load(store=str(tmp_path / "registry.db"), web_assets=str(tmp_path))
    with TestClient(create_app(settings)) as client:
        page = client.get("/")
        assert page.status_code == 503 and "npm ci --omit=dev" in page.text and "scripts/serve" in page.text
        assert client.get("/graphql", headers={"Accept": "text/html"}).status_code == 503
        store = EmbeddedStore(tmp_path / "registry.db")
        token = issue(store, "viewer")
        store.close()
        assert client.post("/graphql", json={"query": "{ purposes { nodes { id } } }"}, headers=bearer(token)).status_code == 200


def test_a_web_assets_setting_that_is_no_directory_stops_the_start_in_one_line(tmp_path):
    with pytest.raises(SettingsError, match=r"^DSA_REGISTRY_WEB_ASSETS: .*nowhere is not a directory"):
        Settings.load(web_assets=str(tmp_path / "nowhere"))


def test_the_readme_shows_the_screenshot_the_browser_test_makes():
    from tests.browser import ROOT

    readme = (ROOT / "README.md").read_text()
    assert "](docs/lineage-demo.png)" in readme and "build/test-artifacts/lineage-demo.png" in readme
    assert (ROOT / "docs" / "lineage-demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
