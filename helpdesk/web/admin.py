"""Staff management and operational settings, for system administrators only."""
from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DecimalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from .. import audit
from ..errors import HelpdeskError
from ..extensions import db
from ..models import Setting, Staff
from ..requesters import normalise_phone
from ..settings import get_setting, set_setting
from ..staff import create_staff, office_staff, update_staff
from ..vocab import StaffRole, choices
from .access import admin_required
from .forms import StaffForm, options

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/staff")
@admin_required
def staff_list():
    """The office's officers with their roles."""
    return render_template("web/admin/staff_list.html",
                           staff=office_staff(current_user.office_id, active_only=False))


@bp.route("/staff/new", methods=["GET", "POST"])
@admin_required
def staff_new():
    """Add an officer."""
    form = StaffForm()
    if form.validate_on_submit():
        if not form.password.data:
            form.password.errors.append(_("A new account needs a password."))
        else:
            try:
                staff = create_staff(office=current_user.office, email=form.email.data, name=form.name.data,
                                     role=form.role.data, password=form.password.data, phone=form.phone.data or None)
                audit.record("staff.created", target=staff, email=staff.email, role=staff.role)
                db.session.commit()
            except HelpdeskError as exc:
                db.session.rollback()
                form.email.errors.append(str(exc))
            else:
                flash(_("Account created."), "success")
                return redirect(url_for(".staff_list"))
    status = 422 if form.errors else 200
    return render_template("web/admin/staff_form.html", form=form, staff=None), status


@bp.route("/staff/<int:staff_id>", methods=["GET", "POST"])
@admin_required
def staff_edit(staff_id: int):
    """Change an officer's name, role, phone, active flag or password."""
    staff = db.session.get(Staff, staff_id)
    if staff is None or staff.office_id != current_user.office_id:
        abort(404)
    form = StaffForm(obj=staff)
    form.email.render_kw = {"readonly": True}
    if form.validate_on_submit():
        before = _staff_fields(staff)
        try:
            update_staff(staff, name=form.name.data, role=form.role.data, active=form.active.data,
                         phone=form.phone.data or None, password=form.password.data or None)
            _audit_staff_update(staff, before, password_reset=bool(form.password.data))
            db.session.commit()
        except HelpdeskError as exc:
            db.session.rollback()
            form.role.errors.append(str(exc))
        else:
            flash(_("Account saved."), "success")
            return redirect(url_for(".staff_list"))
    status = 422 if form.errors else 200
    return render_template("web/admin/staff_form.html", form=form, staff=staff), status


def _staff_fields(staff: Staff) -> dict[str, object]:
    return {"name": staff.name, "role": staff.role, "active": staff.active, "phone": staff.phone}


def _audit_staff_update(staff: Staff, before: dict[str, object], *, password_reset: bool) -> None:
    """One audit line naming the fields changed: role and active flag old → new, the others by name only (a phone
    number is personal data); a password reset is a flag, never the password. Nothing changed: no line."""
    after = _staff_fields(staff)
    changed = [name for name in after if after[name] != before[name]]
    if not changed and not password_reset:
        return
    detail: dict[str, object] = {"fields": changed + (["password"] if password_reset else [])}
    for name in ("role", "active"):
        if name in changed:
            detail[name] = {"old": before[name], "new": after[name]}
    if password_reset:
        detail["password_reset"] = True
    audit.record("staff.updated", target=staff, **detail)


# -- operational settings: email, phone and SMS, SLA (DESIGN.md §3 "Settings") ---------------------------------

MAX_DESK_NUMBERS = 10  # Twilio's <Dial> rings at most ten numbers at once


class SettingsForm(FlaskForm):
    """The admin's settings page; each field is one key of helpdesk.settings.DEFAULTS (SETTING_FIELDS)."""

    auto_replies = BooleanField(_l("Send automatic email (acknowledgement, pending and resolution notices)"))
    auto_reply_daily_limit = IntegerField(_l("Automatic emails per address per day"),
                                          validators=[InputRequired(), NumberRange(min=0, max=100)])
    signature = TextAreaField(_l("Signature under replies to requesters"),
                              validators=[DataRequired(), Length(max=500)])
    desk_numbers = TextAreaField(_l("Desk phone numbers an incoming call rings (one per line)"),
                                 validators=[Length(max=1000)])
    ring_seconds = IntegerField(_l("Ring the desk phones for (seconds)"),
                                validators=[InputRequired(), NumberRange(min=5, max=60)])
    voicemail_max_seconds = IntegerField(_l("Longest voicemail (seconds)"),
                                         validators=[InputRequired(), NumberRange(min=10, max=600)])
    ticket_number_notice = BooleanField(_l("Text the ticket number to requesters who gave a mobile number"))
    follow_up_working_days = IntegerField(_l("Follow-up deadline (working days after receipt)"),
                                          validators=[InputRequired(), NumberRange(min=1, max=5)])
    warning_percent = IntegerField(_l("Warn the holder when this share of the follow-up time has passed (%)"),
                                   validators=[InputRequired(), NumberRange(min=10, max=95)])
    breach_action = SelectField(_l("When a follow-up deadline is missed"), choices=options([
        ("notify", _l("Notify the head of the LPSE only")), ("flag", _l("Also flag the ticket")),
        ("assign_role", _l("Also hand the ticket to the role below (internal escalation)"))]))
    breach_role = SelectField(_l("Role that takes breached tickets"), choices=[])
    resolution_high = IntegerField(_l("High priority"), validators=[InputRequired(), NumberRange(min=1, max=60)])
    resolution_medium = IntegerField(_l("Medium priority"), validators=[InputRequired(), NumberRange(min=1, max=60)])
    resolution_other = IntegerField(_l("Low or unclassified"), validators=[InputRequired(), NumberRange(min=1, max=60)])
    resolution_counts_lkpp_time = BooleanField(_l("Time waiting on LKPP counts against the resolution target"))
    office_hours_only = BooleanField(_l("Send staff notifications only within office hours (others wait for the "
                                        "next opening)"))
    auto_close_working_days = IntegerField(_l("Close resolved tickets without a reply after (working days; 0: never)"),
                                           validators=[InputRequired(), NumberRange(min=0, max=30)])
    alerts_sms = BooleanField(_l("SMS alert on a breach"))
    alerts_voice = BooleanField(_l("Voice call alert on a breach (text read aloud in Indonesian)"))
    alerts_recipient = SelectField(_l("Alerts go to"), choices=options([
        ("kepala", _l("The head of the LPSE (their phone in the staff list)")), ("on_call", _l("The on-call number"))]))
    alerts_on_call_phone = StringField(_l("On-call number"), validators=[Length(max=32)])
    alerts_start = StringField(_l("Alerts from (HH:MM)"), validators=[
        InputRequired(), Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", message=_l("Use HH:MM."))])
    alerts_end = StringField(_l("Alerts until (HH:MM)"), validators=[
        InputRequired(), Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", message=_l("Use HH:MM."))])
    report_time = StringField(_l("Send the daily SLA report at (HH:MM, working days)"), validators=[
        InputRequired(), Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", message=_l("Use HH:MM."))])
    report_recipients = TextAreaField(_l("Daily report recipients (one email address per line; empty: the heads of "
                                         "the LPSE)"), validators=[Length(max=2000)])
    faq_auto_answer = BooleanField(_l("Answer email questions automatically from the FAQ when the match is sure"))
    faq_auto_answer_threshold = DecimalField(_l("Confidence an automatic FAQ answer needs (0.50 to 0.99)"), places=2,
                                             validators=[InputRequired(), NumberRange(min=0.5, max=0.99)])
    identity_roles = SelectMultipleField(_l("Roles that see NPWP and NIK in full"), choices=[],
                                         widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    retention_months = IntegerField(_l("Delete identity documents and raw emails this many months after a ticket "
                                       "is closed (0: never)"),
                                    validators=[InputRequired(), NumberRange(min=0, max=120)])
    retention_scope = SelectField(_l("What is deleted"), choices=options([
        ("identity", _l("Attachments marked as identity documents, and raw emails")),
        ("all", _l("Every attachment, and raw emails"))]))
    retention_identity_pattern = StringField(_l("File names marked as identity documents (regular expression, "
                                                "case-insensitive)"),
                                             validators=[DataRequired(), Length(max=500)])
    submit = SubmitField(_l("Save settings"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.breach_role.choices = options((value, label) for value, label in choices(StaffRole)
                                           if value not in (StaffRole.HELPDESK, StaffRole.ADMIN))
        self.identity_roles.choices = options((value, label) for value, label in choices(StaffRole)
                                              if value != StaffRole.ADMIN)

    def validate_retention_identity_pattern(self, field) -> None:
        """The pattern must compile (Python's re, as retention uses it); the error names what is wrong."""
        try:
            re.compile(field.data or "", re.IGNORECASE)
        except re.error as exc:
            raise ValidationError(_l("Not a valid regular expression: %(error)s", error=str(exc))) from None

    def validate_alerts_on_call_phone(self, field) -> None:
        """A valid phone number (stored in E.164); required when alerts go to the on-call number."""
        self.on_call_value = ""
        if not (field.data or "").strip():
            if self.alerts_recipient.data == "on_call" and (self.alerts_sms.data or self.alerts_voice.data):
                raise ValidationError(_l("Give the on-call number the alerts go to."))
            return
        parsed = normalise_phone(field.data)
        if parsed is None or not parsed.valid:
            raise ValidationError(_l("Not a valid phone number."))
        self.on_call_value = parsed.value

    def validate_report_recipients(self, field) -> None:
        """Each non-blank line must be an email address; stores the list in ``recipient_list``."""
        from email_validator import EmailNotValidError, validate_email

        addresses: list[str] = []
        for line_number, line in enumerate((field.data or "").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                address = validate_email(line.strip(), check_deliverability=False).normalized.lower()
            except EmailNotValidError:
                raise ValidationError(_l("Line %(n)d (%(value)s) is not an email address.",
                                         n=line_number, value=line.strip()[:60])) from None
            if address not in addresses:
                addresses.append(address)
        self.recipient_list = addresses

    def validate_alerts_end(self, field) -> None:
        if self.alerts_start.data and field.data and field.data <= self.alerts_start.data:
            raise ValidationError(_l("The alert window must end after it starts."))

    def validate_desk_numbers(self, field) -> None:
        """Each non-blank line must be a valid phone number; stores the E.164 list in ``desk_number_list``."""
        numbers: list[str] = []
        for line_number, line in enumerate((field.data or "").splitlines(), start=1):
            if not line.strip():
                continue
            parsed = normalise_phone(line)
            if parsed is None or not parsed.valid:
                raise ValidationError(_l("Line %(n)d (%(value)s) is not a valid phone number.",
                                         n=line_number, value=line.strip()[:40]))
            if parsed.value not in numbers:
                numbers.append(parsed.value)
        if len(numbers) > MAX_DESK_NUMBERS:
            raise ValidationError(_l("At most %(n)d desk numbers ring at once.", n=MAX_DESK_NUMBERS))
        self.desk_number_list = numbers


# Setting key -> form field. The desk numbers are a list in the settings and lines in the form.
SETTING_FIELDS = {
    "mail.auto_replies": "auto_replies",
    "mail.auto_reply_daily_limit": "auto_reply_daily_limit",
    "mail.signature": "signature",
    "phone.desk_numbers": "desk_numbers",
    "phone.ring_seconds": "ring_seconds",
    "phone.voicemail_max_seconds": "voicemail_max_seconds",
    "sms.ticket_number_notice": "ticket_number_notice",
    "sla.follow_up_working_days": "follow_up_working_days",
    "faq.auto_answer": "faq_auto_answer",
    "faq.auto_answer_threshold": "faq_auto_answer_threshold",
    "sla.breach_action": "breach_action",
    "sla.breach_role": "breach_role",
    "sla.resolution_counts_lkpp_time": "resolution_counts_lkpp_time",
    "notify.office_hours_only": "office_hours_only",
    "tickets.auto_close_working_days": "auto_close_working_days",
    "alerts.sms": "alerts_sms",
    "alerts.voice": "alerts_voice",
    "alerts.recipient": "alerts_recipient",
    "alerts.on_call_phone": "alerts_on_call_phone",
    "reports.daily_time": "report_time",
    "reports.daily_recipients": "report_recipients",
    "privacy.identity_roles": "identity_roles",
    "retention.months": "retention_months",
    "retention.scope": "retention_scope",
    "retention.identity_pattern": "retention_identity_pattern",
}
# Settings whose form shape differs from the stored value (a percentage, a list of rules, a time window).
SHAPED_SETTINGS = ("sla.warning_share", "sla.resolution_targets", "alerts.hours")
RESOLUTION_PRIORITIES = {"high": "resolution_high", "medium": "resolution_medium"}


def _resolution_fields(rules: list[dict]) -> dict[str, int]:
    """The three priority fields from the stored rules (rules for one ticket type only are kept, not shown)."""
    fields = {"resolution_high": 1, "resolution_medium": 3, "resolution_other": 5}
    for rule in rules or ():
        if rule.get("ticket_type", "*") != "*":
            continue
        name = RESOLUTION_PRIORITIES.get(rule.get("priority"), "resolution_other")
        if rule.get("priority", "*") in ("*", "low") or name != "resolution_other":
            fields[name] = int(rule.get("working_days") or fields[name])
    return fields


def _resolution_rules(form: SettingsForm) -> list[dict]:
    """Stored rules: those for one ticket type first (kept as they were), then one per priority, then any."""
    kept = [rule for rule in get_setting("sla.resolution_targets") or () if rule.get("ticket_type", "*") != "*"]
    return kept + [
        {"ticket_type": "*", "priority": "high", "working_days": form.resolution_high.data},
        {"ticket_type": "*", "priority": "medium", "working_days": form.resolution_medium.data},
        {"ticket_type": "*", "priority": "*", "working_days": form.resolution_other.data},
    ]


def _settings_values(form: SettingsForm) -> dict[str, object]:
    """The validated form as setting values."""
    values: dict[str, object] = {key: getattr(form, name).data for key, name in SETTING_FIELDS.items()}
    values["phone.desk_numbers"] = form.desk_number_list
    values["mail.signature"] = form.signature.data.strip()
    values["faq.auto_answer_threshold"] = float(form.faq_auto_answer_threshold.data)
    values["sla.warning_share"] = form.warning_percent.data / 100
    values["sla.resolution_targets"] = _resolution_rules(form)
    values["alerts.hours"] = [form.alerts_start.data, form.alerts_end.data]
    values["alerts.on_call_phone"] = form.on_call_value
    values["reports.daily_recipients"] = form.recipient_list
    chosen = set(form.identity_roles.data or ())
    values["privacy.identity_roles"] = [choice.value for choice in form.identity_roles.choices if choice.value in chosen]
    values["retention.identity_pattern"] = form.retention_identity_pattern.data.strip()
    return values


@bp.route("/settings", methods=["GET", "POST"])
@admin_required
def settings_page():
    """Email, phone and SMS, and SLA settings; a change records who made it."""
    if request.method == "POST":
        form = SettingsForm(formdata=request.form)
    else:
        current = {name: get_setting(key) for key, name in SETTING_FIELDS.items()}
        current["desk_numbers"] = "\n".join(current["desk_numbers"] or [])
        current["warning_percent"] = round(100 * float(get_setting("sla.warning_share")))
        current.update(_resolution_fields(get_setting("sla.resolution_targets")))
        current["alerts_start"], current["alerts_end"] = get_setting("alerts.hours")
        current["report_recipients"] = "\n".join(current["report_recipients"] or [])
        form = SettingsForm(formdata=None, data=current)
    if form.is_submitted():
        if form.validate():
            values = _settings_values(form)
            old = {key: get_setting(key) for key in values}
            for key, value in values.items():
                if value != old[key]:
                    set_setting(key, value, actor=current_user)
            changes = audit.setting_changes(old, values)
            if changes:
                audit.record("settings.changed", target_type="setting", changes=changes)
            db.session.commit()
            flash(_("Settings saved."), "success")
            return redirect(url_for(".settings_page"))
        db.session.rollback()
    last = db.session.scalar(select(Setting).where(Setting.updated_by_id.is_not(None))
                             .order_by(Setting.updated_at.desc()).limit(1))
    last_by = db.session.get(Staff, last.updated_by_id) if last else None
    return render_template("web/admin/settings.html", form=form, last=last, last_by=last_by,
                           max_desk_numbers=MAX_DESK_NUMBERS), 422 if form.errors else 200
