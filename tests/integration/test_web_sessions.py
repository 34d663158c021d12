"""Web sessions: sign-in by one-time code, hashed tokens, attempts, rate limits, CSRF."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from tutela.adapters.tables import web_sessions
from tutela.bootstrap import Runtime
from tutela.domain.access import operator
from tutela.domain.errors import Forbidden, InvalidInput
from tutela.services import sessions, vault
from tutela.services.ports import AbstractUnitOfWork

TENANT = "default"


def _account_of(uow: AbstractUnitOfWork, digest: bytes) -> str | None:
    return uow.subjects.find(TENANT, "email", digest)


class Outbox:
    def __init__(self) -> None:
        self.codes: list[str | None] = []

    def compose(self, code: str | None) -> tuple[str, str]:
        self.codes.append(code)
        return ("Your code", f"code {code}") if code else ("No account", "none")


def _start(rt: Runtime, outbox: Outbox, email: str, client: str = "192.0.2.1") -> str:
    return sessions.start_sign_in(
        rt.ctx,
        sessions.PRIVACY,
        TENANT,
        email,
        account_of=_account_of,
        compose=outbox.compose,
        client=client,
    )


@pytest.fixture
def subject_id(runtime: Runtime) -> str:
    who = operator(TENANT, "test")
    return vault.register(runtime.ctx, who, {"user.contact.email": "ada@example.com"}).id


def test_a_code_opens_a_session_whose_token_is_stored_only_as_a_hash(
    runtime: Runtime, subject_id: str
) -> None:
    outbox = Outbox()
    pending = _start(runtime, outbox, "Ada@Example.com ")
    code = outbox.codes[-1]
    assert code is not None
    assert len(code) == 6
    assert code.isdigit()
    spaced = f"{code[:3]} {code[3:]}"  # pasted with a space
    token, session = sessions.verify_sign_in(runtime.ctx, sessions.PRIVACY, TENANT, pending, spaced)
    assert token != pending
    assert session.account == subject_id
    assert sessions.load(runtime.ctx, sessions.PRIVACY, TENANT, token) is not None
    assert sessions.load(runtime.ctx, sessions.PRIVACY, TENANT, pending) is None
    with runtime.engine.connect() as conn:
        stored = [bytes(r[0]) for r in conn.execute(select(web_sessions.c.token_hash))]
    assert stored == [hashlib.sha256(token.encode()).digest()]
    sessions.end(runtime.ctx, sessions.PRIVACY, token)
    assert sessions.load(runtime.ctx, sessions.PRIVACY, TENANT, token) is None


def test_five_wrong_codes_void_the_sign_in(runtime: Runtime, subject_id: str) -> None:
    outbox = Outbox()
    pending = _start(runtime, outbox, "ada@example.com")
    right = outbox.codes[-1]
    wrong = "000000" if right != "000000" else "111111"
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(InvalidInput) as caught:
            sessions.verify_sign_in(runtime.ctx, sessions.PRIVACY, TENANT, pending, wrong)
        assert caught.value.details["tries_left"] == left
    with pytest.raises(InvalidInput) as caught:
        sessions.verify_sign_in(runtime.ctx, sessions.PRIVACY, TENANT, pending, str(right))
    assert caught.value.details["reason"] == "no_pending"


def test_an_unknown_address_gets_the_same_answer_and_no_code(
    runtime: Runtime, subject_id: str
) -> None:
    outbox = Outbox()
    pending = _start(runtime, outbox, "nobody@example.com")
    assert outbox.codes == [None]
    for code in ("123456", "654321"):
        with pytest.raises(InvalidInput) as caught:
            sessions.verify_sign_in(runtime.ctx, sessions.PRIVACY, TENANT, pending, code)
        assert caught.value.details["reason"] == "wrong_code"


def test_codes_are_rate_limited_per_address_and_per_client(
    runtime: Runtime, subject_id: str
) -> None:
    outbox = Outbox()
    for _ in range(3):
        _start(runtime, outbox, "ada@example.com", client="192.0.2.7")
    with pytest.raises(Forbidden) as caught:
        _start(runtime, outbox, "ada@example.com", client="192.0.2.8")
    assert caught.value.details["reason"] == "rate_limited"
    # unknown addresses are limited alike: the limit tells nothing about accounts
    for _ in range(3):
        _start(runtime, outbox, "nobody@example.com", client="192.0.2.9")
    with pytest.raises(Forbidden):
        _start(runtime, outbox, "nobody@example.com", client="192.0.2.10")
    for n in range(4):  # the client already asked for 3 codes; 10 an hour at most
        _start(runtime, outbox, f"other{n}@example.com", client="192.0.2.7")
    for n in range(3):
        _start(runtime, outbox, f"more{n}@example.com", client="192.0.2.7")
    with pytest.raises(Forbidden):
        _start(runtime, outbox, "last@example.com", client="192.0.2.7")


def test_csrf_tokens_belong_to_one_session(runtime: Runtime) -> None:
    first, second = sessions.new_token(), sessions.new_token()
    token = sessions.csrf_token(runtime.ctx, first)
    assert sessions.csrf_valid(runtime.ctx, first, token)
    assert not sessions.csrf_valid(runtime.ctx, second, token)
    assert not sessions.csrf_valid(runtime.ctx, first, "")
    assert not sessions.csrf_valid(runtime.ctx, None, token)
