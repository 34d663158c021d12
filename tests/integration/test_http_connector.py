"""The HTTP connector end to end: a real application endpoint on loopback receives each
signed request, checks its signature and posts a signed result back to a Tutela served over
real HTTP; requests wait in progress until it has, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import shutil
import sqlite3
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from tests.conftest import DESKTOP, ROOT, free_port
from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.entrypoints.api import create_app
from tutela.services import packages, request_runner, requests, vault, worker
from tutela.settings import Settings

SECRET = "0123456789abcdef0123456789abcdef-billing"
EMAIL = "user.contact.email"
USERNAME = "user.account.username"
PURCHASES = "user.behavior.purchase_history"

Answer = Callable[[dict[str, Any]], dict[str, Any]]


def answer(payload: dict[str, Any]) -> dict[str, Any]:
    """What the billing application answers: its rows, or what it erased or corrected."""
    if payload["type"] == "access":
        email = payload["identities"]["email"]
        return {
            "collections": {
                "invoices": [
                    {
                        "email": {"value": email, "categories": [EMAIL]},
                        "items": {"value": "2 licences", "categories": [PURCHASES]},
                        "total": {"value": 49.5, "categories": [PURCHASES]},
                    }
                ],
                "accounts": [{"login": {"value": "ada", "categories": [USERNAME]}}],
            }
        }
    if payload["type"] == "erasure":
        return {
            "collections": {
                "accounts": {"deleted": 1, "updated": 0},
                "invoices": {
                    "reached": 3,
                    "deleted": 0,
                    "updated": 3,
                    "kept": [
                        {
                            "field": "invoices.total",
                            "reason": "invoices are kept for tax law",
                            "rows": 3,
                            "until": "2035-12-31",
                        }
                    ],
                },
            }
        }
    return {"updated": dict.fromkeys(payload["changes"], 1)}


def signature(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The protocol as docs/connectors.md describes it, written independently of Tutela."""
    at = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def signature_is_valid(secret: str, body: bytes, header: str) -> bool:
    parts = dict(part.split("=", 1) for part in header.split(","))
    at = int(parts["t"])
    expected = signature(secret, body, at).split("v1=")[1]
    return abs(time.time() - at) <= 300 and hmac.compare_digest(expected, parts["v1"])


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


class Application:
    """The company's application: an endpoint that takes Tutela's requests.

    ``mode`` is ``auto`` (answer 202, then post the result back from another thread),
    ``hold`` (answer 202; the test posts the result with :meth:`call_back`) or ``fail``
    (answer 500).
    """

    def __init__(self, answer: Answer = answer) -> None:
        self.answer = answer
        self.mode = "auto"
        self.received: list[dict[str, Any]] = []
        self.refused = 0
        self.replies: list[tuple[int, dict[str, Any]]] = []
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                header = self.headers.get("Tutela-Signature", "")
                if self.path != "/privacy-hook" or not signature_is_valid(SECRET, body, header):
                    app.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                payload = json.loads(body)
                app.received.append(payload)
                self.send_response(500 if app.mode == "fail" else 202)
                self.end_headers()
                if app.mode == "auto":
                    threading.Thread(target=app.call_back, args=(payload,)).start()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/privacy-hook"

    def call_back(
        self,
        payload: dict[str, Any],
        *,
        secret: str = SECRET,
        timestamp: int | None = None,
        url: str | None = None,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Post the result of ``payload`` (or ``error``) to its callback address, signed."""
        message: dict[str, Any] = {
            "request_id": payload["request_id"],
            "dataset": payload["dataset"],
            "type": payload["type"],
        }
        if error is not None:
            message["error"] = error
        else:
            message["result"] = result if result is not None else self.answer(payload)
        body = json.dumps(message).encode()
        headers = {
            "Content-Type": "application/json",
            "Tutela-Signature": signature(secret, body, timestamp),
        }
        reply = post(url or payload["callback_url"], body, headers)
        self.replies.append(reply)
        return reply


@pytest.fixture
def application() -> Iterator[Application]:
    app = Application()
    app.thread.start()
    try:
        yield app
    finally:
        app.server.shutdown()
        app.server.server_close()


BILLING_ENTRY = (
    "\ndatasets:\n"
    "  - name: billing\n"
    "    http: {{url: '{url}', secret: env:BILLING_HOOK_SECRET, timeout: PT5S}}\n"
    "    categories: [{categories}]\n"
    "    description: Invoices and licences, kept by the billing application.\n"
)


def declarations_with_billing(tmp_path: Path, url: str) -> Path:
    text = DESKTOP.read_text(encoding="utf-8") + BILLING_ENTRY.format(
        url=url, categories=f"{EMAIL}, {USERNAME}, {PURCHASES}"
    )
    file = tmp_path / "tutela.yml"
    file.write_text(text, encoding="utf-8")
    return file


@contextmanager
def served(settings: Settings, declarations: Path) -> Iterator[Runtime]:
    """Tutela initialised with ``declarations``, its API served on loopback."""
    port = free_port()
    configured = settings.with_overrides(public_url=f"http://127.0.0.1:{port}")
    initialize(configured, declarations)
    rt = open_runtime(configured)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime=rt), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    try:
        yield rt
    finally:
        server.should_exit = True
        thread.join(10)
        rt.close()


@pytest.fixture
def tutela(
    settings: Settings,
    application: Application,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Runtime]:
    """Tutela with the billing endpoint declared, its API served on loopback."""
    monkeypatch.setenv("BILLING_HOOK_SECRET", SECRET)
    with served(settings, declarations_with_billing(tmp_path, application.url)) as rt:
        yield rt


def hook_state(rt: Runtime, request_id: str) -> dict[str, Any]:
    shown = requests.show(rt.ctx, rt.operator(), request_id)
    state: dict[str, Any] = shown["hooks"]["billing"]
    return state


def wait_for_result(rt: Runtime, request_id: str) -> None:
    deadline = time.monotonic() + 10
    while hook_state(rt, request_id)["status"] != "received":
        assert time.monotonic() < deadline, "the application's result did not arrive"
        time.sleep(0.02)


def stored_checkpoint(rt: Runtime, request_id: str) -> str:
    with rt.ctx.uow(read_only=True) as uow:
        record = uow.requests.get("default", request_id)
    assert record is not None
    return record.checkpoint or ""


def new_request(rt: Runtime, kind: str, email: str, **extra: Any) -> str:
    created = requests.create(
        rt.ctx, rt.operator(), kind, email=email, verified_by="account_login", **extra
    )
    return str(created["id"])


def test_access_waits_for_the_endpoint_then_packages_its_rows(
    tutela: Runtime, application: Application
) -> None:
    application.mode = "hold"
    who = tutela.operator()
    vault.register(tutela.ctx, who, {EMAIL: "ada@example.com", USERNAME: "ada"})
    rid = new_request(tutela, "access", "ada@example.com")
    waiting = request_runner.run(tutela.ctx, who, rid)
    assert waiting["state"] == "in_progress"
    assert waiting["waiting_for"] == ["billing"]
    assert waiting["result"] is None
    (hook,) = application.received
    assert hook["request_id"] == rid
    assert hook["type"] == "access"
    assert hook["dataset"] == "billing"
    assert hook["identities"] == {"email": "ada@example.com"}
    assert hook["callback_url"] == f"{tutela.ctx.public_url}/v1/requests/{rid}/callbacks/billing"
    assert hook["deadline"].endswith("Z")

    assert application.call_back(hook)[0] == 200
    assert application.replies == [
        (200, {"request_id": rid, "dataset": "billing", "status": "received", "resumes": True})
    ]
    checkpoint = stored_checkpoint(tutela, rid)
    assert "ada@example.com" not in checkpoint  # the rows are stored sealed only
    assert "2 licences" not in checkpoint
    assert requests.show(tutela.ctx, who, rid)["waiting_for"] == []

    done = request_runner.run(tutela.ctx, who, rid)
    assert done["state"] == "completed"
    assert "waiting_for" not in done
    assert done["result"]["package"]["counts"]["billing"] == {"invoices": 1, "accounts": 1}
    assert "ada@example.com" not in json.dumps(done)
    assert "sealed" not in stored_checkpoint(tutela, rid)  # dropped once the package is built
    package_id = requests.package_of(tutela.ctx, who, rid)
    archive = zipfile.ZipFile(io.BytesIO(packages.fetch(tutela.ctx, "default", package_id)))
    stores = json.loads(archive.read("data.json"))["stores"]
    invoice = stores["billing"]["invoices"][0]
    assert invoice["email"] == {"value": "ada@example.com", "categories": [EMAIL]}
    assert invoice["total"]["value"] == 49.5
    assert stores["tutela"]["subject"][0][EMAIL]["value"] == "ada@example.com"
    assert "billing/invoices.csv" in archive.namelist()
    assert len(application.received) == 1


def test_erasure_completes_only_after_the_endpoint_has_erased(
    tutela: Runtime, application: Application
) -> None:
    application.mode = "hold"
    who = tutela.operator()
    sid = vault.register(tutela.ctx, who, {EMAIL: "eve@example.com", USERNAME: "eve"}).id
    rid = new_request(tutela, "erasure", "eve@example.com")
    waiting = request_runner.run(tutela.ctx, who, rid)
    assert waiting["state"] == "in_progress"
    assert waiting["result"] is None
    assert application.received[0]["type"] == "erasure"
    assert vault.read(tutela.ctx, who, sid).fields  # the vault waits for the endpoint
    assert application.call_back(application.received[0])[0] == 200
    # the last result is in: the worker finishes the request without anyone running it
    assert worker.run_jobs(tutela.ctx) == {"done": 1, "failed": 0}
    done = requests.show(tutela.ctx, who, rid)
    assert done["state"] == "completed"
    billing = done["result"]["datasets"]["billing"]
    assert billing["accounts"] == {"reached": 1, "deleted": 1, "updated": 0, "kept": []}
    assert billing["invoices"]["kept"] == [
        {
            "field": "invoices.total",
            "reason": "invoices are kept for tax law",
            "rows": 3,
            "until": "2035-12-31",
        }
    ]
    assert done["result"]["vault"]["erased"] is True
    notes = [h["note"] for h in requests.show(tutela.ctx, who, rid)["history"]]
    assert "billing posted its result" in notes


def test_rectification_sends_only_the_categories_the_store_holds(
    tutela: Runtime, application: Application
) -> None:
    who = tutela.operator()
    vault.register(tutela.ctx, who, {EMAIL: "rob@example.com", USERNAME: "rob"})
    rid = new_request(
        tutela,
        "rectification",
        "rob@example.com",
        details={"fields": {USERNAME: "robert", "user.demographic.date_of_birth": "1990-01-01"}},
    )
    first = request_runner.run(tutela.ctx, who, rid)
    assert application.received[0]["changes"] == {USERNAME: "robert"}
    # the application posts its result on its own; it may even arrive during that run
    if first["state"] == "in_progress":
        wait_for_result(tutela, rid)
    done = request_runner.run(tutela.ctx, who, rid) if first["state"] != "completed" else first
    assert done["state"] == "completed"
    assert done["result"]["datasets"] == {"billing": {USERNAME: 1}}


def test_a_bad_signature_is_refused_and_nothing_is_stored(
    tutela: Runtime, application: Application
) -> None:
    application.mode = "hold"
    who = tutela.operator()
    rid = new_request(tutela, "access", "mallory@example.com")
    request_runner.run(tutela.ctx, who, rid)
    (hook,) = application.received
    before = stored_checkpoint(tutela, rid)

    status, body = application.call_back(hook, secret="another-secret-of-at-least-32-characters")
    assert status == 401
    assert body["error"]["code"] == "unauthenticated"
    assert body["error"]["details"]["reason"] == "bad_signature"
    status, body = application.call_back(hook, timestamp=int(time.time()) - 600)
    assert (status, body["error"]["details"]["reason"]) == (401, "signature_expired")
    status, body = post(hook["callback_url"], b'{"request_id": "x"}', {})
    assert (status, body["error"]["details"]["reason"]) == (401, "missing_signature")
    forged = json.dumps({**hook, "result": {"collections": {}}}).encode()
    status, _ = post(
        hook["callback_url"],
        forged,
        {"Tutela-Signature": signature(SECRET, b"what was really signed")},
    )
    assert status == 401
    assert stored_checkpoint(tutela, rid) == before
    assert hook_state(tutela, rid)["status"] == "sent"

    elsewhere = hook["callback_url"].replace("/billing", "/crm")
    status, body = application.call_back(hook, url=elsewhere)
    assert (status, body["error"]["code"]) == (404, "not_found")
    unknown = {**hook, "request_id": "00000000-0000-4000-8000-000000000000"}
    unknown["callback_url"] = hook["callback_url"].replace(rid, unknown["request_id"])
    status, body = application.call_back(unknown)
    assert (status, body["error"]["code"]) == (404, "not_found")
    huge = b"{" + b" " * (20 * 1024 * 1024) + b"}"
    with TestClient(create_app(runtime=tutela), raise_server_exceptions=False) as client:
        path = hook["callback_url"].removeprefix(tutela.ctx.public_url)
        response = client.post(path, content=huge, headers={"Tutela-Signature": "t=1,v1=0"})
    assert (response.status_code, response.json()["error"]["code"]) == (413, "too_large")
    undeclared = {"collections": {"t": [{"x": {"value": 1, "categories": ["user.financial"]}}]}}
    status, body = application.call_back(hook, result=undeclared)
    assert status == 422
    assert "user.financial" in body["error"]["message"]
    assert stored_checkpoint(tutela, rid) == before

    assert application.call_back(hook)[0] == 200
    status, body = application.call_back(hook)
    assert (status, body["error"]["code"]) == (409, "conflict")
    assert "sealed" in stored_checkpoint(tutela, rid)
    requests.reject(tutela.ctx, who, rid, "The request was withdrawn by phone.")
    assert "sealed" not in stored_checkpoint(tutela, rid)  # a closed request keeps no rows


def test_a_resumed_run_does_not_send_again_unless_delivery_failed(
    tutela: Runtime, application: Application
) -> None:
    who = tutela.operator()
    application.mode = "fail"
    rid = new_request(tutela, "access", "ines@example.com")
    first = request_runner.run(tutela.ctx, who, rid)
    assert first["state"] == "in_progress"
    assert first["waiting_for"] == ["billing"]
    assert first["hooks"]["billing"]["status"] == "failed"
    assert "500" in first["hooks"]["billing"]["error"]

    application.mode = "hold"
    again = request_runner.run(tutela.ctx, who, rid)  # the failed delivery is repeated
    assert again["hooks"]["billing"]["status"] == "sent"
    assert again["hooks"]["billing"]["attempts"] == 2
    assert [h["attempt"] for h in application.received] == [1, 2]
    for _ in range(2):
        still = request_runner.run(tutela.ctx, who, rid)
        assert still["state"] == "in_progress"
        assert still["waiting_for"] == ["billing"]
    assert len(application.received) == 2  # waiting sends nothing more

    status, _ = application.call_back(application.received[-1], error="store down")
    assert status == 200
    assert hook_state(tutela, rid)["status"] == "failed"
    request_runner.run(tutela.ctx, who, rid)  # the application asked for the request again
    assert len(application.received) == 3
    assert application.call_back(application.received[-1])[0] == 200
    assert request_runner.run(tutela.ctx, who, rid)["state"] == "completed"
    audit = [e["action"] for e in tutela_audit(tutela)]
    assert audit.count("request.hook_sent") == 2
    assert audit.count("request.hook_failed") == 1
    assert audit.count("request.callback") == 2


def tutela_audit(rt: Runtime) -> list[dict[str, Any]]:
    from tutela.services import audit

    return audit.entries(rt.ctx, rt.operator(), subject_id=None, after=0, limit=1000)


def test_a_missing_secret_stops_the_run_before_anything_is_sent(
    tutela: Runtime, application: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tutela.domain.errors import ConfigurationError

    monkeypatch.delenv("BILLING_HOOK_SECRET")
    rid = new_request(tutela, "access", "nosecret@example.com")
    with pytest.raises(ConfigurationError, match="BILLING_HOOK_SECRET is not set"):
        request_runner.run(tutela.ctx, tutela.operator(), rid)
    assert application.received == []
    assert requests.show(tutela.ctx, tutela.operator(), rid)["state"] == "in_progress"


def test_databases_are_erased_only_with_the_endpoints_result(
    settings: Settings,
    application: Application,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Fides sample shop's database next to the billing endpoint: the run that waits
    for the endpoint leaves the database untouched; the one after the callback erases both."""
    shop = ROOT / "examples" / "fides-shop"
    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as conn:
        conn.executescript((shop / "shop.sql").read_text(encoding="utf-8"))
    shutil.copy(shop / "dataset.yml", tmp_path / "dataset.yml")
    declarations = tmp_path / "tutela.yml"
    declarations.write_text(
        (shop / "tutela.yaml").read_text(encoding="utf-8").rstrip()
        + "\n"
        + BILLING_ENTRY.format(
            url=application.url, categories="user.contact.email, user.financial"
        ).removeprefix("\ndatasets:\n"),
        encoding="utf-8",
    )
    monkeypatch.setenv("SHOP_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("BILLING_HOOK_SECRET", SECRET)
    application.mode = "hold"

    def customers() -> list[str]:
        with sqlite3.connect(database) as conn:
            return [row[0] for row in conn.execute("SELECT email FROM customer ORDER BY id")]

    with served(settings, declarations) as rt:
        who = rt.operator()
        rid = new_request(rt, "erasure", "customer-1@example.com")
        waiting = request_runner.run(rt.ctx, who, rid)
        assert waiting["waiting_for"] == ["billing"]
        assert "customer-1@example.com" in customers()  # nothing of the step is done yet
        assert application.call_back(application.received[0])[0] == 200
        done = request_runner.run(rt.ctx, who, rid)
    assert done["state"] == "completed"
    assert set(done["result"]["datasets"]) == {"postgres_example_test_dataset", "billing"}
    assert done["result"]["datasets"]["postgres_example_test_dataset"]["customer"]["deleted"] == 1
    assert "customer-1@example.com" not in customers()
    assert "jane@example.com" in customers()
