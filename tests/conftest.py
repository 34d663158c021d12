"""Shared fixtures: a real initialised Tutela on SQLite, and on PostgreSQL when
``TUTELA_TEST_DATABASE_URL`` points at one (each test gets an emptied database)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.settings import Argon2Params, Settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DESKTOP = EXAMPLES / "desktop-vendor.yml"
PG_URL = os.environ.get("TUTELA_TEST_DATABASE_URL", "")

BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])
FAST_ARGON2 = Argon2Params(memory_kib=1024, time_cost=1, parallelism=1)


def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def make_settings(data_dir: Path, backend: str) -> Settings:
    settings = Settings.from_env(env={}, data_dir=data_dir)
    changes: dict[str, object] = {"argon2": FAST_ARGON2}
    if backend == "postgres":
        reset_postgres(PG_URL)
        changes["database_url"] = PG_URL
    return settings.with_overrides(**changes)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(tmp_path: Path, backend: str) -> Settings:
    return make_settings(tmp_path / "data", backend)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    result = initialize(settings, DESKTOP)
    rt = open_runtime(settings)
    rt.notes.append(result.admin_key or "")
    try:
        yield rt
    finally:
        rt.close()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpSink:
    """A real SMTP server on loopback that keeps what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                from email import message_from_bytes
                from email.policy import default

                sink.messages.append(message_from_bytes(envelope.content, policy=default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def mail_runtime(settings: Settings, smtp_sink: SmtpSink) -> Iterator[Runtime]:
    from tutela.settings import SmtpSettings

    configured = settings.with_overrides(
        smtp=SmtpSettings(host="127.0.0.1", port=smtp_sink.port, sender="privacy@example.com")
    )
    result = initialize(configured, DESKTOP)
    rt = open_runtime(configured)
    rt.notes.append(result.admin_key or "")
    try:
        yield rt
    finally:
        rt.close()
