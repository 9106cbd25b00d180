"""Set-based verbs of the ticket service for the SLA sweep: mark warnings and breaches, each exactly once.

Each verb is one UPDATE that claims the tickets whose mark is still empty and whose moment has come, returning
them, and one multi-row INSERT of their events, in the caller's transaction. Two sweeps running at once cannot
both claim a ticket: on PostgreSQL the second UPDATE waits for the first one's row locks and then finds the mark
set; on SQLite writers take turns. No loop over tickets in Python touches the database. As on the queue, a
deadline is kept by anything up to and including its moment: a ticket breaches once the deadline is behind us.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import and_, insert, or_, update

from .extensions import db
from .models import Ticket, TicketEvent
from .states import ACTIVE
from .timeutil import as_utc

SYSTEM_LABEL: Final = "Sistem"
ACTIVE_VALUES: Final = tuple(status.value for status in ACTIVE)
_T = Ticket.__table__


@dataclass(frozen=True)
class Marked:
    """A ticket the sweep just marked, with what its notices need."""

    id: int
    office_id: int
    ref: str
    subject: str
    assignee_id: int | None
    holder_role: str | None
    due: datetime


def mark_follow_up_breaches(now: datetime) -> list[Marked]:
    """Tickets whose follow-up deadline passed without a follow-up: ``sla_breached`` (clock follow_up), once.

    The warning mark is set too, so a ticket first seen after its deadline is not warned afterwards.
    """
    now = as_utc(now)
    return _mark(
        where=and_(_T.c.sla_breached_at.is_(None), _T.c.first_follow_up_at.is_(None),
                   _T.c.follow_up_due_at < now, _T.c.status.in_(ACTIVE_VALUES)),
        values={"sla_breached_at": now, "sla_warned_at": db.func.coalesce(_T.c.sla_warned_at, now)},
        due=_T.c.follow_up_due_at, kind="sla_breached", data={"clock": "follow_up"}, now=now)


def mark_follow_up_warnings(now: datetime) -> list[Marked]:
    """Tickets past their warning mark, still before the deadline, without a follow-up: ``sla_warned``, once."""
    now = as_utc(now)
    return _mark(
        where=and_(_T.c.sla_warned_at.is_(None), _T.c.first_follow_up_at.is_(None),
                   _T.c.follow_up_warn_at <= now, _T.c.follow_up_due_at >= now, _T.c.status.in_(ACTIVE_VALUES)),
        values={"sla_warned_at": now}, due=_T.c.follow_up_due_at, kind="sla_warned",
        data={"clock": "follow_up"}, now=now)


def mark_resolution_breaches(now: datetime, *, lkpp_time_counts: bool) -> list[Marked]:
    """Open tickets past their resolution deadline while the clock runs: ``sla_breached`` (clock resolution), once.

    A paused clock (waiting on the requester, resolved) never breaches; a ticket waiting on LKPP breaches only
    when LKPP's time counts against the office (``sla.resolution_counts_lkpp_time``).
    """
    now = as_utc(now)
    running = _T.c.clock_paused_at.is_(None)
    if lkpp_time_counts:
        running = or_(running, _T.c.clock_paused_for == "lkpp")
    return _mark(
        where=and_(_T.c.resolution_breached_at.is_(None), _T.c.resolution_due_at < now,
                   _T.c.status.in_(ACTIVE_VALUES), running),
        values={"resolution_breached_at": now}, due=_T.c.resolution_due_at, kind="sla_breached",
        data={"clock": "resolution"}, now=now)


def _mark(*, where: Any, values: dict[str, Any], due: Any, kind: str, data: dict[str, Any],
          now: datetime) -> list[Marked]:
    rows = db.session.execute(
        update(_T).where(where).values(**values, updated_at=now)
        .returning(_T.c.id, _T.c.office_id, _T.c.ref, _T.c.subject, _T.c.assignee_id, _T.c.holder_role, due)
    ).all()
    marked = [Marked(*row[:6], as_utc(row[6])) for row in rows]
    if marked:
        db.session.execute(insert(TicketEvent.__table__), [
            {"ticket_id": m.id, "kind": kind, "actor_id": None, "actor_label": SYSTEM_LABEL, "body": "",
             "data": {**data, "due": m.due.isoformat(), "assignee_id": m.assignee_id, "holder_role": m.holder_role},
             "created_at": now} for m in marked])
    return marked
