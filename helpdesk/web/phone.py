"""The phone log: quick entry while on the phone, the caller lookup as the number is typed, and the calls list.

Calls that came through Twilio are listed on /phone/calls; an answered one waits there as a draft until the officer
completes its phone log (/phone/new?call=<id>, prefilled with the number and the call time) or dismisses it.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from channels.base import Contact, Inbound
from channels.phone import CallOutcome, PhoneCall, log_call
from channels.twilio import calls_to_log, complete_call_log, needs_log, recent_calls

from ..errors import HelpdeskError
from ..extensions import db
from ..formatting import short_datetime
from ..models import CallLog, Requester, Staff
from ..requesters import earlier_tickets, find_requester, format_phone, normalise_phone
from ..states import STATUS_LABELS, Status
from ..timeutil import utcnow
from .forms import PhoneLogForm

bp = Blueprint("phone", __name__, url_prefix="/phone")

# A form left open longer than this was not one call; the call time is then the time of saving.
MAX_CALL_MINUTES = 120
RECENT_CALLS = 100

CALL_OUTCOME_LABELS = {
    "ringing": _l("In progress"), "answered": _l("Answered"), "missed": _l("Missed"), "voicemail": _l("Voicemail"),
}


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Log a call: the ticket is created, assigned to the officer, and the outcome applied at once.

    With ``?call=<id>`` it completes an answered call's draft: prefilled with the caller's number, the ticket
    received at the call's time, and the call linked to the ticket when saved.
    """
    call = _draft_call(request.args.get("call"))
    if call is not None and not needs_log(call):
        flash(_("This call has already been logged or dismissed."), "info")
        return redirect(url_for("tickets.show", ref=call.ticket.ref) if call.ticket else url_for(".calls"))
    form = PhoneLogForm()
    if request.method == "GET":
        form.started_at.data = utcnow().isoformat()
        if call is not None:
            form.phone.data = call.from_number
            form.started_at.data = call.started_at.isoformat()
    if form.validate_on_submit():
        phone = normalise_phone(form.phone.data)
        received_at = call.started_at if call is not None else _call_time(form.started_at.data)
        phone_call = PhoneCall(
            inbound=Inbound(
                channel="phone", received_at=received_at, subject="",
                body=form.question.data, external_id=call.call_sid if call is not None else None,
                contact=Contact(name=form.name.data, email=form.email.data or None,
                                phone=form.phone.data or None, organization=form.organization.data,
                                spse_role=form.spse_role.data or None, address=form.address.data)),
            answer=form.answer.data or "", outcome=CallOutcome(form.outcome.data),
            escalate_role=form.escalate_role.data or None, application=form.application.data or None,
            tender_code=form.tender_code.data or None)
        try:
            ticket = log_call(phone_call, office=current_user.office, officer=current_user)
            if call is not None:
                complete_call_log(call, ticket=ticket, officer=current_user, now=utcnow())
            db.session.commit()
        except HelpdeskError as exc:
            db.session.rollback()
            flash(_("Not saved: %(reason)s", reason=str(exc)), "danger")
            return render_template("web/phone/new.html", form=form, call=call), 422
        message = _("Call saved as %(ref)s.", ref=ticket.ref)
        if phone is not None and not phone.valid:
            message += " " + _("The number could not be read as a phone number; it was kept as typed.")
        flash(message, "success" if phone is None or phone.valid else "warning")
        return redirect(url_for("tickets.show", ref=ticket.ref))
    if request.method == "POST":
        flash(_("Please check the marked fields."), "danger")
        return render_template("web/phone/new.html", form=form, call=call), 422
    return render_template("web/phone/new.html", form=form, call=call)


@bp.get("/calls")
@login_required
def calls():
    """Calls that came through Twilio: answered calls still to log on top, then the latest calls."""
    office = current_user.office
    recent = recent_calls(office, limit=RECENT_CALLS)
    to_log = calls_to_log(office)
    return render_template("web/phone/calls.html", to_log=to_log, recent=recent, office=office,
                           callers=_callers(to_log + recent), loggers=_loggers(recent),
                           outcome_labels=CALL_OUTCOME_LABELS, needs_log=needs_log)


@bp.post("/calls/<int:call_id>/dismiss")
@login_required
def dismiss(call_id: int):
    """Close an answered call's draft without a ticket (a wrong number, a call that needed no record)."""
    call = _draft_call(str(call_id))
    try:
        complete_call_log(call, ticket=None, officer=current_user, now=utcnow())
        db.session.commit()
    except HelpdeskError as exc:
        db.session.rollback()
        flash(_("Not saved: %(reason)s", reason=str(exc)), "danger")
        return redirect(url_for(".calls"))
    flash(_("The call from %(number)s was dismissed without a ticket.", number=format_phone(call.from_number)),
          "success")
    return redirect(url_for(".calls"))


@bp.get("/lookup")
@login_required
def lookup():
    """The caller behind a typed number: normalised number, the requester and their recent tickets."""
    typed = request.args.get("number", "")
    phone = normalise_phone(typed)
    if phone is None:
        return jsonify({"number": None, "valid": False, "requester": None, "tickets": []})
    requester = find_requester(phone=typed)
    result = {"number": phone.value, "display": format_phone(phone.value) if phone.valid else phone.value,
              "valid": phone.valid, "requester": None, "tickets": []}
    if requester is not None:
        result["requester"] = {"name": requester.name, "organization": requester.organization or "",
                               "spse_role": requester.spse_role or "", "email": requester.email or "",
                               "address": requester.address or ""}
        tz = current_user.office.timezone
        result["tickets"] = [
            {"ref": t.ref, "subject": t.subject, "status": str(STATUS_LABELS[Status(t.status)]),
             "received": short_datetime(t.received_at, tz), "url": url_for("tickets.show", ref=t.ref)}
            for t in earlier_tickets(requester, limit=5)]
    return jsonify(result)


def _call_time(started_at: str | None) -> datetime:
    """When the call came in: the moment the form was opened, if that is believable, else now."""
    now = utcnow()
    try:
        started = datetime.fromisoformat(started_at or "")
    except ValueError:
        return now
    if started.tzinfo is None or not (now - timedelta(minutes=MAX_CALL_MINUTES) <= started <= now):
        return now
    return started


def _draft_call(call_id: str | None) -> CallLog | None:
    """The call log ``call_id`` of the officer's office; None without an id, 404 for a call that is not theirs."""
    if not call_id:
        return None
    call = db.session.get(CallLog, int(call_id)) if call_id.isdigit() else None
    if call is None or call.office_id != current_user.office_id:
        abort(404)
    return call


def _callers(calls: list[CallLog]) -> dict[str, Requester]:
    """The known requester behind each calling number (the most recently seen one per number)."""
    numbers = {call.from_number for call in calls if call.from_number}
    if not numbers:
        return {}
    rows = db.session.scalars(select(Requester).where(Requester.phone.in_(numbers))
                              .order_by(Requester.updated_at, Requester.id)).all()
    return {row.phone: row for row in rows}  # later rows (more recent) win


def _loggers(calls: list[CallLog]) -> dict[int, Staff]:
    """The officers who logged or dismissed the calls, by id."""
    ids = {call.logged_by_id for call in calls if call.logged_by_id is not None}
    return {staff.id: staff for staff in db.session.scalars(select(Staff).where(Staff.id.in_(ids)))} if ids else {}
