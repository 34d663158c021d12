"""Webhook notices over HTTP: one POST with the standard library's client.

As for application endpoints (``adapters/connectors/http.py``): no redirect is followed (a
notice goes only where it was declared to go), the proxy settings of the environment apply,
and any answer but 2xx counts as refused. Secrets are read from the environment variable an
``env:NAME`` reference names, when they are needed.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from http.client import HTTPException
from typing import Any

import tutela
from tutela.services.ports import AbstractWebhooks, WebhookFailed

#: a signing secret shorter than this is refused (32 hex digits carry 128 bits)
MIN_SECRET_LENGTH = 32


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx answer then raises HTTPError, reported as refused


class HttpWebhooks(AbstractWebhooks):
    def __init__(self, *, timeout: float = 10.0, environ: Mapping[str, str] | None = None) -> None:
        self.timeout = timeout
        self._environ = environ
        self._opener = urllib.request.build_opener(_NoRedirects)

    def secret(self, reference: str) -> bytes:
        name = reference.removeprefix("env:")
        environ = os.environ if self._environ is None else self._environ
        value = environ.get(name, "")
        if not value:
            raise WebhookFailed(f"{name} is not set; put the webhook's signing secret in it")
        if len(value) < MIN_SECRET_LENGTH:
            raise WebhookFailed(
                f"{name} is too short: a signing secret needs at least {MIN_SECRET_LENGTH} "
                "characters (e.g. 64 random hex digits)"
            )
        return value.encode()

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        if not url.startswith(("https://", "http://")):
            raise WebhookFailed("the webhook must be an http(s) address")
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
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
            with self._opener.open(request, timeout=self.timeout) as response:
                status = int(response.status)
        except urllib.error.HTTPError as error:
            raise WebhookFailed(f"the webhook answered {error.code} {error.reason}") from None
        except urllib.error.URLError as error:
            raise WebhookFailed(f"the webhook could not be reached: {error.reason}") from None
        except (TimeoutError, OSError, HTTPException) as error:
            reason = "no answer in time" if isinstance(error, TimeoutError) else str(error)
            raise WebhookFailed(f"the webhook could not be reached: {reason}") from None
        if not 200 <= status < 300:
            raise WebhookFailed(f"the webhook answered {status}, not 2xx")
