"""Settings: every knob Tutela reads from the environment, documented in docs/settings.md.

Command-line options override the environment; the environment overrides defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from tutela.domain.errors import ConfigurationError
from tutela.domain.incidents import ClockSettings

#: name -> (default shown in docs, one-line description); the docs test reads this table.
SETTINGS: dict[str, tuple[str, str]] = {
    "TUTELA_DATA_DIR": ("./tutela-data", "Data directory: SQLite database, key store, key ring."),
    "TUTELA_DATABASE_URL": (
        "sqlite:///<data dir>/tutela.db",
        "SQLAlchemy URL of the main database (sqlite:/// or postgresql+psycopg://).",
    ),
    "TUTELA_KEYSTORE_URL": (
        "sqlite:///<data dir>/keys.db",
        "SQLAlchemy URL of the key store holding wrapped subject data keys; keep it apart "
        "from the main database and back it up on its own schedule.",
    ),
    "TUTELA_KEYRING": (
        "<data dir>/keyring.json",
        "Path of the key ring file (mode 0600), or the key ring JSON itself (read-only).",
    ),
    "TUTELA_ARGON2_MEMORY_KIB": ("19456", "argon2id memory cost in KiB for hashed fields."),
    "TUTELA_ARGON2_TIME_COST": ("2", "argon2id iterations for hashed fields."),
    "TUTELA_ARGON2_PARALLELISM": ("1", "argon2id lanes for hashed fields."),
    "TUTELA_HOST": ("127.0.0.1", "Address `tutela serve` listens on."),
    "TUTELA_PORT": ("8000", "Port `tutela serve` listens on."),
    "TUTELA_LOG_LEVEL": ("info", "Log level of the service (debug, info, warning, error)."),
    "TUTELA_INCIDENT_GDPR_SUBJECT_HOURS": (
        "72",
        "Target in hours for telling subjects of a high-risk breach under GDPR art. 34 "
        "(the law says without undue delay).",
    ),
    "TUTELA_INCIDENT_PIPL_HOURS": (
        "4",
        "Hours within which a breach is reported under PIPL art. 57 (the law says immediately).",
    ),
    "TUTELA_INCIDENT_CCPA_DAYS": (
        "30",
        "Calendar days to tell California residents of a breach (Civil Code 1798.82(a)).",
    ),
    "TUTELA_INCIDENT_CCPA_AG_DAYS": (
        "15",
        "Days after telling more than 500 residents to send the Attorney General a sample "
        "copy (Civil Code 1798.82(f)).",
    ),
    "TUTELA_INCIDENT_LGPD_BUSINESS_DAYS": (
        "3",
        "Business days to tell the ANPD and the subjects under LGPD art. 48 "
        "(Resolution CD/ANPD 15/2024; small processing agents: 6).",
    ),
    "TUTELA_SMTP_HOST": (
        "(none)",
        "SMTP server for mail (one-time codes, notices); unset: mail stays queued.",
    ),
    "TUTELA_SMTP_PORT": ("25", "SMTP port."),
    "TUTELA_SMTP_USER": ("(none)", "SMTP login name, if the server needs one."),
    "TUTELA_SMTP_PASSWORD": ("(none)", "SMTP password (never logged)."),
    "TUTELA_SMTP_STARTTLS": ("false", "Use STARTTLS before logging in (true/false)."),
    "TUTELA_SMTP_TLS": ("false", "Connect with TLS from the start, e.g. port 465 (true/false)."),
    "TUTELA_SMTP_CA_FILE": ("(none)", "Extra CA certificates (PEM) to trust for the SMTP server."),
    "TUTELA_MAIL_FROM": ("the declarations' contact", "Sender address of Tutela's mail."),
    "TUTELA_PUBLIC_URL": (
        "http://127.0.0.1:8000",
        "Base URL of Tutela as subjects reach it (links).",
    ),
    "TUTELA_PIPL_RESPONSE_DAYS": (
        "30",
        "Days to answer a request under PIPL (GB/T 35273-2020 8.7).",
    ),
    "TUTELA_PACKAGE_DAYS": ("7", "Days an access package stays downloadable before deletion."),
    "TUTELA_POLICY_NOTICE_DAYS": (
        "30",
        "Days a material policy change is announced to subjects before it takes effect.",
    ),
    "TUTELA_ERASURE_COOLING_OFF_HOURS": (
        "24",
        "Hours an erasure or account closure asked for in the privacy center waits, "
        "cancellable, before it is carried out (0: at once).",
    ),
    "TUTELA_WITHDRAWAL_FOLLOW_UP": (
        "none",
        "What a consent withdrawal queues for the request engine: none, or erase_exclusive "
        "(erase data held only for the withdrawn purpose).",
    ),
}

DEFAULT_DATA_DIR = "./tutela-data"


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(
            f"{name}={raw!r} is not a whole number; set it to an integer such as {default}",
            details={"setting": name},
        ) from None
    if value < minimum:
        raise ConfigurationError(
            f"{name}={value} is below the minimum {minimum}; raise it to at least {minimum}",
            details={"setting": name},
        )
    return value


def _own_store(env: Mapping[str, str], name: str, default: str) -> str:
    """The URL of one of Tutela's own databases: SQLite or PostgreSQL only."""
    url = env.get(name) or default
    scheme = url.split(":", 1)[0].split("+", 1)[0].strip().lower()
    if scheme not in ("sqlite", "postgresql"):
        what = scheme or "a URL without a scheme"
        raise ConfigurationError(
            f"{name}: Tutela keeps its own data on SQLite or PostgreSQL, not {what}; "
            "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB (MySQL and MariaDB serve "
            "as an application's databases, under datasets)",
            details={"setting": name},
        )
    return url


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = (env.get(name) or choices[0]).strip().lower()
    if raw not in choices:
        raise ConfigurationError(
            f"{name}={raw!r} is not one of {', '.join(choices)}", details={"setting": name}
        )
    return raw


@dataclass(frozen=True)
class Argon2Params:
    memory_kib: int = 19456
    time_cost: int = 2
    parallelism: int = 1


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None = None
    port: int = 25
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    sender: str | None = None
    tls: bool = False  # implicit TLS (SMTPS)
    ca_file: str | None = None


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    keystore_url: str
    keyring: str
    argon2: Argon2Params = field(default_factory=Argon2Params)
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    incident_clocks: ClockSettings = field(default_factory=ClockSettings)
    withdrawal_follow_up: str = "none"
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    public_url: str = "http://127.0.0.1:8000"
    pipl_response_days: int = 30
    package_days: int = 7
    policy_notice_days: int = 30
    erasure_cooling_off_hours: int = 24

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, data_dir: str | Path | None = None
    ) -> Settings:
        env = os.environ if env is None else env
        root = Path(data_dir or env.get("TUTELA_DATA_DIR") or DEFAULT_DATA_DIR).expanduser()
        return cls(
            data_dir=root,
            database_url=_own_store(env, "TUTELA_DATABASE_URL", f"sqlite:///{root / 'tutela.db'}"),
            keystore_url=_own_store(env, "TUTELA_KEYSTORE_URL", f"sqlite:///{root / 'keys.db'}"),
            keyring=env.get("TUTELA_KEYRING") or str(root / "keyring.json"),
            argon2=Argon2Params(
                memory_kib=_int(env, "TUTELA_ARGON2_MEMORY_KIB", 19456, 8),
                time_cost=_int(env, "TUTELA_ARGON2_TIME_COST", 2, 1),
                parallelism=_int(env, "TUTELA_ARGON2_PARALLELISM", 1, 1),
            ),
            host=env.get("TUTELA_HOST") or "127.0.0.1",
            port=_int(env, "TUTELA_PORT", 8000, 1),
            log_level=(env.get("TUTELA_LOG_LEVEL") or "info").lower(),
            incident_clocks=ClockSettings(
                pipl_hours=_int(env, "TUTELA_INCIDENT_PIPL_HOURS", 4, 1),
                gdpr_subject_hours=_int(env, "TUTELA_INCIDENT_GDPR_SUBJECT_HOURS", 72, 1),
                ccpa_days=_int(env, "TUTELA_INCIDENT_CCPA_DAYS", 30, 1),
                ccpa_attorney_general_days=_int(env, "TUTELA_INCIDENT_CCPA_AG_DAYS", 15, 1),
                lgpd_business_days=_int(env, "TUTELA_INCIDENT_LGPD_BUSINESS_DAYS", 3, 1),
            ),
            withdrawal_follow_up=_choice(
                env, "TUTELA_WITHDRAWAL_FOLLOW_UP", ("none", "erase_exclusive")
            ),
            smtp=SmtpSettings(
                host=env.get("TUTELA_SMTP_HOST") or None,
                port=_int(env, "TUTELA_SMTP_PORT", 25, 1),
                username=env.get("TUTELA_SMTP_USER") or None,
                password=env.get("TUTELA_SMTP_PASSWORD") or None,
                starttls=_choice(env, "TUTELA_SMTP_STARTTLS", ("false", "true")) == "true",
                sender=env.get("TUTELA_MAIL_FROM") or None,
                tls=_choice(env, "TUTELA_SMTP_TLS", ("false", "true")) == "true",
                ca_file=env.get("TUTELA_SMTP_CA_FILE") or None,
            ),
            public_url=(env.get("TUTELA_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/"),
            pipl_response_days=_int(env, "TUTELA_PIPL_RESPONSE_DAYS", 30, 1),
            package_days=_int(env, "TUTELA_PACKAGE_DAYS", 7, 1),
            policy_notice_days=_int(env, "TUTELA_POLICY_NOTICE_DAYS", 30, 0),
            erasure_cooling_off_hours=_int(env, "TUTELA_ERASURE_COOLING_OFF_HOURS", 24, 0),
        )

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]
