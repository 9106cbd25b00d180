"""The web forms. Every form carries a CSRF token (Flask-WTF)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from ..errors import ValidationError as ServiceValidationError
from ..requesters import normalise_nik, normalise_npwp, normalise_user_id
from ..states import STATUS_LABELS
from ..vocab import Application, Level, ProblemKind, SpseRole, StaffRole, TicketType, Urgency, choices

ESCALATION_ROLES = ("verifikator", "admin_ppe", "kepala")


def options(pairs) -> list[SelectChoice]:
    """WTForms choices from ``(value, label)`` pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def role_choices() -> list[SelectChoice]:
    return options(choices(StaffRole))


def escalation_role_choices() -> list[SelectChoice]:
    return options(pair for pair in choices(StaffRole) if pair[0] in ESCALATION_ROLES)


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    submit = SubmitField(_l("Log in"))


class PhoneLogForm(FlaskForm):
    """The quick entry form an officer fills while on the phone."""

    started_at = HiddenField()
    phone = StringField(_l("Caller's number"), validators=[Optional(), Length(max=40)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    organization = StringField(_l("Agency or company"), validators=[Optional(), Length(max=200)])
    spse_role = SelectField(_l("SPSE role"), choices=[], validators=[Optional()])
    email = EmailField(_l("Email"), validators=[Optional(), Email(check_deliverability=False), Length(max=254)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=500)])
    application = SelectField(_l("Application"), choices=[], validators=[Optional()])
    tender_code = StringField(_l("Tender/package code"), validators=[Optional(), Length(max=100)])
    question = TextAreaField(_l("Question"), validators=[DataRequired(), Length(max=10000)])
    # No Optional(): it would stop the chain before validate_answer, which needs the answer when "answered".
    answer = TextAreaField(_l("What was answered"), validators=[Length(max=10000)])
    outcome = RadioField(_l("Outcome"), default="answered", validators=[DataRequired()], choices=options([
        ("answered", _l("Answered now")), ("pending", _l("Pending: follow up later")),
        ("escalate", _l("Escalate")),
    ]))
    escalate_role = SelectField(_l("Escalate to"), choices=[], validators=[Optional()])
    submit = SubmitField(_l("Save call"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.spse_role.choices = options(choices(SpseRole, blank="—"))
        self.application.choices = options(choices(Application, blank="—"))
        self.escalate_role.choices = escalation_role_choices()

    def validate_answer(self, field) -> None:
        if self.outcome.data == "answered" and not (field.data or "").strip():
            raise ValidationError(_l("Write what was answered, or choose another outcome."))


class ReplyForm(FlaskForm):
    body = TextAreaField(_l("Reply to the requester"), validators=[DataRequired(), Length(max=20000)])
    # SMS and WhatsApp are offered only when the requester has a mobile number (tickets._reply_form).
    via = SelectField(_l("Sent or told via"), choices=options([
        ("email", _l("Email (queued for sending)")), ("sms", _l("SMS (queued for sending)")),
        ("whatsapp", _l("WhatsApp (queued for sending)")), ("phone", _l("Told by phone")),
        ("walkin", _l("Told in person")),
    ]))
    submit = SubmitField(_l("Send reply"))


class NoteForm(FlaskForm):
    body = TextAreaField(_l("Internal note"), validators=[DataRequired(), Length(max=20000)])
    submit = SubmitField(_l("Add note"))


class StatusForm(FlaskForm):
    status = SelectField(_l("New status"), choices=[], validators=[DataRequired()])
    note = TextAreaField(_l("Note (the solution, when resolving)"), validators=[Optional(), Length(max=20000)])
    submit = SubmitField(_l("Change status"))

    def set_moves(self, moves) -> None:
        self.status.choices = options((status.value, STATUS_LABELS[status]) for status in moves)


class AssignForm(FlaskForm):
    assignee = SelectField(_l("Assignee"), choices=[])
    submit = SubmitField(_l("Assign"))


class EscalateForm(FlaskForm):
    role = SelectField(_l("Escalate to"), choices=[], validators=[DataRequired()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=5000)])
    requester_told = BooleanField(_l("The requester has been told it was escalated"))
    submit = SubmitField(_l("Escalate"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = escalation_role_choices()


class ClassificationForm(FlaskForm):
    application = SelectField(_l("Application"), choices=[], validators=[Optional()])
    spse_version = StringField(_l("SPSE version"), validators=[Optional(), Length(max=40)])
    error_code = StringField(_l("Error code"), validators=[Optional(), Length(max=200)])
    tender_code = StringField(_l("Tender/package code"), validators=[Optional(), Length(max=100)])
    ticket_type = SelectField(_l("Ticket type"), choices=[], validators=[Optional()])
    is_technical = SelectField(_l("Technical"), choices=options([("", "—"), ("yes", _l("Technical")),
                                                                 ("no", _l("Non-technical"))]),
                               validators=[Optional()])
    kind = SelectField(_l("Kind"), choices=[], validators=[Optional()])
    urgency = SelectField(_l("Urgency"), choices=[], validators=[Optional()])
    impact = SelectField(_l("Impact"), choices=[], validators=[Optional()])
    priority = SelectField(_l("Priority"), choices=[], validators=[Optional()])
    submit = SubmitField(_l("Save classification"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.application.choices = options(choices(Application, blank="—"))
        self.ticket_type.choices = options(choices(TicketType, blank="—"))
        self.kind.choices = options(choices(ProblemKind, blank="—"))
        self.urgency.choices = options(choices(Urgency, blank="—"))
        self.impact.choices = options(choices(Level, blank="—"))
        self.priority.choices = options(choices(Level, blank="—"))

    def values(self) -> dict[str, object]:
        """The fields as the ticket service takes them."""
        technical = {"yes": True, "no": False}.get(self.is_technical.data or "")
        return {"application": self.application.data or None, "spse_version": self.spse_version.data or None,
                "error_code": self.error_code.data or None, "tender_code": self.tender_code.data or None,
                "ticket_type": self.ticket_type.data or None, "is_technical": technical,
                "kind": self.kind.data or None, "urgency": self.urgency.data or None,
                "impact": self.impact.data or None, "priority": self.priority.data or None}


def _checked_by(normalise):
    """A WTForms validator from a requesters.normalise_* function: its refusal becomes the field's error."""
    def check(form, field) -> None:
        try:
            normalise(field.data)
        except ServiceValidationError as exc:
            raise ValidationError(str(exc)) from None
    return check


class IdentityForm(FlaskForm):
    """The requester's identity numbers, on the ticket page of an officer who may see them whole."""

    npwp = StringField(_l("NPWP"), validators=[Optional(), Length(max=40), _checked_by(normalise_npwp)],
                       render_kw={"placeholder": "01.234.567.8-901.000", "inputmode": "numeric",
                                  "autocomplete": "off"})
    nik = StringField(_l("NIK"), validators=[Optional(), Length(max=40), _checked_by(normalise_nik)],
                      render_kw={"placeholder": "3201234567890001", "inputmode": "numeric", "autocomplete": "off"})
    spse_user_id = StringField(_l("SPSE User ID"), validators=[Optional(), Length(max=100),
                                                                _checked_by(normalise_user_id)])
    submit = SubmitField(_l("Save identity"))


class StaffForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=[], validators=[DataRequired()])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=32)])
    active = BooleanField(_l("Active"), default=True)
    password = PasswordField(_l("Password"), validators=[Optional(), Length(min=8, max=200)])
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = role_choices()
