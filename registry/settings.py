"""Every setting of dsa-registry, read from the environment once, at the composition root.

`Settings.load()` builds and validates them; the CLI (`registry.cli`) and the API
(`registry.api.app`) call it once at start and pass the object (or what it builds) down, so
nothing else reads the environment, and a bad setting stops the program before it does
anything, with one line that names the variable and the reason (`SettingsError`).

| variable | meaning |
|---|---|
| `DSA_REGISTRY_STORE` | SQLite file or Neo4j URI (default `registry.db`; `--store` overrides it) |
| `DSA_REGISTRY_ROLES` | the roles of whoever runs the CLI (default `admin`: whoever can open the store file) |
| `DSA_REGISTRY_API_ROLES` | the roles of the API's callers (default `viewer,editor`) |
| `DSA_REGISTRY_HMAC_KEY`, `DSA_REGISTRY_HMAC_KEY_FILE` | the secret for lookup-key hashes |
| `DSA_REGISTRY_CONTROLLER` | the controller's name and contact details (Art. 30, DSAR documents) |
| `DSA_REGISTRY_DPO` | the data protection officer's name and contact details (Art. 30(1)(a)) |
| `DSA_REGISTRY_EU_REPRESENTATIVE` | the Art. 27 representative in the Union, for a controller outside it |
| `DSA_REGISTRY_COUNTRIES` | a YAML file replacing the packaged EEA and adequacy lists |
| `DSA_REGISTRY_SUBJECT_CATEGORIES` | comma-separated categories of data subjects for the Art. 30 record |
| `NEO4J_USER`, `NEO4J_PASSWORD`, `NEO4J_DATABASE` | Neo4j credentials and database (the URI may carry them too) |

>>> Settings.load(roles="viewer, dpo").roles
('dpo', 'viewer')
>>> Settings.load(roles="viewer,root")
Traceback (most recent call last):
registry.settings.SettingsError: DSA_REGISTRY_ROLES: unknown role(s) root; known: viewer, editor, dpo, admin
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from registry.auth.roles import ROLES
from registry.compliance.settings import DEFAULT_SUBJECT_CATEGORIES
from registry.compliance.settings import Settings as ComplianceSettings
from registry.compliance.transfers import Countries
from registry.errors import InvalidArgument
from registry.subjects.model import KeyHasher

PREFIX = "DSA_REGISTRY_"
CommaList = Annotated[tuple[str, ...], NoDecode]


class SettingsError(ValueError):
    """A setting is unusable: the message names the variable and the reason, in one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="ignore",
                                      hide_input_in_errors=True, populate_by_name=True)

    store: str = "registry.db"
    roles: CommaList = ("admin",)
    api_roles: CommaList = ("editor", "viewer")
    hmac_key: SecretStr | None = None
    hmac_key_file: Path | None = None
    controller: str | None = None
    dpo: str | None = None
    eu_representative: str | None = None
    countries: Path | None = None
    subject_categories: CommaList = DEFAULT_SUBJECT_CATEGORIES
    neo4j_user: str | None = Field(None, validation_alias="NEO4J_USER")
    neo4j_password: SecretStr | None = Field(None, validation_alias="NEO4J_PASSWORD")
    neo4j_database: str | None = Field(None, validation_alias="NEO4J_DATABASE")

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """The settings in this process's environment, with `overrides` (by field name: command-line
        options, left out or None when not given) taking precedence.

        Raises `SettingsError` naming the first unusable variable.
        """
        values = {name: value for name, value in overrides.items() if value is not None}
        try:
            return cls(**values)
        except ValidationError as error:
            first = error.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else ""
            raise SettingsError(f"{_variable(cls, field)}: {first['msg'].removeprefix('Value error, ')}") from None

    @field_validator("roles", "api_roles", "subject_categories", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("roles", "api_roles")
    @classmethod
    def _known_roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - ROLES.keys())
        if unknown:
            raise ValueError(f"unknown role(s) {', '.join(unknown)}; known: {', '.join(ROLES)}")
        return tuple(sorted(set(value)))

    @field_validator("controller", "dpo", "eu_representative")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    def compliance(self) -> ComplianceSettings:
        """What the compliance features need: the country lists (read from `countries` or the
        packaged file), the controller, DPO and EU representative, and the categories of data subjects.

        Raises `SettingsError` when the countries file is unusable.
        """
        return _compliance(self.countries, self.controller, self.subject_categories, self.dpo, self.eu_representative)

    def key_hasher(self) -> KeyHasher:
        """The lookup-key hasher under the configured secret (`hmac_key`, else the file's
        contents); one without a secret refuses to hash. Raises `SettingsError` when the file
        cannot be read."""
        if self.hmac_key is not None:
            return KeyHasher(self.hmac_key.get_secret_value().encode())
        if self.hmac_key_file is not None:
            try:
                return KeyHasher(self.hmac_key_file.read_bytes().strip())
            except OSError as error:
                raise SettingsError(f"{PREFIX}HMAC_KEY_FILE: cannot read {self.hmac_key_file}: "
                                    f"{error.strerror}") from None
        return KeyHasher(None)


@functools.lru_cache(maxsize=8)
def _compliance(countries: Path | None, controller: str | None, subject_categories: tuple[str, ...],
                dpo: str | None, eu_representative: str | None):
    try:
        loaded = Countries.load(countries)
    except InvalidArgument as error:
        raise SettingsError(f"{PREFIX}COUNTRIES: {error}") from None
    return ComplianceSettings(countries=loaded, controller=controller or ComplianceSettings.controller,
                              subject_categories=subject_categories, dpo=dpo, eu_representative=eu_representative)


def _variable(cls: type[Settings], field: str) -> str:
    """The environment variable that sets `field`."""
    info = cls.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias
    return PREFIX + field.upper()
