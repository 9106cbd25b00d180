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
    # -- SLA enforcement (escalation/sweep.py) --
    # Share of the follow-up clock at which the assignee (or the helpdesk desk) is warned.
    "sla.warning_share": 0.75,
    # What a breach of the follow-up clock does besides the event and the head's notice: "notify" (nothing more),
    # "flag" (flag the ticket), or "assign_role" (hand it to sla.breach_role, as an internal escalation).
    "sla.breach_action": "notify",
    "sla.breach_role": "admin_ppe",
    # Resolution targets in working days; the first rule whose ticket_type and priority match ("*": any) applies.
    "sla.resolution_targets": [
        {"ticket_type": "*", "priority": "high", "working_days": 1},
        {"ticket_type": "*", "priority": "medium", "working_days": 3},
        {"ticket_type": "*", "priority": "*", "working_days": 5},
    ],
    # Whether time waiting on LKPP counts against the office's resolution clock (it is always measured apart).
    "sla.resolution_counts_lkpp_time": False,
    # Staff notifications (warnings, breaches, escalations, reminders) only within office hours; outside, they
    # wait in the outbox for the next opening.
    "notify.office_hours_only": True,
    # Resolved tickets with no reply from the requester for this many working days are closed.
    "tickets.auto_close_working_days": 5,
    # -- Twilio alerts on breach --
    "alerts.sms": False,
    "alerts.voice": False,
    "alerts.recipient": "kepala",  # kepala (the head of the LPSE) or on_call
    "alerts.on_call_phone": "",
    "alerts.hours": ["07:00", "21:00"],  # local time window in which alerts go out (any day)
    # -- escalation --
    # Working days without an answer before the holder of an open escalation is reminded (and again after as many).
    "escalation.reminder_working_days": 2,
    "lkpp.email_to": "helpdesk-lpsepusat@lkpp.go.id",
    # Addresses or domains LKPP mails from: their mail never gets an automatic reply.
    "lkpp.addresses": ["lkpp.go.id"],
    # A regular expression an LKPP ticket number matches in full (typed by officers, found in LKPP's replies).
    "lkpp.ticket_number_pattern": "[0-9]{5,10}",
    # The LPSE Support (TTS) address officers open to file a ticket, and the call centre number.
    "lkpp.support_url": "",
    "lkpp.call_centre": "144",
    # Optional HTTP mode: an integration gateway that takes the LPSE Support fields as JSON ("" = off).
    "lkpp.gateway_url": "",
    # The LKPP email template (Jinja2); empty means the shipped templates/mail/lkpp-escalation/.
    "lkpp.email_subject_template": "",
    "lkpp.email_body_template": "",
    # -- reports --
    # The daily SLA report: local time it goes out on working days, and to whom (empty: the heads of the LPSE).
    "reports.daily_time": "07:30",
    "reports.daily_recipients": [],
    # -- privacy (UU 27/2022) --
    # Roles that see NPWP and NIK whole (system administrators always do); the others see the last four digits.
    "privacy.identity_roles": ["helpdesk", "verifikator", "admin_ppe"],
    # -- retention --
    # Months after a ticket is closed before its identity documents and raw emails are deleted (0: never). The
    # ticket, its text and its events stay; each purge is in the audit log.
    "retention.months": 24,
    # What is purged: "identity" (attachments marked as identity documents, and raw emails) or "all" (every
    # attachment, and raw emails).
    "retention.scope": "identity",
    # File names marked as identity documents when they arrive (a regular expression, case-insensitive).
    # (NIK and NIB only as words of their own: not inside "teknik" or "elektronik".)
    "retention.identity_pattern": r"ktp|npwp|identitas|kartu[ _-]?keluarga|paspor|akta|siup|(?<![a-z])ni[kb](?![a-z])",
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
