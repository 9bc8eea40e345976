"""Every field of every type resolves: each query, and each mutation, asked for all its fields (nested
a few levels, every member of interfaces), as the admin over HTTP on a registry with subjects, audit
entries and tokens, answers without an error. A field whose value does not fit its declared type (an
audit entry's `at`, once) fails here."""

from __future__ import annotations

import pytest
from graphql import get_named_type, is_abstract_type, is_leaf_type, is_non_null_type

from registry.api.schema import schema
from tests.auth import bearer
from tests.served import served
from tests.test_authorization import MUTATIONS, QUERIES

DEPTH = 4


def selection(type_, depth: int, path: frozenset[str] = frozenset()) -> str:
    named = get_named_type(type_)
    if is_leaf_type(named):
        return ""
    if is_abstract_type(named):
        members = schema._schema.get_possible_types(named)
        return "{ __typename " + " ".join(f"... on {member.name} {selection(member, depth, path)}"
                                          for member in members) + " }"
    if depth == 0 or named.name in path:
        return "{ __typename }"
    fields = [name + (" " + selection(field.type, depth - 1, path | {named.name}) if not is_leaf_type(
              get_named_type(field.type)) else "")
              for name, field in named.fields.items()
              if not any(is_non_null_type(arg.type) and arg.default_value is None for arg in field.args.values())]
    return "{ " + " ".join(fields) + " }"


def operation(kind: str, name: str, arguments: str) -> str:
    root = schema._schema.query_type if kind == "query" else schema._schema.mutation_type
    call = f"{name}({arguments})" if arguments else name
    return f"{'mutation ' if kind == 'mutation' else ''}{{ {call} {selection(root.fields[name].type, DEPTH)} }}"


EXISTING = {  # mutations that need something to act on: delete what the upserts above them created
    **{f"delete{entity}": f'id: "{id_}"' for entity, id_ in (
        ("Flow", "f-arch"), ("Agreement", "dpa-auditco"), ("Party", "auditco"), ("System", "archive"),
        ("LegalBasis", "local-law"), ("Purpose", "pricing"), ("SubjectCategory", "prospects"))},
    "deleteCategory": 'id: "orphan"',
    "importBundle": 'yaml: "categories: [{id: orphan, name: Orphan}]"',
    "revokeApiToken": 'name: "matrix"',
    "eraseSubject": 'subject: "C-2"',
}


@pytest.fixture(scope="module")
def admin(tmp_path_factory):
    # Every field nested four deep costs far more than the default limit allows (registry.api.cost).
    with served(tmp_path_factory.mktemp("fields"), max_query_cost=1_000_000) as (client, tokens):
        yield lambda query: client.post("/graphql", json={"query": query}, headers=bearer(tokens["admin"])).json()


@pytest.mark.parametrize("name", list(QUERIES))
def test_every_field_of_each_query_resolves(admin, name):
    if name == "auditLog":
        admin('{ dsar(subject: "C-1") { subject { id } } }')  # a read of subject data, audited
    body = admin(operation("query", name, QUERIES[name][0]))
    assert "errors" not in body, body["errors"]
    assert body["data"][name] is not None


def test_every_field_of_each_mutation_resolves(admin):
    order = [n for n in MUTATIONS if n.startswith("upsert")] + ["importBundle"] + \
            [n for n in MUTATIONS if n.startswith("delete")] + ["setConsent", "withdrawConsent", "recordDisclosure",
                                                                "eraseSubject", "createApiToken", "revokeApiToken"]
    assert sorted(order) == sorted(MUTATIONS)
    for name in order:
        body = admin(operation("mutation", name, EXISTING.get(name, MUTATIONS[name][0])))
        assert "errors" not in body, (name, body["errors"])
        assert body["data"][name] is not None
