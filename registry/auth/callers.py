"""Who is calling: the one place that verifies a caller's credentials and names the principal.

A request carries `Authorization: Bearer <token>`, where the token is either

- an API token (`dsa_…`, `registry.auth.tokens`): looked up by its hash; refused when unknown,
  revoked or past its last day; the principal is `token:NAME` with the token's role; or
- when an identity provider is configured, an OIDC / JWT access token: its signature is checked
  against the provider's keys (a JWKS URL, fetched and cached, or a local JWKS file), then its
  issuer, audience and expiry (with 30 s of leeway); only asymmetric algorithms are accepted.
  The principal is `oidc:<sub>`, with the roles named in the configured claim (a list or a
  space- or comma-separated string; a dotted name such as `realm_access.roles` reaches into
  nested claims; values that are not roles are ignored).

Without credentials the caller is refused (`Unauthenticated`), unless anonymous callers are
allowed to view (`serve --allow-anonymous-viewer`), as `anonymous` with the `viewer` role.
Messages say why a credential was refused, never anything about the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from graph.store import GraphStore
from registry.auth.roles import ROLES, Principal
from registry.auth.tokens import PREFIX, hash_token, today

if TYPE_CHECKING:
    import jwt

ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
ANONYMOUS = Principal("anonymous", frozenset({"viewer"}))


class Unauthenticated(Exception):
    """No usable credentials: the message says why (without secrets); `presented` whether any were sent."""

    def __init__(self, message: str, *, presented: bool = True):
        super().__init__(message)
        self.presented = presented


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: str
    jwks_url: str | None = None
    jwks_file: Path | None = None
    roles_claim: str = "roles"
    algorithms: tuple[str, ...] = ASYMMETRIC


class OidcVerifier:
    """Checks JWT access tokens from one identity provider (pyjwt)."""

    def __init__(self, config: OidcConfig):
        """Raises `ValueError` when the JWKS file cannot be read or holds no usable key."""
        import jwt  # only a server with an identity provider needs it

        self.config = config
        self._keys: jwt.PyJWKSet | None = None
        self._client: jwt.PyJWKClient | None = None
        if config.jwks_file is not None:
            try:
                self._keys = jwt.PyJWKSet.from_json(config.jwks_file.read_text(encoding="utf-8"))
            except OSError as error:
                raise ValueError(f"cannot read {config.jwks_file}: {error.strerror}") from None
            except (jwt.PyJWTError, ValueError) as error:
                raise ValueError(f"{config.jwks_file} is not a usable JWKS: {error}") from None
        else:
            self._client = jwt.PyJWKClient(config.jwks_url, cache_keys=True, lifespan=300, timeout=10)

    def principal(self, token: str) -> Principal:
        import jwt

        config = self.config
        try:
            key = self._signing_key(token)
            claims = jwt.decode(token, key.key, algorithms=list(config.algorithms), audience=config.audience,
                                issuer=config.issuer, leeway=30, options={"require": ["exp", "iss", "aud", "sub"]})
        except jwt.PyJWKClientConnectionError:
            raise Unauthenticated("cannot check the token now: the identity provider's keys cannot be fetched") \
                from None
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired") from None
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"the token is not valid: {error}") from None
        return Principal(f"oidc:{claims['sub']}", frozenset(role for role in _roles(claims, config.roles_claim)
                                                            if role in ROLES))

    def _signing_key(self, token: str) -> jwt.PyJWK:
        import jwt

        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token)
        kid = jwt.get_unverified_header(token).get("kid")
        keys = [key for key in self._keys.keys if kid is None or key.key_id == kid]
        if len(keys) != 1:
            raise jwt.InvalidTokenError(f"no single key in the JWKS file matches kid {kid!r}")
        return keys[0]


def _roles(claims: dict, claim: str) -> list[str]:
    value: object = claims
    for part in claim.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str):
        return value.replace(",", " ").split()
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


class Verifier:
    """Turns an `Authorization` header into a `Principal`, or refuses with `Unauthenticated`."""

    def __init__(self, store: GraphStore, *, oidc: OidcVerifier | None = None, anonymous_viewer: bool = False):
        self.store = store
        self.oidc = oidc
        self.anonymous_viewer = anonymous_viewer

    def principal(self, authorization: str | None, *, on: date | None = None) -> Principal:
        if not authorization:
            if self.anonymous_viewer:
                return ANONYMOUS
            raise Unauthenticated("credentials are required: send Authorization: Bearer <token>", presented=False)
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("send the token as Authorization: Bearer <token>")
        if token.startswith(PREFIX):
            return self._api_token(token, on or today())
        if self.oidc is not None:
            return self.oidc.principal(token)
        raise Unauthenticated("unknown API token")

    def _api_token(self, token: str, on: date) -> Principal:
        row = self.store.token(hash_token(token))
        if row is None:
            raise Unauthenticated("unknown API token")
        if row.revoked:
            raise Unauthenticated(f"the API token {row.name!r} was revoked")
        if row.expires and on > date.fromisoformat(row.expires):
            raise Unauthenticated(f"the API token {row.name!r} expired after {row.expires}")
        if row.role not in ROLES:
            raise Unauthenticated(f"the API token {row.name!r} carries an unknown role")
        return Principal(f"token:{row.name}", frozenset({row.role}))
