"""Our outbound Message-IDs: they carry the ticket reference and an HMAC, so a reply maps back without a lookup.

Form: ``<REF.NONCE.MAC@domain>`` where MAC is the first 16 hex digits of HMAC-SHA256(secret key, "REF.NONCE").
A forged or altered id fails the check and is treated like any stranger's id.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from flask import current_app

_OURS = re.compile(r"^<?(?P<ref>[A-Z0-9]+-\d{4}-\d{6})\.(?P<nonce>[a-z0-9]{12})\.(?P<mac>[0-9a-f]{16})@[^>]+>?$")


def _mac(ref: str, nonce: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{ref}.{nonce}".encode(), hashlib.sha256).hexdigest()[:16]


def mail_domain(office_email: str | None = None) -> str:
    """The right-hand side of our Message-IDs: MAIL_DOMAIN, else MAIL_FROM's domain, else the office address's
    domain, else a fixed name."""
    config = current_app.config
    if config.get("MAIL_DOMAIN"):
        return config["MAIL_DOMAIN"]
    for address in (config.get("MAIL_FROM"), office_email):
        domain = (address or "").rpartition("@")[2].strip("> ")
        if domain:
            return domain
    return "lpse-helpdesk.invalid"


def make_message_id(ref: str | None, *, office_email: str | None = None) -> str:
    """A new Message-ID (with angle brackets); signed with the ticket reference when there is one."""
    nonce = secrets.token_hex(6)
    domain = mail_domain(office_email)
    if ref is None:
        return f"<helpdesk.{nonce}@{domain}>"
    return f"<{ref}.{nonce}.{_mac(ref, nonce)}@{domain}>"


def ticket_ref_from(message_id: str) -> str | None:
    """The ticket reference a Message-ID of ours carries, or None when it is not ours or its MAC is wrong."""
    match = _OURS.match(message_id.strip())
    if match is None:
        return None
    ref, nonce, mac = match["ref"], match["nonce"], match["mac"]
    return ref if hmac.compare_digest(mac, _mac(ref, nonce)) else None
