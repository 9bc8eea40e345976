"""The authorisation matrix: every query and mutation of the schema, for every role and for callers
without credentials, over HTTP with real tokens. The expected matrix is written out here, from the
roles as README defines them: a field added to the schema without a line here (and in
`registry.auth.roles.FIELDS`) fails these tests."""

from __future__ import annotations

import pytest
from graphql import get_named_type, is_leaf_type, is_non_null_type

from registry.api.permissions import Authorized
from registry.api.schema import schema
from registry.auth.roles import FIELDS, ROLES, Principal
from tests.auth import bearer
from tests.served import served

ALL = {"viewer", "steward", "dpo", "auditor", "admin"}
WRITERS = {"steward", "dpo", "admin"}
AUDIT = {"steward", "dpo", "auditor", "admin"}
SUBJECT_READERS = {"dpo", "auditor", "admin"}
SUBJECT_WRITERS = {"dpo", "admin"}
ADMIN = {"admin"}

QUERIES = {  # field: (arguments, roles allowed)
    "categories": ("", ALL), "purposes": ("", ALL), "subjectCategories": ("", ALL), "legalBases": ("", ALL),
    "systems": ("", ALL),
    "parties": ("", ALL), "agreements": ("", ALL), "flows": ("", ALL), "node": ('id: "crm"', ALL),
    "holders": ('category: "health"', ALL), "holdings": ('holder: "re"', ALL), "lineage": ('from: "crm"', ALL),
    "lineageExport": ('format: GRAPHML, from: "crm"', ALL),
    "findings": ("", ALL), "impact": ('system: "crm"', ALL), "ropa": ("", ALL),
    "breachImpact": ('systems: ["crm"], detectedAt: "2026-11-25T09:00:00Z"', ALL),
    "auditLog": ("", AUDIT),
    "dsar": ('subject: "C-1"', SUBJECT_READERS), "erasurePlan": ('subject: "C-1"', SUBJECT_READERS),
    "dsarDocument": ('subject: "C-1", format: MARKDOWN, lang: "de"', SUBJECT_READERS),
    "subjects": ("first: 1", SUBJECT_READERS),
    "apiTokens": ("", ADMIN),
}
MUTATIONS = {
    "upsertCategory": ('input: {id: "contact", name: "Contact details"}', WRITERS),
    "upsertPurpose": ('input: {id: "pricing", name: "Pricing"}', WRITERS),
    "upsertSubjectCategory": ('input: {id: "prospects", name: "Prospects"}', WRITERS),
    "upsertLegalBasis": ('input: {id: "local-law", name: "Local law", kind: "lawful-basis", reference: "Act 1"}',
                         WRITERS),
    "upsertSystem": ('input: {id: "archive", name: "Archive", country: "DE"}', WRITERS),
    "upsertParty": ('input: {id: "auditco", name: "AuditCo", kind: "auditor", country: "DE", role: "processor"}',
                    WRITERS),
    "upsertAgreement": ('input: {id: "dpa-auditco", name: "DPA", kind: "dpa", parties: ["re"], '
                        'effective: "2025-01-01"}', WRITERS),
    "upsertFlow": ('input: {id: "f-arch", name: "Archiving", from: "crm", to: "dwh", categories: ["contact"], '
                   'purpose: "analytics"}', WRITERS),
    **{f"delete{entity}": ('id: "no-such-id"', WRITERS)
       for entity in ("Category", "Purpose", "SubjectCategory", "LegalBasis", "System", "Party", "Agreement", "Flow")},
    "importBundle": ('yaml: "{}"', WRITERS),
    "setConsent": ('subject: "C-1", purpose: "marketing", status: GRANTED', SUBJECT_WRITERS),
    "withdrawConsent": ('subject: "C-1", purpose: "marketing"', SUBJECT_WRITERS),
    "recordDisclosure": ('subject: "C-1", flow: "fraud", reference: "LKA-1"', SUBJECT_WRITERS),
    "eraseSubject": ('subject: "no-such-subject"', SUBJECT_WRITERS),
    "createApiToken": ('name: "matrix", role: "viewer"', ADMIN),
    "revokeApiToken": ('name: "no-such-token"', ADMIN),
}


def root_fields(kind: str) -> dict:
    graphql = schema._schema
    return (graphql.query_type if kind == "query" else graphql.mutation_type).fields


def operation(kind: str, name: str, arguments: str) -> str:
    type_ = get_named_type(root_fields(kind)[name].type)
    selection = "" if is_leaf_type(type_) else " { __typename }"
    call = f"{name}({arguments})" if arguments else name
    return f"{'mutation ' if kind == 'mutation' else ''}{{ {call}{selection} }}"


def test_every_query_and_mutation_has_a_line_in_the_matrix_and_a_permission():
    assert set(root_fields("query")) == set(QUERIES), "a query without a line in QUERIES (or a stale line)"
    assert set(root_fields("mutation")) == set(MUTATIONS), "a mutation without a line in MUTATIONS (or a stale line)"
    assert set(FIELDS["Query"]) == set(QUERIES) and set(FIELDS["Mutation"]) == set(MUTATIONS)
    for kind, fields in (("query", QUERIES), ("mutation", MUTATIONS)):
        for name, field in root_fields(kind).items():
            required = [a for a, arg in field.args.items() if is_non_null_type(arg.type) and arg.default_value is None]
            assert all(f"{a}:" in fields[name][0] for a in required), f"{name}: sample arguments lack {required}"


def test_a_field_without_a_permission_is_refused_to_everyone():
    class Info:
        class context:
            principal = Principal.of("os:root", ",".join(ROLES))

    with pytest.raises(Exception, match="Query.newField is not available: it has no permission"):
        Authorized("Query", "newField").resolve(lambda *a, **k: "data", None, Info)


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    """(kind, field, caller) -> the HTTP response, for every field and caller (None: no credentials)."""
    found = {}
    with served(tmp_path_factory.mktemp("matrix")) as (client, tokens):
        for caller in (*ROLES, None):
            for kind, fields in (("query", QUERIES), ("mutation", MUTATIONS)):
                for name, (arguments, _) in fields.items():
                    headers = bearer(tokens[caller]) if caller else {}
                    found[kind, name, caller] = client.post("/graphql", json={"query": operation(kind, name, arguments)},
                                                            headers=headers)
    return found


CASES = [(kind, name, role) for kind, fields in (("query", QUERIES), ("mutation", MUTATIONS))
         for name in fields for role in ROLES]


@pytest.mark.parametrize("kind, name, role", CASES)
def test_each_role_gets_exactly_the_fields_its_permissions_allow(answers, kind, name, role):
    allowed = (QUERIES if kind == "query" else MUTATIONS)[name][1]
    response = answers[kind, name, role]
    assert response.status_code == 200
    body = response.json()
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors", ())]
    if role in allowed:
        assert "FORBIDDEN" not in codes and None not in codes, body
    else:
        assert codes == ["FORBIDDEN"], body
        assert (body["data"] or {}).get(name) is None
        message = body["errors"][0]["message"]
        assert "lacks the" in message and "C-1" not in message and "no-such" not in message


@pytest.mark.parametrize("kind, name", [(kind, name) for kind, name, role in CASES if role == "admin"])
def test_without_credentials_every_field_is_401(answers, kind, name):
    response = answers[kind, name, None]
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_anonymous_viewers_when_allowed_see_what_viewers_see(tmp_path):
    with served(tmp_path, allow_anonymous_viewer=True) as (client, _):
        for kind, fields in (("query", QUERIES), ("mutation", MUTATIONS)):
            for name, (arguments, allowed) in fields.items():
                body = client.post("/graphql", json={"query": operation(kind, name, arguments)}).json()
                codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors", ())]
                assert ("FORBIDDEN" in codes) == ("viewer" not in allowed), (name, body)
