"""Who may do what: principals, roles and the permissions the registry checks.

Subject data (DSAR reports, consents, erasure plans) is personal data: reading or changing it
needs `SUBJECT_DATA`, which only the `dpo` and `admin` roles carry. Every service call that
touches subject data goes through `require`, the one place where that is decided.

Until the API authenticates its callers, the API's roles come from configuration
(`DSA_REGISTRY_API_ROLES`, default `viewer,editor`: no subject data); the CLI acts as the
operator who can open the store file, with `DSA_REGISTRY_ROLES` (default `admin`). Both are
settings (`registry.settings`), read at the composition root.
"""

from __future__ import annotations

from dataclasses import dataclass

REGISTRY_READ = "registry:read"
REGISTRY_WRITE = "registry:write"
SUBJECT_DATA = "subject-data"

ROLES: dict[str, frozenset[str]] = {
    "viewer": frozenset({REGISTRY_READ}),
    "editor": frozenset({REGISTRY_READ, REGISTRY_WRITE}),
    "dpo": frozenset({REGISTRY_READ, SUBJECT_DATA}),
    "admin": frozenset({REGISTRY_READ, REGISTRY_WRITE, SUBJECT_DATA}),
}


class Forbidden(PermissionError):
    """The caller's roles do not carry the permission an operation needs."""


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[str]

    @classmethod
    def of(cls, name: str, roles: str) -> Principal:
        wanted = frozenset(role.strip() for role in roles.split(",") if role.strip())
        unknown = sorted(wanted - ROLES.keys())
        if unknown:
            raise ValueError(f"unknown role(s) {', '.join(unknown)}; known: {', '.join(ROLES)}")
        return cls(name, wanted)

    def can(self, permission: str) -> bool:
        return any(permission in ROLES[role] for role in self.roles)


def require(principal: Principal, permission: str) -> None:
    """The permission check: raises `Forbidden` unless `principal` holds `permission`."""
    if not principal.can(permission):
        raise Forbidden(f"{principal.name!r} (roles: {', '.join(sorted(principal.roles)) or 'none'}) "
                        f"lacks the {permission!r} permission")
