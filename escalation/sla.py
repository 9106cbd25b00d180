"""SLA states of the follow-up clock, as the queue shows and filters them."""
from __future__ import annotations

import enum
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l

from .calendar import WorkingCalendar


class SlaState(enum.StrEnum):
    OVERDUE = "overdue"        # no follow-up yet and the deadline has passed
    DUE_TODAY = "due_today"    # no follow-up yet, deadline later today (office's local day)
    ON_TRACK = "on_track"      # no follow-up yet, deadline after today
    MET = "met"                # followed up by the deadline
    MISSED = "missed"          # followed up, but after the deadline


SLA_LABELS = {
    SlaState.OVERDUE: _l("Overdue"),
    SlaState.DUE_TODAY: _l("Due today"),
    SlaState.ON_TRACK: _l("On track"),
    SlaState.MET: _l("Followed up on time"),
    SlaState.MISSED: _l("Followed up late"),
}


def end_of_local_day(calendar: WorkingCalendar, now: datetime) -> datetime:
    """Midnight at the end of ``now``'s day in the office's zone, as an aware datetime."""
    local = calendar.local(now)
    return datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), calendar.tz)


def sla_state(*, due: datetime, first_follow_up_at: datetime | None, now: datetime,
              calendar: WorkingCalendar) -> SlaState:
    """Classify a ticket's follow-up clock at ``now``."""
    if first_follow_up_at is not None:
        return SlaState.MET if first_follow_up_at <= due else SlaState.MISSED
    if due < now:
        return SlaState.OVERDUE
    if due < end_of_local_day(calendar, now):
        return SlaState.DUE_TODAY
    return SlaState.ON_TRACK
