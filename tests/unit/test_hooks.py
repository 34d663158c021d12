"""Signing and checking the messages exchanged with application endpoints, and the HTTP
connector's delivery against a real server on loopback."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import free_port
from tutela.adapters.connectors.http import HttpConnector
from tutela.datasets import DeliveryFailed
from tutela.domain.errors import ConfigurationError, Unauthenticated
from tutela.services.hook_messages import TOLERANCE_SECONDS, sign, verify

SECRET = b"0123456789abcdef0123456789abcdef"
BODY = b'{"request_id":"r1","dataset":"billing"}'
NOW = 1_741_427_455


def test_the_signature_is_an_hmac_of_the_time_and_the_body() -> None:
    expected = hmac.new(SECRET, b"1741427455." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, NOW) == f"t={NOW},v1={expected}"
    verify(SECRET, BODY, sign(SECRET, BODY, NOW), NOW)
    verify(SECRET, BODY, sign(SECRET, BODY, NOW), NOW + TOLERANCE_SECONDS)
    verify(SECRET, BODY, sign(SECRET, BODY, NOW), NOW - TOLERANCE_SECONDS)


def reason(header: str | None, *, body: bytes = BODY, now: int = NOW) -> str:
    with pytest.raises(Unauthenticated) as refused:
        verify(SECRET, body, header, now)
    return str(refused.value.details["reason"])


def test_bad_signatures_are_refused_with_a_reason() -> None:
    good = sign(SECRET, BODY, NOW)
    assert reason(None) == "missing_signature"
    assert reason("") == "missing_signature"
    assert reason("v1=abc") == "malformed_signature"
    assert reason(f"t={NOW}") == "malformed_signature"
    assert reason("t=soon,v1=abc") == "malformed_signature"
    assert reason(good, now=NOW + TOLERANCE_SECONDS + 1) == "signature_expired"  # a replay
    assert reason(good, now=NOW - TOLERANCE_SECONDS - 1) == "signature_expired"
    assert reason(good, body=BODY + b" ") == "bad_signature"
    assert reason(sign(b"x" * 32, BODY, NOW)) == "bad_signature"
    assert reason(good.replace(f"t={NOW}", f"t={NOW + 1}")) == "bad_signature"


def test_one_matching_signature_of_several_is_enough() -> None:
    old = sign(b"y" * 32, BODY, NOW).split(",")[1]
    verify(SECRET, BODY, f"{sign(SECRET, BODY, NOW)}, {old}", NOW)
    verify(SECRET, BODY, f"{old},{sign(SECRET, BODY, NOW)}", NOW)


class Endpoint:
    """An application endpoint answering every POST with a fixed status."""

    def __init__(self) -> None:
        self.status = 202
        self.seen: list[tuple[dict[str, str], bytes]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.seen.append((dict(self.headers), body))
                self.send_response(endpoint.status)
                if endpoint.status == 302:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    found = Endpoint()
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        found.server.shutdown()
        found.server.server_close()


def connector(url: str, **environ: str) -> HttpConnector:
    return HttpConnector(
        "billing",
        url,
        "BILLING_HOOK_SECRET",
        categories=("user.contact.email", "user.financial"),
        timeout=2,
        environ=environ,
    )


def test_delivery_posts_the_signed_body(endpoint: Endpoint) -> None:
    connector(endpoint.url).deliver(BODY, {"Tutela-Signature": "t=1,v1=ab"})
    ((headers, body),) = endpoint.seen
    assert body == BODY
    assert headers["Tutela-Signature"] == "t=1,v1=ab"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("tutela/")


@pytest.mark.parametrize(("status", "message"), [(500, "answered 500"), (302, "answered 302")])
def test_anything_but_2xx_is_not_delivered(endpoint: Endpoint, status: int, message: str) -> None:
    endpoint.status = status
    with pytest.raises(DeliveryFailed, match=message):
        connector(endpoint.url).deliver(BODY, {})
    assert len(endpoint.seen) == 1  # the redirect was not followed


def test_an_unreachable_endpoint_is_not_delivered() -> None:
    with pytest.raises(DeliveryFailed, match="could not be reached"):
        connector(f"http://127.0.0.1:{free_port()}/hook").deliver(BODY, {})


def test_the_secret_comes_from_the_environment() -> None:
    assert connector("https://a.example.com", BILLING_HOOK_SECRET=SECRET.decode()).secret() == (
        SECRET
    )
    with pytest.raises(ConfigurationError, match="BILLING_HOOK_SECRET is not set"):
        connector("https://a.example.com").secret()
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        connector("https://a.example.com", BILLING_HOOK_SECRET="short").secret()


def test_a_store_holds_its_categories_and_those_under_them() -> None:
    billing = connector("https://a.example.com")
    assert billing.holds("user.contact.email")
    assert billing.holds("user.financial.bank_account")
    assert not billing.holds("user.financialx")
    assert not billing.holds("user.contact")
