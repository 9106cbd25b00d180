"""The outbox: outbound messages written in the same transaction as the change that caused them.

Delivery (SMTP, later Twilio and webhooks) is a job that reads this table. Without a configured server a
message waits here with status ``queued``, visible on its ticket and on the admin outbox page.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import render_template
from flask_babel import force_locale

from .extensions import db
from .mail_ids import make_message_id
from .models import InboundEmail, OutboxMessage, Ticket, TicketEvent
from .timeutil import utcnow


def render_mail(name: str, *, locale: str = "id", **context: Any) -> tuple[str, str]:
    """Render ``templates/mail/<name>/subject.txt`` (one line) and ``body.txt``."""
    with force_locale(locale):
        subject = render_template(f"mail/{name}/subject.txt", **context)
        body = render_template(f"mail/{name}/body.txt", **context)
    return " ".join(subject.split()), body


def enqueue_email(*, to: str, template: str, ticket: Ticket | None = None, event: TicketEvent | None = None,
                  headers: dict[str, str] | None = None, locale: str = "id", automatic: bool = False,
                  created_at: datetime | None = None, **context: Any) -> OutboxMessage:
    """Render a mail template and queue it for delivery. Flushes, never commits.

    The message gets its Message-ID now (signed with the ticket's reference) and, on a ticket, In-Reply-To and
    References pointing at the requester's latest email, so mail clients thread it.
    """
    subject, body = render_mail(template, locale=locale, ticket=ticket, **context)
    headers = headers or {}
    all_headers = dict(thread_headers(ticket) if ticket is not None and "In-Reply-To" not in headers else {})
    all_headers.update(headers)
    message = OutboxMessage(
        channel="email", recipient=to, subject=subject, body=body, headers=all_headers, template=template,
        ticket_id=ticket.id if ticket else None, event_id=event.id if event else None, automatic=automatic,
        message_id=make_message_id(ticket.ref if ticket else None,
                                   office_email=ticket.office.email if ticket else None),
        created_at=created_at or utcnow(),
    )
    db.session.add(message)
    db.session.flush()
    return message


TEXT_CHANNELS = ("sms", "whatsapp")


def render_text(name: str, *, locale: str = "id", **context: Any) -> str:
    """Render ``templates/sms/<name>.txt``: a short message for SMS or WhatsApp."""
    with force_locale(locale):
        return render_template(f"sms/{name}.txt", **context).strip()


def enqueue_text(*, channel: str, to: str, template: str, ticket: Ticket | None = None,
                 automatic: bool = False, created_at: datetime | None = None, locale: str = "id",
                 **context: Any) -> OutboxMessage:
    """Render a text template and queue it as an SMS or WhatsApp message to ``to`` (E.164). Flushes.

    The delivery job hands it to Twilio (channels/twilio.py); without a Twilio account it waits in the outbox.
    """
    if channel not in TEXT_CHANNELS:
        raise ValueError(f"text channel must be sms or whatsapp, not {channel!r}")
    message = OutboxMessage(
        channel=channel, recipient=to, body=render_text(template, locale=locale, ticket=ticket, **context),
        template=template, ticket_id=ticket.id if ticket else None, automatic=automatic,
        created_at=created_at or utcnow())
    db.session.add(message)
    db.session.flush()
    return message


def thread_headers(ticket: Ticket) -> dict[str, str]:
    """In-Reply-To and References for mail on ``ticket``: the requester's emails on it, latest last."""
    ids = [mid for mid in db.session.scalars(
        db.select(InboundEmail.message_id).where(InboundEmail.ticket_id == ticket.id,
                                                  InboundEmail.message_id.is_not(None))
        .order_by(InboundEmail.id.desc()).limit(10)) if mid]
    if not ids:
        return {}
    return {"In-Reply-To": ids[0], "References": " ".join(reversed(ids))}
