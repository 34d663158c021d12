"""``tutela serve`` as a real process: start-up, OpenAPI docs, API keys, errors, shutdown."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "examples" / "desktop-vendor.yml"
KEY = re.compile(r"tut_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}")
START_TIMEOUT = 15.0
EMAIL = "ines.marwood@example.com"


def tutela_executable() -> str:
    beside = Path(sys.executable).parent / "tutela"
    found = str(beside) if beside.exists() else shutil.which("tutela")
    if found is None:
        pytest.skip("the tutela console script is not installed")
    return found


TUTELA = tutela_executable()


def base_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}
    env.update(
        {
            "TUTELA_DATA_DIR": str(data_dir),
            "TUTELA_ARGON2_MEMORY_KIB": "1024",
            "TUTELA_ARGON2_TIME_COST": "1",
        }
    )
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    admin_key: str
    process: subprocess.Popen[bytes]
    log: Path

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}"}


def wait_until_up(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"tutela serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    process.wait(timeout=5)
    pytest.fail(f"tutela serve did not answer within {START_TIMEOUT} s:\n{log.read_text()}")


def init(data_dir: Path) -> str:
    result = subprocess.run(
        [TUTELA, "init", "--declarations", str(DESKTOP)],
        env=base_env(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    match = KEY.search(result.stdout)
    assert match is not None, result.stdout
    return match.group(0)


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    data_dir = tmp_path_factory.mktemp("serve") / "data"
    return data_dir, init(data_dir)


@pytest.fixture(scope="module")
def server(
    initialised: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    data_dir, admin_key = initialised
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("serve-log") / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [TUTELA, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=base_env(data_dir),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(process, url, log)
        yield Server(url, admin_key, process, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
                pytest.fail(f"tutela serve ignored SIGTERM:\n{log.read_text()}")


def test_health(server: Server) -> None:
    response = httpx.get(f"{server.url}/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert "server" not in response.headers


def test_docs_and_openapi(server: Server) -> None:
    docs = httpx.get(f"{server.url}/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert "<html" in docs.text.lower()

    schema = httpx.get(f"{server.url}/openapi.json")
    assert schema.status_code == 200, schema.text
    assert "/v1/subjects" in schema.json()["paths"]


def test_register_and_look_up_a_subject(server: Server) -> None:
    created = httpx.post(
        f"{server.url}/v1/subjects",
        json={"email": EMAIL, "fields": {"user.account.username": "Ines Marwood"}},
        headers=server.headers(),
    )
    assert created.status_code == 201, created.text
    subject = created.json()
    assert subject["fields"]["user.contact.email"] == EMAIL

    found = httpx.post(
        f"{server.url}/v1/subjects/lookup",
        json={"email": EMAIL.upper()},
        headers=server.headers(),
    )
    assert found.status_code == 200, found.text
    assert found.json()["id"] == subject["id"]

    shown = httpx.get(f"{server.url}/v1/subjects/{subject['id']}", headers=server.headers())
    assert shown.status_code == 200, shown.text
    assert shown.json()["fields"]["user.account.username"] == "Ines Marwood"

    # identities travel in bodies, so they never reach the access log
    assert EMAIL.encode() not in server.log.read_bytes().lower()


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer tut_0123456789ab_notARealSecretAtAllXXXXXXXXXX"},
        {"Authorization": "Bearer not-even-a-key"},
        {},
    ],
    ids=["unknown-key", "malformed-key", "no-key"],
)
def test_invalid_key_gets_401_envelope(server: Server, headers: dict[str, str]) -> None:
    response = httpx.get(f"{server.url}/v1/subjects", headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == "unauthenticated"
    assert body["error"]["message"]
    assert "Traceback" not in response.text
    assert "File " not in response.text


def test_terminate_stops_the_server(
    initialised: tuple[Path, str], tmp_path: Path, server: Server
) -> None:
    """A second server on the same data directory starts, answers, and exits on SIGTERM."""
    data_dir, admin_key = initialised
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "second.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [TUTELA, "serve", "--port", str(port)],
            env=base_env(data_dir),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(process, url, log)
        # both processes serve the same data
        listed = httpx.get(f"{url}/v1/subjects", headers=server.headers(admin_key))
        assert listed.status_code == 200, listed.text
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
            pytest.fail(f"tutela serve did not exit on SIGTERM:\n{log.read_text()}")
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert code in (0, -signal.SIGTERM), log.read_text()
    assert "shutdown complete" in log.read_text().lower()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/v1/health", timeout=1.0)


def test_world_readable_keyring_stops_serve(initialised: tuple[Path, str], tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(initialised[0], data_dir)
    (data_dir / "keyring.json").chmod(0o644)
    started = time.monotonic()
    result = subprocess.run(
        [TUTELA, "serve", "--port", str(free_port())],
        env=base_env(data_dir),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "chmod 600" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 10
