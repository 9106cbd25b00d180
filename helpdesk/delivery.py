"""The outbox delivery job: claim each due message, hand it to its channel's sender, record what became of it.

A message moves ``queued`` -> ``sending`` (claimed) -> ``sent``, back to ``queued`` with a later
``next_attempt_at`` after a temporary failure, or ``failed`` after a permanent one or too many attempts (its
ticket is then flagged). The sender is a parameter, so this module knows no transport: the scheduler and the CLI
pass ``channels.email.smtp.make_sender(app.config)`` for email, and call ``deliver_due`` for email only when
SMTP_HOST is configured; without it messages simply wait in the outbox, visible on the admin outbox page.

Claims are one atomic UPDATE (correct on SQLite and PostgreSQL alike), so two processes never send the same
message at once. A claim is a lease: while a message is ``sending`` its ``next_attempt_at`` holds the end of the
lease, and a claim whose process died mid-send becomes due again when the lease runs out.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from . import tickets
from .errors import HelpdeskError, ValidationError
from .extensions import db
from .models import OutboxMessage, Staff, Ticket
from .timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

STATUSES: Final = ("queued", "sending", "sent", "failed")
# Longer than any send can take (MAIL_TIMEOUT_SECONDS bounds each network wait), short enough that mail held by
# a process that died goes out again soon.
LEASE: Final = timedelta(minutes=10)
MAX_RETRY_DELAY: Final = timedelta(hours=6)


class DeliveryError(HelpdeskError):
    """A sender could not deliver a message; the message says why, for the staff."""


class TemporaryDeliveryError(DeliveryError):
    """The message may go through later (server down or busy, a 4xx reply, a configuration gap): retried."""


class PermanentDeliveryError(DeliveryError):
    """The message will never go through as it stands (a 5xx reply, a malformed recipient): failed at once."""


@dataclass
class DeliveryReport:
    """What one run of deliver_due did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


def deliver_due(send: Callable[[OutboxMessage], None], *, channel: str = "email", now: datetime | None = None,
                limit: int = 100) -> DeliveryReport:
    """Deliver up to ``limit`` due messages of ``channel`` (see ``due_messages`` for the order) through ``send``.
    Commits per message.

    ``send(message)`` delivers one message or raises: TemporaryDeliveryError (retried with backoff until
    OUTBOX_MAX_ATTEMPTS), PermanentDeliveryError (failed now), anything else is logged with its traceback and
    treated as temporary. One message's failure never stops the batch, nor loses another message's result.
    ``now`` is the job's clock (tests pass it); by default the current time. Needs an app context.
    """
    started = as_utc(now) if now is not None else utcnow()
    try:
        report = _deliver_batch(send, channel=channel, started=started, now=now, limit=limit)
    finally:
        close = getattr(send, "close", None)  # a sender that keeps a connection for the run (SMTP)
        if close is not None:
            close()
    if report.sent or report.retried or report.failed:
        log.info("outbox %s: %d sent, %d to retry, %d failed", channel, report.sent, report.retried, report.failed)
    return report


def _deliver_batch(send: Callable[[OutboxMessage], None], *, channel: str, started: datetime,
                   now: datetime | None, limit: int) -> DeliveryReport:
    report = DeliveryReport()
    for message_id in due_messages(channel, now=started, limit=limit):
        at = started if now is not None else utcnow()
        try:
            attempt = _claim(message_id, now=at)
            if attempt is None:
                continue  # another worker claimed it since we looked
            outcome = _deliver(message_id, attempt, send, now=at)
        except Exception:
            # A database error while claiming or recording: this message waits for its lease to run out.
            db.session.rollback()
            log.exception("outbox %s: delivery could not be recorded", message_id)
            continue
        if outcome is not None:
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def due_messages(channel: str, *, now: datetime, limit: int = 100) -> list[int]:
    """Ids of the messages of ``channel`` due at ``now``: queued and due, or claimed with an expired lease.

    Messages written by people (officers' replies, staff notices) go before automatic ones (acknowledgements,
    pending and FAQ notices), each oldest first: a burst of acknowledgements never holds an officer's answer back.
    """
    return list(db.session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.channel == channel, OutboxMessage.status.in_(("queued", "sending")),
               OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.automatic, OutboxMessage.created_at, OutboxMessage.id)
        .limit(limit)))


def retry(message: OutboxMessage, *, actor: Staff | None, now: datetime | None = None) -> None:
    """Queue a failed message again, due now, with a fresh set of attempts (the admin's retry button).

    Keeps ``last_error`` until the next attempt replaces it. Raises ValidationError unless the message has
    failed. Flushes, never commits.
    """
    if message.status != "failed":
        raise ValidationError(_l("Only a message whose delivery failed can be sent again."))
    message.status = "queued"
    message.attempts = 0
    message.next_attempt_at = as_utc(now) if now is not None else utcnow()
    db.session.flush()
    log.info("%s queued again by %s", _label(message), actor.email if actor is not None else "the system")


def outbox_backlog(*, channel: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Counts by status (``queued``, ``sending``, ``sent``, ``failed``) and the oldest queued message's age.

    ``oldest_queued_at`` is its creation time and ``oldest_queued_seconds`` its age at ``now`` (both None when
    nothing is queued): for the admin outbox page and the health check.
    """
    now = as_utc(now) if now is not None else utcnow()
    where = [OutboxMessage.channel == channel] if channel is not None else []
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(db.session.execute(
        select(OutboxMessage.status, func.count()).where(*where).group_by(OutboxMessage.status)).all())
    oldest = db.session.scalar(
        select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == "queued", *where))
    return {
        **counts,
        "oldest_queued_at": oldest,
        "oldest_queued_seconds": max(0, int((now - oldest).total_seconds())) if oldest is not None else None,
    }


def retry_delay(attempts: int, *, first: float) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: ``first`` seconds, doubling, at most 6 hours."""
    seconds = first * 2 ** min(max(attempts - 1, 0), 30)
    return min(timedelta(seconds=seconds), MAX_RETRY_DELAY)


# -- internals ----------------------------------------------------------------------------------------------

def _claim(message_id: int, *, now: datetime) -> int | None:
    """Take the message for this worker until the lease ends; its attempt number, or None when it is taken."""
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status.in_(("queued", "sending")),
               OutboxMessage.next_attempt_at <= now)
        .values(status="sending", attempts=OutboxMessage.attempts + 1, next_attempt_at=now + LEASE)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        return None
    attempt = db.session.scalar(select(OutboxMessage.attempts).where(OutboxMessage.id == message_id))
    db.session.commit()
    return attempt


def _deliver(message_id: int, attempt: int, send: Callable[[OutboxMessage], None], *,
             now: datetime) -> str | None:
    """Send one claimed message and record the outcome; "sent", "retried", "failed" or None (claim lost)."""
    config = current_app.config
    max_attempts = int(config["OUTBOX_MAX_ATTEMPTS"])
    message = db.session.get(OutboxMessage, message_id, populate_existing=True)
    if attempt > max_attempts:
        # Only a claim that outlived its lease gets here: each crash mid-send counted as an attempt.
        error = f"gave up after {attempt - 1} attempts; the last one never finished"
        return _fail(message, attempt, error=error, now=now)
    try:
        send(message)
    except PermanentDeliveryError as exc:
        return _fail(message, attempt, error=str(exc), now=now)
    except TemporaryDeliveryError as exc:
        error = str(exc)
    except Exception as exc:
        db.session.rollback()  # the sender may have left the session unusable
        message = db.session.get(OutboxMessage, message_id)
        log.exception("%s: unexpected error from the %s sender", _label(message), message.channel)
        error = f"{type(exc).__name__}: {exc}"
    else:
        if not _settle(message, attempt, status="sent", sent_at=now, last_error=None):
            return None
        tickets.record_delivery(message, outcome="sent", at=now)
        db.session.commit()
        log.info("%s sent to %s", _label(message), message.recipient)
        return "sent"
    if attempt >= max_attempts:
        return _fail(message, attempt, error=f"{error} (gave up after {attempt} attempts)", now=now)
    due = now + retry_delay(attempt, first=float(config["OUTBOX_RETRY_SECONDS"]))
    if not _settle(message, attempt, status="queued", next_attempt_at=due, last_error=error):
        return None
    db.session.commit()
    log.warning("%s attempt %d failed, retrying at %s: %s", _label(message), attempt, due.isoformat(), error)
    return "retried"


def _fail(message: OutboxMessage, attempt: int, *, error: str, now: datetime) -> str | None:
    if not _settle(message, attempt, status="failed", last_error=error):
        return None
    tickets.record_delivery(message, outcome="failed", error=error, at=now)
    db.session.commit()
    log.warning("%s to %s failed: %s", _label(message), message.recipient, error)
    return "failed"


def _settle(message: OutboxMessage, attempt: int, **values: Any) -> bool:
    """Write the outcome if this worker still holds the claim; False (and nothing written) when it lost it.

    A claim is lost only when the lease ran out mid-send and another worker took the message over.
    """
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status == "sending",
               OutboxMessage.attempts == attempt)
        .values(**values)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        log.warning("%s: claim for attempt %d expired before its outcome was recorded", _label(message), attempt)
        return False
    return True


def _label(message: OutboxMessage) -> str:
    """``outbox 12 (TST-2026-000001)`` for log lines."""
    ticket = db.session.get(Ticket, message.ticket_id) if message.ticket_id is not None else None
    return f"outbox {message.id}" + (f" ({ticket.ref})" if ticket is not None else "")
