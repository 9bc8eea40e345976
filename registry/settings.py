"""Every setting of dsa-registry, read from the environment once, at the composition root.

`Settings.load()` builds and validates them; the CLI (`registry.cli`) and the API
(`registry.api.app`) call it once at start and pass the object (or what it builds) down, so
nothing else reads the environment, and a bad setting stops the program before it does
anything, with one line that names the variable and the reason (`SettingsError`).

| variable | meaning |
|---|---|
| `DSA_REGISTRY_STORE` | SQLite file or Neo4j URI (default `registry.db`; `--store` overrides it) |
| `DSA_REGISTRY_ROLES` | the roles of whoever runs the CLI (default `admin`: whoever can open the store file) |
| `DSA_REGISTRY_HMAC_KEY`, `DSA_REGISTRY_HMAC_KEY_FILE` | the secret for lookup-key hashes (32 bytes or more) |
| `DSA_REGISTRY_OIDC_ISSUER`, `…_AUDIENCE`, `…_JWKS_URL` or `…_JWKS_FILE` | the identity provider whose JWTs the API accepts |
| `DSA_REGISTRY_OIDC_ROLES_CLAIM`, `…_ALGORITHMS` | the claim that names roles (default `roles`), accepted algorithms |
| `DSA_REGISTRY_CORS_ORIGINS` | comma-separated origins that browsers may call the API from (default none) |
| `DSA_REGISTRY_ALLOW_ANONYMOUS_VIEWER` | callers without credentials get the `viewer` role (default no) |
| `DSA_REGISTRY_PRODUCTION` | no introspection, no GraphiQL (default no) |
| `DSA_REGISTRY_MAX_REQUEST_BYTES` | the largest HTTP request body the API accepts (default 16 MiB; larger: 413) |
| `DSA_REGISTRY_MAX_QUERY_COST` | the most a GraphQL operation may cost, before it runs (default 50,000; `registry.api.cost`) |
| `DSA_REGISTRY_CONTROLLER` | the controller's name and contact details (Art. 30, DSAR documents) |
| `DSA_REGISTRY_DPO` | the data protection officer's name and contact details (Art. 30(1)(a), DSAR documents) |
| `DSA_REGISTRY_DOCUMENT_LANGUAGE` | the language of DSAR documents when a request names none: `en` or `de`, optionally with a region (`en-GB`, `de-AT`) for the form of dates (default `en`) |
| `DSA_REGISTRY_EU_REPRESENTATIVE` | the Art. 27 representative in the Union, for a controller outside it |
| `DSA_REGISTRY_COUNTRIES` | a YAML file replacing the packaged EEA and adequacy lists |
| `DSA_REGISTRY_SUBJECT_CATEGORIES` | comma-separated categories of data subjects for the Art. 30 record |
| `DSA_REGISTRY_WEB_ASSETS` | the directory of the pages' npm packages (default `registry/web/node_modules`) |
| `NEO4J_USER`, `NEO4J_PASSWORD`, `NEO4J_DATABASE` | Neo4j credentials and database (the URI may carry them too) |
| `DSA_REGISTRY_BUSY_TIMEOUT` | seconds a write waits for another write to end before it gives up as busy (default 10) |
| `DSA_REGISTRY_WORKERS` | server processes `serve` starts on its port (default 1; `--workers` overrides it) |

The lookup-key secret is read (and checked) only when something needs it (`key_hasher`).

>>> Settings.load(roles="viewer, dpo").roles
('dpo', 'viewer')
>>> Settings.load(roles="viewer,root")
Traceback (most recent call last):
registry.settings.SettingsError: DSA_REGISTRY_ROLES: unknown role(s) root; known: viewer, steward, dpo, auditor, admin
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from registry.auth.callers import ASYMMETRIC, OidcConfig
from registry.auth.roles import describe_unknown, unknown_roles
from registry.compliance.settings import DEFAULT_SUBJECT_CATEGORIES
from registry.compliance.settings import Settings as ComplianceSettings
from registry.compliance.transfers import Countries
from registry.errors import InvalidArgument
from registry.subjects.language import language
from registry.subjects.keys import KeyHasher

PREFIX = "DSA_REGISTRY_"
CommaList = Annotated[tuple[str, ...], NoDecode]
MIN_KEY_BYTES = 32
"""The shortest lookup-key secret accepted: 256 bits, as HMAC-SHA256 wants (RFC 2104 §3)."""
MAX_WORKERS = 64
"""The most server processes `serve` starts (each holds the registry in memory)."""


class SettingsError(ValueError):
    """A setting is unusable: the message names the variable and the reason, in one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="ignore",
                                      hide_input_in_errors=True, populate_by_name=True)

    store: str = "registry.db"
    roles: CommaList = ("admin",)
    api_roles: str | None = None
    """Gone: API callers authenticate. Set, it stops the program with a line that says so."""
    hmac_key: SecretStr | None = None
    hmac_key_file: Path | None = None
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_jwks_file: Path | None = None
    oidc_roles_claim: str = "roles"
    oidc_algorithms: CommaList = ASYMMETRIC
    cors_origins: CommaList = ()
    allow_anonymous_viewer: bool = False
    production: bool = False
    max_request_bytes: int = Field(16 * 1024 * 1024, ge=1024, le=1024 ** 3)
    """The largest request body the API reads (`registry.api.limits`)."""
    max_query_cost: int = Field(50_000, ge=100, le=100_000_000)
    """The most a GraphQL operation may cost (`registry.api.cost`)."""
    controller: str | None = None
    dpo: str | None = None
    eu_representative: str | None = None
    document_language: str = "en"
    """The language of DSAR documents when a request names none (`registry.subjects.language`)."""
    countries: Path | None = None
    subject_categories: CommaList = DEFAULT_SUBJECT_CATEGORIES
    web_assets: Path | None = None
    """The npm packages of the pages (`node_modules`); None: `registry/web/node_modules`."""
    neo4j_user: str | None = Field(None, validation_alias="NEO4J_USER")
    neo4j_password: SecretStr | None = Field(None, validation_alias="NEO4J_PASSWORD")
    neo4j_database: str | None = Field(None, validation_alias="NEO4J_DATABASE")
    busy_timeout: float = 10.0
    """Seconds a write waits for another process's write to end before it gives up (`StoreBusy`)."""
    workers: int = 1
    """Server processes `serve` runs on its port (`registry.api.workers`)."""

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """The settings in this process's environment, with `overrides` (by field name: command-line
        options, left out or None when not given) taking precedence.

        Raises `SettingsError` naming the first unusable variable.
        """
        values = {name: value for name, value in overrides.items() if value is not None}
        try:
            return cls(**values)
        except _FieldError as error:
            raise SettingsError(f"{_variable(cls, error.field)}: {error.reason}") from None
        except ValidationError as error:
            first = error.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else ""
            cause = first.get("ctx", {}).get("error")
            if isinstance(cause, _FieldError):
                raise SettingsError(f"{_variable(cls, cause.field)}: {cause.reason}") from None
            raise SettingsError(f"{_variable(cls, field)}: {first['msg'].removeprefix('Value error, ')}") from None

    @field_validator("roles", "subject_categories", "oidc_algorithms", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if unknown := unknown_roles(value):
            raise ValueError(describe_unknown(unknown))
        return tuple(sorted(set(value)))

    @field_validator("web_assets")
    @classmethod
    def _a_directory(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{value} is not a directory (the pages' npm packages: node_modules)")
        return value

    @field_validator("api_roles")
    @classmethod
    def _gone(cls, value: str | None) -> None:
        if value is not None:
            raise ValueError("no longer used: API callers authenticate with tokens that carry their role "
                             "(`dsa-registry tokens create`, see README: Authentication and roles); unset it")
        return None

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or (refused := [a for a in value if a not in ASYMMETRIC]):
            raise ValueError(f"{', '.join(refused) if value else 'none given'}: not accepted; choose among "
                             f"{', '.join(ASYMMETRIC)} (asymmetric algorithms only)")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if origin != "*" and not (origin.startswith(("https://", "http://")) and "/" not in origin.split("://")[1]):
                raise ValueError(f"{origin!r} is not an origin such as https://governance.example.com")
        return value

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        given = [name for name in ("oidc_issuer", "oidc_audience", "oidc_jwks_url", "oidc_jwks_file")
                 if getattr(self, name)]
        if not given:
            return self
        for name in ("oidc_issuer", "oidc_audience"):
            if not getattr(self, name):
                raise _FieldError(name, f"required when {_variable(type(self), given[0])} is set")
        if bool(self.oidc_jwks_url) == bool(self.oidc_jwks_file):
            raise _FieldError("oidc_jwks_url", f"give exactly one of it and {PREFIX}OIDC_JWKS_FILE")
        if self.oidc_jwks_url and not self.oidc_jwks_url.startswith(("https://", "http://")):
            raise _FieldError("oidc_jwks_url", f"{self.oidc_jwks_url!r} is not an http(s) URL")
        return self

    @field_validator("busy_timeout")
    @classmethod
    def _a_bounded_wait(cls, value: float) -> float:
        if not 0 < value <= 3600:
            raise ValueError(f"{value:g} seconds is not a wait; give a number of seconds above 0 and at most 3600")
        return value

    @field_validator("workers")
    @classmethod
    def _a_number_of_processes(cls, value: int) -> int:
        if not 1 <= value <= MAX_WORKERS:
            raise ValueError(f"{value} is not a number of server processes; give 1 to {MAX_WORKERS} "
                             "(about one per core)")
        return value

    @field_validator("document_language")
    @classmethod
    def _supported_language(cls, value: str) -> str:
        try:
            return language(value).tag
        except InvalidArgument as error:
            raise ValueError(str(error).removeprefix("lang: ")) from None

    @field_validator("controller", "dpo", "eu_representative")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    def compliance(self) -> ComplianceSettings:
        """What the compliance features need: the country lists (read from `countries` or the
        packaged file), the controller, DPO and EU representative, and the categories of data subjects.

        Raises `SettingsError` when the countries file is unusable.
        """
        return _compliance(self.countries, self.controller, self.subject_categories, self.dpo, self.eu_representative,
                           self.document_language)

    def key_hasher(self) -> KeyHasher:
        """The lookup-key hasher under the configured secret (`hmac_key` or the file's contents,
        white space around it stripped); one without a secret refuses to hash. The secret is read
        and checked the first time it is needed: `SettingsError` when both or neither variable is
        usable, the file cannot be read, or the secret is shorter than `MIN_KEY_BYTES`."""
        return KeyHasher(self._key_secret)

    def _key_secret(self) -> bytes | None:
        if self.hmac_key is not None and self.hmac_key_file is not None:
            raise SettingsError(f"{PREFIX}HMAC_KEY_FILE: set it or {PREFIX}HMAC_KEY, not both")
        if self.hmac_key is not None:
            variable, secret = f"{PREFIX}HMAC_KEY", self.hmac_key.get_secret_value().encode().strip()
        elif self.hmac_key_file is not None:
            variable = f"{PREFIX}HMAC_KEY_FILE"
            try:
                secret = self.hmac_key_file.read_bytes().strip()
            except OSError as error:
                raise SettingsError(f"{variable}: cannot read {self.hmac_key_file}: {error.strerror}") from None
        else:
            return None
        if len(secret) < MIN_KEY_BYTES:
            raise SettingsError(f"{variable}: the secret is {len(secret)} byte(s) long; it needs at least "
                                f"{MIN_KEY_BYTES} (`dsa-registry keys generate FILE` writes a good one)")
        return secret

    def oidc(self) -> OidcConfig | None:
        """The identity provider whose tokens the API accepts, None when none is configured."""
        if not self.oidc_issuer:
            return None
        return OidcConfig(issuer=self.oidc_issuer, audience=self.oidc_audience, jwks_url=self.oidc_jwks_url,
                          jwks_file=self.oidc_jwks_file, roles_claim=self.oidc_roles_claim,
                          algorithms=self.oidc_algorithms)


@functools.lru_cache(maxsize=8)
def _compliance(countries: Path | None, controller: str | None, subject_categories: tuple[str, ...],
                dpo: str | None, eu_representative: str | None, document_language: str = "en"):
    try:
        loaded = Countries.load(countries)
    except InvalidArgument as error:
        raise SettingsError(f"{PREFIX}COUNTRIES: {error}") from None
    return ComplianceSettings(countries=loaded, controller=controller or ComplianceSettings.controller,
                              subject_categories=subject_categories, dpo=dpo, eu_representative=eu_representative,
                              document_language=document_language)


class _FieldError(ValueError):
    """A cross-field check failed on `field` (raised inside the model validator)."""

    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


def _variable(cls: type[Settings], field: str) -> str:
    """The environment variable that sets `field`."""
    info = cls.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias
    return PREFIX + field.upper()
