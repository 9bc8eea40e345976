"""GraphQL fuzzing of the served API with hypothesis-graphql, from the checked-in `schema.graphql`:
valid operations and operations with one schema violation, as each role and without credentials.
Whatever comes in: no 5xx, no internal error, callers without credentials get 401, and no caller
gets data from a field its role may not use. `FUZZ_EXAMPLES` (default 100) sets the number of
operations per caller and mode; the test prints how many it sent."""

from __future__ import annotations

import os
from datetime import timezone
from pathlib import Path

import pytest
from graphql import FieldNode, OperationDefinitionNode, parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes

from registry.auth.roles import ROLES, field_permission
from tests.auth import bearer
from tests.served import served

SDL = (Path(__file__).resolve().parent.parent / "schema.graphql").read_text()
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
SCALARS = {
    "Date": st.dates().map(lambda d: nodes.String(d.isoformat())),
    "DateTime": st.datetimes(timezones=st.sampled_from([None, timezone.utc])).map(lambda d: nodes.String(d.isoformat())),
    "JSON": st.just(nodes.String("{}")),
}
CALLERS = [*ROLES, None]
SENT: dict[str, int] = {}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with served(tmp_path_factory.mktemp("fuzz")) as (client, tokens):
        yield client, tokens
    print(f"\nfuzzing: {sum(SENT.values())} operations sent ({', '.join(f'{k}: {v}' for k, v in SENT.items())})")


def root_fields(query: str) -> list[tuple[str, str, str]]:
    """(operation type, field name, response key) of each root field of the operation."""
    found = []
    for definition in parse(query).definitions:
        if isinstance(definition, OperationDefinitionNode):
            kind = "Mutation" if definition.operation.value == "mutation" else "Query"
            for node in definition.selection_set.selections:
                if isinstance(node, FieldNode) and not node.name.value.startswith("__"):
                    found.append((kind, node.name.value, (node.alias or node.name).value))
    return found


def check(client, tokens, caller, query: str, mode: str) -> None:
    SENT[f"{caller or 'anonymous'}/{mode}"] = SENT.get(f"{caller or 'anonymous'}/{mode}", 0) + 1
    response = client.post("/graphql", json={"query": query}, headers=bearer(tokens[caller]) if caller else {})
    assert response.status_code < 500, (query, response.text)
    if caller is None:
        assert response.status_code == 401, query
        return
    if response.status_code == 401:  # the admin revoked this caller's token, fuzzing revokeApiToken
        assert "was revoked" in response.text, (query, response.text)
        return
    body = response.json()
    messages = [e["message"] for e in body.get("errors") or ()]
    assert "internal error" not in messages, (query, body)
    data = body.get("data") or {}
    for kind, field, key in root_fields(query):
        permission = field_permission(kind, field)
        if permission not in ROLES[caller]:
            assert data.get(key) is None, (caller, query, body)


@pytest.mark.parametrize("caller", CALLERS, ids=[c or "anonymous" for c in CALLERS])
@pytest.mark.parametrize("mode", [Mode.POSITIVE, Mode.NEGATIVE], ids=["valid", "invalid"])
def test_fuzzed_operations_never_fail_the_server_nor_leak_beyond_the_role(api, caller, mode):
    client, tokens = api

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(query=from_schema(SDL, custom_scalars=SCALARS, mode=mode))
    def run(query):
        check(client, tokens, caller, query, mode.name.lower())

    run()
