"""Mail over TLS to a real SMTP server on loopback, with a certificate from a private CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import free_port
from tutela.adapters.mail import SmtpMailer
from tutela.services.ports import MailError


def certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tutela test mail server")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class TlsSink:
    def __init__(self, cert_file: Path, key_file: Path) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                sink.messages.append(message_from_bytes(envelope.content, policy=default))
                return "250 OK"

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        self.port = free_port()
        self.controller = Controller(
            Handler(), hostname="127.0.0.1", port=self.port, ssl_context=context
        )


@pytest.fixture
def tls_sink(tmp_path: Path) -> Iterator[tuple[TlsSink, Path]]:
    cert_file, key_file = certificate(tmp_path)
    sink = TlsSink(cert_file, key_file)
    sink.controller.start()
    try:
        yield sink, cert_file
    finally:
        sink.controller.stop()


def test_mail_goes_over_tls_to_a_server_signed_by_the_configured_ca(
    tls_sink: tuple[TlsSink, Path],
) -> None:
    sink, ca_file = tls_sink
    mailer = SmtpMailer(
        "127.0.0.1", sink.port, "privacy@example.com", tls=True, ca_file=str(ca_file)
    )
    mailer.send("ada@example.com", "Unsere Datenschutzerklärung ändert sich", "Hallo Ada")
    assert len(sink.messages) == 1
    assert sink.messages[0]["Subject"] == "Unsere Datenschutzerklärung ändert sich"


def test_a_server_certificate_nobody_vouches_for_is_refused(
    tls_sink: tuple[TlsSink, Path],
) -> None:
    sink, _ca_file = tls_sink
    mailer = SmtpMailer("127.0.0.1", sink.port, "privacy@example.com", tls=True, timeout=5)
    with pytest.raises(MailError, match="SMTP delivery failed") as failed:
        mailer.send("ada@example.com", "Hello", "Hello")
    assert not failed.value.permanent  # retried later: the server may fix its certificate
    assert "ada@example.com" not in str(failed.value)
    assert sink.messages == []
