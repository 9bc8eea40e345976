"""docker-compose.yml, .env.example and the Dockerfile fit together and run a documented command.

Docker itself is not needed: the files are parsed and checked against each other, the README and
the CLI.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from registry.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) for each Dockerfile instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def variables(value: str) -> set[str]:
    """Names interpolated with ${NAME…} (not $$-escaped ones, which the container's shell expands)."""
    return set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", value))


def test_neo4j_is_community_5_with_auth_from_the_env_file_a_data_volume_and_a_healthcheck(compose):
    neo4j = compose["services"]["neo4j"]
    assert re.fullmatch(r"neo4j:5[.\d]*-community", neo4j["image"])
    auth = neo4j["environment"]["NEO4J_AUTH"]
    assert auth.startswith("neo4j/") and variables(auth) == {"NEO4J_PASSWORD"}
    assert "NEO4J_PASSWORD" in env_example() and len(env_example()["NEO4J_PASSWORD"]) >= 8
    mounts = dict(volume.rsplit(":", 1)[::-1] for volume in neo4j["volumes"])
    assert mounts["/data"] in compose["volumes"]
    assert set(neo4j["ports"]) == {"127.0.0.1:7474:7474", "127.0.0.1:7687:7687"}  # this machine only
    assert "cypher-shell" in " ".join(neo4j["healthcheck"]["test"])


def test_the_api_is_built_here_and_waits_for_a_healthy_neo4j(compose):
    api = compose["services"]["api"]
    assert api["build"] in (".", {"context": "."})
    assert api["depends_on"] == {"neo4j": {"condition": "service_healthy"}}
    env = api["environment"]
    assert env["DSA_REGISTRY_STORE"] == "neo4j://neo4j:7687"
    assert env["NEO4J_USER"] == "neo4j"  # the only user NEO4J_AUTH can set
    assert variables(env["NEO4J_PASSWORD"]) == variables(compose["services"]["neo4j"]["environment"]["NEO4J_AUTH"])
    [published] = api["ports"]
    assert published == "${PUBLISH_ADDRESS:-127.0.0.1}:8000:8000"  # loopback unless .env says otherwise
    assert env_example()["PUBLISH_ADDRESS"] == "127.0.0.1"
    assert not any(key in env for key in ("DSA_REGISTRY_ALLOW_ANONYMOUS_VIEWER", "DSA_REGISTRY_API_ROLES"))
    readme = (ROOT / "README.md").read_text()
    assert "PUBLISH_ADDRESS" in readme and "docker compose logs api" in readme


def test_every_named_volume_is_declared_and_every_variable_is_in_the_env_example(compose):
    used = {volume.split(":", 1)[0] for service in compose["services"].values() for volume in service.get("volumes", ())}
    assert used == set(compose["volumes"])
    text = (ROOT / "docker-compose.yml").read_text()
    assert variables(text) <= env_example().keys()


def stages(dockerfile) -> dict[str, list[tuple[str, str]]]:
    """Instructions per build stage, by the stage's name (the last one is 'final')."""
    found, current = {}, None
    for kind, args in dockerfile:
        if kind == "FROM":
            words = args.split()
            current = found.setdefault(words[2] if len(words) == 3 and words[1].upper() == "AS" else "final", [])
        current.append((kind, args))
    return found


def test_the_image_installs_the_package_runs_as_a_user_and_serves_on_8000(dockerfile):
    final = stages(dockerfile)["final"]
    instructions = dict(final)
    assert final[0] == ("FROM", "python:3.11-slim")
    assert any(kind == "RUN" and re.search(r"\bpip install \.(\s|$)", args) for kind, args in final)
    user = [args for kind, args in final if kind == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert instructions["EXPOSE"] == "8000"
    assert all(path in {"pyproject.toml", "README.md", "LICENSE", "graph", "registry", "./", "./graph", "./registry"}
               for kind, args in final if kind == "COPY" and "--from=" not in args for path in shlex.split(args))


def test_the_image_builds_the_pages_assets_from_the_lock_file_and_points_the_app_at_them(dockerfile):
    assets = stages(dockerfile)["web-assets"]
    assert assets[0][1].startswith("node:20")
    copied = [path for kind, args in assets if kind == "COPY" for path in shlex.split(args)[:-1]]
    assert {"registry/web/package.json", "registry/web/package-lock.json"} <= set(copied)
    assert all((ROOT / path).is_file() for path in copied)
    assert any(kind == "RUN" and "npm ci --omit=dev" in args for kind, args in assets)
    final = stages(dockerfile)["final"]
    [(source, target)] = [shlex.split(args)[1:] for kind, args in final if kind == "COPY" and "--from=web-assets" in args]
    assert source == "/web/node_modules"
    assert f"DSA_REGISTRY_WEB_ASSETS={target}" in [args for kind, args in final if kind == "ENV"]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "**/node_modules" in ignored and ".venv" in ignored


def test_the_image_runs_the_documented_serve_command(dockerfile):
    command = json.loads(dict(dockerfile)["CMD"])
    # 0.0.0.0 inside the container; the compose file publishes it on loopback, and callers authenticate
    assert command == ["dsa-registry", "serve", "--host", "0.0.0.0", "--port", "8000", "--demo"]
    assert "--allow-anonymous-viewer" not in command
    assert "ENTRYPOINT" not in dict(dockerfile)
    readme = (ROOT / "README.md").read_text()
    assert "`dsa-registry serve [--host] [--port] [--demo] [--allow-anonymous-viewer]" in readme
    help_text = CliRunner().invoke(main, ["serve", "--help"]).output
    assert all(option in help_text for option in ("--host", "--port", "--demo"))
