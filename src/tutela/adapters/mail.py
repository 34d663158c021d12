"""Sending mail over SMTP (with STARTTLS and login when configured)."""

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
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self._username, self._password = username, password
        self._starttls, self._timeout = starttls, timeout

    def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self._timeout) as smtp:
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
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
