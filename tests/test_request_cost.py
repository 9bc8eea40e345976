"""Every request has a bounded cost, checked before anything runs: the body's size (413), the query
text's, the operation's estimated cost (aliases, list sizes, registry-wide computations), and the
memory the parser and validation caches may hold. Refusals are exact; work is compared by counting
(estimated cost, cached texts, RSS with a generous bound), never by timing (see `bench/limits.py`)."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request

import pytest
from graphql import parse

from registry.api.cost import COMPUTATION, DEFAULT_MAX_COST, operation_cost
from registry.api.limits import CACHED_QUERY_CHARS, MAX_QUERY_CHARS, QueryCache
from registry.api import limits
from registry.api.schema import schema
from tests.auth import bearer
from tests.served import served

HOLDERS = 'h{n}: holders(category: "contact") {{ nodes {{ holder {{ ... on System {{ id }} }} path }} }}'


def aliases(n: int) -> str:
    return "{ " + " ".join(HOLDERS.format(n=i) for i in range(n)) + " }"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with served(tmp_path_factory.mktemp("cost"), max_request_bytes=1024 * 1024) as (client, tokens):
        yield client, bearer(tokens["admin"])


def test_a_body_over_the_limit_is_refused_with_413_and_a_graphql_error(api):
    client, auth = api
    body = json.dumps({"query": "{ systems { nodes { id } } }", "variables": {"pad": "x" * 1_100_000}})
    response = client.post("/graphql", content=body, headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"errors": [{
        "message": "the request is larger than 1,048,576 bytes (DSA_REGISTRY_MAX_REQUEST_BYTES)",
        "extensions": {"code": "REQUEST_TOO_LARGE", "limit": 1048576}}]}


def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(api):
    client, auth = api

    def chunks():  # no Content-Length: the app counts what it receives
        for _ in range(400):
            yield b" " * 4096
    response = client.post("/graphql", content=chunks(), headers={**auth, "Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


def test_a_long_url_query_string_is_refused_too(tmp_path):
    with served(tmp_path, max_request_bytes=16 * 1024) as (client, tokens):
        auth = bearer(tokens["admin"])
        assert client.get("/graphql", params={"query": "{ systems { nodes { id } } }" + " " * 15_000}, headers=auth).status_code == 200
        response = client.get("/graphql", params={"query": "{ systems { nodes { id } } }" + " " * 20_000}, headers=auth)
    assert response.status_code == 413


def test_a_body_under_the_limit_is_answered(api):
    client, auth = api
    response = client.post("/graphql", json={"query": "{ systems { nodes { id } } }", "variables": {"pad": "x" * 1_000_000}},
                           headers=auth)
    assert response.status_code == 200 and "errors" not in response.json()


def test_ten_aliases_of_holders_are_refused_before_running_with_the_cost_and_the_limit(api):
    client, auth = api
    body = client.post("/graphql", json={"query": aliases(10)}, headers=auth).json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 113_020, "limit": DEFAULT_MAX_COST}
    assert error["message"] == ("the operation would cost 113,020, over the limit of 50,000 "
                                "(DSA_REGISTRY_MAX_QUERY_COST): ask for fewer aliases or fields, or page with `first`")


def test_four_aliases_of_holders_are_answered(api):
    client, auth = api
    body = client.post("/graphql", json={"query": aliases(4)}, headers=auth).json()
    assert "errors" not in body and set(body["data"]) == {"h0", "h1", "h2", "h3"}


def test_a_named_operation_is_named_and_a_first_argument_lowers_the_cost(tmp_path):
    query = "query Everything { systems { nodes { id holds { retention purposes { id } } } } }"
    assert operation_cost(schema._schema, parse(query)) == 1 + 1 + 100 * (1 + (1 + 10 * (1 + (1 + 10))))
    paged = '{ a: holders(category: "contact", first: 5) { totalCount nodes { holder { ... on System { id } } path } } }'
    assert operation_cost(schema._schema, parse(paged)) == COMPUTATION + 1 + 1 + 1 + 5 * 13
    with served(tmp_path, max_query_cost=10_000) as (client, tokens):
        body = client.post("/graphql", json={"query": query}, headers=bearer(tokens["admin"])).json()
    assert body["errors"][0]["message"].startswith("operation 'Everything' would cost 12,202, over the limit of 10,000")


def test_cost_grows_linearly_with_aliases_and_fragments_count_where_spread():
    costs = [operation_cost(schema._schema, parse(aliases(n))) for n in (1, 2, 4, 8)]
    assert costs == [11_302, 22_604, 45_208, 90_416]
    spread = "{ ...A ...A } fragment A on Query { " + HOLDERS.format(n=0) + " }"
    assert operation_cost(schema._schema, parse(spread)) == 2 * 11_302
    introspection = "{ __schema { types { name fields { name args { name type { name } } } } } }"
    assert operation_cost(schema._schema, parse(introspection)) == 0


def test_aliased_bundle_imports_count_as_computations():
    query = "mutation($b: String!) { " + " ".join(f"i{n}: importBundle(yaml: $b) {{ created }}" for n in range(5)) + " }"
    assert operation_cost(schema._schema, parse(query)) == 5 * (COMPUTATION + 2) > DEFAULT_MAX_COST


def test_a_fragment_cycle_does_not_loop_the_estimate():
    document = parse("{ ...A } fragment A on Query { systems { nodes { id } } ...B } fragment B on Query { ...A }")
    assert operation_cost(schema._schema, document) == 102


def test_long_query_texts_are_parsed_but_not_cached_and_overlong_ones_refused(api):
    client, auth = api
    limits._parsed.cache_clear()  # room for one more, whatever ran before in this process
    before = QueryCache.cached_texts()
    for n in range(5):
        padded = "{ systems { nodes { id } } }" + " " * (CACHED_QUERY_CHARS + n)
        body = client.post("/graphql", json={"query": padded}, headers=auth).json()
        assert "errors" not in body
    assert QueryCache.cached_texts() == before
    client.post("/graphql", json={"query": "{ parties { nodes { id } } }"}, headers=auth)
    assert QueryCache.cached_texts() == before + 1
    huge = "{ systems { nodes { id } } }" + " " * MAX_QUERY_CHARS
    body = client.post("/graphql", json={"query": huge}, headers=auth).json()
    assert body["errors"][0]["extensions"] == {"code": "QUERY_TOO_LARGE", "limit": MAX_QUERY_CHARS}
    assert body["errors"][0]["message"] == (f"the query text is {len(huge):,} characters long, over the limit of "
                                            f"{MAX_QUERY_CHARS:,}: pass large values as variables")


def test_a_repeated_text_is_validated_once_and_keeps_its_errors(monkeypatch):
    import asyncio

    validated = []
    original = limits.validate_document
    monkeypatch.setattr(limits, "validate_document",
                        lambda schema_, document, rules: validated.append(document) or original(schema_, document, rules))
    limits._validated.cache_clear()
    wrong = "{ systems { nodes { id nosuchfield } } } # validated once"
    for _ in range(3):
        result = asyncio.run(schema.execute(wrong))
        assert [e.message for e in result.errors] == ["Cannot query field 'nosuchfield' on type 'System'."]
    assert len(validated) == 1
    other = wrong.replace("once", "once more")  # another text, equal document: validated on its own
    assert asyncio.run(schema.execute(other)).errors[0].message.startswith("Cannot query field 'nosuchfield'")
    assert len(validated) == 2


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def send(url: str, token: str, body: bytes) -> str:
    """"answered", an error code from the body, or 413."""
    request = urllib.request.Request(url, body, {"Content-Type": "application/json",
                                                 "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.loads(response.read())
            return answer["errors"][0]["extensions"]["code"] if answer.get("errors") else "answered"
    except urllib.error.HTTPError as error:
        error.read()
        return str(error.code)
    except (ConnectionError, urllib.error.URLError):
        return "413"  # the server answered 413 and closed before the whole body was sent


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the server's RSS from /proc")
def test_many_distinct_large_queries_leave_the_servers_memory_bounded(tmp_path):
    """40 distinct 4 MB query texts (each once kept by the parser and validation caches, about
    30 MB per 20 MB text), 40 distinct 400 KB ones (parsed, never cached) and 5 bodies over the
    request limit: the served process grows by less than 150 MB (it grew by gigabytes)."""
    from tests.test_serve import Server

    server = Server("--demo", cwd=tmp_path)
    try:
        token = next(line.rsplit(": ", 1)[1] for line in server.lines if line.startswith("created the admin token"))
        url = server.url.rstrip("/") + "/graphql" if not server.url.endswith("/graphql") else server.url
        assert send(url, token, json.dumps({"query": "{ systems { nodes { id } } }"}).encode()) == "answered"
        before = rss_kib(server.process.pid)
        statuses: list[str] = []
        for n in range(40):
            statuses.append(send(url, token, json.dumps({"query": "{ systems { nodes { id } } }" + " " * (4_000_000 + n)}).encode()))
            statuses.append(send(url, token, json.dumps({"query": "{ systems { nodes { id } } } #" + "x" * (400_000 + n)}).encode()))
        for n in range(5):
            statuses.append(send(url, token, b" " * (17 * 1024 * 1024 + n)))
        grown = rss_kib(server.process.pid) - before
    finally:
        server.stop()
    assert sorted(set(statuses)) == ["413", "QUERY_TOO_LARGE", "answered"]
    assert (statuses.count("answered"), statuses.count("QUERY_TOO_LARGE"), statuses.count("413")) == (40, 40, 5)
    print(f"\nRSS grew by {grown / 1024:.1f} MB after 85 large requests")
    assert grown < 150 * 1024, f"the server grew by {grown // 1024} MB"


def test_a_size_given_as_a_variable_is_charged_with_the_requests_value_or_its_default(api):
    client, auth = api
    query = ('query Page($n: Int) { holders(category: "contact", first: $n) '
             '{ nodes { holder { ... on System { id } } path } } }')
    body = client.post("/graphql", json={"query": query, "variables": {"n": 1_000_000}}, headers=auth).json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 13_010_002, "limit": DEFAULT_MAX_COST}
    assert body["errors"][0]["message"].startswith("operation 'Page' would cost 13,010,002, over the limit of 50,000")
    body = client.post("/graphql", json={"query": query, "variables": {"n": 5}}, headers=auth).json()
    assert "errors" not in body
    defaulted = query.replace("$n: Int)", "$n: Int = 1000000)")
    body = client.post("/graphql", json={"query": defaulted}, headers=auth).json()
    assert body["errors"][0]["extensions"]["cost"] == 13_010_002
    assert "errors" not in client.post("/graphql", json={"query": defaulted, "variables": {"n": 2}}, headers=auth).json()
    assert operation_cost(schema._schema, parse(query), variables={"n": 5}) == COMPUTATION + 1 + 1 + 5 * 13


def _systems(count: int) -> dict:
    return {"systems": [{"id": f"s{n:04}", "name": f"System {n}", "country": "DE"} for n in range(count)]}


def test_a_root_list_without_first_is_charged_for_every_item_it_really_has(tmp_path):
    """Estimated at 100 items before it runs; 300 systems found take it over the limit, nothing converted."""
    from registry.api.schema import make_schema
    from registry.api.context import Context
    from registry.auth.roles import Principal
    from registry.service import Registry
    from graph.embedded import EmbeddedStore

    registry = Registry(EmbeddedStore(tmp_path / "r.db"))
    registry.load_data(_systems(300), source="systems.yaml", actor="test")
    strict = make_schema(max_cost=5_000)
    query = "{ systems { totalCount nodes { id name owner } } }"
    assert operation_cost(strict._schema, parse(query)) == 1 + 1 + 1 + 100 * 3 == 303

    def run(text):
        context = Context(registry=registry, principal=Principal.of("alice", "admin"))
        return asyncio.run(strict.execute(text, context_value=context))

    heavy = query.replace("owner", "owner country jurisdictions dpfCertified securityMeasures description dpia lia "
                                   "holds { retention }")  # 31 a system
    assert operation_cost(strict._schema, parse(heavy)) == 3 + 100 * 31
    result = run(heavy)
    assert result.data is None
    [error] = result.errors
    assert error.extensions == {"code": "QUERY_TOO_COSTLY", "cost": 3 + 300 * 31, "limit": 5_000}
    assert error.message.startswith("the operation would cost 9,303 with the 300 items of `systems`, over the limit")
    result = run(query)
    assert result.errors is None and len(result.data["systems"]["nodes"]) == 300
    paged = run(heavy.replace("systems", "systems(first: 100)"))
    assert paged.errors is None and len(paged.data["systems"]["nodes"]) == 100
