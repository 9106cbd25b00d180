"""Operational settings (DESIGN.md §3): stored in the database, editable by an admin, with defaults here."""
from __future__ import annotations

import time
from typing import Any

from flask import g

from .extensions import db
from .models import Setting, Staff

DEFAULTS: dict[str, Any] = {
    # Working days between receipt and the follow-up deadline ("paling lama 1 (satu) hari kerja").
    "sla.follow_up_working_days": 1,
    # Signature under replies to requesters.
    "mail.signature": "Helpdesk LPSE",
    # Automatic mail (acknowledgement, pending and resolution notices) on or off, and its cap per address.
    "mail.auto_replies": True,
    "mail.auto_reply_daily_limit": 10,
    # Desk phones an incoming call rings (E.164), all at once, for the SOP's three rings.
    "phone.desk_numbers": [],
    "phone.ring_seconds": 15,
    "phone.voicemail_max_seconds": 120,
    # Text the ticket number to a requester who gave a mobile number (walk-in, missed call, SMS).
    "sms.ticket_number_notice": True,
    # FAQ answers sent automatically to email requesters: on or off, and the calibrated confidence (0..1) a match
    # needs. The default comes from bench/faq.py (see the README): wrong automatic answers stay rare.
    "faq.auto_answer": True,
    "faq.auto_answer_threshold": 0.87,
}


CACHE_SECONDS = 30  # a change made by another process is seen within this time


def get_setting(key: str) -> Any:
    """The stored value of ``key``, or its default (read at most every CACHE_SECONDS per app context)."""
    if key not in DEFAULTS:
        raise KeyError(f"unknown setting {key!r}")
    cache = g.setdefault("settings_cache", {})
    now = time.monotonic()
    if key in cache and now - cache[key][1] < CACHE_SECONDS:
        return cache[key][0]
    row = db.session.get(Setting, key)
    value = DEFAULTS[key] if row is None else row.value
    cache[key] = (value, now)
    return value


def set_setting(key: str, value: Any, *, actor: Staff | None = None) -> None:
    """Store ``value`` for ``key``. Flushes, never commits."""
    if key not in DEFAULTS:
        raise KeyError(f"unknown setting {key!r}")
    row = db.session.get(Setting, key)
    if row is None:
        db.session.add(Setting(key=key, value=value, updated_by_id=actor.id if actor else None))
    else:
        row.value = value
        row.updated_by_id = actor.id if actor else None
    db.session.flush()
    g.setdefault("settings_cache", {}).pop(key, None)
