"""The SLA sweep (DESIGN.md §5; a scheduler job every 5 minutes, and ``helpdesk sla sweep``).

One run, in one transaction:

1. marks follow-up breaches, follow-up warnings and resolution breaches, each exactly once per ticket (the
   set-based verbs of ``helpdesk.ticket_marks``: one UPDATE and one INSERT each, whatever the number of tickets);
2. tells people: each holder one email listing the tickets warned for them, each head of the LPSE one email
   listing the breaches, and — when the settings ask for it — an SMS and a voice call (Twilio, through the
   outbox) to the head or the on-call officer, only within the alert hours;
3. applies the breach policy to the tickets whose follow-up breached (``sla.breach_action``: notify only, flag,
   or hand the ticket to ``sla.breach_role`` as an internal escalation).

Notices queued outside office hours wait in the outbox for the next opening (``notify.office_hours_only``).
Also here: ``close_resolved``, the job that closes resolved tickets nobody answered for N working days.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Final

from sqlalchemy import select

from helpdesk import settings, staff_notices, ticket_marks, tickets
from helpdesk.calendars import calendar_for
from helpdesk.errors import HelpdeskError
from helpdesk.extensions import db
from helpdesk.links import absolute_url
from helpdesk.models import Office, OutboxMessage, Staff, Ticket
from helpdesk.outbox import render_text
from helpdesk.states import Status
from helpdesk.ticket_marks import Marked
from helpdesk.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

BREACH_ACTIONS: Final = ("notify", "flag", "assign_role")
LIST_LIMIT: Final = 50  # tickets listed in one notice; the rest are counted, and the queue shows them all
ALERT_RECIPIENTS: Final = ("kepala", "on_call")


@dataclass
class SweepReport:
    """What one sweep did."""

    warned: int = 0
    breached: int = 0
    resolution_breached: int = 0
    notices: int = 0
    alerts: int = 0
    policy_applied: int = 0

    def line(self) -> str:
        return (f"SLA sweep: {self.warned} warned, {self.breached} follow-up breaches, "
                f"{self.resolution_breached} resolution breaches; {self.notices} notices, {self.alerts} alerts, "
                f"breach policy applied to {self.policy_applied}")


def run_sweep(now: datetime | None = None) -> SweepReport:
    """Run the SLA checks at ``now`` (default: the current time) and commit. Safe to run again at any time."""
    try:
        report = check(as_utc(now) if now is not None else utcnow())
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if report.warned or report.breached or report.resolution_breached:
        log.info(report.line())
    return report


def check(now: datetime) -> SweepReport:
    """The sweep's work at ``now`` in the caller's transaction: marks, notices, alerts, policy. Flushes only."""
    report = SweepReport()
    breached = ticket_marks.mark_follow_up_breaches(now)
    warned = ticket_marks.mark_follow_up_warnings(now)
    resolution = ticket_marks.mark_resolution_breaches(
        now, lkpp_time_counts=bool(settings.get_setting("sla.resolution_counts_lkpp_time")))
    report.breached, report.warned, report.resolution_breached = len(breached), len(warned), len(resolution)
    report.notices += _notify_warnings(warned, now=now)
    report.notices += _notify_breaches(breached, resolution, now=now)
    report.alerts += _alert(breached + resolution, now=now)
    report.policy_applied += _apply_breach_policy(breached, now=now)
    return report


def close_resolved(now: datetime | None = None) -> int:
    """Close resolved tickets whose requester has not replied for ``tickets.auto_close_working_days`` working
    days since the resolution (0 turns it off). Commits; returns how many were closed."""
    now = as_utc(now) if now is not None else utcnow()
    days = int(settings.get_setting("tickets.auto_close_working_days") or 0)
    if days <= 0:
        return 0
    closed = 0
    candidates = db.session.scalars(
        select(Ticket).where(Ticket.status == Status.RESOLVED.value, Ticket.resolved_at <= now - timedelta(days=days))
        .order_by(Ticket.id).with_for_update(skip_locked=True)).all()
    for ticket in candidates:
        if calendar_for(ticket.office).follow_up_due(ticket.resolved_at, working_days=days) > now:
            continue
        tickets.close_unanswered(ticket, working_days=days, at=now)
        closed += 1
    db.session.commit()
    if closed:
        log.info("closed %d resolved ticket(s) without a reply for %d working days", closed, days)
    return closed


# -- notices -------------------------------------------------------------------------------------------------

def _notify_warnings(warned: list[Marked], *, now: datetime) -> int:
    """One email per holder, listing the tickets warned for them."""
    by_holder: dict[tuple[int, int], list[Marked]] = defaultdict(list)
    holders = _Holders()
    for mark in warned:
        for staff in holders.of(mark):
            by_holder[(mark.office_id, staff.id)].append(mark)
    count = 0
    for (office_id, staff_id), marks in by_holder.items():
        office = db.session.get(Office, office_id)
        count += len(staff_notices.notify_staff(
            [db.session.get(Staff, staff_id)], "staff-sla-warning", office=office, at=now,
            **_listed(marks, "tickets"), share=round(100 * float(settings.get_setting("sla.warning_share")))))
    return count


def _notify_breaches(breached: list[Marked], resolution: list[Marked], *, now: datetime) -> int:
    """One email per head of the LPSE per office, listing this sweep's breaches."""
    offices = {mark.office_id for mark in breached + resolution}
    count = 0
    for office_id in sorted(offices):
        office = db.session.get(Office, office_id)
        count += len(staff_notices.notify_staff(
            staff_notices.office_heads(office_id), "staff-sla-breach", office=office, at=now,
            **_listed([m for m in breached if m.office_id == office_id], "follow_up"),
            **_listed([m for m in resolution if m.office_id == office_id], "resolution")))
    return count


def _alert(marks: list[Marked], *, now: datetime) -> int:
    """SMS and voice alerts about breaches to the head or the on-call officer, held to the alert hours."""
    want_sms, want_voice = settings.get_setting("alerts.sms"), settings.get_setting("alerts.voice")
    if not marks or not (want_sms or want_voice):
        return 0
    count = 0
    for office_id in sorted({mark.office_id for mark in marks}):
        office = db.session.get(Office, office_id)
        refs = [mark.ref for mark in marks if mark.office_id == office_id]
        text = render_text("sla-breach-alert", office=office, refs=refs)
        due = alert_time(office, now)
        for number in _alert_numbers(office_id):
            for channel in (("sms",) if want_sms else ()) + (("voice",) if want_voice else ()):
                db.session.add(OutboxMessage(channel=channel, recipient=number, body=text, automatic=True,
                                             template="sla-breach-alert", created_at=now, next_attempt_at=due))
                count += 1
    db.session.flush()
    return count


def alert_time(office: Office, now: datetime) -> datetime:
    """``now`` when it falls inside the alert hours (``alerts.hours``, the office's local time, any day), else the
    next start of that window."""
    start_text, end_text = settings.get_setting("alerts.hours") or ("00:00", "23:59")
    start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    calendar = calendar_for(office)
    local = calendar.local(now)
    if start <= local.time() < end:
        return now
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    return as_utc(datetime.combine(day, start, calendar.tz))


def _alert_numbers(office_id: int) -> list[str]:
    if settings.get_setting("alerts.recipient") == "on_call":
        number = (settings.get_setting("alerts.on_call_phone") or "").strip()
        return [number] if number else []
    return sorted({staff.phone for staff in staff_notices.office_heads(office_id) if staff.phone})


# -- breach policy -------------------------------------------------------------------------------------------

def _apply_breach_policy(breached: list[Marked], *, now: datetime) -> int:
    action = settings.get_setting("sla.breach_action")
    if action not in ("flag", "assign_role") or not breached:
        return 0
    applied = 0
    for mark in breached:
        ticket = db.session.get(Ticket, mark.id)
        try:
            with db.session.begin_nested():
                if action == "flag":
                    tickets.flag(ticket, "sla_breached", at=now)
                elif ticket.status != Status.ESCALATED.value:
                    _hand_to_role(ticket, settings.get_setting("sla.breach_role"), now=now)
                else:
                    continue  # already with someone more competent
            applied += 1
        except HelpdeskError as exc:
            log.warning("%s: breach policy %s not applied: %s", mark.ref, action, exc)
    return applied


def _hand_to_role(ticket: Ticket, role: str, *, now: datetime) -> None:
    from helpdesk import escalations

    escalations.escalate_internal(ticket, actor=None, role=role, at=now,
                                  reason="Batas waktu tindak lanjut terlampaui (kebijakan pelanggaran SLA).")


class _Holders:
    """Who is warned about a marked ticket (its assignee, else the role holding it), looked up once per sweep."""

    def __init__(self) -> None:
        self._staff: dict[int, Staff | None] = {}
        self._roles: dict[tuple[int, str], list[Staff]] = {}

    def of(self, mark: Marked) -> list[Staff]:
        if mark.assignee_id is not None:
            if mark.assignee_id not in self._staff:
                self._staff[mark.assignee_id] = db.session.get(Staff, mark.assignee_id)
            staff = self._staff[mark.assignee_id]
            if staff is not None and staff.active:
                return [staff]
        key = (mark.office_id, mark.holder_role or "helpdesk")
        if key not in self._roles:
            self._roles[key] = staff_notices.role_holders(*key)
        return self._roles[key]


def _listed(marks: list[Marked], name: str) -> dict[str, object]:
    """``{name: the first LIST_LIMIT tickets, name_more: how many more}`` for a notice's template."""
    shown = [{"ref": m.ref, "subject": m.subject, "due": m.due, "url": _ticket_url(m.ref)}
             for m in marks[:LIST_LIMIT]]
    return {name: shown, f"{name}_more": max(0, len(marks) - LIST_LIMIT), f"{name}_count": len(marks)}


def _ticket_url(ref: str) -> str:
    try:
        return absolute_url("tickets.show", ref=ref)
    except RuntimeError:  # no PUBLIC_BASE_URL and no request: the path still tells an officer where to look
        return f"/tickets/{ref}"
