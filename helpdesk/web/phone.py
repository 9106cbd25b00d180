"""The phone log: quick entry while on the phone, and the caller lookup as the number is typed."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from channels.base import Contact, Inbound
from channels.phone import CallOutcome, PhoneCall, log_call

from ..errors import HelpdeskError
from ..extensions import db
from ..formatting import short_datetime
from ..requesters import earlier_tickets, find_requester, format_phone, normalise_phone
from ..states import STATUS_LABELS, Status
from ..timeutil import utcnow
from .forms import PhoneLogForm

bp = Blueprint("phone", __name__, url_prefix="/phone")

# A form left open longer than this was not one call; the call time is then the time of saving.
MAX_CALL_MINUTES = 120


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Log a call: the ticket is created, assigned to the officer, and the outcome applied at once."""
    form = PhoneLogForm()
    if request.method == "GET":
        form.started_at.data = utcnow().isoformat()
    if form.validate_on_submit():
        phone = normalise_phone(form.phone.data)
        call = PhoneCall(
            inbound=Inbound(
                channel="phone", received_at=_call_time(form.started_at.data), subject="",
                body=form.question.data,
                contact=Contact(name=form.name.data, email=form.email.data or None,
                                phone=form.phone.data or None, organization=form.organization.data,
                                spse_role=form.spse_role.data or None, address=form.address.data)),
            answer=form.answer.data or "", outcome=CallOutcome(form.outcome.data),
            escalate_role=form.escalate_role.data or None, application=form.application.data or None,
            tender_code=form.tender_code.data or None)
        try:
            ticket = log_call(call, office=current_user.office, officer=current_user)
            db.session.commit()
        except HelpdeskError as exc:
            db.session.rollback()
            flash(_("Not saved: %(reason)s", reason=str(exc)), "danger")
            return render_template("web/phone/new.html", form=form), 422
        message = _("Call saved as %(ref)s.", ref=ticket.ref)
        if phone is not None and not phone.valid:
            message += " " + _("The number could not be read as a phone number; it was kept as typed.")
        flash(message, "success" if phone is None or phone.valid else "warning")
        return redirect(url_for("tickets.show", ref=ticket.ref))
    if request.method == "POST":
        flash(_("Please check the marked fields."), "danger")
        return render_template("web/phone/new.html", form=form), 422
    return render_template("web/phone/new.html", form=form)


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
