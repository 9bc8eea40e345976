"""Who may call the API: API tokens (expired and revoked ones refused, never kept or logged in clear),
OIDC / JWT from an identity provider (a JWKS file or URL), the public paths, CORS and production mode."""

from __future__ import annotations

import base64
import hmac
import json
import logging
import threading
import time
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from registry.auth.tokens import Tokens
from registry.auth.roles import Principal
from tests.auth import bearer
from tests.served import served

QUERY = {"query": "{ systems { nodes { id } } }"}
ISSUER, AUDIENCE = "https://idp.example.test/realms/insurer", "dsa-registry"


def refused(response) -> str:
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="dsa-registry"')
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    return error["message"]


def test_tokens_are_refused_when_unknown_revoked_or_expired(tmp_path):
    with served(tmp_path) as (client, tokens):
        assert client.post("/graphql", json=QUERY, headers=bearer(tokens["viewer"])).status_code == 200
        assert refused(client.post("/graphql", json=QUERY, headers=bearer("dsa_" + "x" * 43))) == "unknown API token"
        assert "Bearer" in refused(client.post("/graphql", json=QUERY, headers={"Authorization": tokens["viewer"]}))
        admin = bearer(tokens["admin"])
        revoked = client.post("/graphql", headers=admin, json={"query": 'mutation { revokeApiToken(name: "viewer") '
                                                                         '{ name revoked } }'}).json()
        assert revoked["data"]["revokeApiToken"]["revoked"] is not None
        assert refused(client.post("/graphql", json=QUERY, headers=bearer(tokens["viewer"]))) == \
            "the API token 'viewer' was revoked"
        created = client.post("/graphql", headers=admin, json={"query": 'mutation { createApiToken(name: "short", '
                              f'role: VIEWER, expires: "{date.today().isoformat()}") {{ token }} }}'}).json()
        short = created["data"]["createApiToken"]["token"]
        assert client.post("/graphql", json=QUERY, headers=bearer(short)).status_code == 200


def test_an_expired_token_is_refused_from_the_day_after_its_last_day(tmp_path):
    from graph.embedded import EmbeddedStore
    from registry.auth.callers import Unauthenticated, Verifier

    store = EmbeddedStore(tmp_path / "t.db")
    last_day = date.today() + timedelta(days=3)
    token = Tokens(store).create(principal=Principal.of("os:test", "admin"), name="ci", role="steward",
                                 expires=last_day).token
    verifier = Verifier(store)
    assert verifier.principal(f"Bearer {token}", on=last_day) == Principal("token:ci", frozenset({"steward"}))
    with pytest.raises(Unauthenticated, match=f"expired after {last_day.isoformat()}"):
        verifier.principal(f"Bearer {token}", on=last_day + timedelta(days=1))
    store.close()


def test_a_token_is_never_stored_audited_or_logged_in_clear(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with served(tmp_path) as (client, tokens):
        admin = bearer(tokens["admin"])
        body = client.post("/graphql", headers=admin, json={"query": 'mutation { createApiToken(name: "portal", '
                                                                      'role: DPO) { token apiToken { name } } }'}).json()
        new = body["data"]["createApiToken"]["token"]
        assert client.post("/graphql", json=QUERY, headers=bearer(new)).status_code == 200
        assert client.post("/graphql", json={"query": "{ nosuchfield }"}, headers=bearer(new)).status_code == 200
        log = client.post("/graphql", headers=admin, json={"query": "{ auditLog(entity: \"portal\") { nodes "
                                                                     "{ action after } } }"}).json()
        assert log["data"]["auditLog"]["nodes"] == [{"action": "CREATE", "after": {"expires": None, "role": "dpo"}}]
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("served.db*"))
    for token in (new, *tokens.values()):
        assert token.encode() not in stored
        assert token not in caplog.text


def rsa_key(kid: str = "key-1"):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return private, {**public, "kid": kid, "use": "sig", "alg": "RS256"}


def id_token(private, kid="key-1", **claims) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice@insurer.example", "iat": now, "exp": now + 300,
               "roles": ["steward", "offline_access"], **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, private, algorithm="RS256",
                      headers={"kid": kid})


def hs256(header: dict, claims: dict, secret: bytes) -> str:
    """A token signed with HMAC-SHA256 under `secret` (built by hand: pyjwt refuses to sign with a public key)."""
    def part(value) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    signed = part(header) + b"." + part(claims)
    signature = base64.urlsafe_b64encode(hmac.digest(secret, signed, "sha256")).rstrip(b"=")
    return (signed + b"." + signature).decode()


@pytest.fixture(scope="module")
def keys():
    return rsa_key(), rsa_key("other")


def oidc_settings(tmp_path, jwks: dict, **more) -> dict:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    return {"oidc_issuer": ISSUER, "oidc_audience": AUDIENCE, "oidc_jwks_file": path, **more}


def test_identity_provider_tokens_name_the_subject_and_carry_the_roles_of_their_claim(tmp_path, keys):
    (private, public), (other, _) = keys
    with served(tmp_path, **oidc_settings(tmp_path, {"keys": [public]})) as (client, tokens):
        good = bearer(id_token(private))
        created = client.post("/graphql", headers=good, json={"query": 'mutation { upsertPurpose(input: '
                                                                       '{id: "pricing", name: "Pricing"}) { id } }'})
        assert created.json() == {"data": {"upsertPurpose": {"id": "pricing"}}}
        log = client.post("/graphql", headers=bearer(tokens["auditor"]),
                          json={"query": '{ auditLog(entity: "pricing") { nodes { actor } } }'}).json()
        assert log["data"]["auditLog"]["nodes"] == [{"actor": "oidc:alice@insurer.example"}]
        dsar = client.post("/graphql", headers=good, json={"query": '{ dsar(subject: "C-1") { subject { id } } }'})
        assert dsar.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert client.post("/graphql", json=QUERY, headers=bearer(tokens["viewer"])).status_code == 200
        assert refused(client.post("/graphql", json=QUERY, headers=bearer(id_token(private, aud="someone-else"))))
        assert "expired" in refused(client.post("/graphql", json=QUERY,
                                                headers=bearer(id_token(private, exp=int(time.time()) - 3600))))
        assert refused(client.post("/graphql", json=QUERY, headers=bearer(id_token(private, iss="https://evil"))))
        assert refused(client.post("/graphql", json=QUERY, headers=bearer(id_token(other))))  # signed by another key
        assert refused(client.post("/graphql", json=QUERY, headers=bearer(id_token(private, sub=None))))
        pem = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        forged = hs256({"alg": "HS256", "typ": "JWT", "kid": "key-1"},
                       {"iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "exp": int(time.time()) + 300,
                        "roles": ["admin"]}, pem)
        assert refused(client.post("/graphql", json=QUERY, headers=bearer(forged)))  # no algorithm confusion
        unsigned = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "m", "exp": int(time.time()) + 300,
                               "roles": ["admin"]}, None, algorithm="none")
        assert refused(client.post("/graphql", json=QUERY, headers=bearer(unsigned)))


def test_a_nested_roles_claim_and_a_jwks_url_fetched_from_the_provider(tmp_path, keys):
    (private, public), _ = keys
    fetched = []

    class Provider(BaseHTTPRequestHandler):
        def do_GET(self):
            fetched.append(self.path)
            body = json.dumps({"keys": [public]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    provider = HTTPServer(("127.0.0.1", 0), Provider)
    threading.Thread(target=provider.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{provider.server_port}/certs"
    try:
        with served(tmp_path, oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_url=url,
                    oidc_roles_claim="realm_access.roles") as (client, _):
            token = id_token(private, roles=None, realm_access={"roles": ["dpo", "uma_authorization"]})
            for _ in range(3):
                answer = client.post("/graphql", headers=bearer(token),
                                     json={"query": '{ dsar(subject: "C-1") { subject { id } } }'}).json()
                assert answer == {"data": {"dsar": {"subject": {"id": "C-1"}}}}
            without = client.post("/graphql", headers=bearer(id_token(private)), json=QUERY).json()
            assert without["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # no role in realm_access.roles
    finally:
        provider.shutdown()
        provider.server_close()
    assert fetched == ["/certs"]  # fetched once, then cached


def test_oidc_settings_are_checked_at_start_in_one_line(tmp_path):
    from registry.api.app import create_app
    from registry.settings import Settings, SettingsError

    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SettingsError, match=r"^DSA_REGISTRY_OIDC_JWKS_FILE: .*bad.json is not a usable JWKS"):
        create_app(Settings.load(store=str(tmp_path / "r.db"), oidc_issuer=ISSUER, oidc_audience=AUDIENCE,
                                 oidc_jwks_file=tmp_path / "bad.json"))
    with pytest.raises(SettingsError, match="^DSA_REGISTRY_OIDC_AUDIENCE: required when DSA_REGISTRY_OIDC_ISSUER"):
        Settings.load(oidc_issuer=ISSUER)


def test_pages_and_health_are_public_but_nothing_that_executes_graphql(tmp_path):
    with served(tmp_path) as (client, _):
        assert client.get("/healthz").status_code == 200
        page = client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        assert refused(client.get("/graphql", params={"query": "{ systems { nodes { id } } }"}))
        assert refused(client.post("/graphql", json={"query": "{ __schema { types { name } } }"}))
        assert refused(client.post("/graphql", content=b"garbage", headers={"content-type": "application/json"}))


def test_cors_is_closed_unless_origins_are_configured(tmp_path):
    preflight = {"Origin": "https://governance.example.com", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    (tmp_path / "closed").mkdir()
    (tmp_path / "open").mkdir()
    with served(tmp_path / "closed") as (client, tokens):
        response = client.post("/graphql", json=QUERY, headers={**bearer(tokens["viewer"]), "Origin": preflight["Origin"]})
        assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
        assert "access-control-allow-origin" not in client.options("/graphql", headers=preflight).headers
    with served(tmp_path / "open", cors_origins="https://governance.example.com") as (client, tokens):
        allowed = client.options("/graphql", headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://governance.example.com"
        other = client.options("/graphql", headers={**preflight, "Origin": "https://evil.example"})
        assert other.status_code == 400


def test_production_turns_introspection_and_graphiql_off(tmp_path):
    with served(tmp_path, production=True) as (client, tokens):
        viewer = bearer(tokens["viewer"])
        introspection = client.post("/graphql", headers=viewer, json={"query": "{ __schema { types { name } } }"})
        assert "introspection has been disabled" in introspection.json()["errors"][0]["message"].lower()
        assert client.post("/graphql", headers=viewer, json=QUERY).json()["data"]["systems"]
        assert "graphiql" not in client.get("/graphql", headers={"accept": "text/html"}).text.lower()


def test_unexpected_failures_are_masked_without_a_stack_trace(tmp_path, monkeypatch):
    from registry.service import Registry

    def broken(self, type_):
        raise RuntimeError("secret internals /srv/registry.db")

    with served(tmp_path) as (client, tokens):
        monkeypatch.setattr(Registry, "list", broken)
        body = client.post("/graphql", headers=bearer(tokens["viewer"]), json=QUERY).json()
        assert body["errors"][0]["message"] == "internal error"
        assert "secret internals" not in json.dumps(body) and "Traceback" not in json.dumps(body)
