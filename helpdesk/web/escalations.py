"""Escalation pages and actions (DESIGN.md §6): the ticket page's Eskalasi panel and its forms, the LPSE Support
(TTS) page with copy buttons, and the admin's LKPP template and settings page. Handlers are thin: one service call
(helpdesk/escalations.py) and one commit each; bad input changes nothing and says why.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    URLField,
)
from wtforms.validators import URL, DataRequired, Email, InputRequired, Length, NumberRange, Optional
from wtforms.validators import ValidationError as FormError
from wtforms.widgets import CheckboxInput, ListWidget

from escalation import lkpp

from .. import audit, escalations
from ..errors import HelpdeskError, InvalidTransition
from ..extensions import db
from ..models import Attachment, Escalation, OutboxMessage, Ticket
from ..privacy import can_see_identity, mask_identity_numbers, mask_number
from ..settings import get_setting, set_setting
from ..staff import office_staff
from ..states import TRANSITIONS, Status
from ..timeutil import utcnow
from ..vocab import StaffRole, label
from .access import admin_required
from .flashes import flash_refused_move
from .forms import escalation_role_choices, options

bp = Blueprint("escalations", __name__, url_prefix="/eskalasi")

TIER_LABELS = {"internal": _l("Inside the office"), "lkpp": _l("LKPP")}
TARGET_LABELS = {"helpdesk_lkpp": _l("Helpdesk LKPP"), "teknis_lkpp": _l("LKPP technical team")}
CHANNEL_LABELS = {"internal": _l("internal"), "email": _l("email"), "tts": _l("LPSE Support (TTS)"),
                  "phone": _l("phone")}
STATUS_LABELS_ESC = {"open": _l("waiting for an answer"), "answered": _l("answered, to be reviewed"),
                     "closed": _l("closed"), "returned": _l("returned down the chain")}
STATUS_COLOURS = {"open": "warning", "answered": "info", "closed": "secondary", "returned": "light"}
CALL_OUTCOME_LABELS = {"confirmed": _l("Confirmed by LKPP"), "no_answer": _l("No answer"),
                       "more_info_needed": _l("LKPP needs more information"), "other": _l("Other")}
REF_SOURCE_LABELS = {"officer": _l("typed by an officer"), "gateway": _l("from the integration gateway"),
                     "lkpp_mail": _l("from LKPP's email")}
ANSWER_VIA_LABELS = {"tts": _l("LPSE Support (TTS)"), "phone": _l("Phone"), "email": _l("Email")}
LOCAL_INPUT = "%Y-%m-%dT%H:%M"


def _lookup(labels: dict[str, Any], code: str | None) -> str:
    return str(labels.get(code or "", code or ""))


@bp.record_once
def _register_template_helpers(state) -> None:
    state.app.jinja_env.globals.update(
        escalation_tier_label=lambda code: _lookup(TIER_LABELS, code),
        lkpp_target_label=lambda code: _lookup(TARGET_LABELS, code),
        escalation_channel_label=lambda code: _lookup(CHANNEL_LABELS, code),
        escalation_status_label=lambda code: _lookup(STATUS_LABELS_ESC, code),
        escalation_status_colour=lambda code: STATUS_COLOURS.get(code, "secondary"),
        call_outcome_label=lambda code: _lookup(CALL_OUTCOME_LABELS, code),
        lkpp_ref_source_label=lambda code: _lookup(REF_SOURCE_LABELS, code),
        lkpp_answer_via_label=lambda code: _lookup(ANSWER_VIA_LABELS, code),
    )


# -- forms ----------------------------------------------------------------------------------------------------

class InternalEscalationForm(FlaskForm):
    """Escalate inside the office: to a role or to one officer (the ticket page, prefix ``esc``)."""

    role = SelectField(_l("To a role"), choices=[], validators=[Optional()])
    officer = SelectField(_l("Or to an officer"), choices=[], validators=[Optional()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=5000)], render_kw={"rows": 2})
    requester_told = BooleanField(_l("The requester has been told it was escalated"))
    submit = SubmitField(_l("Escalate"))

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if bool(self.role.data) == bool(self.officer.data):
            self.officer.errors = [*self.officer.errors, _("Choose a role or one officer.")]
            return False
        return ok


class LkppEscalationForm(FlaskForm):
    """Escalate to LKPP by email, LPSE Support (TTS) or phone (the ticket page, prefix ``lkpp``)."""

    channel = RadioField(_l("Send by"), default="email", validators=[DataRequired()], choices=options([
        ("email", _l("Email to the Helpdesk LKPP")), ("tts", _l("LPSE Support (TTS)")),
        ("phone", _l("Phone to the call centre"))]))
    target = SelectField(_l("To"), default="helpdesk_lkpp", choices=options(TARGET_LABELS.items()))
    reason = TextAreaField(_l("Why it goes to LKPP"), validators=[DataRequired(), Length(max=5000)],
                           render_kw={"rows": 2})
    steps_tried = TextAreaField(_l("Steps already tried"), validators=[Optional(), Length(max=5000)],
                                render_kw={"rows": 2})
    attachments = SelectMultipleField(_l("Attachments sent along"), choices=[], coerce=int, validators=[Optional()],
                                      widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    external_ref = StringField(_l("LKPP ticket number, if LPSE Support already gave one"),
                               validators=[Optional(), Length(max=100)])
    requester_told = BooleanField(_l("Tell the requester it was escalated (email, or SMS to a mobile number)"),
                                  default=True)
    submit = SubmitField(_l("Escalate to LKPP"))


def internal_form(ticket: Ticket, **kwargs) -> InternalEscalationForm:
    """The internal escalation form with the office's roles and officers."""
    form = InternalEscalationForm(prefix="esc", **kwargs)
    form.role.choices = options([("", "—")]) + escalation_role_choices()
    form.officer.choices = options([("", "—")] + [
        (str(s.id), f"{s.name} · {label(StaffRole, s.role)}") for s in office_staff(ticket.office_id)])
    return form


def lkpp_form(ticket: Ticket, **kwargs) -> LkppEscalationForm:
    """The LKPP escalation form with the ticket's attachments to choose from."""
    form = LkppEscalationForm(prefix="lkpp", **kwargs)
    form.attachments.choices = [(a.id, a.filename) for a in _listed_attachments(ticket)]
    return form


def panel_context(ticket: Ticket) -> dict[str, Any]:
    """What the ticket page's Eskalasi panel shows: the chain, who holds the ticket, outbox states, settings."""
    chain = escalations.chain(ticket)
    outbox_ids = [e.outbox_id for e in chain if e.outbox_id is not None]
    messages = {m.id: m for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(outbox_ids)))} \
        if outbox_ids else {}
    waiting_on_lkpp = next((e for e in reversed(chain) if e.tier == "lkpp" and e.status == "open"), None)
    return {
        "esc_chain": chain, "esc_outbox": messages, "esc_lkpp_open": waiting_on_lkpp,
        "can_escalate": ticket.status == Status.ESCALATED or Status.ESCALATED in TRANSITIONS[Status(ticket.status)],
        "lkpp_call_centre": get_setting("lkpp.call_centre"),
        "esc_now_local": utcnow().astimezone(ZoneInfo(ticket.office.timezone)).strftime(LOCAL_INPUT),
    }


def _listed_attachments(ticket: Ticket) -> list[Attachment]:
    return list(db.session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id,
                                                            Attachment.inline.is_(False)).order_by(Attachment.id)))


# -- to LKPP --------------------------------------------------------------------------------------------------

@bp.post("/tiket/<ref>/lkpp")
@login_required
def to_lkpp(ref: str):
    """Escalate the ticket to LKPP; with ``action=preview`` show what would be sent, saving nothing."""
    from .tickets import _render, _ticket_or_404

    ticket = _ticket_or_404(ref)
    form = lkpp_form(ticket)
    if not form.validate_on_submit():
        db.session.rollback()
        flash(_("Please check the marked fields."), "danger")
        return _render(ticket, 422, lkpp_form=form)
    values = {"channel": form.channel.data, "reason": form.reason.data, "steps_tried": form.steps_tried.data or "",
              "attachment_ids": form.attachments.data or []}
    if request.form.get("action") == "preview":
        try:
            draft = escalations.lkpp_draft(ticket, actor=current_user, **values)
        except HelpdeskError as exc:
            db.session.rollback()
            flash(_("Not escalated: %(reason)s", reason=str(exc)), "danger")
            return _render(ticket, 422, lkpp_form=form)
        db.session.rollback()
        whole = can_see_identity(current_user)
        if not whole:
            draft = {**draft, "body": _masked(draft.get("body") or "", ticket)}
        return render_template("web/escalations/preview.html", ticket=ticket, office=ticket.office, form=form,
                               draft=draft, fields=_shown_fields(lkpp.form_fields(draft["fields"]), ticket, whole),
                               labels=lkpp.FIELDS, identity_masked=not whole)
    try:
        escalation = escalations.escalate_to_lkpp(
            ticket, actor=current_user, target=form.target.data, external_ref=form.external_ref.data or None,
            requester_told=form.requester_told.data, **values)
        db.session.commit()
    except InvalidTransition as exc:
        db.session.rollback()
        flash_refused_move(exc.old, exc.new)
        return redirect(url_for("tickets.show", ref=ticket.ref))
    except HelpdeskError as exc:
        db.session.rollback()
        flash(_("Not escalated: %(reason)s", reason=str(exc)), "danger")
        return _render(ticket, 422, lkpp_form=form)
    if escalation.channel == "tts":
        flash(_("Escalation recorded. Copy the fields into LPSE Support, then record LKPP's ticket number."),
              "success")
        return redirect(url_for(".tts", escalation_id=escalation.id))
    flash(_("Ticket escalated to LKPP."), "success")
    return redirect(_ticket_url(ticket, escalation))


@bp.get("/<int:escalation_id>/tts")
@login_required
def tts(escalation_id: int):
    """The LPSE Support form's fields, each with a copy button, a link to LPSE Support, and the number form."""
    escalation = _escalation_or_404(escalation_id)
    if escalation.tier != "lkpp":
        abort(404)
    # The fields carry the requester's NPWP: whoever opens them is recorded, with whether they saw it whole.
    audit.record_view("lkpp_fields.viewed", target=escalation.ticket, escalation_id=escalation.id,
                      ref=escalation.ticket.ref, identity="whole" if can_see_identity(current_user) else "masked")
    return _tts_page(escalation)


def _masked(text: str, ticket: Ticket) -> str:
    """``text`` with the requester's NPWP and NIK, and any other NPWP/NIK-shaped number, masked."""
    requester = ticket.requester
    for value in (getattr(requester, "npwp", None), getattr(requester, "nik", None)):
        if value and len(value) >= 8:
            text = text.replace(value, mask_number(value))
    return mask_identity_numbers(text)


def _shown_fields(fields: dict[str, str], ticket: Ticket, whole: bool) -> dict[str, str]:
    """The LPSE Support fields as this officer may see them: whole, or with identity numbers masked (the copy
    buttons then copy the masked value; the email to LKPP still carries the whole numbers)."""
    return fields if whole else {key: _masked(value, ticket) for key, value in fields.items()}


def _tts_page(escalation: Escalation, status: int = 200, *, number: str = "", error: str | None = None):
    ticket = escalation.ticket
    content = escalation.content or {}
    whole = can_see_identity(current_user)
    fields = _shown_fields(lkpp.form_fields(content.get("fields") or lkpp.lkpp_fields(ticket, escalation)), ticket,
                           whole)
    ids = content.get("attachment_ids") or []
    files = list(db.session.scalars(select(Attachment).where(Attachment.id.in_(ids)))) if ids else []
    gateway = escalation.channel == "tts" and escalation.outbox_id is not None
    message = db.session.get(OutboxMessage, escalation.outbox_id) if gateway else None
    return render_template("web/escalations/tts.html", escalation=escalation, ticket=ticket, office=ticket.office,
                           fields=fields, labels=lkpp.FIELDS, files=files, message=message,
                           support_url=get_setting("lkpp.support_url"), pattern=lkpp.ticket_number_pattern(),
                           number=number, error=error, identity_masked=not whole), status


# -- on an escalation -----------------------------------------------------------------------------------------

@bp.post("/<int:escalation_id>/nomor")
@login_required
def record_number(escalation_id: int):
    """Record LKPP's ticket number (typed back from LPSE Support, or told on the phone)."""
    escalation = _escalation_or_404(escalation_id)
    number = request.form.get("number", "")
    try:
        event = escalations.record_external_ref(escalation, number, actor=current_user)
        db.session.commit()
    except HelpdeskError as exc:
        db.session.rollback()
        if request.form.get("from") == "tts":
            return _tts_page(escalation, 422, number=number, error=str(exc))
        flash(_("Not saved: %(reason)s", reason=str(exc)), "danger")
        return redirect(_ticket_url(escalation.ticket, escalation))
    flash(_("LKPP ticket number recorded.") if event else _("That number was already recorded."), "success")
    return redirect(_ticket_url(escalation.ticket, escalation))


@bp.post("/<int:escalation_id>/panggilan")
@login_required
def log_call(escalation_id: int):
    """Log a confirmation call to LKPP (call centre 144): time, number, reference given, outcome."""
    escalation = _escalation_or_404(escalation_id)
    form = request.form

    def act() -> None:
        escalations.log_call(escalation, officer=current_user, called_at=_local_time(escalation, form.get("called_at")),
                             number=form.get("number", ""), reference_given=form.get("reference_given", ""),
                             outcome=form.get("outcome", ""), note=form.get("note", ""))

    return _act(escalation, act, _("Call logged."))


@bp.post("/<int:escalation_id>/jawaban")
@login_required
def record_answer(escalation_id: int):
    """Record an answer LKPP gave by phone or in LPSE Support (typed by the officer); staff review it next."""
    escalation = _escalation_or_404(escalation_id)
    form = request.form

    def act() -> None:
        escalations.record_answer(escalation, body=form.get("body", ""), via=form.get("via", ""), at=utcnow(),
                                  actor=current_user)

    return _act(escalation, act, _("LKPP's answer recorded. Review it before it goes to the requester."))


@bp.post("/<int:escalation_id>/tinjau")
@login_required
def review(escalation_id: int):
    """Mark LKPP's answer reviewed, then open the reply form filled with it."""
    escalation = _escalation_or_404(escalation_id)
    try:
        escalations.review_answer(escalation, actor=current_user)
        db.session.commit()
    except HelpdeskError as exc:
        db.session.rollback()
        flash(_("Not saved: %(reason)s", reason=str(exc)), "danger")
        return redirect(_ticket_url(escalation.ticket, escalation))
    flash(_("Answer reviewed. The reply form holds LKPP's answer: edit it and send it to the requester."), "success")
    return redirect(url_for("tickets.show", ref=escalation.ticket.ref, jawaban_lkpp=escalation.id) + "#reply-form")


@bp.post("/<int:escalation_id>/kembalikan")
@login_required
def give_back(escalation_id: int):
    """Return the ticket down the chain, with a note."""
    escalation = _escalation_or_404(escalation_id)
    return _act(escalation, lambda: escalations.return_escalation(escalation, actor=current_user,
                                                                  note=request.form.get("note", "")),
                _("Ticket returned down the chain."))


def _act(escalation: Escalation, action, success: str):
    ticket = escalation.ticket
    try:
        action()
        db.session.commit()
    except InvalidTransition as exc:
        db.session.rollback()
        flash_refused_move(exc.old, exc.new)
    except HelpdeskError as exc:
        db.session.rollback()
        flash(_("Not saved: %(reason)s", reason=str(exc)), "danger")
    else:
        flash(success, "success")
    return redirect(_ticket_url(ticket, escalation))


def _local_time(escalation: Escalation, value: str | None) -> datetime:
    """A ``datetime-local`` value in the office's zone; now when empty. Refuses junk and the future."""
    zone = ZoneInfo(escalation.ticket.office.timezone)
    if not (value or "").strip():
        return utcnow()
    try:
        moment = datetime.strptime(value.strip(), LOCAL_INPUT).replace(tzinfo=zone)
    except ValueError:
        raise HelpdeskValueError(_("Give the time of the call as date and time.")) from None
    if moment > utcnow() + timedelta(minutes=5):
        raise HelpdeskValueError(_("The call cannot be in the future."))
    return moment


class HelpdeskValueError(HelpdeskError):
    """A form value the page refuses before calling the service."""


def _escalation_or_404(escalation_id: int) -> Escalation:
    escalation = db.session.get(Escalation, escalation_id)
    if escalation is None or escalation.ticket.office_id != current_user.office_id:
        abort(404)
    return escalation


def _ticket_url(ticket: Ticket, escalation: Escalation | None = None) -> str:
    url = url_for("tickets.show", ref=ticket.ref)
    return url + (f"#escalation-{escalation.id}" if escalation is not None else "#escalations")


# -- the admin's LKPP template and settings ---------------------------------------------------------------------

class LkppSettingsForm(FlaskForm):
    """The LKPP email template and the LKPP settings (helpdesk.settings ``lkpp.*``, ``escalation.*``)."""

    email_to = EmailField(_l("LKPP's email address for escalations"),
                          validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    addresses = TextAreaField(_l("Addresses and domains LKPP mails from (one per line)"),
                              validators=[DataRequired(), Length(max=2000)], render_kw={"rows": 3})
    ticket_number_pattern = StringField(_l("LKPP ticket number pattern (regular expression)"),
                                        validators=[DataRequired(), Length(max=200)])
    support_url = URLField(_l("LPSE Support address"), validators=[Optional(), URL(require_tld=False),
                                                                   Length(max=500)])
    call_centre = StringField(_l("LKPP call centre number"), validators=[DataRequired(), Length(max=40)])
    gateway_url = URLField(_l("Integration gateway address (optional HTTP mode of LPSE Support)"),
                           validators=[Optional(), URL(require_tld=False), Length(max=500)])
    reminder_working_days = IntegerField(_l("Remind the holder after this many working days without an answer"),
                                         validators=[InputRequired(), NumberRange(min=0, max=30)])
    subject_template = StringField(_l("Email subject template"), validators=[DataRequired(), Length(max=500)])
    body_template = TextAreaField(_l("Email body template"),
                                  validators=[DataRequired(), Length(max=lkpp.TEMPLATE_MAX)],
                                  render_kw={"rows": 24, "wrap": "off", "spellcheck": "false"})
    preview_ref = StringField(_l("Preview on ticket"), validators=[Optional(), Length(max=40)])
    submit = SubmitField(_l("Save"))

    def validate_ticket_number_pattern(self, field) -> None:
        error = lkpp.pattern_error(field.data or "")
        if error:
            raise FormError(error)

    def validate_addresses(self, field) -> None:
        for line in (field.data or "").split():
            entry = line.strip().lstrip("@")
            if "." not in entry.rpartition("@")[2] or any(c in entry for c in " ,;<>"):
                raise FormError(_l("%(value)s is not an address or a domain.", value=line))

    def address_list(self) -> list[str]:
        return list(dict.fromkeys(line.strip().lower() for line in (self.addresses.data or "").split() if line))


SETTING_FIELDS = {
    "lkpp.email_to": "email_to", "lkpp.ticket_number_pattern": "ticket_number_pattern",
    "lkpp.support_url": "support_url", "lkpp.call_centre": "call_centre", "lkpp.gateway_url": "gateway_url",
    "escalation.reminder_working_days": "reminder_working_days",
}


@bp.route("/templat", methods=["GET", "POST"])
@admin_required
def template_page():
    """Edit the LKPP email template (refused with Jinja's error when it does not render) and the LKPP settings;
    preview the template on a real ticket without saving."""
    shipped_subject, shipped_body = lkpp.default_templates()
    if request.method == "POST":
        form = LkppSettingsForm(formdata=request.form)
    else:
        subject, body = lkpp.current_templates()
        data = {name: get_setting(key) for key, name in SETTING_FIELDS.items()}
        data.update(addresses="\n".join(lkpp.lkpp_addresses()), subject_template=subject.strip(),
                    body_template=body)
        form = LkppSettingsForm(formdata=None, data=data)
    preview = preview_error = None
    if request.method == "POST" and request.form.get("action") == "reset":
        for key in TEMPLATE_KEYS:
            set_setting(key, "", actor=current_user)
        audit.record("lkpp_template.changed", target_type="setting", reset=True)
        db.session.commit()
        flash(_("The shipped LKPP template is used again."), "success")
        return redirect(url_for(".template_page"))
    if form.is_submitted() and form.validate():
        try:
            preview = _preview(form)
        except HelpdeskError as exc:
            preview_error = str(exc)
            form.body_template.errors = [*form.body_template.errors, str(exc)]
        if request.form.get("action") != "preview" and not form.errors:
            values = {key: getattr(form, name).data for key, name in SETTING_FIELDS.items()}
            values["lkpp.addresses"] = form.address_list()
            values["lkpp.support_url"] = (form.support_url.data or "").strip()
            values["lkpp.gateway_url"] = (form.gateway_url.data or "").strip()
            subject, body = form.subject_template.data.strip(), form.body_template.data.replace("\r\n", "\n")
            values["lkpp.email_subject_template"] = "" if subject == shipped_subject.strip() else subject
            values["lkpp.email_body_template"] = "" if body.strip() == shipped_body.strip() else body
            old = {key: get_setting(key) for key in values}
            for key, value in values.items():
                if value != old[key]:
                    set_setting(key, value, actor=current_user)
            _audit_lkpp_settings(old, values)
            db.session.commit()
            flash(_("LKPP settings saved."), "success")
            return redirect(url_for(".template_page"))
    elif form.is_submitted():
        preview_error = _("Nothing was saved. Please check the marked fields.")
    status = 422 if (form.errors or preview_error) else 200
    db.session.rollback()  # a preview or a refused form writes nothing
    return render_template("web/escalations/template.html", form=form, preview=preview, preview_error=preview_error,
                           variables=lkpp.TEMPLATE_VARIABLES), status


TEMPLATE_KEYS = ("lkpp.email_subject_template", "lkpp.email_body_template")


def _audit_lkpp_settings(old: dict[str, Any], new: dict[str, Any]) -> None:
    """A template change is one line naming the parts changed (the text itself is in the settings); the other LKPP
    settings are a settings change with old and new values."""
    parts = [key.rsplit("_", 2)[-2] for key in TEMPLATE_KEYS if old[key] != new[key]]
    if parts:
        audit.record("lkpp_template.changed", target_type="setting", parts=parts, reset=False)
    changes = audit.setting_changes({k: v for k, v in old.items() if k not in TEMPLATE_KEYS},
                                    {k: v for k, v in new.items() if k not in TEMPLATE_KEYS})
    if changes:
        audit.record("settings.changed", target_type="setting", changes=changes)


def _preview(form: LkppSettingsForm) -> dict[str, Any]:
    """The template rendered on the ticket named in the form (the office's), else on a sample ticket."""
    subject, body = form.subject_template.data, form.body_template.data.replace("\r\n", "\n")
    ref = (form.preview_ref.data or "").strip().upper()
    if not ref:
        rendered = lkpp.validate_template(subject, body)
        return {"ticket": None, "subject": rendered[0], "body": rendered[1]}
    ticket = db.session.scalar(select(Ticket).where(Ticket.ref == ref, Ticket.office_id == current_user.office_id))
    if ticket is None:
        form.preview_ref.errors = [*form.preview_ref.errors, _("No ticket %(ref)s in this office.", ref=ref)]
        rendered = lkpp.validate_template(subject, body)
        return {"ticket": None, "subject": rendered[0], "body": rendered[1]}
    lkpp.validate_template(subject, body)  # against every variable, not only this ticket's
    text = lkpp.EscalationText(reason=_("(the reason for the escalation)"), steps_tried=_("(the steps tried)"),
                               attachment_names=tuple(a.filename for a in _listed_attachments(ticket)),
                               officer_name=current_user.name, officer_email=current_user.email)
    rendered = lkpp.render_email(ticket, lkpp.lkpp_fields(ticket, text), subject_template=subject, body_template=body)
    return {"ticket": ticket, "subject": rendered[0], "body": rendered[1]}
