"""Who is acting, for which tenant, with which scopes; and what each scope permits.

Scopes:

* ``app``      the company's application: register, look up, read and correct subjects.
* ``dpo``      the privacy officer: everything ``app`` may, plus listing, erasing, audit and
               incidents (breaches).
* ``admin``    the tenant's administrator: everything ``dpo`` may, plus the tenant's API keys
               and the tenant's retention periods (where the declarations allow it).
* ``platform`` the operator of the installation: tenants and keys of any tenant. It grants
               no access to any tenant's subjects by itself.

A principal only ever acts inside its own tenant: every query is filtered by its tenant id.
"""

from __future__ import annotations

from dataclasses import dataclass

from tutela.domain.errors import Forbidden, InvalidInput

SCOPES = ("app", "dpo", "admin", "platform")

# permission -> scopes that grant it
PERMISSIONS: dict[str, frozenset[str]] = {
    "subjects.write": frozenset({"app", "dpo", "admin"}),
    "subjects.read": frozenset({"app", "dpo", "admin"}),
    "subjects.list": frozenset({"dpo", "admin"}),
    "subjects.erase": frozenset({"dpo", "admin"}),
    "audit.read": frozenset({"dpo", "admin", "platform"}),
    "keys.manage": frozenset({"admin", "platform"}),
    "requests.create": frozenset({"app", "dpo", "admin"}),
    "requests.manage": frozenset({"dpo", "admin"}),
    "tenants.manage": frozenset({"platform"}),
    "retention.set": frozenset({"admin"}),  # the tenant's own admin, for its own tenant
    "retention.read": frozenset({"dpo", "admin", "platform"}),
    # the declarations are the installation's: publishing a version is the platform's
    "policy.publish": frozenset({"platform"}),
    "policy.read": frozenset({"dpo", "admin", "platform"}),
    "incidents.read": frozenset({"dpo", "admin"}),
    "incidents.manage": frozenset({"dpo", "admin"}),
    # counts of consent decisions per purpose, never who decided what
    "consent.statistics": frozenset({"dpo", "admin", "platform"}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: str
    scopes: frozenset[str]
    actor: str  # e.g. "key:k_3f9a…" or "cli:alice"

    def require(self, permission: str) -> None:
        allowed = PERMISSIONS[permission]
        if not self.scopes & allowed:
            raise Forbidden(
                f"this key lacks the scope for {permission}; "
                f"use a key with one of: {', '.join(sorted(allowed))}",
                details={"permission": permission, "scopes": sorted(self.scopes)},
            )

    def can(self, permission: str) -> bool:
        return bool(self.scopes & PERMISSIONS[permission])


def parse_scopes(text: str | list[str]) -> frozenset[str]:
    items = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    unknown = sorted(set(items) - set(SCOPES))
    if unknown or not items:
        raise InvalidInput(
            f"unknown or missing scopes {unknown}; choose from {', '.join(SCOPES)}",
            details={"scopes": items},
        )
    return frozenset(items)


def operator(tenant_id: str, actor: str) -> Principal:
    """The local operator (command line): every scope, in one tenant."""
    return Principal(tenant_id, frozenset(SCOPES), actor)
