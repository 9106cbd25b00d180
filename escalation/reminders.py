"""The escalation reminder job: an open escalation with no answer after N working days reminds its holder.

``send_due_reminders`` asks which open escalations are due (``next_reminder_at`` passed), claims each with one
atomic UPDATE that moves ``next_reminder_at`` on by setting ``escalation.reminder_working_days`` working days (so
two processes running the job at once never remind twice: the second UPDATE finds the value changed and takes
nothing), then records the reminder through the ticket service and commits, one escalation at a time.

Tickets no longer being worked on are not nagged about: a resolved or closed ticket's escalation stops reminding,
and while the ticket waits on the requester the reminder is put off by the same number of working days.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update

from helpdesk import escalations
from helpdesk.extensions import db
from helpdesk.models import Escalation, Ticket
from helpdesk.states import Status
from helpdesk.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

BATCH = 500


def send_due_reminders(now: datetime | None = None) -> int:
    """Remind the holders of every open escalation due at ``now`` (default: the current time). Commits per
    escalation; one that fails is logged, rolled back and tried again on the next run. Returns the reminders
    sent. Needs an app context."""
    now = as_utc(now) if now is not None else utcnow()
    due = db.session.execute(
        select(Escalation.id, Escalation.next_reminder_at)
        .where(Escalation.status == "open", Escalation.next_reminder_at.is_not(None),
               Escalation.next_reminder_at <= now)
        .order_by(Escalation.next_reminder_at, Escalation.id).limit(BATCH)).all()
    sent = 0
    for escalation_id, due_at in due:
        try:
            if _remind(escalation_id, due_at, now=now):
                sent += 1
        except Exception:
            db.session.rollback()
            log.exception("escalation %s: the reminder could not be recorded", escalation_id)
    if sent:
        log.info("escalation reminders: %d sent", sent)
    return sent


def _remind(escalation_id: int, due_at: datetime, *, now: datetime) -> bool:
    """Claim one due escalation and remind its holder; False when another run took it or nobody is reminded."""
    escalation = db.session.get(Escalation, escalation_id)
    if escalation is None:
        db.session.rollback()
        return False
    ticket = db.session.get(Ticket, escalation.ticket_id)
    if ticket.status in (Status.RESOLVED, Status.CLOSED):
        next_at, remind = None, False
    else:
        next_at, remind = escalations.next_reminder(ticket, now), ticket.status != Status.WAITING
    values: dict = {"next_reminder_at": next_at}
    if remind:
        values.update(reminders=Escalation.reminders + 1, last_reminder_at=now)
    claimed = db.session.execute(
        update(Escalation)
        .where(Escalation.id == escalation_id, Escalation.status == "open", Escalation.next_reminder_at == due_at)
        .values(**values)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        db.session.rollback()
        return False
    if remind:
        escalation = db.session.get(Escalation, escalation_id, populate_existing=True)
        escalations.record_reminder(escalation, at=now)
    db.session.commit()
    return remind
