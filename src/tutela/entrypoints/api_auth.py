"""Authentication of API requests: the key in the request, checked and briefly cached."""

from __future__ import annotations

import threading
import time
from typing import Annotated

from fastapi import Depends, Request

from tutela.domain.access import Principal
from tutela.domain.errors import Unauthenticated
from tutela.services import tenants

#: how long a checked key is trusted without a database look-up (revocation delay)
AUTH_CACHE_SECONDS = 2.0


class AuthCache:
    """Keys checked in the last two seconds; revocation takes effect within that time."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> Principal | None:
        item = self._items.get(token)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def put(self, token: str, principal: Principal) -> None:
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[token] = (time.monotonic() + AUTH_CACHE_SECONDS, principal)


def principal(request: Request) -> Principal:
    """The caller, from its API key (checked keys are cached for a moment)."""
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    token = token or request.headers.get("x-api-key", "")
    if not token:
        raise Unauthenticated("send an API key as `Authorization: Bearer tut_…`")
    cache: AuthCache = request.app.state.auth_cache
    found = cache.get(token)
    if found is None:
        found = tenants.authenticate(request.app.state.runtime.ctx, token)
        cache.put(token, found)
    return found


Who = Annotated[Principal, Depends(principal)]
