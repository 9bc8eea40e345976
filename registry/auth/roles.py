"""Who may do what: the roles, their permissions, and the permission every GraphQL field needs.

This module is the one place that decides. The API checks `FIELDS` before it resolves a field
(`registry.api.permissions`); services check `require` before they touch subject data; the
CLI acts as the operator, with the roles `DSA_REGISTRY_ROLES` gives (default `admin`: whoever
can open the store file can change it anyway).

| role | may |
|---|---|
| `viewer` | read the registry: entities, holdings, lineage, findings, impact, breach analysis, RoPA |
| `steward` | viewer + change the registry; read the audit log of registry changes |
| `dpo` | steward + subject data: subjects, consents, disclosures, DSAR, erasure plans and erasure, breach subject lists (all audited) |
| `auditor` | read everything, the whole audit log included; change nothing |
| `admin` | everything, and manage API tokens |

The audit log shows entries about data subjects (reads, consents, loads) only to callers with
`SUBJECT_READ`. A refusal names the permission, never whether the object asked for exists.

>>> sorted(ROLES["auditor"])
['audit:read', 'registry:read', 'subject-data:read']
>>> Principal.of("token:ci", "steward").can(SUBJECT_READ)
False
"""

from __future__ import annotations

from dataclasses import dataclass

REGISTRY_READ = "registry:read"
REGISTRY_WRITE = "registry:write"
SUBJECT_READ = "subject-data:read"
"""Personal data of data subjects: their records, consents, DSAR reports, erasure plans, breach lists."""
SUBJECT_WRITE = "subject-data:write"
AUDIT_READ = "audit:read"
TOKENS = "tokens:manage"

ROLES: dict[str, frozenset[str]] = {
    "viewer": frozenset({REGISTRY_READ}),
    "steward": frozenset({REGISTRY_READ, REGISTRY_WRITE, AUDIT_READ}),
    "dpo": frozenset({REGISTRY_READ, REGISTRY_WRITE, AUDIT_READ, SUBJECT_READ, SUBJECT_WRITE}),
    "auditor": frozenset({REGISTRY_READ, AUDIT_READ, SUBJECT_READ}),
    "admin": frozenset({REGISTRY_READ, REGISTRY_WRITE, AUDIT_READ, SUBJECT_READ, SUBJECT_WRITE, TOKENS}),
}

RENAMED = {"editor": "steward"}
"""Roles of earlier versions, for the message that refuses them."""

_ENTITIES = ("Category", "Purpose", "SubjectCategory", "LegalBasis", "System", "Party", "Agreement", "Flow")

FIELDS: dict[str, dict[str, str]] = {
    "Query": {
        **dict.fromkeys(("categories", "purposes", "subjectCategories", "legalBases", "systems", "parties", "agreements", "flows",
                         "node", "holders", "holdings", "lineage", "lineageExport", "findings", "impact", "breachImpact",
                         "ropa"),
                        REGISTRY_READ),
        "auditLog": AUDIT_READ,
        "dsar": SUBJECT_READ,
        "dsarDocument": SUBJECT_READ,
        "erasurePlan": SUBJECT_READ,
        "subjects": SUBJECT_READ,
        "apiTokens": TOKENS,
    },
    "Mutation": {
        **{f"{verb}{entity}": REGISTRY_WRITE for verb in ("upsert", "delete") for entity in _ENTITIES},
        "importBundle": REGISTRY_WRITE,
        "setConsent": SUBJECT_WRITE,
        "withdrawConsent": SUBJECT_WRITE,
        "recordDisclosure": SUBJECT_WRITE,
        "eraseSubject": SUBJECT_WRITE,
        "createApiToken": TOKENS,
        "revokeApiToken": TOKENS,
    },
    "BreachImpact": {"subjects": SUBJECT_READ},
}
"""GraphQL type -> field -> the permission it needs. Every field of `Query` and `Mutation` must have
an entry (one without is refused to everyone); fields of other types only where they need more
than the field that leads to them."""


class Forbidden(PermissionError):
    """The caller's roles do not carry the permission an operation needs."""


def unknown_roles(names) -> list[str]:
    """The names among `names` that are not roles, sorted."""
    return sorted(set(names) - ROLES.keys())


def describe_unknown(unknown: list[str]) -> str:
    """One line refusing unknown role names, with the renamed ones' new names."""
    hints = "".join(f" ({name} is now {RENAMED[name]})" for name in unknown if name in RENAMED)
    return f"unknown role(s) {', '.join(unknown)}{hints}; known: {', '.join(ROLES)}"


@dataclass(frozen=True)
class Principal:
    """Who is calling: `name` is the actor the audit log records (`token:NAME` for an API token,
    `oidc:SUBJECT` for an identity provider's token, `os:USER` for the CLI, `anonymous`), `roles`
    what they may do."""

    name: str
    roles: frozenset[str]

    @classmethod
    def of(cls, name: str, roles: str) -> Principal:
        """A principal with comma-separated `roles`; `ValueError` for an unknown one."""
        wanted = frozenset(role.strip() for role in roles.split(",") if role.strip())
        if unknown := unknown_roles(wanted):
            raise ValueError(describe_unknown(unknown))
        return cls(name, wanted)

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset().union(*(ROLES.get(role, ()) for role in self.roles))

    def can(self, permission: str) -> bool:
        return permission in self.permissions


def require(principal: Principal, permission: str) -> None:
    """The permission check: raises `Forbidden` unless `principal` holds `permission`."""
    if not principal.can(permission):
        raise Forbidden(f"{principal.name!r} (roles: {', '.join(sorted(principal.roles)) or 'none'}) "
                        f"lacks the {permission!r} permission")


def field_permission(type_name: str, field: str) -> str | None:
    """The permission a GraphQL field needs; None for a field of `Query` or `Mutation` that has no
    entry (refused to everyone) or for another type's field that needs nothing more."""
    return FIELDS.get(type_name, {}).get(field)
