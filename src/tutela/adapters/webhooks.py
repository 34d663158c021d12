"""Webhook notices over HTTP: one POST with the standard library's client.

As for application endpoints (``adapters/connectors/http.py``): no redirect is followed (a
notice goes only where it was declared to go), the proxy settings of the environment apply,
and any answer but 2xx counts as refused. Secrets are read from the environment variable an
``env:NAME`` reference names, when they are needed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from tutela.adapters.http_post import MIN_SECRET_LENGTH, PostFailed, post_json
from tutela.services.ports import AbstractWebhooks, WebhookFailed

#: a signing secret shorter than this is refused (32 hex digits carry 128 bits)


class HttpWebhooks(AbstractWebhooks):
    def __init__(self, *, timeout: float = 10.0, environ: Mapping[str, str] | None = None) -> None:
        self.timeout = timeout
        self._environ = environ

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
        try:
            post_json(url, body, headers, timeout=self.timeout, what="the webhook")
        except PostFailed as failure:
            raise WebhookFailed(str(failure)) from None
