"""The lineage page and GraphiQL in a real headless Chromium (Debian's `chromium` through
Playwright's `executable_path`), against the app served by uvicorn with the demo insurer:
what is drawn is what the API answers, filters, panels, the findings overlay, the token, and a
layered drawing that stays legible (sources left, outside recipients right, nothing overlaps)."""

from __future__ import annotations

import itertools
import json
import urllib.request

import networkx as nx
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


FINDINGS_HELD = """() => {
    const held = window.lineagePage.findings;
    return [held.byFlow, held.byNode, held.byAgreement].reduce((n, map) => n + [...map.values()].flat().length, 0);
}"""


def open_page(page, url: str):
    page.tab.goto(url)
    page.tab.wait_for_selector("body[data-state=ready]", timeout=60_000)


def wait_redrawn(page, condition: str):
    page.tab.wait_for_function(f"() => document.body.dataset.state === 'ready' && ({condition})", timeout=60_000)


def drawn(page) -> tuple[list[str], list[str]]:
    nodes, edges = page.tab.evaluate(DRAWN)
    return nodes, edges


GEOMETRY = """() => {
    const cy = window.lineagePage.cy, box = (b) => [b.x1, b.y1, b.x2, b.y2], view = cy.extent();
    return {
        zoom: cy.zoom(), view: box(view),
        nodes: cy.nodes(':visible').map(n => ({
            id: n.id(), entity: n.data('entity'), font: n.pstyle('font-size').pfValue,
            body: box(n.boundingBox({ includeLabels: false, includeOverlays: false })),
            caption: box(n.boundingBox({ includeNodes: false, includeEdges: false, includeLabels: true, includeOverlays: false })),
        })),
        flows: cy.edges(':visible').map(e => ({
            id: e.id(), source: e.source().id(), target: e.target().id(),
            route: [e.sourceEndpoint(), ...(e.segmentPoints() || []), e.targetEndpoint()].map(p => [p.x, p.y]),
        })),
    };
}"""
"""What is drawn where, in the drawing's own coordinates: the view, each visible node's body and
caption (bounding boxes x1, y1, x2, y2) and caption font size, each visible flow's route (from
where it leaves its source, through its bends, to where it reaches its target)."""


def geometry(page) -> dict:
    drawing = page.tab.evaluate(GEOMETRY)
    drawing["node"] = {node["id"]: node for node in drawing["nodes"]}
    return drawing


def overlaps(a: list[float], b: list[float], margin: float = 0) -> bool:
    return a[0] + margin < b[2] and b[0] + margin < a[2] and a[1] + margin < b[3] and b[1] + margin < a[3]


def inside(inner: list[float], outer: list[float], slack: float) -> bool:
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack and inner[2] <= outer[2] + slack
            and inner[3] <= outer[3] + slack)


def crosses(start: list[float], end: list[float], box: list[float]) -> bool:
    """Whether the segment from `start` to `end` passes through the inside of `box` (Liang-Barsky)."""
    (x0, y0), (x1, y1) = start, end
    low, high = 0.0, 1.0
    for p, q in ((x0 - x1, x0 - box[0]), (x1 - x0, box[2] - x0), (y0 - y1, y0 - box[1]), (y1 - y0, box[3] - y0)):
        if p == 0:
            if q <= 0:
                return False
        elif p < 0:
            low = max(low, q / p)
        else:
            high = min(high, q / p)
    return low < high


def flow_graph(drawing: dict) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(drawing["node"])
    graph.add_edges_from((flow["source"], flow["target"], flow["id"]) for flow in drawing["flows"])
    return graph


def assert_layered_left_to_right(drawing: dict) -> None:
    """Flows run left to right wherever the graph allows: a flow drawn right to left (or straight
    down) closes a cycle, so no left-to-right order of its ends exists; an outside party is right
    of each system that sends to it unless it sends back to that system; parties that only
    receive form the rightmost column, right of every system; no two nodes overlap."""
    graph, node = flow_graph(drawing), drawing["node"]
    centre = {id_: (n["body"][0] + n["body"][2]) / 2 for id_, n in node.items()}
    backwards = [f for f in drawing["flows"] if centre[f["target"]] <= centre[f["source"]]]
    assert all(nx.has_path(graph, f["target"], f["source"]) for f in backwards), \
        [f["id"] for f in backwards if not nx.has_path(graph, f["target"], f["source"])]
    for flow in drawing["flows"]:
        sender, party = node[flow["source"]], node[flow["target"]]
        if sender["entity"] == "system" and party["entity"] == "party":
            assert party["body"][0] > sender["body"][2] or nx.has_path(graph, party["id"], sender["id"]), flow["id"]
    recipients = [n for n in drawing["nodes"] if n["entity"] == "party" and graph.out_degree(n["id"]) == 0
                  and graph.in_degree(n["id"]) > 0]
    systems = [n for n in drawing["nodes"] if n["entity"] == "system"]
    if recipients and systems:
        assert min(n["body"][0] for n in recipients) > max(n["body"][2] for n in systems)
    assert_apart([n["body"] for n in drawing["nodes"]])


def assert_apart(boxes: list[list[float]]) -> None:
    """No two boxes overlap (a sweep over x)."""
    ordered = sorted(boxes)
    for i, box in enumerate(ordered):
        for other in itertools.takewhile(lambda b: b[0] < box[2], ordered[i + 1:]):
            assert not overlaps(box, other), (box, other)


def assert_legible(drawing: dict) -> None:
    """Each caption lies within its node, no flow passes through a node other than its ends, and
    captions are drawn at 9 px or more."""
    for n in drawing["nodes"]:
        assert inside(n["caption"], n["body"], slack=3), n["id"]
        assert n["font"] * drawing["zoom"] >= 9, (n["id"], n["font"], drawing["zoom"])
    for flow in drawing["flows"]:
        for start, end in itertools.pairwise(flow["route"]):
            through = [n["id"] for n in drawing["nodes"] if n["id"] not in (flow["source"], flow["target"])
                       and crosses(start, end, shrunk(n["body"], 2))]
            assert not through, (flow["id"], through)


def shrunk(box: list[float], by: float) -> list[float]:
    return [box[0] + by, box[1] + by, box[2] - by, box[3] - by]


def in_view(drawing: dict) -> bool:
    view = drawing["view"]
    return all(inside(n["body"], view, slack=1) for n in drawing["nodes"])


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
    drawing = geometry(page)
    others = [n for n in drawing["nodes"] if n["id"] != "claims"]
    assert drawing["node"]["claims"]["body"][2] < min(n["body"][0] for n in others), "downstream starts at the left"
    assert_layered_left_to_right(drawing)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.tab.screenshot(path=str(ARTIFACTS / "lineage-claims.png"))


def test_the_whole_registry_with_exactly_the_flows_check_reports_in_red(server, demo_store, page):
    open_page(page, f"{server}/#token=dsa_t")
    registry = graphql(server, "{ systems { nodes { id } } parties { nodes { id } } flows { nodes { id status } } }")
    in_force = sorted(f["id"] for f in registry["flows"]["nodes"] if f["status"] == "ACTIVE")  # the demo's dates are all past
    assert drawn(page) == (sorted(n["id"] for n in registry["systems"]["nodes"] + registry["parties"]["nodes"]),
                           in_force)
    report = json.loads(CliRunner().invoke(main, ["--store", demo_store, "check", "--format", "json"]).output)
    reported = sorted({f["entityId"] for f in report["findings"] if f["entityKind"] == "flow"} & set(in_force))
    red = page.tab.evaluate("window.lineagePage.cy.edges('.finding').map(e => e.id()).sort()")
    assert red == reported and len(red) > 5
    colour = page.tab.evaluate(f"window.lineagePage.cy.getElementById({json.dumps(red[0])}).style('line-color')")
    assert colour == "rgb(220,38,38)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.tab.screenshot(path=str(ARTIFACTS / "lineage-demo.png"))  # README's picture (docs/lineage-demo.png)
    page.tab.uncheck("#findings-overlay")
    assert page.tab.evaluate("window.lineagePage.cy.edges('.finding').length") == 0


def test_planned_flows_are_drawn_dashed_only_when_asked_for_with_their_findings(server, demo_store, page):
    flows = graphql(server, "{ flows { nodes { id status } } }")["flows"]["nodes"]
    [planned] = [f["id"] for f in flows if f["status"] == "PROPOSED"]
    [ended] = [f["id"] for f in flows if f["status"] == "ENDED"]
    open_page(page, f"{server}/#token=dsa_t")
    assert planned not in drawn(page)[1] and ended not in drawn(page)[1]
    page.tab.check("#include-proposed")
    wait_redrawn(page, f"window.lineagePage.cy.getElementById({json.dumps(planned)}).nonempty()")
    assert planned in drawn(page)[1] and ended not in drawn(page)[1]
    edge = f"window.lineagePage.cy.getElementById({json.dumps(planned)})"
    assert page.tab.evaluate(f"{edge}.style('line-style')") == "dashed"
    report = json.loads(CliRunner().invoke(main, ["--store", demo_store, "check", "--format", "json"]).output)
    assert {f["severity"] for f in report["findings"] if f["entityId"] == planned} == {"warning"}
    assert page.tab.evaluate(f"{edge}.hasClass('finding')")  # a plan's findings show before it goes live
    assert "1 planned, dashed" in page.tab.inner_text("#status")
    assert "proposed=1" in page.tab.url


def test_a_lineage_cut_by_its_depth_says_so_and_nodes_say_how_far_they_are(server, page):
    open_page(page, f"{server}/?from=claims&depth=1#token=dsa_t")
    assert "cut at the depth bound" in page.tab.inner_text("#status")
    distances = page.tab.evaluate("Object.fromEntries(window.lineagePage.cy.nodes().map(n => [n.id(), n.data('distance')]))")
    assert distances["claims"] == 0 and set(distances.values()) == {0, 1}
    open_page(page, f"{server}/?from=coral-re#token=dsa_t")  # a recipient: nothing goes further
    assert "cut at the depth bound" not in page.tab.inner_text("#status")


def test_the_whole_demo_registry_is_layered_left_to_right_and_legible_at_its_fit(server, page):
    open_page(page, f"{server}/#token=dsa_t")
    drawing = geometry(page)
    assert len(drawing["nodes"]) == 35 and len(drawing["flows"]) == 78  # in force today: not the ended one, not the planned one
    assert_layered_left_to_right(drawing)
    assert_legible(drawing)
    assert in_view(drawing), "the whole registry fits the page at a legible zoom"
    assert "zoomed to stay legible" not in page.tab.inner_text("#status")
    assert page.tab.evaluate("window.lineagePage.cy.edges('.quiet').length") == 78, "flow labels wait for a zoom"
    page.tab.evaluate("window.lineagePage.cy.zoom({ level: 1.5, renderedPosition: { x: 400, y: 400 } })")
    assert page.tab.evaluate("window.lineagePage.cy.edges('.quiet').length") == 0
    page.tab.uncheck("#edge-labels")
    assert page.tab.evaluate("window.lineagePage.cy.edges('.quiet').length") == 78


def test_an_upstream_lineage_ends_at_its_start_on_the_right(server, page):
    open_page(page, f"{server}/?from=coral-re&direction=upstream&depth=2#token=dsa_t")
    drawing = geometry(page)
    others = [n for n in drawing["nodes"] if n["id"] != "coral-re"]
    assert len(others) > 5 and drawing["node"]["coral-re"]["body"][0] > max(n["body"][2] for n in others)
    assert_layered_left_to_right(drawing)
    assert_legible(drawing)


def test_hovering_a_red_flow_shows_its_rules_and_messages(server, demo_store, page):
    report = json.loads(CliRunner().invoke(main, ["--store", demo_store, "check", "--format", "json"]).output)
    finding = next(f for f in report["findings"] if f["entityId"] == "claims-to-assist24")
    open_page(page, f"{server}/?from=claims&depth=1#token=dsa_t")
    label = "window.lineagePage.cy.getElementById('claims-to-assist24').style('label')"
    assert page.tab.evaluate(label) == "", "flow labels wait for a zoom or a hover"
    page.tab.mouse.move(*screen_point(page, "claims-to-assist24", "edge"))
    page.tab.wait_for_selector("#tooltip:not([hidden])")
    text = page.tab.inner_text("#tooltip")
    assert finding["rule"] in text and finding["message"] in text
    flow = graphql(server, '{ node(id: "claims-to-assist24") { ... on Flow { purpose { id } legalBasis { id } } } }')["node"]
    assert page.tab.evaluate(label) == f"{flow['purpose']['id']} · {flow['legalBasis']['id']}"


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
    drawing = geometry(page)  # laid out again: what is left, side by side
    assert in_view(drawing) and drawing["zoom"] >= 1
    assert_layered_left_to_right(drawing)


def test_clicking_a_node_shows_its_holdings_and_why_then_a_flow_with_agreement_and_expiry(server, page):
    open_page(page, f"{server}/#token=dsa_t")
    page.tab.mouse.click(*screen_point(page, "coral-re", "node"))
    page.tab.wait_for_selector("#panel table.holdings tbody tr")
    holdings = graphql(server, '{ holdings(holder: "coral-re") { nodes { category { id } flow { id } path '
                               'agreement { name } } } }')["holdings"]["nodes"]
    rows = page.tab.eval_on_selector_all("#panel table.holdings tbody tr", "rows => rows.map(r => r.dataset.category)")
    assert rows == [h["category"]["id"] for h in holdings]
    panel = page.tab.inner_text("#panel")
    assert "Coral Bay Reinsurance Ltd." in panel and holdings[0]["agreement"]["name"] in panel
    assert " → ".join(holdings[0]["path"]) in panel
    page.tab.click(f"#panel a[data-flow='{holdings[0]['flow']['id']}']")
    page.tab.wait_for_selector("#panel dl.facts")
    panel = page.tab.inner_text("#panel")
    assert "treaty-coral-xl-2025" in panel and "expires 2027-12-31" in panel and "scc" in panel
    assert "reinsurance-treaty, active" in panel  # enum values shown as the bundle writes them


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


def test_a_registry_of_500_systems_and_parties_is_drawn_whole_layered_and_legible(tmp_path, page):
    from bench.synthetic import scale_of, synthetic_bundle
    from graph.embedded import EmbeddedStore
    from registry.service import Registry

    registry = Registry(EmbeddedStore(tmp_path / "registry.db"))
    bundle = synthetic_bundle(scale_of("small", systems=400, parties=100, flows=1200, subsidiaries=10))
    registry.load_data(bundle, source="synthetic", actor="test")
    admit(registry.store, "dsa_t")
    admit(registry.store, TOKEN)
    registry.store.close()
    with live_server(create_app(Settings.load(store=str(tmp_path / "registry.db")))) as base:
        open_page(page, f"{base}/#token=dsa_t")
        nodes, edges = drawn(page)
        assert len(nodes) == 500 and len(edges) == len(bundle["flows"])
        findings = graphql(base, "{ findings(first: 1) { totalCount } }")["findings"]["totalCount"]
        assert page.tab.evaluate(FINDINGS_HELD) == findings > 1000  # more than one page of them
        assert page.tab.evaluate("window.lineagePage.cy.edges('.quiet').length") == len(edges)  # labels on hover
        drawing = geometry(page)
        assert_layered_left_to_right(drawing)
        assert all(n["font"] * drawing["zoom"] >= 9 for n in drawing["nodes"]), "legible, the rest pans"
        assert not in_view(drawing) and "drag or scroll to see the rest" in page.tab.inner_text("#status")
        timings = page.tab.evaluate("window.lineagePage.timings")  # reported, never asserted
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.tab.screenshot(path=str(ARTIFACTS / "lineage-500.png"))
        page.tab.click("#fit-all")
        assert in_view(geometry(page))
        page.tab.screenshot(path=str(ARTIFACTS / "lineage-500-all.png"))
    (ARTIFACTS / "lineage-500-timings.json").write_text(json.dumps(timings, indent=1) + "\n")
    print(f"500 nodes, {len(edges)} flows: answer {timings['answer']:.0f} ms, ELK layout {timings['layout']:.0f} ms, "
          f"answer to screen {timings['drawn']:.0f} ms")
