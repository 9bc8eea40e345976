"""`dsa-registry serve` as an operator starts it: everything checked before it listens (one line each),
a first admin token on a fresh store, TLS, and a port in use reported before any URL."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.test_cli import ROOT, cli


class Server:
    """`dsa-registry serve --port 0 …` in a subprocess; `lines` are its first stderr lines up to the URL."""

    def __init__(self, *args: str, cwd: Path, env: dict | None = None):
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("DSA_REGISTRY_", "NEO4J_"))}
        self.process = subprocess.Popen([sys.executable, "-m", "registry.cli", "serve", "--port", "0", *args],
                                        cwd=cwd, env={**inherited, "PYTHONPATH": str(ROOT), **(env or {})},
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        reader = threading.Thread(target=self._read, daemon=True)
        reader.start()
        reader.join(60)

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))
            if line.startswith(("GraphiQL: ", "GraphQL: ")):
                return

    @property
    def url(self) -> str:
        return self.lines[-1].split()[1].partition("#")[0]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.process.stdout.close()
        self.process.stderr.close()

    def stop_reading_output(self) -> None:
        """Stop the server and keep all it wrote (access log on standard output, the rest on standard
        error) in `output`."""
        self.process.terminate()
        out, err = self.process.communicate(timeout=30)
        self.output = "\n".join([*self.lines, err, out])


def post(url: str, query: str, token: str | None = None, context=None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, json.dumps({"query": query}).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_fresh_store_gets_an_admin_token_printed_once_with_the_graphiql_link(tmp_path):
    server = Server("--demo", cwd=tmp_path)
    try:
        created = [line for line in server.lines if line.startswith("created the admin token")]
        assert len(created) == 1 and created[0].startswith("created the admin token 'admin' (shown once, keep it safe): dsa_")
        token = created[0].split()[-1]
        assert server.lines[-1] == f"GraphiQL: {server.url}#token={token}"
        assert post(server.url, "{ systems { nodes { id } } }")[0] == 401
        status, body = post(server.url, "{ apiTokens { totalCount nodes { name role createdBy } } }", token)
        assert status == 200 and body["data"]["apiTokens"]["nodes"][0]["name"] == "admin"
        assert body["data"]["apiTokens"]["nodes"][0]["role"] == "ADMIN"
    finally:
        server.stop()
    again = Server(cwd=tmp_path)
    try:
        assert not any("token" in line for line in again.lines) and again.lines[-1] == f"GraphiQL: {again.url}"
        assert post(again.url, "{ systems { nodes { id } } }", token)[1]["data"]["systems"]
    finally:
        again.stop()
    assert stat_mode(tmp_path / "registry.db") == 0o600


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.parametrize("env, message", [
    ({"DSA_REGISTRY_ROLES": "root"}, "error: DSA_REGISTRY_ROLES: unknown role(s) root; known: viewer, steward, dpo, "
                                     "auditor, admin"),
    ({"DSA_REGISTRY_API_ROLES": "viewer"}, "error: DSA_REGISTRY_API_ROLES: no longer used: API callers authenticate"),
    ({"DSA_REGISTRY_HMAC_KEY": "short"}, "error: DSA_REGISTRY_HMAC_KEY: the secret is 5 byte(s) long"),
    ({"DSA_REGISTRY_HMAC_KEY_FILE": "missing.key"}, "error: DSA_REGISTRY_HMAC_KEY_FILE: cannot read missing.key"),
    ({"DSA_REGISTRY_PRODUCTION": "maybe"}, "error: DSA_REGISTRY_PRODUCTION: Input should be a valid boolean"),
    ({"DSA_REGISTRY_CORS_ORIGINS": "*.example.com"}, "error: DSA_REGISTRY_CORS_ORIGINS: '*.example.com' is not an origin"),
    ({"DSA_REGISTRY_WORKERS": "0"}, "error: DSA_REGISTRY_WORKERS: 0 is not a number of server processes; give 1 to 64"),
    ({"DSA_REGISTRY_WORKERS": "two"}, "error: DSA_REGISTRY_WORKERS: Input should be a valid integer"),
])
def test_bad_configuration_stops_the_server_in_one_line_before_it_listens(tmp_path, env, message):
    result = cli("serve", "--port", "0", cwd=tmp_path, env=env)
    assert result.returncode == 2 and result.stderr.startswith(message), result.stderr
    assert len(result.stderr.splitlines()) == 1 and "GraphiQL" not in result.stderr


def test_a_secret_other_than_the_stores_stops_the_server(tmp_path):
    from tests.subject_graphs import SUBJECT, bundles

    for name, text in bundles():
        (tmp_path / name).write_text(text)
    (tmp_path / "s.jsonl").write_text(json.dumps(SUBJECT) + "\n")
    cli("load", "extra.yaml", "lineage.yaml", cwd=tmp_path)
    assert cli("subjects", "load", "s.jsonl", cwd=tmp_path, env={"DSA_REGISTRY_HMAC_KEY": "a" * 32}).returncode == 0
    result = cli("serve", "--port", "0", cwd=tmp_path, env={"DSA_REGISTRY_HMAC_KEY": "b" * 32})
    assert result.returncode == 2 and result.stderr.startswith("error: the lookup-key secret is not the one")
    assert "GraphiQL" not in result.stderr


def empty_store(folder: Path) -> None:
    """An empty registry in `folder` (serve without --demo refuses a store that does not exist)."""
    (folder / "empty.yaml").write_text("{}\n")
    assert cli("load", "empty.yaml", cwd=folder).returncode == 0


def test_a_port_in_use_is_reported_before_any_url(tmp_path):
    empty_store(tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = cli("serve", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert "http://" not in result.stderr + result.stdout and "token" not in result.stderr


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    import ipaddress
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return certfile, keyfile


def test_tls_with_a_certificate_and_its_key(tmp_path):
    certfile, keyfile = self_signed(tmp_path)
    empty_store(tmp_path)
    server = Server("--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile), "--production", cwd=tmp_path)
    try:
        assert server.lines[-1].startswith("GraphQL: https://127.0.0.1:")
        token = next(line for line in server.lines if line.startswith("created the admin token")).split()[-1]
        trusted = ssl.create_default_context(cafile=str(certfile))
        status, body = post(server.url, "{ systems { totalCount } }", token, context=trusted)
        assert status == 200 and body == {"data": {"systems": {"totalCount": 0}}}
    finally:
        server.stop()
    bad = cli("serve", "--ssl-certfile", str(keyfile), "--ssl-keyfile", str(keyfile), cwd=tmp_path)
    assert bad.returncode == 2 and "cannot load" in bad.stderr and "Traceback" not in bad.stderr
    half = cli("serve", "--ssl-certfile", str(certfile), cwd=tmp_path)
    assert half.returncode == 2 and "give both --ssl-certfile and --ssl-keyfile" in half.stderr


def test_connections_send_without_nagles_delay():
    """Without TCP_NODELAY a kept-alive connection's later responses waited ~40 ms for the client's
    delayed acknowledgement of their headers; asyncio sets it only on sockets it made itself."""
    from registry.cli.serve import _listen

    listening = _listen("127.0.0.1", 0)
    with listening, socket.create_connection(listening.getsockname()[:2]) as client:
        accepted, _ = listening.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0  # not a default of the system


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_access_log_keeps_no_query_string(tmp_path, workers):
    """A GET carries the query and its variables in the query string (here an e-mail address,
    personal data): the access log names the path and the status, never the query string."""
    server = Server("--demo", "--workers", workers, cwd=tmp_path)
    try:
        token = next(line.split()[-1] for line in server.lines if line.startswith("created the admin token"))
        address = urllib.parse.urlencode({"query": 'query ($e: String) { dsar(email: $e) { subject { id } } }',
                                          "variables": json.dumps({"e": "anna.mueller@example.org"})})
        request = urllib.request.Request(f"{server.url}?{address}", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200 and "errors" in json.loads(response.read())  # no such customer
        where = urllib.parse.urlsplit(server.url)
        with socket.create_connection((where.hostname, where.port), timeout=30) as handshake:  # a WebSocket's
            handshake.sendall(f"GET {where.path}?{address} HTTP/1.1\r\nHost: {where.netloc}\r\nConnection: Upgrade\r\n"
                              "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode())
            assert handshake.recv(100).startswith(b"HTTP/1.1 401")  # no token: refused, as plain HTTP
    finally:
        server.stop_reading_output()
    assert '"GET /graphql?… HTTP/1.1" 200' in server.output and '"GET /graphql?… HTTP/1.1" 401' in server.output
    assert "example.org" not in server.output and "dsar" not in server.output and "%40" not in server.output
