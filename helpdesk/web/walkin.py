"""The walk-in desk: the kiosk, the now-serving display (both public), the staff desk and the consultation page."""
from __future__ import annotations

import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.datastructures import CombinedMultiDict

from channels import walkin
from channels.base import Contact
from faq.suggestions import suggest

from ..checklists import RESULT_LABELS, checklist_for
from ..errors import HelpdeskError
from ..extensions import db, limiter
from ..models import Office, Ticket, WalkinVisit
from ..tickets import latest_checklist, latest_consultation
from ..timeutil import utcnow
from ..vocab import ServiceType
from .walkin_forms import REQUIRED, AnswerForm, ConsultationForm

bp = Blueprint("walkin", __name__)
log = logging.getLogger(__name__)

RECEIPT_MAX_AGE = 24 * 3600  # a receipt link opens for a day; the status link on it lasts


# -- public: kiosk and display ------------------------------------------------------------------------------

@bp.get("/kiosk")
def kiosk_default():
    return redirect(url_for(".kiosk", office=_default_office().code))


@bp.route("/kiosk/<office>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["KIOSK_RATE_LIMIT"], methods=["POST"])
def kiosk(office: str):
    """The consultation form on the tablet at the desk: nothing half-filled enters the queue."""
    place = _office_or_404(office)
    form = _consultation_form()
    if request.method == "POST":
        visit = _register(form, place, source="kiosk")
        if visit is not None:
            db.session.commit()
            return redirect(url_for(".receipt", office=place.code, token=_receipt_token(visit)))
        return render_template("web/walkin/kiosk.html", form=form, office=place, required=_required(form)), 422
    return render_template("web/walkin/kiosk.html", form=form, office=place, required=_required(form))


@bp.get("/kiosk/<office>/tanda-terima/<token>")
def receipt(office: str, token: str):
    """The visitor's receipt: queue number, ticket reference and status link."""
    place = _office_or_404(office)
    try:
        visit_id = _serializer().loads(token, max_age=RECEIPT_MAX_AGE)
    except BadSignature:
        abort(404)
    visit = db.session.get(WalkinVisit, visit_id)
    if visit is None or visit.office_id != place.id:
        abort(404)
    from ..status_links import status_url

    return render_template("web/walkin/receipt.html", visit=visit, ticket=visit.ticket, office=place,
                           status_link=status_url(visit.ticket))


@bp.get("/kiosk/<office>/saran")
@limiter.limit("60 per minute")
def suggestions(office: str):
    """FAQ answers that may fit the text typed so far ("Mungkin ini jawaban Anda")."""
    text = request.args.get("q", "")[:2000]
    found = suggest(text, limit=3) if len(text.strip()) >= 10 else []
    return jsonify({"suggestions": [{"key": s.key, "question": s.question, "answer_html": s.answer_html,
                                     "confidence": s.confidence} for s in found]})


@bp.get("/display")
def display_default():
    return redirect(url_for(".display", office=_default_office().code))


@bp.get("/display/<office>")
def display(office: str):
    """The now-serving screen: large type, updates by itself."""
    place = _office_or_404(office)
    state = walkin.now_serving(place, day=walkin.service_day(place, utcnow()))
    return render_template("web/walkin/display.html", office=place, state=state)


@bp.get("/display/<office>/state")
def display_state(office: str):
    place = _office_or_404(office)
    response = jsonify(walkin.now_serving(place, day=walkin.service_day(place, utcnow())))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(429)
def too_many(error):
    return render_template("web/walkin/busy.html"), 429


@bp.errorhandler(413)
def too_large(error):
    """A request larger than MAX_CONTENT_LENGTH is refused before it is read: say so plainly."""
    return render_template("web/walkin/too_large.html",
                           limit=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)), 413


# -- staff: the desk ----------------------------------------------------------------------------------------

@bp.get("/walkin")
@login_required
def desk():
    """Who is waiting (with their waiting time), who is being served, and "call next"."""
    office = current_user.office
    day = walkin.service_day(office, utcnow())
    return render_template("web/walkin/desk.html", waiting=walkin.waiting(office, day=day),
                           serving=walkin.in_service(office, day=day), now=utcnow(),
                           finished=_finished_today(office, day))


@bp.post("/walkin/panggil")
@login_required
def call_next():
    desk_label = request.form.get("desk", "").strip()[:40] or None
    visit = walkin.call_next(current_user.office, current_user, desk=desk_label,
                             service_type=request.form.get("service_type") or None)
    db.session.commit()
    if visit is None:
        flash(_("Nobody is waiting."), "info")
        return redirect(url_for(".desk"))
    flash(_("%(label)s called.", label=visit.queue_label), "success")
    return redirect(url_for(".consult", ref=visit.ticket.ref))


@bp.post("/walkin/<int:visit_id>/panggil")
@login_required
def call(visit_id: int):
    """Call this visitor now (out of turn), or again when they did not come up."""
    visit = _visit_or_404(visit_id)
    desk_label = request.form.get("desk", "").strip()[:40] or None
    return _queue_step(lambda: walkin.call(visit, current_user, desk=desk_label),
                       _("%(label)s called.", label=visit.queue_label), "success",
                       url_for(".consult", ref=visit.ticket.ref))


@bp.post("/walkin/<int:visit_id>/pergi")
@login_required
def left(visit_id: int):
    """The visitor did not come up or went away: their place is given up, the ticket stays open."""
    visit = _visit_or_404(visit_id)
    return _queue_step(lambda: walkin.mark_left(visit, current_user),
                       _("%(label)s marked as gone; the ticket stays open for a follow-up.", label=visit.queue_label),
                       "info", url_for(".desk"))


@bp.route("/walkin/baru", methods=["GET", "POST"])
@login_required
def new():
    """An officer fills the consultation form for a visitor who does not use the kiosk."""
    form = _consultation_form()
    if request.method == "POST":
        visit = _register(form, current_user.office, source="desk", officer=current_user)
        if visit is not None:
            db.session.commit()
            flash(_("%(label)s registered as %(ref)s.", label=visit.queue_label, ref=visit.ticket.ref), "success")
            return redirect(url_for(".consult", ref=visit.ticket.ref))
        return render_template("web/walkin/new.html", form=form, required=_required(form)), 422
    return render_template("web/walkin/new.html", form=form, required=_required(form))


@bp.route("/walkin/konsultasi/<ref>", methods=["GET", "POST"])
@login_required
def consult(ref: str):
    """The consultation page: the visitor's form, the checklist, and the officer's answer with initials."""
    ticket = db.session.scalar(select(Ticket).where(Ticket.ref == ref.strip().upper(),
                                                    Ticket.office_id == current_user.office_id))
    visit = walkin.visit_for(ticket) if ticket is not None else None
    if visit is None:
        abort(404)
    form = AnswerForm()
    items = checklist_for(visit.service_type)
    if request.method == "POST" and form.validate_on_submit():
        answer = walkin.ConsultationAnswer(
            analysis=form.analysis.data or "", answer=form.answer.data or "", outcome=form.outcome.data,
            escalate_role=form.escalate_role.data or None, checklist=_checklist_from(request.form, items))
        try:
            event = walkin.answer_consultation(visit, answer, officer=current_user)
            _archive_copy(ticket, event)
            db.session.commit()
        except HelpdeskError as exc:
            db.session.rollback()
            flash(_("Not saved: %(reason)s", reason=str(exc)), "danger")
        else:
            flash(_("Consultation form initialled by %(name)s; the copy is archived with %(ref)s.",
                    name=current_user.name, ref=ticket.ref), "success")
            return redirect(url_for(".consult", ref=ticket.ref))
        status = 422
    elif request.method == "POST":
        flash(_("Please check the marked fields."), "danger")
        status = 422
    else:
        status = 200
        _prefill(form, ticket)
    checklist = latest_checklist(ticket) or {}
    given = {entry["key"]: entry for entry in checklist.get("items", [])}
    if request.method == "POST":
        given = {key: {"result": value.get("result"), "note": value.get("note", ""), "at": None}
                 for key, value in _checklist_from(request.form, items).items()}
    return render_template("web/walkin/consult.html", ticket=ticket, visit=visit, form=form, items=items,
                           given=given, result_labels=RESULT_LABELS, consultation=latest_consultation(ticket),
                           attachments=[a for a in _attachments(ticket) if not a.inline]), status


# -- helpers ------------------------------------------------------------------------------------------------

def _queue_step(step, message: str, category: str, then: str):
    """Run a queue step and commit; on a refusal show why and go back to the desk."""
    try:
        step()
        db.session.commit()
    except HelpdeskError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for(".desk"))
    flash(message, category)
    return redirect(then)


def _consultation_form() -> ConsultationForm:
    """The form, reading only posted form fields and files (never a JSON body: Flask-WTF would take one)."""
    if request.method != "POST":
        return ConsultationForm(formdata=None)
    return ConsultationForm(formdata=CombinedMultiDict((request.files, request.form)))


def _register(form: ConsultationForm, office: Office, *, source: str, officer=None) -> WalkinVisit | None:
    """Check the posted form and sign the visitor in; None (with the form's errors set) when it is incomplete."""
    form.validate()  # length limits and CSRF
    config = current_app.config
    uploads = [walkin.Upload(filename=f.filename or "", data=f.read(), declared_type=f.mimetype or "")
               for f in request.files.getlist(form.files.name) if f and f.filename]
    accepted, refused = walkin.check_uploads(uploads, max_files=config["KIOSK_MAX_FILES"],
                                             max_bytes=config["KIOSK_MAX_FILE_BYTES"])
    consultation = walkin.ConsultationRequest(
        contact=Contact(name=(form.name.data or "").strip(), email=(form.email.data or "").strip() or None,
                        phone=(form.phone.data or "").strip() or None,
                        organization=(form.organization.data or "").strip(), spse_role=form.spse_role.data or None),
        description=form.description.data or "", service_type=form.service_type.data or "",
        application=form.application.data or None, tender_code=(form.tender_code.data or "").strip() or None,
        error_message=form.error_message.data or None, uploads=tuple(accepted))
    problems = walkin.missing_fields(consultation)
    for name, message in problems.items():
        getattr(form, name).errors = [*getattr(form, name).errors, message]
    if refused:
        form.files.errors = [*form.files.errors, *refused,
                             _("The other fields are kept; choose the files again before sending.")]
    if form.errors or problems or refused:
        flash(_("The form is not complete yet: please check the marked fields."), "danger")
        return None
    try:
        return walkin.register_visit(consultation, office=office, source=source, officer=officer)
    except HelpdeskError as exc:
        db.session.rollback()
        flash(_("Not saved: %(reason)s", reason=str(exc)), "danger")
        return None
    except OSError:  # the file store is full or unwritable: say so, keep what was typed
        db.session.rollback()
        log.exception("walk-in registration: the files could not be stored")
        message = _("The files cannot be saved right now (the server's storage is full or unavailable). "
                    "Nothing was saved; the other fields are kept. Send the form without files, or ask the officer.")
        form.files.errors = [*form.files.errors, message]
        flash(message, "danger")
        return None


def _required(form: ConsultationForm) -> set[str]:
    required = set(REQUIRED)
    if (form.service_type.data or ServiceType.CONSULTATION) == ServiceType.CONSULTATION:
        required.add("application")
    if form.service_type.data == ServiceType.BIDDING_ROOM:
        required.add("tender_code")
    return required


def _checklist_from(posted, items) -> dict[str, dict[str, str]]:
    return {item.key: {"result": posted.get(f"check-{item.key}", "") or "",
                       "note": posted.get(f"note-{item.key}", "")[:500]} for item in items}


def _prefill(form: AnswerForm, ticket: Ticket) -> None:
    """Show what was written before, so an officer can correct and initial the form again."""
    previous = latest_consultation(ticket)
    if previous:
        form.analysis.data = previous.get("analysis", "")
        form.answer.data = previous.get("answer", "")


def _archive_copy(ticket: Ticket, event) -> None:
    """Store the initialled form as a PDF with the ticket (the archive the SOP asks for)."""
    from .. import copies

    copies.archive_pdf(ticket, event=event)


def _attachments(ticket: Ticket):
    from ..models import Attachment

    return db.session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id)
                              .order_by(Attachment.id)).all()


def _finished_today(office: Office, day) -> list[WalkinVisit]:
    return list(db.session.scalars(
        select(WalkinVisit).where(WalkinVisit.office_id == office.id, WalkinVisit.service_day == day,
                                  WalkinVisit.status.in_((walkin.DONE, walkin.LEFT)))
        .order_by(WalkinVisit.finished_at.desc()).limit(50)))


def _visit_or_404(visit_id: int) -> WalkinVisit:
    visit = db.session.get(WalkinVisit, visit_id)
    if visit is None or visit.office_id != current_user.office_id:
        abort(404)
    return visit


def _office_or_404(code: str) -> Office:
    office = db.session.scalar(select(Office).where(Office.code == code))
    if office is None:
        abort(404)
    return office


def _default_office() -> Office:
    office = db.session.scalar(select(Office).order_by(Office.id).limit(1))
    if office is None:
        abort(404)
    return office


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="walkin-receipt")


def _receipt_token(visit: WalkinVisit) -> str:
    return _serializer().dumps(visit.id)
