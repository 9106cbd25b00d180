"""The audit log: admin actions, sign-ins and views of personal data, kept apart from the ticket events.

Ticket events say what happened to a ticket; the audit log says who did or saw what, for the accountability UU 27/2022
(Pelindungan Data Pribadi) asks of whoever holds personal data. ``record`` adds one line to the caller's transaction,
so an admin action and its audit line commit (or roll back) together; ``record_view`` commits its own line, for pages
that only read.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from flask import has_request_context, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, or_, select

from .extensions import db
from .models import AuditEntry, Staff, Ticket

SYSTEM = "system"
MAX_TYPED_LABEL: Final = 100  # the email typed at a failed login is kept to this length

# Every action written, with its label for the page's filter. Names are stable: reports and exports filter on them.
ACTIONS: Final = {
    "login.succeeded": _l("Signed in"),
    "login.failed": _l("Sign-in failed"),
    "login.locked": _l("Sign-in refused: account locked"),
    "login.throttled": _l("Sign-in refused: too many attempts from one address"),
    "logout": _l("Signed out"),
    "session.expired": _l("Signed out after inactivity"),
    "staff.created": _l("Account created"),
    "staff.updated": _l("Account changed"),
    "settings.changed": _l("Settings changed"),
    "lkpp_template.changed": _l("LKPP email template changed"),
    "calendar.override_added": _l("Calendar: day added"),
    "calendar.override_removed": _l("Calendar: day removed"),
    "calendar.hours_changed": _l("Calendar: office hours changed"),
    "calendar.ramadan_hours_changed": _l("Calendar: Ramadan hours changed"),
    "calendar.ramadan_period_added": _l("Calendar: Ramadan period added"),
    "calendar.ramadan_period_removed": _l("Calendar: Ramadan period removed"),
    "calendar.cuti_bersama_changed": _l("Calendar: cuti bersama switch changed"),
    "calendar.reviewed": _l("Calendar: year reviewed"),
    "job.run": _l("Job run by hand"),
    "mailbox.created": _l("Mailbox added"),
    "mailbox.updated": _l("Mailbox changed"),
    "outbox.retried": _l("Outbox message queued again"),
    "inbound_email.raw_viewed": _l("Raw email viewed"),
    "inbound_email.retried": _l("Quarantined email retried"),
    "register.viewed": _l("Register viewed"),
    "register.exported": _l("Register downloaded"),
    "lkpp_fields.viewed": _l("LPSE Support fields viewed"),
    "audit.exported": _l("Audit log downloaded"),
    "personal_data.viewed": _l("Identity numbers viewed"),
    "personal_data.changed": _l("Identity numbers changed"),
    "attachment.downloaded": _l("Attachment downloaded"),
    "retention.purged": _l("Files deleted under the retention schedule"),
    "backup.created": _l("Backup written"),
    "backup.restored": _l("Backup restored"),
}
# Setting keys whose values never go into the audit log, only the fact that they changed.
SECRET_SETTING: Final = re.compile(r"password|secret|token|credential|api_key", re.IGNORECASE)
LONG_VALUE: Final = 300  # a setting value longer than this (as JSON) is recorded as changed, not copied


def record(action: str, *, target: Any = None, target_type: str | None = None, target_id: Any = None,
           actor: Staff | None = None, actor_label: str | None = None, office_id: int | None = None,
           **detail: Any) -> AuditEntry:
    """Add an audit line for ``action`` (e.g. "login.failed", "settings.changed", "personal_data.viewed").

    ``target`` is a model instance (its table name and id are kept) or given as ``target_type``/``target_id``.
    The actor defaults to the signed-in officer, else "system"; ``detail`` is kept as JSON and must not hold
    secrets or the personal data itself (say which fields were seen, not their values).
    """
    if actor is None and has_request_context() and getattr(current_user, "is_authenticated", False):
        actor = current_user._get_current_object()
    if target is not None:
        target_type = target_type or getattr(target, "__tablename__", type(target).__name__.lower())
        target_id = getattr(target, "id", target_id)
    if office_id is None:
        office_id = getattr(target, "office_id", None) or (actor.office_id if actor is not None else None)
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        actor_label=(actor_label if actor_label is not None else actor.email if actor is not None else SYSTEM)[:320],
        action=action, target_type=target_type, target_id=None if target_id is None else str(target_id)[:64],
        office_id=office_id, ip=_client_ip(), detail=detail)
    db.session.add(entry)
    return entry


def record_view(action: str, **kwargs: Any) -> AuditEntry:
    """Record a read (a page or file showing personal data) and commit it at once."""
    entry = record(action, **kwargs)
    db.session.commit()
    return entry


def _client_ip() -> str | None:
    if not has_request_context():
        return None
    return (request.remote_addr or "")[:45] or None


def typed_label(value: str | None) -> str:
    """What someone typed as their email at a failed sign-in, cut to a harmless length, one line."""
    text = " ".join((value or "").split())
    return text[:MAX_TYPED_LABEL] or "?"


def setting_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The detail of a settings change: ``{key: {"old": .., "new": ..}}`` for each key whose value differs.

    Secret-like keys, and values too long to copy (templates), are recorded as ``"changed"`` only.
    """
    changes: dict[str, Any] = {}
    for key, value in new.items():
        before = old.get(key)
        if before == value:
            continue
        if SECRET_SETTING.search(key) or _too_long(before) or _too_long(value):
            changes[key] = "changed"
        else:
            changes[key] = {"old": before, "new": value}
    return changes


def _too_long(value: Any) -> bool:
    return len(json.dumps(value, ensure_ascii=False, default=str)) > LONG_VALUE


# -- reading the log ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditFilter:
    """What the audit page asks for; every part optional. ``start``/``end`` are UTC bounds, end exclusive."""

    action: str = ""
    actor: str = ""
    target: str = ""
    start: datetime | None = None
    end: datetime | None = None


def _filtered(office_id: int, flt: AuditFilter):
    """The office's lines, and lines of no office (sign-ins with an unknown email, system work), filtered."""
    query = select(AuditEntry).where(or_(AuditEntry.office_id == office_id, AuditEntry.office_id.is_(None)))
    if flt.action:
        if flt.action.endswith("."):
            query = query.where(AuditEntry.action.startswith(flt.action, autoescape=True))
        else:
            query = query.where(AuditEntry.action == flt.action)
    if flt.actor:
        query = query.where(func.lower(AuditEntry.actor_label).contains(flt.actor.strip().lower(), autoescape=True))
    if flt.target:
        target_type, target_id = _target(flt.target, office_id)
        query = query.where(AuditEntry.target_type == target_type)
        if target_id is not None:
            query = query.where(AuditEntry.target_id == target_id)
    if flt.start is not None:
        query = query.where(AuditEntry.created_at >= flt.start)
    if flt.end is not None:
        query = query.where(AuditEntry.created_at < flt.end)
    return query


def _target(text: str, office_id: int) -> tuple[str, str | None]:
    """``"staff"``, ``"staff:12"`` or a ticket reference (``TST-2026-00001``: that ticket's lines)."""
    text = text.strip()
    kind, sep, ident = text.partition(":")
    if sep:
        return kind.strip().lower(), ident.strip() or None
    ticket = db.session.scalar(select(Ticket.id).where(Ticket.ref == text.upper(), Ticket.office_id == office_id))
    if ticket is not None:
        return "ticket", str(ticket)
    return text.lower(), None


def entries(office_id: int, flt: AuditFilter, *, before: int | None = None, limit: int = 50) -> list[AuditEntry]:
    """Up to ``limit`` lines matching ``flt``, newest first, older than line ``before`` (keyset on the id)."""
    query = _filtered(office_id, flt)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    return list(db.session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))


def all_entries(office_id: int, flt: AuditFilter, *, batch: int = 1000) -> Iterable[AuditEntry]:
    """Every line matching ``flt``, newest first, read in batches (for the CSV export)."""
    before = None
    while True:
        rows = entries(office_id, flt, before=before, limit=batch)
        yield from rows
        if len(rows) < batch:
            return
        before = rows[-1].id


CSV_COLUMNS: Final = ("id", "time_utc", "actor", "actor_id", "action", "target_type", "target_id", "ip", "detail")


def to_csv(rows: Iterable[AuditEntry]) -> tuple[str, int]:
    """The lines as CSV (UTC times, detail as JSON) and how many there were."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([row.id, row.created_at.isoformat(timespec="seconds"), _cell(row.actor_label),
                         row.actor_id or "", row.action, row.target_type or "", _cell(row.target_id or ""),
                         row.ip or "", _cell(json.dumps(row.detail or {}, ensure_ascii=False, sort_keys=True))])
        count += 1
    return out.getvalue(), count


def _cell(text: str) -> str:
    """A spreadsheet would run a cell starting with = + - @ as a formula (a typed login email can)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
