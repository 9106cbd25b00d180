"""The staff queue as a query: filters, text search, SLA states, keyset pagination and counts."""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Integer, and_, column, func, literal, select, text, tuple_
from sqlalchemy.orm import joinedload

from escalation.sla import SlaState, end_of_local_day

from .calendars import calendar_for
from .extensions import db
from .models import Office, Ticket
from .states import ACTIVE, Status
from .timeutil import UTCDateTime

# The queue's sort key: awaiting follow-up first, then by deadline, then by id (unique, so pages are stable).
AWAITING_LAST = (Ticket.first_follow_up_at.is_not(None))
SORT_KEY = (AWAITING_LAST, Ticket.follow_up_due_at, Ticket.id)
TRIGRAM = 3  # the shortest term the trigram indexes can look up


@dataclass
class QueueFilters:
    """What the officer asked the queue for. Blank means no filter; status "active" means not resolved/closed."""

    status: str = "active"
    channel: str = ""
    assignee: str = ""  # "", "me", "none" or a staff id
    sla: str = ""       # "", or a SlaState value
    q: str = ""


@dataclass
class QueuePage:
    tickets: list[Ticket]
    next_cursor: str | None
    counts: dict[str, int] = field(default_factory=dict)


class BadCursor(ValueError):
    """A pagination cursor that was not made by this module."""


def encode_cursor(ticket: Ticket) -> str:
    """An opaque cursor pointing just after ``ticket`` in queue order."""
    raw = f"{int(ticket.first_follow_up_at is not None)}|{ticket.follow_up_due_at.isoformat()}|{ticket.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[bool, datetime, int]:
    """The sort key a cursor points after."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        flag, due, ticket_id = raw.split("|")
        return bool(int(flag)), datetime.fromisoformat(due), int(ticket_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCursor(cursor) from exc


def queue_page(office: Office, filters: QueueFilters, *, now: datetime, viewer_id: int | None,
               after: str | None = None, limit: int = 50) -> QueuePage:
    """One page of the office's queue in deadline order, with the cursor of the next page."""
    query = (select(Ticket).where(_in_office(office, filters))
             .options(joinedload(Ticket.requester), joinedload(Ticket.assignee)))
    query = _filtered(query, office, filters, now=now, viewer_id=viewer_id)
    if after:
        flag, due, ticket_id = decode_cursor(after)
        query = query.where(tuple_(*SORT_KEY) > tuple_(literal(flag), literal(due, UTCDateTime), literal(ticket_id)))
    rows = list(db.session.scalars(query.order_by(*SORT_KEY).limit(limit + 1)).unique())
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return QueuePage(tickets=rows[:limit], next_cursor=next_cursor, counts=status_counts(office))


def status_counts(office: Office) -> dict[str, int | None]:
    """Tickets per status in the office, 0 when none; None for closed, which only grows and is not worked on.

    Counting the closed archive on every queue page would cost more than the page itself (100,000 tickets:
    about 20 ms on SQLite, 80 ms on PostgreSQL); the other statuses stay small in a working office.
    """
    counted = [status.value for status in Status if status != Status.CLOSED]
    rows = db.session.execute(select(Ticket.status, func.count())
                              .where(Ticket.office_id == office.id, Ticket.status.in_(counted))
                              .group_by(Ticket.status)).all()
    counts: dict[str, int | None] = {status.value: 0 for status in Status}
    counts[Status.CLOSED.value] = None
    counts.update({status: count for status, count in rows})
    return counts


def search_terms(q: str) -> list[str]:
    """Lower-case words of a search, at most eight."""
    return [term for term in q.lower().split() if term][:8]


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(query, office: Office, filters: QueueFilters, *, now: datetime, viewer_id: int | None):
    if filters.status == "active":
        query = query.where(Ticket.status.in_([s.value for s in ACTIVE]))
    elif filters.status and filters.status != "all":
        query = query.where(Ticket.status == filters.status)
    if filters.channel:
        query = query.where(Ticket.channel == filters.channel)
    if filters.assignee == "me":
        query = query.where(Ticket.assignee_id == viewer_id)
    elif filters.assignee == "none":
        query = query.where(Ticket.assignee_id.is_(None))
    elif filters.assignee.isdigit():
        query = query.where(Ticket.assignee_id == int(filters.assignee))
    if filters.sla:
        query = query.where(_sla_condition(SlaState(filters.sla), office, now))
    for term in search_terms(filters.q):
        query = query.where(_matches(term))
    return query


def _in_office(office: Office, filters: QueueFilters):
    """The office condition. With an FTS5 search on SQLite it is written ``office_id + 0`` on purpose: that keeps
    the planner off the queue index (which it would walk in order, reading every active ticket) and lets it start
    from the few rows the text index found, then sort them. Measured by bench/queue.py."""
    if _uses_fts(filters):
        return (Ticket.office_id + 0) == office.id
    return Ticket.office_id == office.id


def _uses_fts(filters: QueueFilters) -> bool:
    return any(_fts_serves(term) for term in search_terms(filters.q))


def _fts_serves(term: str) -> bool:
    """Whether the SQLite FTS5 table answers ``term``: PostgreSQL's pg_trgm index serves LIKE itself, and a term
    shorter than a trigram has nothing to look up."""
    return db.session.get_bind().dialect.name == "sqlite" and len(term) >= TRIGRAM


def _matches(term: str):
    """Tickets whose search text contains ``term``, through the dialect's text index where it can serve."""
    if not _fts_serves(term):
        return Ticket.search_text.like(_like_pattern(term), escape="\\")
    phrase = '"' + term.replace('"', '""') + '"'  # an FTS5 string: the term as a literal substring
    return Ticket.id.in_(text("SELECT rowid FROM ticket_search WHERE ticket_search MATCH :phrase")
                         .bindparams(phrase=phrase).columns(column("rowid", Integer)))


def _sla_condition(state: SlaState, office: Office, now: datetime):
    awaiting = Ticket.first_follow_up_at.is_(None)
    end_of_today = end_of_local_day(calendar_for(office), now)
    if state == SlaState.OVERDUE:
        return and_(awaiting, Ticket.follow_up_due_at < now)
    if state == SlaState.DUE_TODAY:
        return and_(awaiting, Ticket.follow_up_due_at >= now, Ticket.follow_up_due_at < end_of_today)
    if state == SlaState.ON_TRACK:
        return and_(awaiting, Ticket.follow_up_due_at >= end_of_today)
    if state == SlaState.MET:
        return Ticket.follow_up_met.is_(True)
    return Ticket.follow_up_met.is_(False)
