"""The check that refuses new personal data once a tenant's service has stopped.

``tutela sunset`` marks the tenant first (``services/sunset.py``); from then on registering a
subject and granting a consent are refused with :class:`Forbidden`, while everything that
removes data or processing (erasure, withdrawal, refusal, requests) keeps working.
"""

from __future__ import annotations

from tutela.domain.errors import Forbidden
from tutela.services.ports import AbstractUnitOfWork

REASON = "service_stopped"


def refuse_new_data(uow: AbstractUnitOfWork, tenant_id: str) -> None:
    """Raise :class:`Forbidden` when the tenant's sunset has started."""
    if uow.sunsets.stopped(tenant_id):
        raise Forbidden(
            f"the service has stopped for tenant {tenant_id} (sunset): it accepts no new "
            "personal data; existing subjects can still withdraw consent and make requests",
            details={"reason": REASON, "tenant": tenant_id},
        )
