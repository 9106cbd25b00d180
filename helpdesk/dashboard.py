"""The figures of the head of the LPSE's dashboard: follow-ups within SLA, volume by channel, backlog by age and
escalations at LKPP, over the last 30 local days of one office.

Set-based: a fixed number of queries whatever the number of tickets (one per figure, two for LKPP), each grouping
in SQL. Everything that depends on the office calendar — the local day boundaries, the moments "N working days
before now" — is computed in Python first (a few dozen moments), then handed to SQL as bound parameters; SQL only
compares stored UTC instants against them. That is why it is portable (SQLite and PostgreSQL do time zones and
working days differently, or not at all) and exact (a moment in a bucket is exactly a moment between two
boundaries the calendar computed).

Every count grouped "by day" uses a ``CASE`` over the 31 boundaries of the 30 local days (``_bucket``), computed
once in a subquery and grouped outside it (PostgreSQL would not match an expression in ``GROUP BY`` against the
same expression in ``SELECT`` when each carries its own bound parameters). A ``CASE`` of 30 comparisons per row is
cheap next to reading the row, and it keeps the grouping, hence the transfer, in the database: 30 days by 5 states
is at most 150 rows back, however busy the office. Fetching the (due, first_follow_up_at) pairs and bucketing in
Python would be as correct but ships one row per ticket of the window.

Nothing here writes. ``now`` is a parameter everywhere (the page passes ``utcnow()``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import and_, case, exists, func, literal, select, union_all

from escalation.calendar import WorkingCalendar

from .calendars import calendar_for
from .extensions import db
from .models import Escalation, Office, Ticket, TicketEvent
from .states import ACTIVE
from .timeutil import UTCDateTime, as_utc
from .vocab import Channel

PERIOD_DAYS: Final = 30
# Age buckets in working days: (key, lower bound, upper bound or None). A ticket is in the first bucket whose
# upper bound its age does not reach; "0-1" holds tickets less than one working day old.
AGE_BUCKETS: Final[tuple[tuple[str, int, int | None], ...]] = (
    ("0-1", 0, 1), ("1-2", 1, 2), ("2-5", 2, 5), ("5-10", 5, 10), ("10+", 10, None))
# Follow-up states of a deadline (FollowUpDay's fields).
MET, LATE, MISSING, NOT_DUE, FAQ, DISMISSED = "met", "late", "missing", "not_due", "faq", "dismissed"
ACTIVE_VALUES: Final = tuple(sorted(status.value for status in ACTIVE))
REVIEW: Final = "review"


# -- results ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FollowUpDay:
    """The follow-up deadlines that fell on one local day, by what became of them.

    ``met``/``late``: a human follow-up (reply, escalation notice, resolution) by / after the deadline; ``missing``:
    none yet and the deadline has passed; ``not_due``: none yet, deadline later today; ``faq``: the first
    follow-up was an automatic FAQ answer, counted apart from the human ones (DESIGN.md §5), whether in time or
    not. Tickets closed without a follow-up before their deadline (spam, duplicates) are not counted.
    """

    day: date
    working: bool
    met: int = 0
    late: int = 0
    missing: int = 0
    not_due: int = 0
    faq: int = 0

    @property
    def judged(self) -> int:
        """Deadlines that passed or were met by a human: the denominator of the share within SLA."""
        return self.met + self.late + self.missing

    @property
    def share_met(self) -> float | None:
        """Share of the judged deadlines met on time (0..1), None on a day without any."""
        return self.met / self.judged if self.judged else None

    @property
    def total(self) -> int:
        return self.judged + self.not_due + self.faq


@dataclass(frozen=True)
class VolumeDay:
    """Tickets received on one local day, per channel (every channel of the vocabulary, 0 when none)."""

    day: date
    working: bool
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class AgeBucket:
    """How many items are at least ``low`` and less than ``high`` working days old (``high`` None: no limit).

    As moments: the items arrived after ``since`` (None: no limit) and at or before ``until`` (None: up to now).
    """

    key: str
    low: int
    high: int | None
    count: int
    since: datetime | None
    until: datetime | None


@dataclass(frozen=True)
class LkppWeek:
    """Escalations to LKPP sent, and LKPP answers received, in one local week of the period (``start`` to
    ``end`` inclusive; the first week starts with the period, so it may be short)."""

    start: date
    end: date
    opened: int
    answered: int


@dataclass(frozen=True)
class LkppFigures:
    """Escalations to LKPP: the open ones by age in working days since they were sent, the answered ones waiting
    for staff to review the answer, and the weekly flow over the period."""

    open_by_age: list[AgeBucket]
    awaiting_review: int
    weeks: list[LkppWeek]

    @property
    def open_total(self) -> int:
        return sum(bucket.count for bucket in self.open_by_age)

    @property
    def empty(self) -> bool:
        return not (self.open_total or self.awaiting_review or any(w.opened or w.answered for w in self.weeks))


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard page shows for one office at ``now``."""

    office: Office
    now: datetime
    days: list[date]
    follow_ups: list[FollowUpDay]
    volume: list[VolumeDay]
    backlog: list[AgeBucket]
    lkpp: LkppFigures
    channels: list[str] = field(default_factory=list)  # the channels with at least one ticket in the period

    @property
    def start(self) -> date:
        return self.days[0]

    @property
    def end(self) -> date:
        return self.days[-1]


# -- the page's figures ----------------------------------------------------------------------------------------

def build(office: Office, *, now: datetime) -> Dashboard:
    """Every figure of the dashboard for ``office`` at ``now``: five queries (plus the calendar's, once)."""
    now = as_utc(now)
    calendar = calendar_for(office)
    days = period_days(calendar, now)
    volume = volume_by_channel(office, now=now)
    channels = [channel.value for channel in Channel if any(day.counts[channel.value] for day in volume)]
    return Dashboard(office=office, now=now, days=days, follow_ups=follow_ups_by_day(office, now=now),
                     volume=volume, backlog=backlog_by_age(office, now=now), lkpp=lkpp_escalations(office, now=now),
                     channels=channels)


def follow_ups_by_day(office: Office, *, now: datetime) -> list[FollowUpDay]:
    """For each of the last 30 local days (today included), the follow-up deadlines that fell on it: met, late,
    missing, not yet due, and FAQ automatic answers apart. One query."""
    now = as_utc(now)
    calendar = calendar_for(office)
    days = period_days(calendar, now)
    bounds = day_boundaries(calendar, days)
    due = Ticket.follow_up_due_at
    # EXISTS rather than a join, so a ticket counts once even if its history held two follow-up events.
    faq = exists().where(TicketEvent.ticket_id == Ticket.id, TicketEvent.kind == "followed_up",
                         TicketEvent.data["how"].as_string() == "faq_answer")
    state = case(
        (Ticket.first_follow_up_at.is_not(None) & faq, literal(FAQ)),
        (Ticket.follow_up_met.is_(True), literal(MET)),
        (Ticket.first_follow_up_at.is_not(None), literal(LATE)),
        # Closed from new before the deadline (spam, a duplicate): nobody had to follow it up.
        (and_(Ticket.closed_at.is_not(None), Ticket.closed_at <= due), literal(DISMISSED)),
        (due < _moment(now), literal(MISSING)),
        else_=literal(NOT_DUE))
    inner = (select(_bucket(due, bounds).label("bucket"), state.label("state"))
             .where(Ticket.office_id == office.id, due >= _moment(bounds[0]), due < _moment(bounds[-1]))
             .subquery())
    counts: dict[tuple[int, str], int] = {
        (bucket, kind): count for bucket, kind, count in db.session.execute(
            select(inner.c.bucket, inner.c.state, func.count()).group_by(inner.c.bucket, inner.c.state))}
    return [FollowUpDay(day=day, working=calendar.is_working_day(day),
                        **{kind: counts.get((index, kind), 0) for kind in (MET, LATE, MISSING, NOT_DUE, FAQ)})
            for index, day in enumerate(days)]


def volume_by_channel(office: Office, *, now: datetime) -> list[VolumeDay]:
    """Tickets received on each of the last 30 local days, per channel. One query."""
    now = as_utc(now)
    calendar = calendar_for(office)
    days = period_days(calendar, now)
    bounds = day_boundaries(calendar, days)
    received = Ticket.received_at
    inner = (select(_bucket(received, bounds).label("bucket"), Ticket.channel.label("channel"))
             .where(Ticket.office_id == office.id, received >= _moment(bounds[0]), received < _moment(bounds[-1]),
                    # Implied (a deadline never comes before its receipt), and lets the (office, deadline) index
                    # skip the office's older tickets instead of reading them all.
                    Ticket.follow_up_due_at >= _moment(bounds[0]))
             .subquery())
    counts: dict[tuple[int, str], int] = {
        (bucket, channel): count for bucket, channel, count in db.session.execute(
            select(inner.c.bucket, inner.c.channel, func.count()).group_by(inner.c.bucket, inner.c.channel))}
    channels = [channel.value for channel in Channel]
    return [VolumeDay(day=day, working=calendar.is_working_day(day),
                      counts={channel: counts.get((index, channel), 0) for channel in channels})
            for index, day in enumerate(days)]


def backlog_by_age(office: Office, *, now: datetime) -> list[AgeBucket]:
    """Active tickets (new, open, pending, escalated, waiting) by age in working days since they were received.
    One query."""
    now = as_utc(now)
    marks = age_marks(calendar_for(office), now)
    inner = (select(_age_bucket(Ticket.received_at, marks).label("bucket"))
             .where(Ticket.office_id == office.id, Ticket.status.in_(ACTIVE_VALUES))
             .subquery())
    counts = dict(db.session.execute(select(inner.c.bucket, func.count()).group_by(inner.c.bucket)).all())
    return _age_buckets(marks, counts)


def lkpp_escalations(office: Office, *, now: datetime) -> LkppFigures:
    """Escalations of the office's tickets to LKPP: open ones by age in working days since sent, answered ones
    awaiting review, and escalations sent / answers received per local week of the period. Two queries."""
    now = as_utc(now)
    calendar = calendar_for(office)
    marks = age_marks(calendar, now)
    sent = func.coalesce(Escalation.sent_at, Escalation.created_at)
    # Escalations are far fewer than tickets: read them, and look up each one's ticket for its office.
    lkpp = and_(Escalation.tier == "lkpp",
                exists().where(Ticket.id == Escalation.ticket_id, Ticket.office_id == office.id))
    inner = (select(case((Escalation.status == "answered", literal(REVIEW)),
                         else_=_age_bucket(sent, marks)).label("bucket"))
             .where(lkpp, Escalation.status.in_(("open", "answered")))
             .subquery())
    counts = dict(db.session.execute(select(inner.c.bucket, func.count()).group_by(inner.c.bucket)).all())
    awaiting = counts.pop(REVIEW, 0)

    weeks = period_weeks(period_days(calendar, now))
    bounds = [_local_midnight(calendar, start) for start, _ in weeks]
    bounds.append(_local_midnight(calendar, weeks[-1][1] + timedelta(days=1)))

    def flow(kind: str, moment: Any):
        return (select(literal(kind).label("kind"), _bucket(moment, bounds).label("bucket"))
                .where(lkpp, moment >= _moment(bounds[0]), moment < _moment(bounds[-1])))

    both = union_all(flow("opened", sent), flow("answered", Escalation.answered_at)).subquery()
    flows: dict[tuple[str, int], int] = {
        (kind, bucket): count for kind, bucket, count in db.session.execute(
            select(both.c.kind, both.c.bucket, func.count()).group_by(both.c.kind, both.c.bucket))}
    return LkppFigures(
        open_by_age=_age_buckets(marks, counts), awaiting_review=awaiting,
        weeks=[LkppWeek(start=start, end=end, opened=flows.get(("opened", index), 0),
                        answered=flows.get(("answered", index), 0))
               for index, (start, end) in enumerate(weeks)])


# -- calendar arithmetic (pure) --------------------------------------------------------------------------------

def period_days(calendar: WorkingCalendar, now: datetime, *, days: int = PERIOD_DAYS) -> list[date]:
    """The last ``days`` local days of the office up to and including the day of ``now``, oldest first."""
    today = calendar.local(now).date()
    return [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def day_boundaries(calendar: WorkingCalendar, days: Sequence[date]) -> list[datetime]:
    """The local midnights starting each of ``days`` and the one ending the last, in UTC (31 for 30 days)."""
    return [_local_midnight(calendar, day) for day in days] + [_local_midnight(calendar, days[-1] + timedelta(1))]


def period_weeks(days: Sequence[date]) -> list[tuple[date, date]]:
    """The local weeks (Monday to Sunday) of a period as (first, last) days, cut to the period at both ends."""
    weeks: list[tuple[date, date]] = []
    start = days[0]
    while start <= days[-1]:
        end = min(start + timedelta(days=6 - start.weekday()), days[-1])
        weeks.append((start, end))
        start = end + timedelta(days=1)
    return weeks


def working_days_before(calendar: WorkingCalendar, now: datetime, days: int) -> datetime:
    """The moment ``days`` working days before ``now``, in UTC (see ``WorkingCalendar.working_days_before``)."""
    return as_utc(calendar.working_days_before(now, days))


def age_marks(calendar: WorkingCalendar, now: datetime) -> dict[int, datetime]:
    """The moments 1, 2, 5 and 10 working days before ``now`` (the bounds of AGE_BUCKETS), in UTC."""
    return {low: working_days_before(calendar, now, low) for _, low, _ in AGE_BUCKETS if low}


# -- helpers ---------------------------------------------------------------------------------------------------

def _local_midnight(calendar: WorkingCalendar, day: date) -> datetime:
    return as_utc(datetime.combine(day, time.min, calendar.tz))


def _moment(value: datetime):
    """A bound UTC moment, stored the way the column stores it (naive UTC on SQLite)."""
    return literal(value, UTCDateTime)


def _bucket(column: Any, bounds: Sequence[datetime]):
    """The index i of the interval [bounds[i], bounds[i+1]) holding ``column`` (the caller keeps it in range)."""
    if len(bounds) <= 2:
        return literal(0)
    return case(*[(column < _moment(bound), literal(index)) for index, bound in enumerate(bounds[1:-1])],
                else_=literal(len(bounds) - 2))


def _age_bucket(column: Any, marks: dict[int, datetime]):
    """The key of the AGE_BUCKETS bucket of something that arrived at ``column``."""
    # Ages are half-open [low, high): exactly one working day old is "1-2", so "0-1" is strictly after the mark.
    whens = [(column > _moment(marks[high]), literal(key)) for key, _, high in AGE_BUCKETS if high]
    return case(*whens, else_=literal(AGE_BUCKETS[-1][0]))


def _age_buckets(marks: dict[int, datetime], counts: dict[str, int]) -> list[AgeBucket]:
    return [AgeBucket(key=key, low=low, high=high, count=counts.get(key, 0),
                      since=marks[high] if high else None, until=marks[low] if low else None)
            for key, low, high in AGE_BUCKETS]

