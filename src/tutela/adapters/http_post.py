"""Posting a signed JSON body to an outside HTTP endpoint: no redirects, 2xx or a reason.

Shared by the HTTP dataset connector and the sunset webhooks."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from http.client import HTTPException
from typing import Any

import tutela

#: shared secrets (HMAC keys) must be at least this long
MIN_SECRET_LENGTH = 32


class PostFailed(Exception):
    """The endpoint did not accept the post; the message says why (no body, no secret)."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx answer then raises HTTPError, reported as refused


_OPENER = urllib.request.build_opener(_NoRedirects)


def post_json(
    url: str, body: bytes, headers: Mapping[str, str], *, timeout: float, what: str
) -> None:
    """POST ``body``; raise PostFailed unless ``what`` (e.g. "the endpoint") answers 2xx."""
    request = urllib.request.Request(  # noqa: S310 - callers accept http(s) addresses only
        url,
        data=body,
        method="POST",
        headers={
            **headers,
            "Content-Type": "application/json",
            "User-Agent": f"tutela/{tutela.__version__}",
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as error:
        raise PostFailed(f"{what} answered {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise PostFailed(f"{what} could not be reached: {error.reason}") from None
    except (TimeoutError, OSError, HTTPException) as error:
        reason = "no answer in time" if isinstance(error, TimeoutError) else str(error)
        raise PostFailed(f"{what} could not be reached: {reason}") from None
    if not 200 <= status < 300:
        raise PostFailed(f"{what} answered {status}, not 2xx")
