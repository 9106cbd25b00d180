"""The ticket's clocks beyond the follow-up deadline (DESIGN.md §5), kept by the ticket service.

- **Warning mark**: ``follow_up_warn_at``, the moment a share (``sla.warning_share``) of the follow-up clock's
  working time has passed; the SLA sweep warns the holder then.
- **Resolution clock**: a target in working days by ticket type and priority (``sla.resolution_targets``). Its
  deadline is the same local clock time that many working days after receipt, pushed back by the working time
  the ticket spent paused: waiting on the requester, resolved (until it is reopened), and waiting on LKPP unless
  ``sla.resolution_counts_lkpp_time`` says LKPP's time counts.
- **Requester and LKPP time**: the working seconds of each finished wait are added to ``requester_seconds`` and
  ``lkpp_seconds``, and each pause and resume is a ticket event, so reports can tell LPSE time, requester time
  and LKPP time apart.

One pause at a time: a new pause (the ticket waits on LKPP while it waited on the requester) closes the running
one first. These functions change the ticket row; the caller (tickets.py, escalations.py) records the events.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from . import settings
from .calendars import calendar_for
from .models import Ticket
from .timeutil import as_utc

PAUSE_REASONS: Final = ("requester", "lkpp", "resolved")
ANY: Final = "*"


def resolution_target_days(ticket: Ticket) -> int | None:
    """Working days the first matching rule of ``sla.resolution_targets`` gives the ticket; None without a rule."""
    for rule in settings.get_setting("sla.resolution_targets") or ():
        if rule.get("ticket_type", ANY) not in (ANY, ticket.ticket_type):
            continue
        if rule.get("priority", ANY) not in (ANY, ticket.priority):
            continue
        days = rule.get("working_days")
        return int(days) if days else None
    return None


def start(ticket: Ticket) -> None:
    """Set the warning mark and the resolution deadline of a ticket just opened."""
    calendar = calendar_for(ticket.office)
    start_at = calendar.next_opening(ticket.received_at)
    span = calendar.working_seconds(start_at, ticket.follow_up_due_at)
    share = min(max(float(settings.get_setting("sla.warning_share")), 0.0), 1.0)
    ticket.follow_up_warn_at = as_utc(calendar.add_working_seconds(start_at, span * share)) if span > 0 \
        else ticket.follow_up_due_at
    retarget(ticket)


def retarget(ticket: Ticket) -> bool:
    """Recompute the resolution deadline (after the ticket's type or priority changed). True when it changed."""
    before = (ticket.resolution_target_days, ticket.resolution_due_at)
    days = resolution_target_days(ticket)
    ticket.resolution_target_days = days
    if days is None:
        ticket.resolution_due_at = None
    else:
        calendar = calendar_for(ticket.office)
        due = calendar.follow_up_due(ticket.received_at, working_days=days)
        pushed = _pushed_seconds(ticket)
        ticket.resolution_due_at = as_utc(calendar.add_working_seconds(due, pushed) if pushed > 0 else due)
    return before != (ticket.resolution_target_days, ticket.resolution_due_at)


def pause(ticket: Ticket, reason: str, *, at: datetime) -> dict[str, Any] | None:
    """Start a pause for ``reason``; returns the resume data of a pause it had to close first, else None."""
    if reason not in PAUSE_REASONS:
        raise ValueError(f"unknown pause reason {reason!r}")
    closed = None
    if ticket.clock_paused_at is not None:
        if ticket.clock_paused_for == reason:
            return None
        closed = resume(ticket, at=at)
    ticket.clock_paused_at, ticket.clock_paused_for = as_utc(at), reason
    return closed


def resume(ticket: Ticket, *, at: datetime, reason: str | None = None) -> dict[str, Any] | None:
    """End the running pause (only if it is for ``reason``, when given); its data, or None when none ran.

    The pause's working seconds go to the requester or LKPP counter, and push the resolution deadline back when
    that kind of pause stops the clock.
    """
    if ticket.clock_paused_at is None or (reason is not None and ticket.clock_paused_for != reason):
        return None
    calendar = calendar_for(ticket.office)
    paused_for, since = ticket.clock_paused_for, ticket.clock_paused_at
    seconds = max(0, int(calendar.working_seconds(since, as_utc(at))))
    if paused_for == "requester":
        ticket.requester_seconds = (ticket.requester_seconds or 0) + seconds
    elif paused_for == "lkpp":
        ticket.lkpp_seconds = (ticket.lkpp_seconds or 0) + seconds
    if ticket.resolution_due_at is not None and seconds > 0 and _stops_clock(paused_for):
        ticket.resolution_due_at = as_utc(calendar.add_working_seconds(ticket.resolution_due_at, seconds))
    ticket.clock_paused_at = ticket.clock_paused_for = None
    return {"for": paused_for, "since": since.isoformat(), "seconds": seconds}


def waiting_seconds(ticket: Ticket, *, now: datetime) -> dict[str, int]:
    """Working seconds spent waiting on the requester and on LKPP so far, the running wait included."""
    totals = {"requester": ticket.requester_seconds or 0, "lkpp": ticket.lkpp_seconds or 0}
    if ticket.clock_paused_at is not None and ticket.clock_paused_for in totals:
        running = calendar_for(ticket.office).working_seconds(ticket.clock_paused_at, as_utc(now))
        totals[ticket.clock_paused_for] += max(0, int(running))
    return totals


def _stops_clock(reason: str | None) -> bool:
    if reason == "lkpp":
        return not settings.get_setting("sla.resolution_counts_lkpp_time")
    return reason in ("requester", "resolved")


def _pushed_seconds(ticket: Ticket) -> int:
    """Working seconds the resolution deadline was pushed back by finished pauses (resolved spans excluded)."""
    pushed = ticket.requester_seconds or 0
    if _stops_clock("lkpp"):
        pushed += ticket.lkpp_seconds or 0
    return pushed
