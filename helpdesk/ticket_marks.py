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

from sqlalchemy import and_, func, insert, literal, literal_column, or_, select, update

from .extensions import db
from .models import Ticket, TicketEvent
from .states import ACTIVE
from .timeutil import UTCDateTime, as_utc

SYSTEM_LABEL: Final = "Sistem"
ACTIVE_VALUES: Final = tuple(status.value for status in ACTIVE)
CHUNK: Final = 10000  # ticket ids per INSERT ... SELECT (SQLite allows 32766 parameters)
_T = Ticket.__table__
_E = TicketEvent.__table__


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
    """Claim the tickets (UPDATE ... RETURNING), then write their events in SQL (INSERT ... SELECT)."""
    rows = db.session.execute(
        update(_T).where(where).values(**values, updated_at=now)
        .returning(_T.c.id, _T.c.office_id, _T.c.ref, _T.c.subject, _T.c.assignee_id, _T.c.holder_role, due)
    ).all()
    marked = [Marked(*row[:6], as_utc(row[6])) for row in rows]
    ids = [mark.id for mark in marked]
    for start in range(0, len(ids), CHUNK):
        event_data = _json_object(clock=literal(data["clock"]), due=_iso_utc(due), assignee_id=_T.c.assignee_id,
                                  holder_role=_T.c.holder_role)
        db.session.execute(insert(_E).from_select(
            ["ticket_id", "kind", "actor_id", "actor_label", "body", "data", "created_at"],
            select(_T.c.id, literal(kind), literal(None), literal(SYSTEM_LABEL), literal(""), event_data,
                   literal(now, UTCDateTime)).where(_T.c.id.in_(ids[start:start + CHUNK]))))
    return marked


def _json_object(**fields: Any) -> Any:
    """A JSON object built by the database: json_object on SQLite, json_build_object on PostgreSQL."""
    build = func.json_build_object if _dialect() == "postgresql" else func.json_object
    return build(*(part for name, value in fields.items() for part in (literal(name), value)))


def _iso_utc(column: Any) -> Any:
    """A UTC timestamp column as ``2026-11-25T03:00:00+00:00`` (what ``datetime.isoformat`` writes for UTC)."""
    if _dialect() == "postgresql":
        return func.to_char(func.timezone("UTC", column), literal_column("'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"'"))
    return func.strftime("%Y-%m-%dT%H:%M:%S+00:00", column)


def _dialect() -> str:
    return db.session.get_bind().dialect.name
