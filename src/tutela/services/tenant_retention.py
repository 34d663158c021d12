"""Tenant-set retention: a tenant's administrator chooses how long its data is kept, for the
purposes whose retention the declarations make ``tenant_configurable``, within the bounds
they declare.

The period in force for a purpose, from the first that applies:

1. the period the tenant's administrator set at run time (``tutela tenants retention set``,
   ``PUT /v1/tenants/{tenant}/retention/{purpose}``), stored in ``tenant_retention``;
2. the tenant's ``retention`` in the declarations (``tenants[].retention``);
3. the purpose's own ``keep`` (the default for tenants that chose nothing).

A period is checked against the bounds when it is set. If the declarations change later, a
period set before is re-read against the new bounds: above the new ``max`` the ``max``
applies; below the new ``min`` the tenant's shorter period still applies, since the platform
never keeps data longer than the tenant chose; a purpose that no longer lets tenants choose
uses its declared ``keep``. The listing says so in each case (``note``), so no change of
period is silent. Every change is audited in the tenant's chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tutela.declarations.durations import parse_duration
from tutela.domain.access import Principal
from tutela.domain.audit import AuditEvent
from tutela.domain.errors import Forbidden, InvalidInput, NotFound
from tutela.services.context import Context
from tutela.services.ports import RetentionSetting

#: where the period in force comes from
TENANT = "tenant"  # set at run time by the tenant's administrator
DECLARED_FOR_TENANT = "declarations.tenant"  # tenants[].retention in the declarations
DEFAULT = "declarations.default"  # the purpose's keep: the tenant chose nothing
PLATFORM = "declarations"  # the purpose is not tenant-configurable


@dataclass(frozen=True, slots=True)
class Period:
    """The retention period in force for one purpose in one tenant."""

    purpose: str
    keep: str  # ISO 8601 duration in force
    source: str  # TENANT | DECLARED_FOR_TENANT | DEFAULT | PLATFORM
    after: str
    then: str
    minimum: str | None = None  # the bounds, for tenant-configurable purposes
    maximum: str | None = None
    setting: RetentionSetting | None = None  # what the administrator set, if anything
    note: str | None = None  # why the period in force differs from the setting

    def as_dict(self) -> dict[str, Any]:
        from tutela.domain.subjects import iso

        setting = self.setting
        return {
            "purpose": self.purpose,
            "keep": self.keep,
            "source": self.source,
            "after": self.after,
            "then": self.then,
            "tenant_configurable": self.minimum is not None,
            "min": self.minimum,
            "max": self.maximum,
            "set": setting.keep if setting else None,
            "set_by": setting.set_by if setting else None,
            "set_at": iso(setting.set_at) if setting else None,
            "note": self.note,
        }


def _days(text: str) -> float:
    return parse_duration(text).approx_days()


def resolve(
    declarations: object, tenant_id: str, settings: Iterable[RetentionSetting]
) -> dict[str, Period]:
    """The period in force for every purpose that has a retention rule (pure)."""
    stored = {s.purpose: s for s in settings}
    declared: Mapping[str, str] = {}
    for tenant in getattr(declarations, "tenants", ()):
        if tenant.id == tenant_id:
            declared = tenant.retention
    found: dict[str, Period] = {}
    for purpose in getattr(declarations, "purposes", ()):
        retention = purpose.retention
        if retention is None:
            continue
        bounds = retention.tenant_configurable
        setting = stored.get(purpose.key)
        if bounds is None:
            note = None
            if setting is not None:
                note = (
                    f"this purpose no longer lets tenants set the retention; its declared "
                    f"{retention.keep} applies, not the {setting.keep} set"
                )
            found[purpose.key] = Period(
                purpose.key,
                retention.keep,
                PLATFORM,
                retention.after,
                retention.then,
                setting=setting,
                note=note,
            )
            continue
        low, high = bounds.min, bounds.max
        keep, source, note = retention.keep, DEFAULT, None
        if purpose.key in declared:
            keep, source = declared[purpose.key], DECLARED_FOR_TENANT
        if setting is not None:
            keep, source = setting.keep, TENANT
            if _days(setting.keep) > _days(high):
                keep = high
                note = f"{setting.keep} is above the current maximum {high}; {high} applies"
            elif _days(setting.keep) < _days(low):
                note = (
                    f"{setting.keep} is below the current minimum {low}; it still applies "
                    "(data is never kept longer than the tenant chose)"
                )
        found[purpose.key] = Period(
            purpose.key,
            keep,
            source,
            retention.after,
            retention.then,
            low,
            high,
            setting,
            note,
        )
    return found


def periods(ctx: Context, tenant_id: str) -> dict[str, Period]:
    """The periods in force in a tenant (no permission check: for the services)."""
    with ctx.uow(read_only=True) as uow:
        settings = uow.tenants.retention(tenant_id)
    return resolve(ctx.declarations, tenant_id, settings)


def _tenant_of(who: Principal, tenant_id: str | None, *, reading: bool) -> str:
    tenant = tenant_id or who.tenant_id
    if tenant == who.tenant_id:
        return tenant
    if reading and "platform" in who.scopes:
        return tenant
    raise Forbidden(
        "a tenant's retention is set by that tenant's own administrator"
        if not reading
        else "a key can only read the retention of its own tenant (or use a platform key)",
        details={"tenant": tenant},
    )


def listing(ctx: Context, who: Principal, tenant_id: str | None = None) -> list[dict[str, Any]]:
    """Every purpose with a retention rule: the period in force, where it comes from, and
    for tenant-configurable purposes the bounds and what the administrator set."""
    who.require("retention.read")
    tenant = _tenant_of(who, tenant_id, reading=True)
    with ctx.uow(read_only=True) as uow:
        if uow.tenants.get(tenant) is None:
            raise NotFound(f"no tenant {tenant}", details={"tenant": tenant})
        settings = uow.tenants.retention(tenant)
    found = resolve(ctx.declarations, tenant, settings)
    return [period.as_dict() for _key, period in sorted(found.items())]


def set_period(
    ctx: Context, who: Principal, purpose: str, keep: str, tenant_id: str | None = None
) -> dict[str, Any]:
    """Set the tenant's retention period for a tenant-configurable purpose (audited)."""
    who.require("retention.set")
    tenant = _tenant_of(who, tenant_id, reading=False)
    period = _checked(ctx, purpose, keep)
    now = ctx.clock()
    with ctx.uow() as uow:
        if uow.tenants.get(tenant) is None:
            raise NotFound(f"no tenant {tenant}", details={"tenant": tenant})
        before = {s.purpose: s.keep for s in uow.tenants.retention(tenant)}
        setting = RetentionSetting(tenant, purpose, period, who.actor, now)
        uow.tenants.set_retention(setting)
        uow.audit.append(
            AuditEvent(
                "retention.set",
                who.actor,
                tenant,
                None,
                (),
                {"purpose": purpose, "keep": period, "previous": before.get(purpose)},
            ),
            now,
        )
        settings = uow.tenants.retention(tenant)
        uow.commit()
    return resolve(ctx.declarations, tenant, settings)[purpose].as_dict()


def _checked(ctx: Context, key: str, keep: str) -> str:
    """The period, normalised, if the purpose lets tenants choose and it lies in bounds."""
    purposes = {p.key: p for p in getattr(ctx.declarations, "purposes", ())}
    configurable = sorted(
        k for k, p in purposes.items() if p.retention and p.retention.tenant_configurable
    )
    choices = ", ".join(configurable) or "none in the declarations in force"
    purpose = purposes.get(key)
    if purpose is None:
        raise InvalidInput(
            f"{key}: not a declared purpose; tenant-configurable purposes: {choices}",
            details={"purpose": key, "configurable": configurable},
        )
    bounds = purpose.retention.tenant_configurable if purpose.retention else None
    if bounds is None:
        raise InvalidInput(
            f"{key}: this purpose does not let tenants set the retention (the declarations "
            f"fix it); tenant-configurable purposes: {choices}",
            details={"purpose": key, "configurable": configurable},
        )
    try:
        duration = parse_duration(keep.strip().upper())
    except ValueError:
        raise InvalidInput(
            f"{keep!r} is not an ISO 8601 duration; write e.g. P90D, P6M or P2Y",
            details={"keep": keep},
        ) from None
    days = duration.approx_days()
    if not _days(bounds.min) <= days <= _days(bounds.max):
        raise InvalidInput(
            f"{duration}: outside the bounds {bounds.min}..{bounds.max} the platform declares "
            f"for {key}; choose a period between {bounds.min} and {bounds.max}",
            details={"purpose": key, "keep": str(duration), "min": bounds.min, "max": bounds.max},
        )
    return str(duration)
