"""GET /v1/notice: public, negotiated language, three formats, fallback said in a header."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tutela.bootstrap import Runtime, initialize, open_runtime
from tutela.entrypoints.api import create_app
from tutela.settings import Settings


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as test_client:
        yield test_client


def test_the_notice_is_public_and_negotiates_the_language(client: TestClient) -> None:
    response = client.get("/v1/notice", headers={"Accept-Language": "en-GB, de;q=0.5"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-language"] == "en"
    assert "x-tutela-language-fallback" not in response.headers
    assert "Accept-Language" in response.headers["vary"]
    assert '<html lang="en">' in response.text
    assert "Beispiel Software GmbH is responsible for your personal data" in response.text

    german = client.get("/v1/notice", headers={"Accept-Language": "de-AT,de;q=0.9"})
    assert german.headers["content-language"] == "de"
    assert "<h1>Datenschutzerklärung</h1>" in german.text


def test_a_language_not_available_falls_back_to_the_default_and_says_so(
    client: TestClient,
) -> None:
    response = client.get("/v1/notice", headers={"Accept-Language": "ru, fr;q=0.5"})
    assert response.status_code == 200
    assert response.headers["content-language"] == "de"  # the declared default
    assert response.headers["x-tutela-language-fallback"] == "ru, fr;q=0.5"
    by_query = client.get("/v1/notice?lang=zh&format=md")
    assert by_query.headers["content-language"] == "de"
    assert by_query.headers["x-tutela-language-fallback"] == "zh"
    assert by_query.text.startswith("# Datenschutzerklärung")
    asked_nothing = client.get("/v1/notice?format=md")
    assert asked_nothing.headers["content-language"] == "de"
    assert "x-tutela-language-fallback" not in asked_nothing.headers


def test_formats_by_query_or_accept(client: TestClient) -> None:
    markdown = client.get("/v1/notice", headers={"Accept": "text/markdown"})
    assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert markdown.text.startswith("# ")
    facts = client.get("/v1/notice?format=json&lang=en")
    assert facts.headers["content-type"] == "application/json"
    data = facts.json()
    assert data["format"] == "tutela-notice/1"
    assert data["language"] == "en"
    assert [c["name"] for c in data["cookies"]] == ["session", "auth_token", "visitor_id"]
    assert client.get("/v1/notice?format=pdf").status_code == 422


def test_no_notice_before_declarations_are_loaded(settings: Settings) -> None:
    initialize(settings)
    bare = open_runtime(settings)
    try:
        with TestClient(create_app(runtime=bare), raise_server_exceptions=False) as test_client:
            response = test_client.get("/v1/notice")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    finally:
        bare.close()
