"""Deployment configuration: every key with its default, in one class.

Values are overridden, in order, by ``instance/helpdesk.cfg``, by ``HELPDESK_*`` environment variables
(``HELPDESK_SECRET_KEY=...``), by ``DATABASE_URL`` and by the overrides a caller (a test) passes to
``create_app``. Nothing here is read at import time; ``resolve_paths`` fills what depends on the environment.
"""
from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any


class Config:
    """Defaults for every configuration key the application reads."""

    SECRET_KEY: str | None = None
    DATA_DIR: str | None = None  # HELPDESK_DATA_DIR; default: the instance folder
    SQLALCHEMY_DATABASE_URI: str | None = None  # DATABASE_URL; default: SQLite file in DATA_DIR
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {}
    BABEL_DEFAULT_LOCALE = "id"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    LANGUAGES = ("id", "en")
    BOOTSTRAP_SERVE_LOCAL = True
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session: an officer may keep a form open all day
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Secure (HTTPS-only) session cookies: None means "when PUBLIC_BASE_URL is https". An officer idle this long is
    # signed out (minutes; 0: never).
    SESSION_COOKIE_SECURE: bool | None = None
    SESSION_IDLE_MINUTES = 240
    QUEUE_PAGE_SIZE = 50
    LOGIN_MAX_FAILURES = 5
    LOGIN_LOCKOUT_MINUTES = 15
    DEFAULT_OFFICE_NAME = "LPSE"
    DEFAULT_OFFICE_PREFIX = "LPSE"
    DEFAULT_OFFICE_TIMEZONE = "Asia/Jakarta"
    PASSWORD_HASH_METHOD = "scrypt"  # werkzeug's default; tests use a cheap pbkdf2 to stay fast

    # Email intake (IMAP). One mailbox from these keys; more through MAILBOXES in instance/helpdesk.cfg, a list
    # of dicts with the same keys in lower case without the IMAP_ prefix (name, host, port, user, password,
    # security, folder, office) .
    IMAP_HOST: str | None = None  # no host: no mailbox is polled
    IMAP_PORT: int | None = None  # default: 993 for ssl, 143 otherwise
    IMAP_USER: str | None = None
    IMAP_PASSWORD: str | None = None
    IMAP_SECURITY = "ssl"  # ssl, starttls or plain (plain only on loopback or a trusted network)
    IMAP_FOLDER = "INBOX"
    IMAP_OFFICE: str | None = None  # office code the mailbox belongs to; default: the first office
    MAILBOXES: list[dict[str, Any]] | None = None
    MAIL_PROCESSED_FOLDER = "Helpdesk/Diproses"
    MAIL_PENDING_FOLDER = "Helpdesk/Pending"
    MAIL_POLL_SECONDS = 60  # polling interval when the server has no IDLE, and the longest IDLE wait
    MAIL_BATCH_SIZE = 50  # messages fetched per IMAP round trip; memory is bounded by this times the size limit
    MAIL_MAX_BYTES = 25 * 1024 * 1024  # larger messages become a ticket with their text and a note
    MAIL_STALE_MINUTES = 15  # the queue warns when a mailbox has not been read for this long
    MAIL_TIMEOUT_SECONDS = 60  # network timeout for IMAP and SMTP

    # Outbound email (SMTP). No host: messages stay in the outbox, readable on the admin outbox page.
    SMTP_HOST: str | None = None
    SMTP_PORT: int | None = None  # default: 465 for ssl, 587 for starttls, 25 for plain
    SMTP_USER: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_SECURITY = "starttls"  # ssl, starttls or plain
    MAIL_FROM: str | None = None  # From of our mail; default: the office's email address
    MAIL_DOMAIN: str | None = None  # right-hand side of our Message-IDs; default: MAIL_FROM's domain
    MAIL_OWN_ADDRESSES: tuple[str, ...] = ()  # more addresses of ours (aliases) we never auto-reply to
    MAIL_LOOP_HEADER = "X-LPSE-Helpdesk-Loop"
    OUTBOX_MAX_ATTEMPTS = 8  # then the message is failed and its ticket flagged
    OUTBOX_RETRY_SECONDS = 60  # first retry delay; doubles each attempt, at most 6 hours

    # Background jobs (helpdesk/scheduler.py). Intervals in seconds by job name, over the defaults: a dict in
    # instance/helpdesk.cfg, or HELPDESK_JOB_INTERVALS="sla-sweep=300,outbox-email=10".
    JOB_INTERVALS: dict[str, float] | str | None = None
    # A diagnostic: when set, the "probe" job appends "holder start end" to this file on each run, to check that
    # several workers on one database never run a job at the same time.
    JOB_PROBE_FILE: str | None = None

    # Monitoring (helpdesk/health.py). /healthz fails when a due outbox message has waited longer than this, and
    # when the jobs have stopped, unless HEALTH_REQUIRE_SCHEDULER is off (a deployment that runs no jobs on purpose).
    # With METRICS_TOKEN set, /metrics asks for "Authorization: Bearer <token>".
    HEALTH_OUTBOX_MAX_MINUTES = 30
    HEALTH_REQUIRE_SCHEDULER = True
    METRICS_TOKEN: str | None = None

    # The address people reach this service at (https://helpdesk.lpse.example.go.id), for links in SMS, receipts
    # and emails, and for checking Twilio's signatures behind a reverse proxy. Default: the request's own URL.
    PUBLIC_BASE_URL: str | None = None
    # How long the "Sudah terjawab" / "Belum" links of an automatic FAQ answer work (faq/autoanswer.py).
    FAQ_LINK_MAX_AGE_DAYS = 30
    # Reverse proxies in front of the service that set X-Forwarded-For/-Proto/-Host (0: none). With a proxy, rate
    # limits must count the client's address, not the proxy's; set this to the number of proxies you run.
    TRUSTED_PROXIES = 0

    # Twilio (voice, SMS, WhatsApp). No account: the webhooks refuse every request and SMS waits in the outbox.
    TWILIO_ACCOUNT_SID: str | None = None
    TWILIO_AUTH_TOKEN: str | None = None
    TWILIO_PHONE_NUMBER: str | None = None  # E.164 number calls and SMS come to and SMS go from
    TWILIO_WHATSAPP_NUMBER: str | None = None  # E.164 WhatsApp sender, without the "whatsapp:" prefix
    TWILIO_API_BASE_URL: str | None = None  # default: Twilio's own; tests point it at a local recording server

    # The optional LKPP integration gateway (setting lkpp.gateway_url): request timeout, and a bearer token
    # (HELPDESK_LKPP_GATEWAY_TOKEN) when the gateway asks for one.
    LKPP_GATEWAY_TIMEOUT = 10
    LKPP_GATEWAY_TOKEN: str | None = None

    # Walk-in kiosk uploads: screenshots and documents.
    KIOSK_MAX_FILES = 5
    KIOSK_MAX_FILE_BYTES = 10 * 1024 * 1024
    MAX_CONTENT_LENGTH = 64 * 1024 * 1024  # a larger request is refused before it is read

    # Rate limits of the public pages (Flask-Limiter). memory:// is per process; use redis://... with several
    # web processes.
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    KIOSK_RATE_LIMIT = "20 per 10 minutes"  # submissions per client
    STATUS_RATE_LIMIT = "10 per 10 minutes"  # status look-ups per client
    # Sign-in attempts per client address, whatever the account: against guessing passwords across accounts
    # (each account also locks after LOGIN_MAX_FAILURES).
    LOGIN_RATE_LIMIT = "20 per minute; 200 per hour"

    # Scheduled backups (helpdesk/backup.py, the ``backup`` job): an archive in BACKUP_DIR every
    # BACKUP_INTERVAL_SECONDS, keeping this instance's newest BACKUP_KEEP. No directory: the job is off.
    BACKUP_DIR: str | None = None
    BACKUP_KEEP = 14
    BACKUP_INTERVAL_SECONDS = 24 * 60 * 60


def resolve_paths(config: MutableMapping[str, Any], instance_path: str) -> None:
    """Fill the data directory, database URL and secret key from the environment and defaults."""
    data_dir = Path(config.get("DATA_DIR") or os.environ.get("HELPDESK_DATA_DIR") or instance_path)
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    config["DATA_DIR"] = str(data_dir)
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        default_url = f"sqlite:///{data_dir / 'helpdesk.sqlite3'}"
        config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL") or default_url
    config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(config["SQLALCHEMY_DATABASE_URI"])
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret(data_dir)
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # A pooled connection from before a database restart is tested before use instead of failing a request.
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, **(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})}


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs (SQLAlchemy's default driver is psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _instance_secret(data_dir: Path) -> str:
    """A secret key generated once per data directory, so sessions survive restarts without configuration.

    Created owner-only and exclusively: processes starting together on a new data directory agree on one key.
    """
    path = data_dir / "secret_key"
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process may be writing it this instant
            existing = path.read_text().strip()
            if existing:
                return existing
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty: remove it and start again") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


# Settings that are text whatever they look like: the environment's raw value, not its JSON reading (an
# all-digit password or secret key would otherwise arrive as a number).
TEXT_SETTING = re.compile(r"(SECRET_KEY|PASSWORD|TOKEN|_USER|_USERNAME|_SID)$")


def read_text_settings(config: MutableMapping[str, Any], environ: Mapping[str, str] = os.environ) -> None:
    """Undo ``from_prefixed_env``'s JSON reading for text settings, and accept comma-separated address lists."""
    for name, raw in environ.items():
        key = name.removeprefix("HELPDESK_")
        if name.startswith("HELPDESK_") and TEXT_SETTING.search(key):
            config[key] = raw
    own = config.get("MAIL_OWN_ADDRESSES")
    if isinstance(own, str):
        config["MAIL_OWN_ADDRESSES"] = [part.strip() for part in own.split(",") if part.strip()]
