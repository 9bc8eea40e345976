"""The lineage page and GraphiQL in a real headless Chromium (Debian's `chromium` through
Playwright's `executable_path`), against the app served by uvicorn with the demo insurer:
what is drawn is what the API answers, filters, panels, the findings overlay, the token."""

from __future__ import annotations

import json
import urllib.request

import pytest
from click.testing import CliRunner

from registry.api.app import create_app
from registry.cli import main
from registry.settings import Settings
from graph.embedded import EmbeddedStore
from tests.auth import admit
from tests.browser import ARTIFACTS, live_server

TOKEN = "dsa_s3cret+token/="  # characters the fragment must carry quoted
DRAWN = """() => {
    const cy = window.lineagePage.cy;
    return [cy.nodes(':visible').map(n => n.id()).sort(), cy.edges(':visible').map(e => e.id()).sort()];
}"""


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> str:
    store = str(tmp_path_factory.mktemp("page") / "registry.db")
    assert CliRunner().invoke(main, ["--store", store, "demo"]).exit_code == 0
    registry = EmbeddedStore(store)
    for token in (TOKEN, "dsa_t", "dsa_new"):  # the tokens the tests hand the page
        admit(registry, token)
    registry.close()
    return store


@pytest.fixture(scope="module")
def server(demo_store):
    with live_server(create_app(Settings.load(store=demo_store))) as base:
        yield base


def graphql(base: str, query: str, **variables):
    request = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query, "variables": variables}).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request) as response:
        body = json.load(response)
    assert "errors" not in body, body
    return body["data"]


def lineage(base: str, **arguments) -> tuple[list[str], list[str]]:
    answer = graphql(base, """query ($from: ID!, $direction: Direction, $depth: Int, $categories: [ID!]) {
        lineage(from: $from, direction: $direction, depth: $depth, categories: $categories) { nodes { id } edges { id } } }""",
                     **arguments)["lineage"]
    return sorted(n["id"] for n in answer["nodes"]), sorted(e["id"] for e in answer["edges"])


def open_page(page, url: str):
    page.tab.goto(url)
    page.tab.wait_for_selector("body[data-state=ready]", timeout=60_000)


def wait_redrawn(page, condition: str):
    page.tab.wait_for_function(f"() => document.body.dataset.state === 'ready' && ({condition})", timeout=60_000)


def drawn(page) -> tuple[list[str], list[str]]:
    nodes, edges = page.tab.evaluate(DRAWN)
    return nodes, edges


def screen_point(page, element: str, selector: str) -> tuple[float, float]:
    """Where `element` (a node id, or an edge id's midpoint) is on the screen."""
    return tuple(page.tab.evaluate("""([id, kind]) => {
        const cy = window.lineagePage.cy, box = cy.container().getBoundingClientRect(), element = cy.getElementById(id);
        const point = kind === 'node' ? element.renderedPosition() : element.renderedMidpoint();
        return [box.left + point.x, box.top + point.y];
    }""", [element, selector]))


def test_the_page_takes_the_token_from_the_link_and_draws_exactly_the_lineage_answer(server, page):
    open_page(page, f"{server}/?from=claims&direction=downstream&depth=2#token={urllib.request.quote(TOKEN, safe='')}")
    assert page.tab.evaluate("sessionStorage.getItem('dsa-registry.token')") == TOKEN
    assert page.tab.evaluate("location.hash") == "" and "token" not in page.tab.url
    assert drawn(page) == lineage(server, **{"from": "claims", "direction": "DOWNSTREAM", "depth": 2})
    calls = [headers for url, headers in page.requests if url == f"{server}/graphql"]
    assert calls and all(headers.get("authorization") == f"Bearer {TOKEN}" for headers in calls)
    assert all(url.startswith(server) or url.startswith("data:") for url, _ in page.requests), "nothing from outside"
    assert not page.errors, page.errors
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.tab.screenshot(path=str(ARTIFACTS / "lineage-demo.png"))  # README's picture (docs/lineage-demo.png)


def test_the_whole_registry_with_exactly_the_flows_check_reports_in_red(server, demo_store, page):
    open_page(page, f"{server}/#token=dsa_t")
    systems_and_parties = graphql(server, "{ systems { id } parties { id } flows { id } }")
    assert drawn(page) == (sorted(n["id"] for n in systems_and_parties["systems"] + systems_and_parties["parties"]),
                           sorted(f["id"] for f in systems_and_parties["flows"]))
    report = json.loads(CliRunner().invoke(main, ["--store", demo_store, "check", "--format", "json"]).output)
    reported = sorted({f["entityId"] for f in report["findings"] if f["entityKind"] == "flow"})
    red = page.tab.evaluate("window.lineagePage.cy.edges('.finding').map(e => e.id()).sort()")
    assert red == reported and len(red) > 5
    colour = page.tab.evaluate(f"window.lineagePage.cy.getElementById({json.dumps(red[0])}).style('line-color')")
    assert colour == "rgb(220,38,38)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.tab.screenshot(path=str(ARTIFACTS / "lineage-registry.png"))
    page.tab.uncheck("#findings-overlay")
    assert page.tab.evaluate("window.lineagePage.cy.edges('.finding').length") == 0


def test_hovering_a_red_flow_shows_its_rules_and_messages(server, demo_store, page):
    report = json.loads(CliRunner().invoke(main, ["--store", demo_store, "check", "--format", "json"]).output)
    finding = next(f for f in report["findings"] if f["entityId"] == "claims-to-assist24")
    open_page(page, f"{server}/?from=claims&depth=1#token=dsa_t")
    page.tab.mouse.move(*screen_point(page, "claims-to-assist24", "edge"))
    page.tab.wait_for_selector("#tooltip:not([hidden])")
    text = page.tab.inner_text("#tooltip")
    assert finding["rule"] in text and finding["message"] in text


def test_a_category_filter_draws_the_subset_lineage_answers(server, page):
    open_page(page, f"{server}/?from=claims#token=dsa_t")
    before = drawn(page)
    page.tab.check("#categories input[value='health']")
    wait_redrawn(page, "new URLSearchParams(location.search).get('categories') === 'health'")
    after = drawn(page)
    assert after == lineage(server, **{"from": "claims", "categories": ["health"]})
    assert set(after[1]) < set(before[1]) and set(after[0]) <= set(before[0])


def test_a_purpose_filter_hides_other_flows_and_the_nodes_left_without_one(server, page):
    open_page(page, f"{server}/?from=claims&depth=1#token=dsa_t")
    page.tab.check("#purposes input[value='reinsurance']")
    wait_redrawn(page, "new URLSearchParams(location.search).get('purposes') === 'reinsurance'")
    flows = graphql(server, '{ lineage(from: "claims", depth: 1) { edges { id to purpose } } }')["lineage"]["edges"]
    wanted = [f for f in flows if f["purpose"] == "reinsurance"]
    assert drawn(page) == (sorted({"claims", *(f["to"] for f in wanted)}), sorted(f["id"] for f in wanted))


def test_clicking_a_node_shows_its_holdings_and_why_then_a_flow_with_agreement_and_expiry(server, page):
    open_page(page, f"{server}/#token=dsa_t")
    page.tab.mouse.click(*screen_point(page, "coral-re", "node"))
    page.tab.wait_for_selector("#panel table.holdings tbody tr")
    holdings = graphql(server, '{ holdings(holder: "coral-re") { category { id } flow { id } path agreement { name } } }')
    rows = page.tab.eval_on_selector_all("#panel table.holdings tbody tr", "rows => rows.map(r => r.dataset.category)")
    assert rows == [h["category"]["id"] for h in holdings["holdings"]]
    panel = page.tab.inner_text("#panel")
    assert "Coral Bay Reinsurance Ltd." in panel and holdings["holdings"][0]["agreement"]["name"] in panel
    assert " → ".join(holdings["holdings"][0]["path"]) in panel
    page.tab.click(f"#panel a[data-flow='{holdings['holdings'][0]['flow']['id']}']")
    page.tab.wait_for_selector("#panel dl.facts")
    panel = page.tab.inner_text("#panel")
    assert "treaty-coral-xl-2025" in panel and "expires 2027-12-31" in panel and "scc" in panel


def test_clicking_a_flow_opens_it(server, page):
    open_page(page, f"{server}/?from=coral-re&direction=upstream&depth=1#token=dsa_t")
    page.tab.mouse.click(*screen_point(page, "claims-to-coral", "edge"))
    page.tab.wait_for_selector("#panel dl.facts")
    assert "flow claims-to-coral" in page.tab.inner_text("#panel")


def test_the_search_box_jumps_to_a_node(server, page):
    open_page(page, f"{server}/#token=dsa_t")
    page.tab.fill("#search", "Coral Bay")
    page.tab.press("#search", "Enter")
    page.tab.wait_for_selector("#panel table.holdings")
    assert page.tab.evaluate("window.lineagePage.cy.$(':selected').map(n => n.id())") == ["coral-re"]


def test_a_rejected_token_asks_for_another_and_a_missing_role_says_so(server, page):
    page.tab.goto(f"{server}/#token=dsa_old")  # the server does not know it: HTTP 401
    page.tab.wait_for_selector("body[data-state=error]")
    assert "did not accept your token" in page.tab.inner_text("#message")
    assert "unknown API token" in page.tab.inner_text("#message")
    assert page.tab.is_visible("#token-form")

    def forbidden_drawing(route):  # every role may read the lineage today: the answer is made up

        if "lineageExport" in (route.request.post_data or ""):
            route.fulfill(status=200, content_type="application/json", body=json.dumps({"data": None, "errors": [
                {"message": "the role viewer may not read lineage", "extensions": {"code": "FORBIDDEN"}}]}))
        else:
            route.continue_()

    page.tab.route("**/graphql", forbidden_drawing)
    page.tab.fill("#token-input", "dsa_new")
    page.tab.click("#token-form button[type=submit]")
    page.tab.wait_for_function("() => document.getElementById('message').textContent.includes('lacks a role')")
    assert "the role viewer may not read lineage" in page.tab.inner_text("#message")
    assert page.tab.evaluate("sessionStorage.getItem('dsa-registry.token')") == "dsa_new"


def test_graphiql_works_without_a_cdn_and_sends_the_token(server, page):
    page.tab.goto(f"{server}/graphql#token={urllib.request.quote(TOKEN, safe='')}")
    page.tab.wait_for_selector(".graphiql-container", timeout=60_000)
    assert page.tab.evaluate("location.hash") == ""
    assert f"Bearer {TOKEN}" in page.tab.inner_text(".graphiql-editor-tool")  # the headers, pre-filled
    page.tab.click(".graphiql-execute-button")
    page.tab.wait_for_function("() => document.querySelector('.result-window') && "
                               "document.querySelector('.result-window').textContent.includes('health.diagnosis')",
                               timeout=60_000)
    calls = [headers for url, headers in page.requests if url == f"{server}/graphql"]
    assert calls and calls[-1].get("authorization") == f"Bearer {TOKEN}"
    assert all(url.startswith(server) or url.startswith("data:") for url, _ in page.requests)
    assert not page.errors, page.errors


def test_a_registry_of_500_systems_and_parties_is_drawn_whole(tmp_path, page):
    from bench.synthetic import scale_of, synthetic_bundle
    from graph.embedded import EmbeddedStore
    from registry.service import Registry

    registry = Registry(EmbeddedStore(tmp_path / "registry.db"))
    bundle = synthetic_bundle(scale_of("small", systems=400, parties=100, flows=1200, subsidiaries=10))
    registry.load_data(bundle, source="synthetic", actor="test")
    admit(registry.store, "dsa_t")
    registry.store.close()
    with live_server(create_app(Settings.load(store=str(tmp_path / "registry.db")))) as base:
        open_page(page, f"{base}/#token=dsa_t")
        nodes, edges = drawn(page)
        assert len(nodes) == 500 and len(edges) == len(bundle["flows"])
        assert page.tab.evaluate("window.lineagePage.cy.edges('.quiet').length") == len(edges)  # labels on hover
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.tab.screenshot(path=str(ARTIFACTS / "lineage-500.png"))
