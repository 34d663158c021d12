"""The HTTP connector: hands requests to an application endpoint for a store Tutela cannot
reach. The protocol (what is sent, how it is signed, the callback) is in docs/connectors.md;
``services/hooks.py`` builds and signs the requests and checks the callbacks.

Delivery is one POST with the standard library's client: no redirect is followed (a request
carries personal data and goes only where it was declared to go), the proxy settings of the
environment apply (``HTTPS_PROXY``, ``NO_PROXY``), and any answer but 2xx counts as refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tutela.adapters.http_post import MIN_SECRET_LENGTH, PostFailed, post_json
from tutela.datasets.ports import AbstractHookConnector, DeliveryFailed
from tutela.domain.errors import ConfigurationError

if TYPE_CHECKING:
    from tutela.declarations.models import Dataset as DatasetEntry

#: a shared secret shorter than this is refused (32 hex digits carry 128 bits)


class HttpConnector(AbstractHookConnector):
    """One application endpoint, answering for one store."""

    def __init__(
        self,
        name: str,
        url: str,
        secret_variable: str,
        *,
        categories: tuple[str, ...],
        timeout: float = 10.0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ConfigurationError(f"{name}: the endpoint must be an http(s) address")
        self.name = name
        self.url = url
        self.secret_variable = secret_variable
        self.categories = categories
        self.timeout = timeout
        self._environ = environ

    def secret(self) -> bytes:
        environ = os.environ if self._environ is None else self._environ
        value = environ.get(self.secret_variable, "")
        if not value:
            raise ConfigurationError(
                f"{self.secret_variable} is not set; put the secret shared with the {self.name} "
                "endpoint in it",
                details={"variable": self.secret_variable, "dataset": self.name},
            )
        if len(value) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"{self.secret_variable} is too short: a shared secret needs at least "
                f"{MIN_SECRET_LENGTH} characters (e.g. 64 random hex digits)",
                details={"variable": self.secret_variable, "dataset": self.name},
            )
        return value.encode()

    def deliver(self, body: bytes, headers: Mapping[str, str]) -> None:
        try:
            post_json(self.url, body, headers, timeout=self.timeout, what="the endpoint")
        except PostFailed as failure:
            raise DeliveryFailed(str(failure)) from None


def open_http_connector(
    entry: DatasetEntry, *, environ: Mapping[str, str] | None = None
) -> HttpConnector:
    """The connector of a declared application endpoint (``name`` and ``http``)."""
    if entry.http is None or entry.name is None:
        raise ConfigurationError("not an application endpoint: the dataset has no name and http")
    return HttpConnector(
        entry.name,
        entry.http.url,
        entry.http.secret.removeprefix("env:"),
        categories=entry.categories,
        timeout=entry.http.timeout_seconds,
        environ=environ,
    )
