"""The email channel's staff pages: the outbox, the quarantine, and the mailbox warning in the header.

Also the labels and the timeline data the ticket page needs for email events (outbox status of a reply,
attachments per event, cid: images of an email's HTML).
"""
from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable, Mapping
from email.utils import formataddr, parseaddr
from functools import wraps
from typing import Any, Final
from urllib.parse import unquote

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import case, func, or_, select
from sqlalchemy.exc import SQLAlchemyError

from .. import audit
from ..blobs import read_blob
from ..errors import HelpdeskError
from ..extensions import db
from ..mail_ids import mail_domain
from ..models import Attachment, InboundEmail, Mailbox, OutboxMessage, Ticket, TicketEvent
from .access import admin_required

log = logging.getLogger(__name__)

bp = Blueprint("mail", __name__, url_prefix="/admin")

PAGE_SIZE: Final = 50
IGNORED_SHOWN: Final = 200  # the ignored tab shows this many of the latest; older ones stay in the database
QUARANTINE_SHOWN: Final = 500  # a parser bug can fill the quarantine; the tab's count still says how many
OUTBOX_STATUSES: Final = ("queued", "sending", "sent", "failed")
# Staff roles that run the inbox: they see the quarantine and retry its messages.
INBOX_ROLES: Final = frozenset({"admin", "helpdesk"})

# -- labels ---------------------------------------------------------------------------------------------------

OUTBOX_STATUS_LABELS: Final = {
    "queued": _l("queued"), "sending": _l("sending"), "sent": _l("sent"), "failed": _l("failed"),
}
OUTBOX_STATUS_COLOURS: Final = {"queued": "secondary", "sending": "info", "sent": "success", "failed": "danger"}

NOTICE_LABELS: Final = {
    "acknowledgement": _l("acknowledgement of receipt"), "pending": _l("pending notice"),
    "resolved": _l("resolution notice"), "escalation": _l("escalation notice"),
}

# Why an automatic notice was not sent: the codes of helpdesk.notices and of the email signals.
SUPPRESS_REASONS: Final = {
    "loop_header": _l("the email came from this helpdesk itself (loop header)"),
    "own_address": _l("the sender is one of our own addresses"),
    "system_sender": _l("the sender is a system address (mailer-daemon, no-reply…)"),
    "bounce": _l("the email is a bounce"),
    "delivery_report": _l("the email is a delivery report"),
    "auto_submitted": _l("the email was sent automatically (Auto-Submitted)"),
    "auto_response_suppress": _l("the sender asked for no automatic replies (X-Auto-Response-Suppress)"),
    "autoreply_header": _l("the email is an automatic reply (autoreply header)"),
    "precedence": _l("the email is bulk or list mail (Precedence)"),
    "list": _l("the email came from a mailing list"),
    "no_sender": _l("the email has no sender address that can be answered"),
    "auto_replies_off": _l("automatic replies are turned off in the settings"),
    "daily_limit": _l("the daily limit of automatic replies to this address was reached"),
    "lkpp": _l("the address is LKPP's: two ticket systems must not answer each other"),
}

AUTOMATIC_MAIL_LABELS: Final = {
    "out_of_office": _l("Automatic reply from the requester: out of office"),
    "auto_reply": _l("Automatic reply from the requester's mail system"),
    "delivery_report": _l("Delivery report for an email to the requester"),
}

FLAG_LABELS: Final = {
    "bounce": _l("Email to the requester bounced"),
    "delivery_failed": _l("A message to the requester could not be delivered"),
    "call_back": _l("Call the requester back (missed call or voicemail)"),
    "faq_rejected": _l("The requester needs an officer: the automatic FAQ answer did not help"),
    "lkpp_answered": _l("LKPP answered the escalation: review the answer before it goes to the requester"),
    "sla_breached": _l("The follow-up deadline was missed"),
}

LINK_LABELS: Final = {
    "possible_duplicate": _l("Possibly a duplicate of %(ref)s"),
    "follow_up_of": _l("Follow-up of the closed ticket %(ref)s"),
}

INGEST_OUTCOMES: Final = {
    "ticket": _l("The message became the new ticket %(ref)s."),
    "reply": _l("The message was added to ticket %(ref)s."),
    "duplicate": _l("The message had already been taken (%(ref)s)."),
    "ignored": _l("The message was ignored: %(reason)s"),
    "quarantined": _l("The message is still in quarantine: %(reason)s"),
}


def _label(labels: Mapping[str, Any], code: str | None) -> str:
    """The label of ``code``, or the code itself when it is new to this page (never an error)."""
    if code is None:
        return ""
    return str(labels.get(code, code))


def suppress_reason_label(code: str | None) -> str:
    """Why automatic mail was not sent, for people; unknown codes are shown as they are."""
    return _label(SUPPRESS_REASONS, code)


def flag_label(code: str | None) -> str:
    """What a ticket's flag asks an officer to look at."""
    return _label(FLAG_LABELS, code)


def link_label(kind: str | None, ref: str, url: str | None = None) -> Markup:
    """"Mungkin duplikat dari REF" and its kin, with REF a link to ``url`` when given."""
    shown = Markup('<a href="{}">{}</a>').format(url, ref) if url else ref
    template = LINK_LABELS.get(kind or "")
    if template is None:
        return Markup("{}: ").format(kind) + shown
    return Markup.escape(str(template)) % {"ref": shown}


@bp.record_once
def _register_template_helpers(state) -> None:
    state.app.jinja_env.globals.update(
        outbox_status_label=lambda code: _label(OUTBOX_STATUS_LABELS, code),
        outbox_status_colour=lambda code: OUTBOX_STATUS_COLOURS.get(code, "secondary"),
        notice_label=lambda code: _label(NOTICE_LABELS, code),
        suppress_reason_label=suppress_reason_label,
        automatic_mail_label=lambda code: _label(AUTOMATIC_MAIL_LABELS, code),
        flag_label=flag_label, link_label=link_label,
    )


# -- access ---------------------------------------------------------------------------------------------------

def inbox_staff_required(view):
    """Administrators and helpdesk officers: the people who run the inbox."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if current_user.role not in INBOX_ROLES:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


# -- header warnings ------------------------------------------------------------------------------------------

@bp.app_context_processor
def _mail_health_helpers() -> dict[str, Any]:
    return {"mail_health": mail_health}


def mail_health() -> dict[str, Any]:
    """For the staff header: stale mailboxes the officer should hear about, and the quarantine count.

    Looked up only when a page asks (base.html, once per page). A failing lookup is logged and shows nothing:
    the header must never take a page down.
    """
    return {"stale": _stale_mailboxes(), "quarantined": _quarantine_count()}


def _stale_mailboxes() -> list[Mailbox]:
    if not current_user.is_authenticated:
        return []
    try:
        from channels.email.poller import stale_mailboxes

        rows = stale_mailboxes()
    except SQLAlchemyError:
        log.exception("could not look up the mailboxes' health")
        db.session.rollback()
        return []
    except Exception:  # the poller module broken or missing: the page still renders
        log.exception("could not look up the mailboxes' health")
        return []
    return [row for row in rows if current_user.is_admin or row.office_id == current_user.office_id]


def _quarantine_count() -> int:
    if not current_user.is_authenticated or current_user.role not in INBOX_ROLES:
        return 0
    try:
        return db.session.scalar(select(func.count()).select_from(InboundEmail).where(
            InboundEmail.status == "quarantined", InboundEmail.office_id == current_user.office_id)) or 0
    except SQLAlchemyError:
        log.exception("could not count the quarantined emails")
        db.session.rollback()
        return 0


# -- outbox ---------------------------------------------------------------------------------------------------

def _outbox_scope():
    """Messages of the admin's office: those on its tickets, and those on no ticket at all."""
    return (select(OutboxMessage).outerjoin(Ticket, Ticket.id == OutboxMessage.ticket_id)
            .where(or_(OutboxMessage.ticket_id.is_(None), Ticket.office_id == current_user.office_id)))


def _outbox_message_or_404(message_id: int) -> OutboxMessage:
    message = db.session.scalar(_outbox_scope().where(OutboxMessage.id == message_id))
    if message is None:
        abort(404)
    return message


@bp.get("/outbox")
@admin_required
def outbox():
    """Outbound messages, newest first, by status, one page at a time (keyset on the id)."""
    status = request.args.get("status", "")
    if status and status not in OUTBOX_STATUSES:
        abort(400)
    before = request.args.get("before", "")
    if before and not before.isdigit():
        abort(400)
    query = _outbox_scope()
    if status:
        query = query.where(OutboxMessage.status == status)
    if before:
        query = query.where(OutboxMessage.id < int(before))
    rows = db.session.scalars(query.order_by(OutboxMessage.id.desc()).limit(PAGE_SIZE + 1)).all()
    messages, more = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
    counted = _outbox_scope().with_only_columns(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    counts = dict.fromkeys(OUTBOX_STATUSES, 0) | dict(db.session.execute(counted).all())
    tickets = _tickets_of(message.ticket_id for message in messages)
    return render_template(
        "web/mail/outbox.html", messages=messages, tickets=tickets, status=status, counts=counts,
        statuses=OUTBOX_STATUSES, smtp_configured=bool(current_app.config.get("SMTP_HOST")),
        tz=current_user.office.timezone,
        first_url=url_for(".outbox", status=status or None) if before else None,
        next_url=url_for(".outbox", status=status or None, before=messages[-1].id) if more else None)


@bp.get("/outbox/<int:message_id>")
@admin_required
def outbox_message(message_id: int):
    """One outbound message as the requester receives it: headers, text body and HTML (escaped, sandboxed)."""
    message = _outbox_message_or_404(message_id)
    ticket = db.session.get(Ticket, message.ticket_id) if message.ticket_id is not None else None
    office = ticket.office if ticket is not None else current_user.office
    return render_template(
        "web/mail/outbox_message.html", message=message, ticket=ticket, office=office,
        sender=sender_display(current_app.config.get("MAIL_FROM"), ticket.office if ticket else None),
        extra_headers=sorted((str(name), str(value)) for name, value in (message.headers or {}).items()),
        loop_header=current_app.config.get("MAIL_LOOP_HEADER"), mail_domain=mail_domain(),
        smtp_configured=bool(current_app.config.get("SMTP_HOST")), tz=office.timezone)


@bp.post("/outbox/<int:message_id>/retry")
@admin_required
def outbox_retry(message_id: int):
    """Queue a failed message again (helpdesk.delivery.retry)."""
    message = _outbox_message_or_404(message_id)
    from ..delivery import retry

    try:
        retry(message, actor=current_user)
        audit.record("outbox.retried", target=message)
        db.session.commit()
    except HelpdeskError as exc:
        db.session.rollback()
        flash(_("Not queued again: %(reason)s", reason=str(exc)), "danger")
    else:
        log.info("outbox message %s queued again by %s", message_id, current_user.email)
        flash(_("The message is queued again."), "success")
    return redirect(url_for(".outbox_message", message_id=message_id))


def sender_display(mail_from: str | None, office) -> str | None:
    """Our From as the requester sees it: MAIL_FROM, else the office's address, named after the office."""
    for candidate in (mail_from, office.email if office is not None else None):
        name, address = parseaddr(candidate or "")
        if "@" in address:
            return formataddr((name or (office.name if office is not None else ""), address))
    return None


def _tickets_of(ids: Iterable[int | None]) -> dict[int, Ticket]:
    wanted = {ticket_id for ticket_id in ids if ticket_id is not None}
    if not wanted:
        return {}
    return {t.id: t for t in db.session.scalars(select(Ticket).where(Ticket.id.in_(wanted)))}


# -- quarantine -----------------------------------------------------------------------------------------------

def _inbound_or_404(inbound_id: int) -> InboundEmail:
    row = db.session.get(InboundEmail, inbound_id)
    if row is None or row.office_id != current_user.office_id:
        abort(404)
    return row


@bp.get("/quarantine")
@inbox_staff_required
def quarantine():
    """Emails waiting in quarantine (with retry), and the latest ignored ones with why: nothing vanishes."""
    tab = request.args.get("tab", "quarantined")
    if tab not in ("quarantined", "ignored"):
        abort(400)
    scope = select(InboundEmail).where(InboundEmail.office_id == current_user.office_id)
    counts = dict(db.session.execute(
        select(InboundEmail.status, func.count()).where(InboundEmail.office_id == current_user.office_id,
                                                        InboundEmail.status.in_(("quarantined", "ignored")))
        .group_by(InboundEmail.status)).all())
    limit = IGNORED_SHOWN if tab == "ignored" else QUARANTINE_SHOWN
    rows = db.session.scalars(scope.where(InboundEmail.status == tab)
                              .order_by(InboundEmail.received_at.desc(), InboundEmail.id.desc()).limit(limit)).all()
    return render_template("web/mail/quarantine.html", rows=rows, tab=tab, counts=counts,
                           tz=current_user.office.timezone, ignored_shown=IGNORED_SHOWN)


@bp.get("/quarantine/<int:inbound_id>/raw")
@inbox_staff_required
def quarantine_raw(inbound_id: int):
    """The raw message exactly as received, as a file."""
    row = _inbound_or_404(inbound_id)
    if row.raw_purged_at is not None:  # deleted under the retention schedule
        from .tickets import gone

        return gone(f"inbound-{row.id}.eml", row.raw_purged_at, current_user.office)
    audit.record_view("inbound_email.raw_viewed", target=row)
    return send_file(io.BytesIO(read_blob(row.raw_sha256)), mimetype="message/rfc822", as_attachment=True,
                     download_name=f"inbound-{row.id}.eml")


@bp.post("/quarantine/<int:inbound_id>/retry")
@inbox_staff_required
def quarantine_retry(inbound_id: int):
    """Parse and route a quarantined message again; go to its ticket when it made or joined one."""
    row = _inbound_or_404(inbound_id)
    if row.status != "quarantined":
        flash(_("This message is no longer in quarantine."), "warning")
        return redirect(url_for(".quarantine"))
    from channels.email.intake import retry_quarantined

    try:
        result = retry_quarantined(row.id)  # commits
    except Exception as exc:  # intake promises not to raise for bad mail; anything else is a fault to show
        db.session.rollback()
        log.exception("retry of inbound email %s failed", inbound_id)
        flash(_("The retry failed: %(reason)s", reason=f"{type(exc).__name__}: {exc}"), "danger")
        return redirect(url_for(".quarantine"))
    log.info("inbound email %s retried by %s: %s", inbound_id, current_user.email, result.outcome)
    audit.record_view("inbound_email.retried", target_type="inbound_email", target_id=inbound_id,
                      outcome=result.outcome)
    template = INGEST_OUTCOMES.get(result.outcome)
    text = str(template) % {"ref": result.ticket_ref or "—", "reason": result.reason or "—"} if template else \
        result.outcome
    flash(text, {"ticket": "success", "reply": "success", "quarantined": "danger"}.get(result.outcome, "info"))
    if result.outcome in ("ticket", "reply", "duplicate") and result.ticket_ref:
        return redirect(url_for("tickets.show", ref=result.ticket_ref))
    return redirect(url_for(".quarantine", tab="ignored" if result.outcome == "ignored" else None))


# -- the ticket page's email parts ----------------------------------------------------------------------------

def timeline_context(ticket: Ticket, attachments: Iterable[Attachment]) -> dict[str, Any]:
    """What the timeline needs beyond the events: outbox messages they name, attachments per event, the link."""
    ids = set()
    for event in ticket.events:
        outbox_id = (event.data or {}).get("outbox_id")
        if isinstance(outbox_id, int):
            ids.add(outbox_id)
    outbox = {m.id: m for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))} \
        if ids else {}
    by_event: dict[int | None, list[Attachment]] = {}
    for attachment in attachments:
        by_event.setdefault(attachment.event_id, []).append(attachment)
    linked = ticket.linked_ticket if ticket.linked_ticket_id is not None else None
    return {"outbox": outbox, "event_attachments": by_event, "linked": linked,
            "linked_visible": linked is not None and linked.office_id == ticket.office_id}


_CID_URL = re.compile(r"""(?P<lead>\b(?:src|background)\s*=\s*["']?\s*|url\(\s*["']?\s*)cid:(?P<cid>[^\s"'<>()]+)""",
                      re.IGNORECASE)


def rewrite_cid_urls(html: str, urls: Mapping[str, str]) -> str:
    """Point ``cid:`` image references (src, background, CSS url()) at our download URLs, keyed by Content-ID.

    Content-IDs are compared as given, then URL-decoded (RFC 2392), then without case; unknown ones stay as
    they are (the page's CSP will not load them).
    """
    folded = {key.lower(): value for key, value in urls.items()}

    def replace(match: re.Match[str]) -> str:
        cid = match["cid"]
        for key in (cid, unquote(cid)):
            url = urls.get(key) or folded.get(key.lower())
            if url is not None:
                return match["lead"] + url
        return match[0]

    return _CID_URL.sub(replace, html)


def event_html_urls(ticket: Ticket, event: TicketEvent) -> dict[str, str]:
    """Content-ID -> download URL for the ticket's attachments that have one (the event's own first)."""
    rows = db.session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id,
                                                       Attachment.content_id.is_not(None))
                              .order_by(case((Attachment.event_id == event.id, 0), else_=1), Attachment.id)).all()
    urls: dict[str, str] = {}
    for row in rows:
        urls.setdefault(row.content_id.strip("<>"), url_for("tickets.attachment", ref=ticket.ref,
                                                            attachment_id=row.id))
    return urls
