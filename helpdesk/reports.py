"""Report figures (DESIGN.md §1: the daily SLA report, the quarterly report), computed from the ticket events.

``period_figures`` reads a period of office-local days: ``created`` events (what was received, by channel), the
follow-up deadlines that fell in it with their ``followed_up`` events (met or not; by a person or by an FAQ
answer), ``sla_breached`` events (holder and cause), ``status_changed`` events (resolutions and reopenings) and
``clock_resumed`` events (the working time spent waiting on the requester and on LKPP). Classification (application,
ticket type) and the requester's SPSE role are read from the ticket and requester rows as they are now.

Every query reads one kind of event over the period (index ``ix_ticket_event_kind_created``) or the tickets those
events name; nothing loops over tickets with a query each. Durations are office working time (the office's
calendar), reported in hours.

``daily_report`` adds what the head of the LPSE needs in the morning, as of the moment it is produced: the
follow-ups due today, the pending list and the escalations still open at LKPP with their age in working days.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select

from .calendars import calendar_for
from .extensions import db
from .models import Escalation, Office, Requester, Staff, Ticket, TicketEvent
from .states import ACTIVE, Status
from .timeutil import as_utc, utcnow

HUMAN_FOLLOW_UPS: Final = ("reply", "escalation_notice", "resolution")
CHUNK: Final = 5000  # ids per IN (...) query


class ReportError(ValueError):
    """A report cannot be produced for what was asked (a day in the future, an unknown office...)."""


# -- periods ------------------------------------------------------------------------------------------------

def local_bounds(office: Office, first: date, last: date) -> tuple[datetime, datetime]:
    """UTC moments of the start of ``first`` and the end of ``last`` (inclusive) in the office's zone."""
    zone = ZoneInfo(office.timezone)
    return (as_utc(datetime.combine(first, time(), zone)),
            as_utc(datetime.combine(last + timedelta(days=1), time(), zone)))


def local_today(office: Office, now: datetime) -> date:
    return as_utc(now).astimezone(ZoneInfo(office.timezone)).date()


def previous_working_day(office: Office, today: date) -> date:
    """The last working day before ``today`` in the office's calendar."""
    return calendar_for(office).previous_working_day(today)


def quarter_of(day: date) -> tuple[date, date]:
    """First and last day of the quarter holding ``day``."""
    first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    next_first = date(first.year + (first.month == 10), (first.month + 3 - 1) % 12 + 1, 1)
    return first, next_first - timedelta(days=1)


def previous_quarter(first: date) -> tuple[date, date]:
    return quarter_of(first - timedelta(days=1))


# -- statistics ---------------------------------------------------------------------------------------------

def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` 0..1) of ``values``; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _summary(seconds: Iterable[float]) -> dict[str, Any]:
    values = [s / 3600 for s in seconds]
    median, p90 = percentile(values, 0.5), percentile(values, 0.9)
    return {"count": len(values), "median_hours": None if median is None else round(median, 2),
            "p90_hours": None if p90 is None else round(p90, 2)}


# -- the figures of a period ----------------------------------------------------------------------------------

def period_figures(office: Office, first: date, last: date) -> dict[str, Any]:
    """Everything the daily and quarterly reports count over the office-local days ``first``..``last``."""
    start, end = local_bounds(office, first, last)
    calendar = calendar_for(office)
    received = _received(office, start, end)
    due = _follow_ups_due(office, start, end)
    follow_ups = _follow_ups_made(office, start, end)
    breaches = _breaches(office, start, end)
    resolutions, reopened = _status_changes(office, start, end)
    return {
        "period": {"first": first.isoformat(), "last": last.isoformat(), "timezone": office.timezone},
        "received": received,
        "follow_up_due": due,
        "follow_ups": {
            "human": sum(1 for f in follow_ups if f["how"] in HUMAN_FOLLOW_UPS),
            "faq_answer": sum(1 for f in follow_ups if f["how"] == "faq_answer"),
            "time_to_first_follow_up": _summary(
                calendar.working_seconds(f["received_at"], f["at"]) for f in follow_ups if f["how"] in HUMAN_FOLLOW_UPS),
            "time_to_faq_answer": _summary(
                calendar.working_seconds(f["received_at"], f["at"]) for f in follow_ups if f["how"] == "faq_answer"),
        },
        "breaches": breaches,
        "resolution": resolutions,
        "reopened": reopened,
    }


def _received(office: Office, start: datetime, end: datetime) -> dict[str, Any]:
    rows = db.session.execute(
        select(TicketEvent.data, Ticket.application, Ticket.ticket_type, Requester.spse_role)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id).join(Requester, Requester.id == Ticket.requester_id)
        .where(TicketEvent.kind == "created", TicketEvent.created_at >= start, TicketEvent.created_at < end,
               Ticket.office_id == office.id)).all()
    return {
        "total": len(rows),
        "by_channel": _counts(row[0].get("channel") for row in rows),
        "by_application": _counts(row[1] for row in rows),
        "by_ticket_type": _counts(row[2] for row in rows),
        "by_requester_role": _counts(row[3] for row in rows),
    }


def _follow_ups_due(office: Office, start: datetime, end: datetime) -> dict[str, Any]:
    """Deadlines that fell in the period: met (a follow-up by the deadline), late, or still missing."""
    tickets = db.session.execute(
        select(Ticket.id, Ticket.follow_up_due_at).where(
            Ticket.office_id == office.id, Ticket.follow_up_due_at >= start, Ticket.follow_up_due_at < end)).all()
    firsts = _first_follow_ups([ticket_id for ticket_id, _ in tickets])
    met = late = missing = faq = 0
    for ticket_id, due in tickets:
        follow_up = firsts.get(ticket_id)
        if follow_up is None:
            missing += 1
        elif follow_up[0] <= due:
            met += 1
            faq += follow_up[1] == "faq_answer"
        else:
            late += 1
    total = met + late + missing
    return {"total": total, "met": met, "late": late, "missing": missing, "met_by_faq_answer": faq,
            "met_share": round(met / total, 4) if total else None}


def _first_follow_ups(ticket_ids: list[int]) -> dict[int, tuple[datetime, str]]:
    found: dict[int, tuple[datetime, str]] = {}
    for chunk in _chunks(ticket_ids):
        for ticket_id, at, data in db.session.execute(
                select(TicketEvent.ticket_id, TicketEvent.created_at, TicketEvent.data)
                .where(TicketEvent.kind == "followed_up", TicketEvent.ticket_id.in_(chunk))):
            if ticket_id not in found or at < found[ticket_id][0]:
                found[ticket_id] = (at, data.get("how", ""))
    return found


def _follow_ups_made(office: Office, start: datetime, end: datetime) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(TicketEvent.created_at, TicketEvent.data, Ticket.received_at)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(TicketEvent.kind == "followed_up", TicketEvent.created_at >= start, TicketEvent.created_at < end,
               Ticket.office_id == office.id)).all()
    return [{"at": at, "how": data.get("how", ""), "met": data.get("met"), "received_at": received}
            for at, data, received in rows]


CAUSES: Final = {"follow_up": "no_follow_up", "resolution": "resolution_overdue"}


def _breaches(office: Office, start: datetime, end: datetime) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(TicketEvent.created_at, TicketEvent.data, Ticket.ref, Ticket.subject, Ticket.clock_paused_for)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(TicketEvent.kind == "sla_breached", TicketEvent.created_at >= start, TicketEvent.created_at < end,
               Ticket.office_id == office.id).order_by(TicketEvent.created_at, TicketEvent.id)).all()
    names = _staff_names(data.get("assignee_id") for _, data, *_ in rows)
    return [{
        "ref": ref, "subject": subject, "clock": data.get("clock"), "due": data.get("due"),
        "recorded_at": at.isoformat(), "cause": CAUSES.get(data.get("clock"), data.get("clock")),
        "holder": names.get(data.get("assignee_id")) or data.get("holder_role") or "helpdesk",
    } for at, data, ref, subject, _paused in rows]


def _status_changes(office: Office, start: datetime, end: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Resolutions in the period with their working time split (LPSE, requester, LKPP), and reopenings."""
    rows = db.session.execute(
        select(TicketEvent.ticket_id, TicketEvent.created_at, TicketEvent.data, Ticket.ref, Ticket.received_at)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(TicketEvent.kind == "status_changed", TicketEvent.created_at >= start, TicketEvent.created_at < end,
               Ticket.office_id == office.id).order_by(TicketEvent.id)).all()
    resolved = {ticket_id: (at, received, ref) for ticket_id, at, data, ref, received in rows
                if data.get("to") == Status.RESOLVED}
    reopened = [{"ref": ref, "at": at.isoformat(), "reason": data.get("reason")}
                for _, at, data, ref, _ in rows if data.get("from") == Status.RESOLVED and data.get("to") == Status.OPEN]
    waits = _waits(list(resolved))
    calendar = calendar_for(office)
    total, lpse, requester, lkpp = [], [], [], []
    for ticket_id, (at, received, _ref) in resolved.items():
        spent = calendar.working_seconds(received, at)
        waited = {kind: sum(seconds for when, seconds in waits.get((ticket_id, kind), ()) if when <= at)
                  for kind in ("requester", "lkpp")}
        total.append(spent)
        requester.append(waited["requester"])
        lkpp.append(waited["lkpp"])
        lpse.append(max(0.0, spent - waited["requester"] - waited["lkpp"]))
    return ({"count": len(resolved), "total": _summary(total), "lpse": _summary(lpse),
             "requester": _summary(requester), "lkpp": _summary(lkpp)}, reopened)


def _waits(ticket_ids: list[int]) -> dict[tuple[int, str], list[tuple[datetime, float]]]:
    """The finished waits (``clock_resumed`` events) of the tickets, by ticket and kind: (when, seconds)."""
    found: dict[tuple[int, str], list[tuple[datetime, float]]] = {}
    for chunk in _chunks(ticket_ids):
        for ticket_id, at, data in db.session.execute(
                select(TicketEvent.ticket_id, TicketEvent.created_at, TicketEvent.data)
                .where(TicketEvent.kind == "clock_resumed", TicketEvent.ticket_id.in_(chunk))):
            found.setdefault((ticket_id, data.get("for")), []).append((at, float(data.get("seconds") or 0)))
    return found


# -- the daily report ---------------------------------------------------------------------------------------

def daily_report(office: Office, day: date | None = None, *, now: datetime | None = None) -> dict[str, Any]:
    """The daily SLA report for ``day`` (default: the previous working day), as of ``now``.

    Refuses a day that has not ended yet. A day without data gives a report whose counts are zero.
    """
    now = as_utc(now) if now is not None else utcnow()
    today = local_today(office, now)
    day = day or previous_working_day(office, today)
    if day >= today:
        raise ReportError(f"{day.isoformat()} has not ended yet; a daily report covers a finished day")
    figures = period_figures(office, day, day)
    calendar = calendar_for(office)
    figures.update({
        "kind": "daily",
        "office": {"id": office.id, "name": office.name, "code": office.code},
        "generated_at": now.isoformat(),
        "working_day": calendar.is_working_day(day),
        "due_today": _due_today(office, today, now),
        "pending": _pending(office, now),
        "lkpp_open": _lkpp_open(office, now),
    })
    figures["empty"] = not (figures["received"]["total"] or figures["follow_up_due"]["total"]
                            or figures["follow_ups"]["human"] or figures["follow_ups"]["faq_answer"]
                            or figures["breaches"] or figures["resolution"]["count"] or figures["reopened"])
    return figures


def _due_today(office: Office, today: date, now: datetime) -> list[dict[str, Any]]:
    """Tickets whose follow-up falls due today and had none yet at ``now``."""
    start, end = local_bounds(office, today, today)
    rows = db.session.execute(
        select(Ticket.ref, Ticket.subject, Ticket.follow_up_due_at, Ticket.status, Staff.name)
        .outerjoin(Staff, Staff.id == Ticket.assignee_id)
        .where(Ticket.office_id == office.id, Ticket.follow_up_due_at >= start, Ticket.follow_up_due_at < end,
               Ticket.received_at <= now,
               or_(and_(Ticket.first_follow_up_at.is_(None), Ticket.status.in_([s.value for s in ACTIVE])),
                   Ticket.first_follow_up_at > now))
        .order_by(Ticket.follow_up_due_at)).all()
    return [{"ref": ref, "subject": subject, "due": due.isoformat(), "status": status, "holder": holder}
            for ref, subject, due, status, holder in rows]


def _pending(office: Office, now: datetime) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Ticket.ref, Ticket.subject, Ticket.received_at, Staff.name)
        .outerjoin(Staff, Staff.id == Ticket.assignee_id)
        .where(Ticket.office_id == office.id, Ticket.status == Status.PENDING.value)
        .order_by(Ticket.received_at)).all()
    age = WorkingDayAges(calendar_for(office), now, [received for _, _, received, _ in rows])
    return [{"ref": ref, "subject": subject, "received_at": received.isoformat(), "holder": holder,
             "age_working_days": age(received)}
            for ref, subject, received, holder in rows]


def _lkpp_open(office: Office, now: datetime) -> list[dict[str, Any]]:
    """Escalations to LKPP sent by ``now`` and not answered or closed by then, oldest first."""
    rows = db.session.execute(
        select(Escalation.channel, Escalation.sent_at, Escalation.created_at, Escalation.external_ref,
               Escalation.reminders, Ticket.ref, Ticket.subject)
        .join(Ticket, Ticket.id == Escalation.ticket_id)
        .where(Ticket.office_id == office.id, Escalation.tier == "lkpp", Escalation.created_at <= now,
               or_(Escalation.answered_at.is_(None), Escalation.answered_at > now),
               or_(Escalation.closed_at.is_(None), Escalation.closed_at > now))
        .order_by(Escalation.created_at)).all()
    age = WorkingDayAges(calendar_for(office), now, [sent or created for _, sent, created, *_ in rows])
    return [{"ref": ref, "subject": subject, "channel": channel, "lkpp_ref": number, "reminders": reminders,
             "sent_at": (sent or created).isoformat(), "age_working_days": age(sent or created)}
            for channel, sent, created, number, reminders, ref, subject in rows]


class WorkingDayAges:
    """Ages in whole working days at ``now`` (the office's local dates; the start day not counted), for many start
    moments at once: the working days are counted once, from the earliest start to ``now``."""

    def __init__(self, calendar, now: datetime, starts: Sequence[datetime]) -> None:
        self.calendar = calendar
        self.last = calendar.local(now).date()
        first = min((calendar.local(start).date() for start in starts), default=self.last)
        self.first = min(first, self.last)
        self.after: dict[date, int] = {}  # date -> working days strictly after it, up to ``last``
        count, day = 0, self.last
        while day >= self.first:
            self.after[day] = count
            count += calendar.is_working_day(day)
            day -= timedelta(days=1)

    def __call__(self, start: datetime) -> int:
        return self.after.get(self.calendar.local(start).date(), 0)


# -- the quarterly report -----------------------------------------------------------------------------------

# The headline figures compared quarter on quarter: (name, path into the figures).
HEADLINES: Final = (
    ("received", ("received", "total")),
    ("follow_up_due", ("follow_up_due", "total")),
    ("follow_up_met", ("follow_up_due", "met")),
    ("follow_up_met_share", ("follow_up_due", "met_share")),
    ("human_follow_ups", ("follow_ups", "human")),
    ("faq_answers", ("follow_ups", "faq_answer")),
    ("first_follow_up_median_hours", ("follow_ups", "time_to_first_follow_up", "median_hours")),
    ("breaches", ("breaches",)),
    ("resolved", ("resolution", "count")),
    ("resolution_median_hours", ("resolution", "total", "median_hours")),
    ("lpse_median_hours", ("resolution", "lpse", "median_hours")),
    ("requester_median_hours", ("resolution", "requester", "median_hours")),
    ("lkpp_median_hours", ("resolution", "lkpp", "median_hours")),
    ("reopened", ("reopened",)),
)


def quarterly_report(office: Office, year: int, quarter: int, *, now: datetime | None = None) -> dict[str, Any]:
    """The figures of a quarter (up to yesterday while it runs) beside the quarter before, with the change.

    Refuses a quarter that has not begun.
    """
    now = as_utc(now) if now is not None else utcnow()
    if not 1 <= quarter <= 4:
        raise ReportError("a quarter is 1, 2, 3 or 4")
    first, last = quarter_of(date(year, 3 * quarter - 2, 1))
    today = local_today(office, now)
    if first >= today:
        raise ReportError(f"quarter {quarter} of {year} has not begun yet")
    partial = last >= today
    last = min(last, today - timedelta(days=1))
    current = period_figures(office, first, last)
    before_first, before_last = previous_quarter(first)
    previous = period_figures(office, before_first, before_last)
    return {
        "kind": "quarterly", "year": year, "quarter": quarter, "partial": partial,
        "office": {"id": office.id, "name": office.name, "code": office.code},
        "generated_at": now.isoformat(), "current": current, "previous": previous,
        "headlines": [_headline(name, path, current, previous) for name, path in HEADLINES],
    }


def _headline(name: str, path: tuple[str, ...], current: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    now_value, then_value = _pick(current, path), _pick(previous, path)
    change = None if now_value is None or then_value is None else round(now_value - then_value, 4)
    share = None if change is None or not then_value else round(change / then_value, 4)
    return {"name": name, "current": now_value, "previous": then_value, "change": change, "change_share": share}


def _pick(figures: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = figures
    for key in path:
        value = value[key]
    return len(value) if isinstance(value, list) else value


# -- internals ----------------------------------------------------------------------------------------------

def _counts(values: Iterable[str | None]) -> dict[str, int]:
    counter = Counter(value or "unknown" for value in values)
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


def _staff_names(ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return dict(db.session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(wanted))).all())


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for index in range(0, len(ids), CHUNK):
        yield ids[index:index + CHUNK]
