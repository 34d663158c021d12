"""Sending mail over SMTP: plain, STARTTLS or TLS from the start, with login when configured;
server certificates are always verified."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from tutela.services.ports import AbstractMailer, MailError


class SmtpMailer(AbstractMailer):
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        tls: bool = False,
        ca_file: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self._username, self._password = username, password
        self._starttls, self._tls, self._timeout = starttls, tls, timeout
        self._ca_file = ca_file

    def _context(self) -> ssl.SSLContext:
        """Certificates are always verified; ``ca_file`` adds a private CA to the system's."""
        context = ssl.create_default_context()
        if self._ca_file:
            context.load_verify_locations(cafile=self._ca_file)
        return context

    def _connect(self) -> smtplib.SMTP:
        if self._tls:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self._timeout, context=self._context()
            )
        return smtplib.SMTP(self.host, self.port, timeout=self._timeout)

    def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message.set_content(body)
        try:
            with self._connect() as smtp:
                if self._starttls:
                    smtp.starttls(context=self._context())
                if self._username:
                    smtp.login(self._username, self._password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused:
            raise MailError("the recipient address was refused", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            # the exception text may quote addresses: only its type is kept
            raise MailError(f"SMTP delivery failed ({type(exc).__name__})") from None


class NoMailer(AbstractMailer):
    """No SMTP server configured: messages stay queued in the outbox."""

    def send(self, to: str, subject: str, body: str) -> None:
        raise MailError("no SMTP server is configured (set TUTELA_SMTP_HOST)")
