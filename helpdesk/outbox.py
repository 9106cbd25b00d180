"""The outbox: outbound messages written in the same transaction as the change that caused them.

Delivery (SMTP, Twilio, webhooks) is a job that reads this table; until that job exists a message simply
waits here with status ``queued``, visible on its ticket.
"""
from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import force_locale

from .extensions import db
from .models import OutboxMessage, Ticket, TicketEvent


def render_mail(name: str, *, locale: str = "id", **context: Any) -> tuple[str, str]:
    """Render ``templates/mail/<name>/subject.txt`` (one line) and ``body.txt``."""
    with force_locale(locale):
        subject = render_template(f"mail/{name}/subject.txt", **context)
        body = render_template(f"mail/{name}/body.txt", **context)
    return " ".join(subject.split()), body


def enqueue_email(*, to: str, template: str, ticket: Ticket | None = None, event: TicketEvent | None = None,
                  headers: dict[str, str] | None = None, locale: str = "id", **context: Any) -> OutboxMessage:
    """Render a mail template and queue it for delivery. Flushes, never commits."""
    subject, body = render_mail(template, locale=locale, ticket=ticket, **context)
    message = OutboxMessage(
        channel="email", recipient=to, subject=subject, body=body, headers=headers or {}, template=template,
        ticket_id=ticket.id if ticket else None, event_id=event.id if event else None,
    )
    db.session.add(message)
    db.session.flush()
    return message
