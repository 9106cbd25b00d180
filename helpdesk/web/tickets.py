"""The ticket page and its actions. Each action is one service call and one commit."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from escalation.sla import SLA_LABELS, sla_state
from faq.suggestions import staff_suggestions

from .. import audit, escalations, requesters, retention, tickets
from ..blobs import blob_path, read_blob
from ..calendars import calendar_for
from ..errors import HelpdeskError, InvalidTransition, UnknownTicket
from ..extensions import db
from ..models import Attachment, Blob, Escalation, Staff, Ticket, TicketEvent
from ..outbox import TEXT_CHANNELS
from ..privacy import can_see_identity, mask_number
from ..requesters import count_tickets, earlier_tickets, is_mobile
from ..staff import office_staff
from ..states import Status, allowed_moves
from ..timeutil import utcnow
from .escalations import internal_form, lkpp_form, panel_context
from .flashes import flash_refused_move
from .forms import AssignForm, ClassificationForm, IdentityForm, NoteForm, ReplyForm, StatusForm, options
from .mail import event_html_urls, rewrite_cid_urls, timeline_context

# The email HTML view: sanitised at intake, and still given nothing to run, nowhere to send a form, no base URL.
EMAIL_HTML_CSP = ("default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; form-action 'none'; "
                  "base-uri 'none'")

bp = Blueprint("tickets", __name__, url_prefix="/tickets")

IDENTITY_FIELD_LABELS = {"npwp": "NPWP", "nik": "NIK", "spse_user_id": _l("SPSE User ID")}


def identity_field_labels(fields) -> str:
    """"NPWP, NIK": the identity fields an event names, for people."""
    return ", ".join(str(IDENTITY_FIELD_LABELS.get(name, name)) for name in fields or ())


@bp.record_once
def _register_template_helpers(state) -> None:
    state.app.jinja_env.globals.update(identity_field_labels=identity_field_labels)


def _ticket_or_404(ref: str) -> Ticket:
    """The ticket of the officer's office with this reference, or a 404 page."""
    try:
        ticket = tickets.get_by_ref(ref)
    except UnknownTicket:
        abort(404)
    if ticket.office_id != current_user.office_id:
        abort(404)
    return ticket


# Each form has one builder. By default a form reads the posted data (the action that was submitted); the page
# builds every other form with formdata=None, so it shows the ticket as it is, never another form's post.

def _reply_form(ticket: Ticket, **kwargs) -> ReplyForm:
    """The reply form with the ways the requester can be reached: email with an address, texts with a mobile.

    Shown fresh, it picks the ticket's own text channel (an SMS or WhatsApp ticket), else email when possible, else
    the phone.
    """
    form = ReplyForm(prefix="reply", **kwargs)
    mobile = is_mobile(ticket.requester.phone)
    unreachable = ({"email"} if not ticket.requester.email else set()) | (set() if mobile else set(TEXT_CHANNELS))
    form.via.choices = [c for c in form.via.choices if c.value not in unreachable]
    if kwargs.get("formdata", True) is None:
        if mobile and ticket.channel in TEXT_CHANNELS:
            form.via.data = ticket.channel
        elif ticket.requester.email:
            form.via.data = "email"
        else:
            form.via.data = "phone"
    return form


def _status_form(ticket: Ticket, **kwargs) -> StatusForm:
    form = StatusForm(prefix="status", **kwargs)
    form.set_moves(allowed_moves(ticket.status))
    return form


def _assign_form(ticket: Ticket, **kwargs) -> AssignForm:
    form = AssignForm(prefix="assign", **kwargs)
    form.assignee.choices = options([("", _("— nobody —"))] +
                                    [(str(s.id), s.name) for s in office_staff(ticket.office_id)])
    if kwargs.get("formdata", True) is None:
        form.assignee.data = str(ticket.assignee_id or "")
    return form


def _classification_form(ticket: Ticket, **kwargs) -> ClassificationForm:
    if kwargs.get("formdata", True) is not None:
        return ClassificationForm(prefix="cls", **kwargs)
    form = ClassificationForm(prefix="cls", obj=ticket, **kwargs)
    form.is_technical.data = {True: "yes", False: "no"}.get(ticket.is_technical, "")
    return form


def _identity_form(ticket: Ticket, **kwargs) -> IdentityForm | None:
    """The requester's identity numbers, for an officer who may see them whole; None for everyone else (the
    form's fields would carry the numbers whole)."""
    if not can_see_identity(current_user):
        return None
    if kwargs.get("formdata", True) is not None:
        return IdentityForm(prefix="identity", **kwargs)
    return IdentityForm(prefix="identity", obj=ticket.requester, **kwargs)


def identity_shown(ticket: Ticket) -> dict:
    """The requester's NPWP and NIK as the signed-in officer may see them (whole, or the last four digits), and
    which of them are shown whole (``whole``: the fields a view must put in the audit log)."""
    requester = ticket.requester
    visible = can_see_identity(current_user)
    values = {"npwp": requester.npwp or "", "nik": requester.nik or ""}
    return {"visible": visible, "user_id": requester.spse_user_id or "",
            **{name: value if visible else mask_number(value) for name, value in values.items()},
            "whole": [name for name, value in values.items() if value and visible]}


def record_identity_view(ticket: Ticket, shown: dict) -> None:
    """One ``personal_data.viewed`` audit line when a page showed identity numbers whole (commits it)."""
    if shown["whole"]:
        audit.record_view("personal_data.viewed", target=ticket, fields=shown["whole"],
                          requester_id=ticket.requester_id, page=request.endpoint)


def gone(filename: str, purged_at, office) -> tuple[str, int]:
    """The 410 page of a file deleted under the retention schedule (an attachment, a raw email)."""
    return render_template("web/tickets/gone.html", filename=filename, purged_at=purged_at, office=office), 410


def _page_forms(ticket: Ticket, submitted: dict) -> dict:
    """Every form of the page: the submitted one as posted, the others showing the ticket."""
    builders = {
        "reply_form": lambda: _reply_form(ticket, formdata=None),
        "note_form": lambda: NoteForm(prefix="note", formdata=None),
        "status_form": lambda: _status_form(ticket, formdata=None),
        "assign_form": lambda: _assign_form(ticket, formdata=None),
        "escalate_form": lambda: internal_form(ticket, formdata=None),
        "lkpp_form": lambda: lkpp_form(ticket, formdata=None),
        "classification_form": lambda: _classification_form(ticket, formdata=None),
        "identity_form": lambda: _identity_form(ticket, formdata=None),
    }
    return {name: submitted.get(name) or build() for name, build in builders.items()}


def _render(ticket: Ticket, status_code: int = 200, **forms):
    now = utcnow()
    calendar = calendar_for(ticket.office)
    all_forms = _page_forms(ticket, forms)
    state = sla_state(due=ticket.follow_up_due_at, first_follow_up_at=ticket.first_follow_up_at, now=now,
                      calendar=calendar)
    left = calendar.working_seconds(now, ticket.follow_up_due_at) if ticket.first_follow_up_at is None else None
    attachments = db.session.scalars(db.select(Attachment).where(Attachment.ticket_id == ticket.id)).all()
    identity = identity_shown(ticket)
    page = render_template(
        "web/tickets/show.html", ticket=ticket, office=ticket.office, sla=state, sla_label=SLA_LABELS[state],
        left=left, earlier=earlier_tickets(ticket.requester, limit=10, exclude_id=ticket.id),
        requester_total=count_tickets(ticket.requester), attachments=attachments, identity=identity,
        faq_suggestions=_faq_suggestions(ticket), **timeline_context(ticket, attachments), **all_forms,
        **panel_context(ticket),
    )
    record_identity_view(ticket, identity)
    return page, status_code


def _faq_suggestions(ticket: Ticket) -> list:
    """"Saran FAQ": the best FAQ entries (internal ones too) for the ticket's subject and description."""
    if ticket.status == Status.CLOSED:
        return []
    return staff_suggestions(f"{ticket.subject}\n\n{ticket.description}", limit=3)


@bp.get("/<ref>")
@login_required
def show(ref: str):
    """The ticket: requester card, SLA clock, timeline and actions."""
    ticket = _ticket_or_404(ref)
    if ref != ticket.ref:
        return redirect(url_for(".show", ref=ticket.ref))
    answered = request.args.get("jawaban_lkpp", type=int)
    if answered is not None:  # "Balas pelapor" after reviewing LKPP's answer: the reply form starts with it
        escalation = db.session.get(Escalation, answered)
        if escalation is not None and escalation.ticket_id == ticket.id and escalation.answer:
            form = _reply_form(ticket, formdata=None)
            form.body.data = escalation.answer
            return _render(ticket, reply_form=form)[0]
    return _render(ticket)[0]


def _act(ticket: Ticket, form, action, success: str, form_name: str):
    """Validate ``form``, run ``action`` and commit; on bad input show the page again with the form marked."""
    if not form.validate_on_submit():
        db.session.rollback()
        flash(_("Please check the marked fields."), "danger")
        return _render(ticket, 422, **{form_name: form})
    try:
        action()
        db.session.commit()
    except InvalidTransition as exc:
        db.session.rollback()
        flash_refused_move(exc.old, exc.new)
        return redirect(url_for(".show", ref=ticket.ref))
    except HelpdeskError as exc:
        db.session.rollback()
        flash(_("Not saved: %(reason)s", reason=str(exc)), "danger")
        return redirect(url_for(".show", ref=ticket.ref))
    flash(success, "success")
    return redirect(url_for(".show", ref=ticket.ref))


@bp.post("/<ref>/reply")
@login_required
def reply(ref: str):
    """Reply to the requester: queued in the outbox when sent by email, SMS or WhatsApp."""
    ticket = _ticket_or_404(ref)
    form = _reply_form(ticket)
    return _act(ticket, form, lambda: tickets.add_message(
        ticket, direction="outbound", body=form.body.data, actor=current_user, via=form.via.data),
        _("Reply recorded."), "reply_form")


@bp.post("/<ref>/note")
@login_required
def note(ref: str):
    """Add an internal note."""
    ticket = _ticket_or_404(ref)
    form = NoteForm(prefix="note")
    return _act(ticket, form, lambda: tickets.add_note(ticket, body=form.body.data, actor=current_user),
                _("Note added."), "note_form")


@bp.post("/<ref>/status")
@login_required
def status(ref: str):
    """Move the ticket to a status the transition table allows."""
    ticket = _ticket_or_404(ref)
    form = _status_form(ticket)
    requested = request.form.get("status-status", "")
    if requested not in Status.__members__.values():
        abort(400)
    if Status(requested) not in allowed_moves(ticket.status):
        # Not offered on the page (stale page or forged post): say so and change nothing.
        flash_refused_move(ticket.status, requested)
        return redirect(url_for(".show", ref=ticket.ref))

    def change() -> None:
        if requested == Status.RESOLVED:
            tickets.resolve(ticket, actor=current_user, solution=form.note.data or "")
        else:
            tickets.change_status(ticket, requested, actor=current_user, note=form.note.data or "")

    return _act(ticket, form, change, _("Status changed."), "status_form")


@bp.post("/<ref>/assign")
@login_required
def assign(ref: str):
    """Give the ticket to an officer of the office, or to nobody."""
    ticket = _ticket_or_404(ref)
    form = _assign_form(ticket)

    def change() -> None:
        assignee = db.session.get(Staff, int(form.assignee.data)) if form.assignee.data else None
        tickets.assign(ticket, assignee, actor=current_user)

    return _act(ticket, form, change, _("Assignment saved."), "assign_form")


@bp.post("/<ref>/escalate")
@login_required
def escalate(ref: str):
    """Hand the ticket to a more competent role or officer in the office (internal escalation)."""
    ticket = _ticket_or_404(ref)
    form = internal_form(ticket)

    def change() -> None:
        officer = db.session.get(Staff, int(form.officer.data)) if form.officer.data else None
        escalations.escalate_internal(ticket, actor=current_user, reason=form.reason.data, role=form.role.data or None,
                                      officer=officer, requester_told=form.requester_told.data)

    return _act(ticket, form, change, _("Ticket escalated."), "escalate_form")


@bp.post("/<ref>/classify")
@login_required
def classify(ref: str):
    """Edit the LPSE Support fields and the Standar LPSE classification."""
    ticket = _ticket_or_404(ref)
    form = _classification_form(ticket)
    return _act(ticket, form, lambda: tickets.classify(ticket, actor=current_user, **form.values()),
                _("Classification saved."), "classification_form")


@bp.post("/<ref>/identity")
@login_required
def identity(ref: str):
    """Set the requester's NPWP, NIK and SPSE User ID (officers who may see them whole only)."""
    ticket = _ticket_or_404(ref)
    if not can_see_identity(current_user):
        abort(403)
    form = _identity_form(ticket)
    return _act(ticket, form, lambda: requesters.set_identity(
        ticket, actor=current_user, npwp=form.npwp.data, nik=form.nik.data, spse_user_id=form.spse_user_id.data),
        _("Identity saved."), "identity_form")


def _attachment_or_404(ticket: Ticket, attachment_id: int) -> Attachment:
    item = db.session.get(Attachment, attachment_id)
    if item is None or item.ticket_id != ticket.id:
        abort(404)
    return item


@bp.get("/<ref>/attachments/<int:attachment_id>")
@login_required
def attachment(ref: str, attachment_id: int):
    """Download an attachment, byte-exact, as a file (never rendered inline); each download is in the audit log.

    410 for a file deleted under the retention schedule; an identity document only for officers who may see
    identity numbers whole.
    """
    ticket = _ticket_or_404(ref)
    item = _attachment_or_404(ticket, attachment_id)
    if item.purged_at is not None:
        return gone(item.filename, item.purged_at, ticket.office)
    if item.identity_document and not can_see_identity(current_user):
        abort(403)
    audit.record_view("attachment.downloaded", target=ticket, attachment_id=item.id,
                      identity_document=bool(item.identity_document))
    return send_file(blob_path(item.blob_sha256), mimetype=item.content_type, as_attachment=True,
                     download_name=item.filename)


@bp.post("/<ref>/attachments/<int:attachment_id>/identity")
@login_required
def mark_identity_document(ref: str, attachment_id: int):
    """Mark an attachment as an identity document (purged under the retention schedule), or take the mark off."""
    ticket = _ticket_or_404(ref)
    item = _attachment_or_404(ticket, attachment_id)
    wanted = request.form.get("identity_document")
    if wanted not in ("1", "0"):
        abort(400)
    try:
        event = retention.mark_identity_document(item, wanted == "1", actor=current_user)
        db.session.commit()
    except HelpdeskError as exc:
        db.session.rollback()
        flash(_("Not saved: %(reason)s", reason=str(exc)), "danger")
        return redirect(url_for(".show", ref=ticket.ref))
    if event is not None:
        flash(_("%(name)s is marked as an identity document.", name=item.filename) if wanted == "1" else
              _("%(name)s is no longer marked as an identity document.", name=item.filename), "success")
    return redirect(url_for(".show", ref=ticket.ref))


@bp.post("/<ref>/clear-flag")
@login_required
def clear_flag(ref: str):
    """Mark the ticket's flag (a bounce, a failed delivery...) as handled."""
    ticket = _ticket_or_404(ref)
    if tickets.clear_flag(ticket, actor=current_user) is None:
        flash(_("The ticket has no flag."), "info")
    else:
        db.session.commit()
        flash(_("Flag cleared."), "success")
    return redirect(url_for(".show", ref=ticket.ref))


@bp.get("/<ref>/events/<int:event_id>/html")
@login_required
def event_html(ref: str, event_id: int):
    """The sanitised HTML of an email on the ticket, alone on a page that can run nothing and load only our images.

    Its cid: images point at the ticket's inline attachments; the Content-Security-Policy lets only those
    (and data: images) load, so the HTML can neither run code nor tell a sender that it was read.
    """
    ticket = _ticket_or_404(ref)
    event = db.session.get(TicketEvent, event_id)
    if event is None or event.ticket_id != ticket.id or not (event.data or {}).get("html_sha256"):
        abort(404)
    blob = db.session.get(Blob, event.data["html_sha256"])
    if blob is not None and blob.purged_at is not None:
        return gone(_("The email's HTML"), blob.purged_at, ticket.office)
    html = read_blob(event.data["html_sha256"]).decode("utf-8", errors="replace")
    # Sanitised when the email was taken, and confined by the CSP below: shown as it is, on purpose.
    response = Response(rewrite_cid_urls(html, event_html_urls(ticket, event)), mimetype="text/html")
    response.headers["Content-Security-Policy"] = EMAIL_HTML_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    return response
