"""Automatic notices to requesters: whether one may go, and why not.

The acknowledgement, the pending notice and the resolution notice are automatic mail. Mail that answers a
machine starts loops, so every notice first asks ``block_reason``; the ticket service records the answer on
the ticket either way (sent, or not sent and why).
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Final

from flask import current_app, g
from sqlalchemy import func, select

from escalation.lkpp import is_lkpp_address

from . import settings
from .extensions import db
from .models import OutboxMessage, Ticket

# notice -> mail template under templates/mail/
NOTICES: Final = {
    "acknowledgement": "acknowledgement",
    "pending": "pending-notice",
    "resolved": "resolution-notice",
    "escalation": "escalation-notice",
}

# Local parts of addresses that are machines: never answered automatically.
SYSTEM_LOCAL_PARTS: Final = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?|auto-?reply|autoresponder)([+\-_.].*)?$",
    re.IGNORECASE)


OWN_ADDRESSES_CACHE_SECONDS = 60


def own_addresses() -> set[str]:
    """Our addresses (MAIL_FROM, MAIL_OWN_ADDRESSES, every office's and mailbox's address), lower-case.

    Read at most every OWN_ADDRESSES_CACHE_SECONDS per app context (a poller asks for every message).
    """
    cached = g.get("own_addresses")
    if cached is not None and time.monotonic() - cached[1] < OWN_ADDRESSES_CACHE_SECONDS:
        return cached[0]
    found = _own_addresses()
    g.own_addresses = (found, time.monotonic())
    return found


def _own_addresses() -> set[str]:
    from .models import Office

    config = current_app.config
    found = {address.strip().lower() for address in config.get("MAIL_OWN_ADDRESSES") or () if address}
    if config.get("MAIL_FROM"):
        found.add(_bare(config["MAIL_FROM"]))
    found.update(email.lower() for email in db.session.scalars(select(Office.email)) if email)
    for mailbox in config.get("MAILBOXES") or ():
        if mailbox.get("user") and "@" in mailbox["user"]:
            found.add(mailbox["user"].lower())
    if config.get("IMAP_USER") and "@" in config["IMAP_USER"]:
        found.add(config["IMAP_USER"].lower())
    return found


def is_system_address(address: str) -> bool:
    """mailer-daemon@, postmaster@, no-reply@ and their kin."""
    return bool(SYSTEM_LOCAL_PARTS.match(address.partition("@")[0]))


def block_reason(ticket: Ticket, *, at: datetime) -> str | None:
    """Why an automatic notice must not go to the ticket's requester now; None when it may.

    Codes: auto_replies_off, no_email, lkpp (the requester's address is LKPP's: two ticket systems must never
    answer each other), blocked (with the ticket's own reason), own_address, system_sender, daily_limit.
    """
    if not settings.get_setting("mail.auto_replies"):
        return "auto_replies_off"
    address = ticket.requester.email
    if not address:
        return "no_email"
    if is_lkpp_address(address):
        return "lkpp"
    if ticket.auto_reply_block:
        return ticket.auto_reply_block
    if address.lower() in own_addresses():
        return "own_address"
    if is_system_address(address):
        return "system_sender"
    limit = int(settings.get_setting("mail.auto_reply_daily_limit"))
    sent = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.recipient == address, OutboxMessage.automatic.is_(True),
        OutboxMessage.created_at > at - timedelta(days=1)))
    if sent >= limit:
        return "daily_limit"
    return None


def _bare(address: str) -> str:
    return address.rpartition("<")[2].strip(" >").lower()
