"""Log lines never carry secrets or whole identity numbers (UU 27/2022; issue 8).

Every log record made in the process is cleaned when it is created, by a LogRecord factory (``install``): its
message (formatted with its arguments), its traceback text and its stack text get

- every configured secret replaced by ``[redacted]``: the app's SECRET_KEY (and fallbacks), the password of the
  database URL and of any other URL in the configuration, IMAP passwords (IMAP_PASSWORD and each of MAILBOXES),
  SMTP_PASSWORD, TWILIO_AUTH_TOKEN, METRICS_TOKEN, LKPP_GATEWAY_TOKEN — every configuration key whose name holds
  PASSWORD, TOKEN or SECRET — and the same from the ``HELPDESK_*``/``DATABASE_URL``/``PGPASSWORD`` environment;
- the password of any ``scheme://user:password@host`` URL replaced, configured or not;
- every NIK/NPWP-shaped number masked to its last four digits (helpdesk.privacy.mask_identity_numbers).

A factory rather than a filter: a filter on a logger does not see what its child loggers pass to their handlers,
and a filter on handlers misses handlers added later (waitress's basicConfig, a test's capture). Records built
without the factory (``logging.makeLogRecord`` from a socket) can be cleaned by ``RedactingFilter`` on a handler.
Values are read from the configuration of every live app when a record is made, so a secret set after
create_app (a test, an admin's instance file reloaded) is covered; values shorter than MIN_SECRET_LENGTH are not
redacted (they would blank ordinary words).
"""
from __future__ import annotations

import logging
import os
import re
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import unquote

from .privacy import mask_identity_numbers

REDACTED: Final = "[redacted]"
MIN_SECRET_LENGTH: Final = 6
SECRET_KEY_NAME: Final = re.compile(r"PASSWORD|TOKEN|SECRET", re.IGNORECASE)
URL_KEY_NAME: Final = re.compile(r"(_URI|_URL|_URLS|_BINDS)$")
ENVIRONMENT_NAMES: Final = ("DATABASE_URL", "PGPASSWORD")
# user:password@ in a URL (the user may be empty: redis://:password@host).
URL_PASSWORD: Final = re.compile(r"(?P<head>\b[a-z][a-z0-9+.\-]*://[^/\s:@]*:)(?P<password>[^@\s/]+)(?=@)",
                                 re.IGNORECASE)

_apps: weakref.WeakSet = weakref.WeakSet()
_lock = threading.Lock()
_installed = False
_cache: dict[int, tuple[tuple, tuple[str, ...]]] = {}
_names: dict[int, tuple[int, list[str]]] = {}


def install(app: Any) -> None:
    """Clean every log record made from now on with ``app``'s secrets (and those of other live apps)."""
    global _installed
    with _lock:
        _apps.add(app)
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            clean_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


class RedactingFilter(logging.Filter):
    """The same cleaning as a handler filter, for records made without the factory (``dictConfig`` can name it:
    ``{"()": "helpdesk.logsafe.RedactingFilter"}``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        clean_record(record)
        return True


def clean_record(record: logging.LogRecord) -> None:
    """Clean the record's message, traceback and stack text in place (once: a record whose message was replaced
    since, as ``makeLogRecord`` does, is cleaned again)."""
    if getattr(record, "_logsafe", None) is record.msg and record.msg is not None:
        return
    secrets = current_secrets()
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string: the handler reports it as it always does
        message = None
    if message is not None:
        cleaned = sanitize(message, secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        cleaned = sanitize(text, secrets)
        if cleaned != text:
            record.exc_text = cleaned
    elif record.exc_text:
        record.exc_text = sanitize(record.exc_text, secrets)
    if record.stack_info:
        record.stack_info = sanitize(record.stack_info, secrets)
    record._logsafe = record.msg


def sanitize(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` without secrets, URL passwords or whole NIK/NPWP numbers."""
    for secret in current_secrets() if secrets is None else secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)
    return mask_identity_numbers(text)


def current_secrets() -> tuple[str, ...]:
    """The secrets of every live app and of the environment, longest first."""
    with _lock:
        apps = list(_apps)
    found: set[str] = set(_environment_secrets())
    for app in apps:
        found.update(_app_secrets(app))
    return tuple(sorted(found, key=len, reverse=True))


def _app_secrets(app: Any) -> tuple[str, ...]:
    """The secret values in ``app.config``, cached until one of the watched values changes."""
    config = app.config
    known = _names.get(id(app))
    if known is None or known[0] != len(config):
        if known is None:
            weakref.finalize(app, _forget, id(app))
        known = (len(config), [name for name in config if SECRET_KEY_NAME.search(name) or URL_KEY_NAME.search(name)])
        _names[id(app)] = known
    names = known[1]
    watched = tuple((name, repr(config.get(name))) for name in names) + (("MAILBOXES", repr(config.get("MAILBOXES"))),)
    cached = _cache.get(id(app))
    if cached is not None and cached[0] == watched:
        return cached[1]
    values: set[str] = set()
    for name in names:
        value = config.get(name)
        if SECRET_KEY_NAME.search(name):
            values.update(_strings(value))
        for text in _strings(value):
            values.update(_url_passwords(text))
    for mailbox in config.get("MAILBOXES") or ():
        if isinstance(mailbox, Mapping):
            for key, value in mailbox.items():
                if SECRET_KEY_NAME.search(str(key)):
                    values.update(_strings(value))
    secrets = tuple(value for value in values if len(value) >= MIN_SECRET_LENGTH)
    _cache[id(app)] = (watched, secrets)
    return secrets


def _forget(app_id: int) -> None:
    _cache.pop(app_id, None)
    _names.pop(app_id, None)


def _environment_secrets() -> set[str]:
    values: set[str] = set()
    for name, value in os.environ.items():
        if name in ENVIRONMENT_NAMES or (name.startswith("HELPDESK_") and SECRET_KEY_NAME.search(name)):
            if name != "DATABASE_URL":
                values.add(value)
            values.update(_url_passwords(value))
    return {value for value in values if len(value) >= MIN_SECRET_LENGTH}


def _strings(value: Any) -> list[str]:
    """The text values in a configuration value (a string, bytes, or a list or dict of them)."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, bytes):
        return [value.decode("utf-8", "replace")] if value else []
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [text for item in value for text in _strings(item)]
    return []


def _url_passwords(text: str) -> set[str]:
    """The password of each URL in ``text``, as written and percent-decoded."""
    found: set[str] = set()
    for match in URL_PASSWORD.finditer(text):
        password = match.group("password")
        found.update({password, unquote(password)})
    return found
