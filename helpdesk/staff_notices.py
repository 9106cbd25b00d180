"""Notifications to officers (SLA warnings and breaches, escalations handed to them, reminders) through the outbox.

Who hears about a ticket: its assignee; without one, the officers of the role holding it (after an internal
escalation to a role); without that, the helpdesk desk. The head of the LPSE (role ``kepala``) hears about
breaches. With the ``notify.office_hours_only`` setting on (the default), a notice queued outside office hours
waits in the outbox until the office's next opening.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from . import settings
from .calendars import calendar_for
from .extensions import db
from .models import Office, OutboxMessage, Staff, Ticket
from .outbox import enqueue_email
from .timeutil import as_utc, utcnow
from .vocab import StaffRole


def role_holders(office_id: int, role: str) -> list[Staff]:
    """The office's active officers with ``role``, by name."""
    return list(db.session.scalars(select(Staff).where(
        Staff.office_id == office_id, Staff.role == role, Staff.active.is_(True)).order_by(Staff.name)))


def ticket_holders(ticket: Ticket) -> list[Staff]:
    """Who answers for ``ticket`` now: its assignee, else the role holding it, else the helpdesk desk."""
    if ticket.assignee is not None and ticket.assignee.active:
        return [ticket.assignee]
    return role_holders(ticket.office_id, ticket.holder_role or StaffRole.HELPDESK.value)


def office_heads(office_id: int) -> list[Staff]:
    """The head(s) of the LPSE (role ``kepala``)."""
    return role_holders(office_id, StaffRole.KEPALA.value)


def send_time(office: Office, at: datetime) -> datetime:
    """When a notice queued at ``at`` may go: at once, or at the next opening when notices keep office hours."""
    if not settings.get_setting("notify.office_hours_only"):
        return at
    return as_utc(calendar_for(office).next_opening(at))


def notify_staff(recipients: Iterable[Staff], template: str, *, office: Office, at: datetime | None = None,
                 **context: Any) -> list[OutboxMessage]:
    """Queue ``templates/mail/<template>/`` to each recipient with an email address, once each. Flushes.

    The messages are automatic mail (Auto-Submitted) and carry no ticket: a notice about several tickets lists
    them in its body. Returns the queued messages.
    """
    at = as_utc(at) if at else utcnow()
    due = send_time(office, at)
    queued, seen = [], set()
    for staff in recipients:
        address = (staff.email or "").strip().lower()
        if not address or address in seen or not staff.active:
            continue
        seen.add(address)
        message = enqueue_email(to=address, template=template, automatic=True, created_at=at, office=office,
                                staff=staff, **context)
        message.next_attempt_at = due
        queued.append(message)
    db.session.flush()
    return queued
