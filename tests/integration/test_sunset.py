"""The sunset: everyone told once, nothing new accepted, recipients closed and called,
everything erased but what a legal hold keeps, a signed report; resumable after a crash."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import DESKTOP, SmtpSink
from tests.fixtures_support import DATASET_FILE, load_sqlite
from tutela.adapters.connectors.sql import SqlConnector
from tutela.adapters.signing import verify_jws
from tutela.adapters.webhooks import HttpWebhooks
from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.datasets.loading import load_datasets
from tutela.domain.errors import Forbidden, InvalidInput
from tutela.services import audit, consent, holds, hooks, mail, sunset, vault
from tutela.settings import Settings, SmtpSettings

SECRET = "0123456789abcdef" * 4
RELAY = "Example Mail Relay"


class Webhook:
    """A recipient's webhook on loopback: keeps what it receives, fails when told to."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.failures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((dict(self.headers), body))
                failing = receiver.failures > 0
                receiver.failures -= 1 if failing else 0
                self.send_response(503 if failing else 204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/privacy/sunset"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    hook.thread.start()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()


def declarations_with_recipients(tmp_path: Path, url: str) -> Path:
    text = DESKTOP.read_text(encoding="utf-8") + (
        "\nrecipients:\n"
        f"  - name: {RELAY}\n"
        "    role: processor\n"
        "    country: DE\n"
        "    purposes: [account]\n"
        "    categories: [user.contact.email]\n"
        f"    webhook: {url}\n"
        "    webhook_secret: env:RELAY_WEBHOOK_SECRET\n"
        "  - name: Example Counter\n"
        "    role: processor\n"
        "    country: DE\n"
        "    purposes: [user_counting]\n"
        "    categories: [user.device.cookie_id]\n"
    )
    file = tmp_path / "tutela.yml"
    file.write_text(text, encoding="utf-8")
    return file


@pytest.fixture
def rt(
    settings: Settings,
    smtp_sink: SmtpSink,
    webhook: Webhook,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Runtime]:
    """Tutela with mail to the SMTP sink and a recipient whose webhook is served on loopback."""
    monkeypatch.setenv("RELAY_WEBHOOK_SECRET", SECRET)
    configured = settings.with_overrides(
        smtp=SmtpSettings(host="127.0.0.1", port=smtp_sink.port, sender="privacy@example.com")
    )
    initialize(configured, declarations_with_recipients(tmp_path, webhook.url))
    runtime = open_runtime(configured)
    try:
        yield runtime
    finally:
        runtime.close()


def register(rt: Runtime, email: str | None, name: str) -> str:
    fields = {"user.account.username": name}
    if email:
        fields["user.contact.email"] = email
    return vault.register(rt.ctx, rt.operator(), fields).id


def addresses(sink: SmtpSink) -> Counter[str]:
    return Counter(str(m["To"]) for m in sink.messages)


def wait_for_mail(sink: SmtpSink, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(sink.messages) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_refused_without_the_right_confirmation(rt: Runtime) -> None:
    with pytest.raises(InvalidInput, match="--confirm TENANT"):
        sunset.targets(rt.ctx, None)
    with pytest.raises(InvalidInput, match="names no tenant"):
        sunset.targets(rt.ctx, "all")  # ALL is spelt in capitals: a slug could be "all"
    assert sunset.targets(rt.ctx, "default") == ["default"]
    assert sunset.targets(rt.ctx, "ALL") == ["default"]
    with rt.ctx.uow(read_only=True) as uow:
        assert uow.sunsets.get("default") is None  # nothing started
    register(rt, "still@example.com", "still")  # the service still runs


def test_a_sunset_end_to_end(rt: Runtime, smtp_sink: SmtpSink, webhook: Webhook) -> None:
    who = rt.operator()
    emails = [f"person-{n}@example.com" for n in range(3)]
    ids = [register(rt, email, f"person{n}") for n, email in enumerate(emails)]
    silent = register(rt, None, "no-email")
    consent.record(rt.ctx, who, ids[0], ["user_counting"], "grant")
    hold = holds.place(rt.ctx, who, reason="Case 4711, court order", subject_id=ids[2])

    result = sunset.run(rt.ctx, who, HttpWebhooks())
    assert result["ran"] == ["stop", "notify", "recipients", "erase", "shred", "report"]

    # every subject with an email is told, once
    wait_for_mail(smtp_sink, 3)
    assert addresses(smtp_sink) == Counter(emails)
    assert all("Der Dienst wird eingestellt" in str(m["Subject"]) for m in smtp_sink.messages)
    # nothing new is accepted, with a clear reason
    with pytest.raises(Forbidden, match="the service has stopped") as refused:
        register(rt, "new@example.com", "newcomer")
    assert refused.value.details["reason"] == "service_stopped"
    with pytest.raises(Forbidden, match="the service has stopped"):
        consent.record(rt.ctx, who, ids[2], ["user_counting"], "grant")
    consent.record(rt.ctx, who, ids[2], ["user_counting"], "refuse")  # opting out still works
    # erased and shredded, except what the hold keeps
    for sid in (ids[0], ids[1], silent):
        assert vault.read(rt.ctx, who, sid).status == "erased"
        assert rt.ctx.keys.get(sid) is None
    kept = vault.read(rt.ctx, who, ids[2])
    assert kept.fields == {"user.account.username": "person2", "user.contact.email": emails[2]}
    assert rt.ctx.keys.get(ids[2]) is not None

    # the report: counts only, signed, verifiable with the published keys
    report = verify_jws(result["receipt"], rt.ctx.signer.jwks())  # type: ignore[union-attr]
    assert report == result["report"]
    assert report["type"] == "tutela-sunset-report"
    assert report["subjects"] == {
        "notified": 3,
        "without_email": 1,
        "erased": 3,
        "kept_by_holds": 1,
    }
    assert report["holds"] == [{"hold": hold["id"], "subjects": 1, "fields": 2}]
    assert report["recipients"] == {
        "closed": 2,
        "notified": 1,
        "failed": 0,
        "without_webhook": 1,
    }
    assert report["keys"] == {"shredded": 3, "kept": 1}
    assert not {*emails, "person0", "Case 4711"} & set(json.dumps(report).split('"'))

    # the recipient's webhook got one notice, signed with its secret
    ((headers, body),) = webhook.calls
    hooks.verify(SECRET.encode(), body, headers[hooks.SIGNATURE_HEADER], int(time.time()))
    notice = json.loads(body)
    assert notice["type"] == "tutela.sunset"
    assert notice["recipient"] == RELAY
    assert notice["tenant"] == "default"
    assert headers["Tutela-Event"] == "sunset"

    # audited; running it again changes nothing and sends nothing
    actions = {
        e["action"] for e in audit.entries(rt.ctx, who, subject_id=None, after=0, limit=9999)
    }
    assert {"sunset.start", "sunset.notify", "sunset.step", "sunset.report"} <= actions
    again = sunset.run(rt.ctx, who, HttpWebhooks())
    assert again["ran"] == []
    assert again["receipt"] == result["receipt"]
    mail.deliver(rt.ctx, rt.ctx.mailer)  # type: ignore[arg-type]
    assert len(smtp_sink.messages) == 3
    assert len(webhook.calls) == 1


def test_a_crash_while_notifying_never_tells_anyone_twice(
    rt: Runtime, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = rt.operator()
    emails = [f"crash-{n}@example.com" for n in range(5)]
    for n, email in enumerate(emails):
        register(rt, email, f"crash{n}")
    monkeypatch.setattr(sunset, "BATCH", 2)
    real_queue = mail.queue
    calls: list[int] = []

    def crashing_queue(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 4:  # in the second batch: the whole batch is rolled back
            raise RuntimeError("killed")
        return real_queue(*args, **kwargs)

    monkeypatch.setattr(mail, "queue", crashing_queue)
    with pytest.raises(RuntimeError, match="killed"):
        sunset.run(rt.ctx, who, HttpWebhooks())
    mail.deliver(rt.ctx, rt.ctx.mailer)  # type: ignore[arg-type]  # a worker sends meanwhile
    wait_for_mail(smtp_sink, 2)
    assert len(smtp_sink.messages) == 2
    with pytest.raises(Forbidden):  # stopped from the first step on
        register(rt, "late@example.com", "late")

    monkeypatch.setattr(mail, "queue", real_queue)
    result = sunset.run(rt.ctx, who, HttpWebhooks())
    wait_for_mail(smtp_sink, 5)
    time.sleep(0.1)
    assert addresses(smtp_sink) == Counter(emails)  # each exactly once
    assert result["report"]["subjects"]["notified"] == 5
    assert result["report"]["subjects"]["erased"] == 5


def test_a_crash_while_erasing_resumes_and_counts_right(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = rt.operator()
    ids = [register(rt, f"erase-{n}@example.com", f"erase{n}") for n in range(4)]
    real_erase = vault.erase
    calls: list[str] = []

    def crashing_erase(*args: Any, **kwargs: Any) -> Any:
        calls.append("x")
        erased = real_erase(*args, **kwargs)
        if len(calls) == 2:  # erased, but killed before the sunset recorded it
            raise RuntimeError("killed")
        return erased

    monkeypatch.setattr(vault, "erase", crashing_erase)
    with pytest.raises(RuntimeError, match="killed"):
        sunset.run(rt.ctx, who, HttpWebhooks())
    monkeypatch.setattr(vault, "erase", real_erase)
    result = sunset.run(rt.ctx, who, HttpWebhooks())
    assert result["ran"] == ["erase", "shred", "report"]
    assert result["report"]["subjects"]["erased"] == 4
    assert result["report"]["keys"]["shredded"] == 4
    assert all(rt.ctx.keys.get(sid) is None for sid in ids)


def test_a_failing_webhook_is_recorded_and_retried(rt: Runtime, webhook: Webhook) -> None:
    who = rt.operator()
    webhook.failures = 1
    first = sunset.run(rt.ctx, who, HttpWebhooks())
    assert first["report"]["recipients"]["failed"] == 1
    assert first["report"]["revision"] == 1
    second = sunset.run(rt.ctx, who, HttpWebhooks())
    assert second["ran"] == ["recipients", "report"]
    assert second["report"]["recipients"] == {
        "closed": 2,
        "notified": 1,
        "failed": 0,
        "without_webhook": 1,
    }
    assert second["report"]["revision"] == 2
    assert len(webhook.calls) == 2
    notices = [json.loads(body) for _, body in webhook.calls]
    assert [n["attempt"] for n in notices] == [1, 2]


def test_a_missing_webhook_secret_is_a_recorded_failure(
    rt: Runtime, webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELAY_WEBHOOK_SECRET")
    result = sunset.run(rt.ctx, rt.operator(), HttpWebhooks())
    assert result["report"]["recipients"]["failed"] == 1
    assert webhook.calls == []
    with rt.ctx.uow(read_only=True) as uow:
        item = uow.sunsets.items("default", "recipient")[RELAY]
    assert item.detail is not None
    assert "RELAY_WEBHOOK_SECRET is not set" in item.detail["error"]


def test_datasets_are_erased_through_the_connectors_except_what_a_hold_keeps(
    rt: Runtime, tmp_path: Path
) -> None:
    url = load_sqlite(tmp_path / "shop.db")
    (dataset,) = load_datasets(DATASET_FILE)
    connector = SqlConnector.from_url(url, dataset, hash_key=b"k" * 32)
    rt.ctx.connectors = lambda: [connector]
    who = rt.operator()
    gone = register(rt, "customer-1@example.com", "customer1")
    held = register(rt, "customer-2@example.com", "customer2")
    hold = holds.place(rt.ctx, who, reason="Audit of invoices", subject_id=held)
    try:
        result = sunset.run(rt.ctx, who, HttpWebhooks())
    finally:
        connector.close()
    engine = create_engine(url)
    with engine.connect() as conn:
        emails = {r[0] for r in conn.execute(text("SELECT email FROM customer"))}
    engine.dispose()
    assert "customer-1@example.com" not in emails
    assert "customer-2@example.com" in emails
    (shop,) = result["report"]["datasets"]
    assert shop["dataset"] == dataset.fides_key
    assert shop["rows_deleted"] + shop["rows_updated"] > 0
    assert shop["subjects_held"] == 1
    assert result["report"]["holds"] == [{"hold": hold["id"], "subjects": 1, "fields": 2}]
    assert vault.read(rt.ctx, who, gone).status == "erased"


def test_a_category_hold_keeps_that_category_only(rt: Runtime) -> None:
    who = rt.operator()
    sid = register(rt, "cat@example.com", "cat")
    hold = holds.place(rt.ctx, who, reason="Tax audit", category="user.contact.email")
    result = sunset.run(rt.ctx, who, HttpWebhooks())
    assert vault.read(rt.ctx, who, sid).fields == {"user.contact.email": "cat@example.com"}
    assert result["report"]["holds"] == [{"hold": hold["id"], "subjects": 1, "fields": 1}]
    assert result["report"]["subjects"]["kept_by_holds"] == 1


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}
    env.update(
        {
            "TUTELA_ARGON2_MEMORY_KIB": "1024",
            "TUTELA_ARGON2_TIME_COST": "1",
            "TUTELA_DATA_DIR": str(data_dir),
        }
    )
    executable = Path(sys.executable).parent / "tutela"
    return subprocess.run(
        [str(executable), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_command_refuses_without_confirm_then_runs_and_verifies(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert cli(data_dir, "init", "--declarations", str(DESKTOP)).returncode == 0
    added = cli(data_dir, "subjects", "add", "--email", "cli@example.com", "--json")
    assert added.returncode == 0, added.stderr
    sid = json.loads(added.stdout)["id"]

    bare = cli(data_dir, "sunset")
    assert bare.returncode == 1
    assert "--confirm TENANT" in bare.stderr
    wrong = cli(data_dir, "sunset", "--confirm", "nobody")
    assert wrong.returncode == 1
    assert "names no tenant" in wrong.stderr
    shown = cli(data_dir, "subjects", "show", sid, "--json")
    assert json.loads(shown.stdout)["status"] == "active"  # nothing happened

    done = cli(data_dir, "sunset", "--confirm", "default", "--json")
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert output["report"]["subjects"]["erased"] == 1
    report_file = tmp_path / "sunset.json"
    report_file.write_text(done.stdout)
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(cli(data_dir, "receipts", "keys").stdout)
    verified = cli(
        data_dir, "receipts", "verify", str(report_file), "--jwks", str(jwks_file), "--json"
    )
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["receipt"] == output["report"]
    tampered = tmp_path / "tampered.json"
    token = output["receipt"].split(".")
    forged = json.loads(base64.urlsafe_b64decode(token[1] + "=" * (-len(token[1]) % 4)))
    forged["subjects"]["erased"] = 0
    token[1] = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    tampered.write_text(".".join(token))
    assert (
        cli(data_dir, "receipts", "verify", str(tampered), "--jwks", str(jwks_file)).returncode == 1
    )

    refused = cli(data_dir, "subjects", "add", "--email", "late@example.com")
    assert refused.returncode == 1
    assert "the service has stopped" in refused.stderr
    human = cli(data_dir, "sunset", "--confirm", "ALL")  # resumes: already done, same report
    assert human.returncode == 0, human.stderr
    assert "tenant default: the service has stopped" in human.stdout
    assert output["receipt"] in human.stdout


@pytest.mark.parametrize(
    ("lines", "where", "says"),
    [
        (["webhook: https://relay.example.com/x"], "recipients[0]", "webhook_secret is missing"),
        (["webhook_secret: env:RELAY_WEBHOOK_SECRET"], "recipients[0]", "webhook is missing"),
        (
            ["webhook: http://relay.example.com/x", "webhook_secret: env:RELAY_WEBHOOK_SECRET"],
            "recipients[0].webhook",
            "must not travel unencrypted",
        ),
        (["webhook: https://relay.example.com/x", "webhook_secret: s3cr3t"], "", "env:NAME"),
    ],
)
def test_a_recipient_webhook_is_checked(
    tmp_path: Path, lines: list[str], where: str, says: str
) -> None:
    from tutela.declarations import load_declarations
    from tutela.domain.errors import DeclarationInvalid

    file = declarations_with_recipients(tmp_path, "https://relay.example.com/sunset")
    text = file.read_text(encoding="utf-8")
    text = text.replace(
        "    webhook: https://relay.example.com/sunset\n"
        "    webhook_secret: env:RELAY_WEBHOOK_SECRET\n",
        "".join(f"    {line}\n" for line in lines),
    )
    file.write_text(text, encoding="utf-8")
    with pytest.raises(DeclarationInvalid) as problems:
        load_declarations(file)
    found = problems.value.details["problems"]
    assert any(says in p["message"] + p["fix"] for p in found), found
    assert not where or any(p["path"] == where for p in found), found
