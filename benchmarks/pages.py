"""Web pages: the server time of each privacy-center and admin-console page beside a bare
Jinja2 render.

One data directory initialised from ``examples/desktop-vendor.yml``, a subject registered
with consent decisions and a finished access request, and a privacy-center session opened
for it through the real sign-in (``services.sessions``; the code is taken from the message
the sign-in composes). Each page is fetched by calling the production application (the
ASGI application ``tutela serve`` runs, ``FastPath`` in front) in-process with a GET and the
session cookie, German as the reader's language: the time from the call to the last byte of
the response is the server time, without a network or an HTTP parser.

The raw limit is a bare Jinja2 render of a page of the same size: an autoescaped template
that loops over plain rows until its output is as long as the page, rendered with a
prepared context. The ratio says how much more than producing that much HTML with Jinja2 a
page costs (reading and decrypting the subject, the session, the audit entry of the read,
translations and the page's own template).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment

from benchmarks.results import Group, Row, Target
from tutela.bootstrap import initialize, open_runtime
from tutela.domain.access import operator
from tutela.entrypoints.api import create_app
from tutela.entrypoints.api_consent import FastPath
from tutela.services import consent, portal, sessions, vault
from tutela.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DECLARATIONS = ROOT / "examples" / "desktop-vendor.yml"
TENANT = "default"
EMAIL = "lena.beispiel@example.com"
PAGES = (
    ("start page", "/privacy/default/"),
    ("notice", "/privacy/default/notice"),
    ("my data", "/privacy/default/data"),
    ("consent", "/privacy/default/consent"),
    ("requests", "/privacy/default/requests"),
    ("download", "/privacy/default/download"),
)
CONSOLE_PAGES = (
    ("console overview", "/admin/"),
    ("console queue", "/admin/requests"),
    ("console incidents", "/admin/incidents"),
    ("console policy", "/admin/policy"),
    ("console consent", "/admin/consent"),
)
QUEUED = 200  # requests in the officer's queue, identities masked on the page
P95_TARGET_MS = 50.0


@dataclass(frozen=True)
class Sizes:
    calls: int  # timed calls per page
    warmup: int


DEFAULT = Sizes(calls=300, warmup=30)
QUICK = Sizes(calls=40, warmup=5)


_LOOP = asyncio.new_event_loop()


def _call(app: Any, path: str, cookie: str) -> tuple[float, int, bytes]:
    """One GET through the ASGI application on one event loop; (seconds, status, body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"cookie", cookie.encode()),
            (b"accept-language", b"de"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    status: list[int] = []
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    async def timed() -> float:
        start = time.perf_counter()
        await app(scope, receive, send)
        return time.perf_counter() - start

    seconds = _LOOP.run_until_complete(timed())
    return seconds, status[0], b"".join(body)


def _bare(length: int) -> Callable[[], str]:
    """A bare Jinja2 render producing about ``length`` characters of HTML."""
    env = Environment(autoescape=True)
    template = env.from_string(
        '<!doctype html><html lang="de"><head><title>{{ title }}</title></head><body><main>'
        '{% for row in rows %}<p class="row">{{ row.name }}: {{ row.value }}</p>{% endfor %}'
        "</main></body></html>"
    )
    row = {"name": "Feld", "value": "Wert & <Inhalt>"}
    one = len(template.render(title="x", rows=[row]))
    empty = len(template.render(title="x", rows=[]))
    rows = [row] * max(1, (length - empty) // max(1, one - empty))
    return lambda: template.render(title="Seite", rows=rows)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run_group(sizes: Sizes, progress: Callable[[str], None] = lambda _: None) -> Group:
    progress("pages setup")
    with tempfile.TemporaryDirectory(prefix="tutela-pages-") as directory:
        settings = Settings.from_env(
            {
                "TUTELA_DATA_DIR": str(Path(directory) / "data"),
                "TUTELA_ARGON2_MEMORY_KIB": "1024",
                "TUTELA_ARGON2_TIME_COST": "1",
            }
        )
        initialize(settings, DECLARATIONS)
        rt = open_runtime(settings)
        try:
            cookie = _signed_in(rt)
            app = FastPath(create_app(runtime=rt))
            rows = []
            for title, path in PAGES:
                progress(f"page {title}")
                rows.append(_measure(app, title, path, cookie, sizes))
            officer, first = _console(rt)
            for title, path in (*CONSOLE_PAGES, ("console request", f"/admin/requests/{first}")):
                progress(f"page {title}")
                rows.append(_measure(app, title, path, officer, sizes))
        finally:
            rt.close()
    return Group(
        "pages",
        f"privacy-center pages of a signed-in subject and admin-console pages of a privacy "
        f"officer ({QUEUED} requests queued), German, {sizes.calls} calls each, in-process "
        "through the production ASGI application",
        rows,
        {"calls": sizes.calls, "warmup": sizes.warmup},
        [
            "Raw limit: a bare autoescaped Jinja2 render of a page of the same length "
            "(rows of plain text in a loop)."
        ],
    )


def _signed_in(rt: Any) -> str:
    """A subject with data, consent and a finished request, and its session cookie."""
    ctx, who = rt.ctx, operator(TENANT, "benchmark")
    subject = vault.register(
        ctx,
        who,
        {
            "user.contact.email": EMAIL,
            "user.account.username": "Lena Beispiel",
            "user.demographic.date_of_birth": "1990-04-01",
        },
        language="de",
    )
    consent.record(ctx, who, subject.id, ["user_counting"], "grant")
    codes: list[str | None] = []

    def compose(code: str | None) -> tuple[str, str]:
        codes.append(code)
        return "code", str(code)

    pending = sessions.start_sign_in(
        ctx,
        sessions.PRIVACY,
        TENANT,
        EMAIL,
        account_of=portal.account_of(TENANT),
        compose=compose,
    )
    token, _session = sessions.verify_sign_in(
        ctx, sessions.PRIVACY, TENANT, pending, str(codes[-1])
    )
    return f"tutela_privacy={token}"


def _console(rt: Any) -> tuple[str, str]:
    """A privacy officer's console session (a dpo key) over a queue of verified requests;
    the cookie and the first request's id."""
    from tutela.services import console, requests, tenants

    ctx = rt.ctx
    key = tenants.issue_key(ctx, operator(TENANT, "benchmark"), TENANT, "desk", ["dpo"])
    who = tenants.authenticate(ctx, key.token)
    made = [
        requests.create(
            ctx, who, "access", email=f"person{n}@example.com", verified_by="in_person"
        )["id"]
        for n in range(QUEUED)
    ]
    token, _officer = console.sign_in(ctx, key.token)
    return f"tutela_admin={token}", str(made[0])


def _measure(app: Any, title: str, path: str, cookie: str, sizes: Sizes) -> Row:
    for _ in range(sizes.warmup):
        _seconds, status, body = _call(app, path, cookie)
        if status != 200:
            raise AssertionError(f"{path}: status {status}: {body[:300]!r}")
    times = [_call(app, path, cookie)[0] for _ in range(sizes.calls)]
    length = len(_call(app, path, cookie)[2])
    bare = _bare(length)
    for _ in range(sizes.warmup):
        bare()
    raw: list[float] = []
    for _ in range(sizes.calls):
        start = time.perf_counter()
        bare()
        raw.append(time.perf_counter() - start)
    p50, p95 = statistics.median(times) * 1000, _percentile(times, 0.95) * 1000
    r50, r95 = statistics.median(raw) * 1000, _percentile(raw, 0.95) * 1000
    return Row(
        "pages",
        title.replace(" ", "_"),
        f"Page {title} ({path}, {length:,} bytes)",
        "ms/page",
        f"GET {path} signed in, German; raw = bare Jinja2 render of {length:,} characters",
        p50,
        r50,
        f"p50 {p50:.2f}\np95 {p95:.2f}",
        f"p50 {r50:.3f}\np95 {r95:.3f}",
        Target("at_most", P95_TARGET_MS, f"p95 < {P95_TARGET_MS:.0f} ms", cap=P95_TARGET_MS),
        lower_is_better=True,
        data={"p95_ms": round(p95, 3), "raw_p95_ms": round(r95, 3), "bytes": length},
        worst=p95,
    )
