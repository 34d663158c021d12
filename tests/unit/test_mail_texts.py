"""Messages to data subjects read naturally in each of Tutela's languages."""

from __future__ import annotations

import datetime as dt

import pytest

from tutela import i18n
from tutela.domain.requests import TYPES
from tutela.services import mail_texts

OTHERS = [language for language in i18n.LANGUAGES if language != "en"]


def test_english_is_the_source_text() -> None:
    subject, body = mail_texts.code("en", "erasure", "042917", "Example Software GmbH", 10)
    assert subject == "Your verification code for your erasure request"
    assert body.startswith("Your code is 042917\n\n")
    assert "to Example Software GmbH. It is valid for 10 minutes." in body


@pytest.mark.parametrize("language", OTHERS)
def test_every_message_is_translated_with_its_values_filled_in(language: str) -> None:
    due = dt.date(2027, 3, 4)
    messages = [
        mail_texts.code(language, "access", "042917", "Example Software GmbH", 10),
        mail_texts.rejected(language, "erasure", "the identity could not be confirmed"),
        mail_texts.extended(language, "portability", due, "many stores to search"),
        mail_texts.completed(language, "access", "https://privacy.example.com/p/abc"),
        mail_texts.closing(language, "Example Software GmbH", "Acme", "privacy@example.com"),
        mail_texts.closing(language, "Example Software GmbH", None, None),
    ]
    english = [
        mail_texts.code("en", "access", "042917", "Example Software GmbH", 10),
        mail_texts.rejected("en", "erasure", "the identity could not be confirmed"),
        mail_texts.extended("en", "portability", due, "many stores to search"),
        mail_texts.completed("en", "access", "https://privacy.example.com/p/abc"),
        mail_texts.closing("en", "Example Software GmbH", "Acme", "privacy@example.com"),
        mail_texts.closing("en", "Example Software GmbH", None, None),
    ]
    for (subject, body), (en_subject, en_body) in zip(messages, english, strict=True):
        assert subject != en_subject
        assert body != en_body
        assert "{" not in subject + body
    assert "042917" in messages[0][1]
    assert "Example Software GmbH" in messages[0][1]
    assert "the identity could not be confirmed" in messages[1][1]
    assert "2027" in messages[2][1]
    assert "2027-03-04" not in messages[2][1]
    assert "https://privacy.example.com/p/abc" in messages[3][1]
    assert "Acme" in messages[4][0]
    assert "privacy@example.com" in messages[4][1]


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_request_type_has_a_name(language: str) -> None:
    for kind in TYPES:
        subject, _ = mail_texts.completed(language, kind, None)
        assert kind.replace("_", " ") not in subject or language == "en" or kind == "objection"


def test_dates_are_written_the_local_way() -> None:
    due = dt.date(2027, 3, 4)
    assert "4. März 2027" in mail_texts.extended("de", "access", due, "x")[1]
    assert "4 марта 2027" in mail_texts.extended("ru", "access", due, "x")[1]
    assert "2027年3月4日" in mail_texts.extended("zh", "access", due, "x")[1]
