"""Forms of the walk-in desk: the consultation form (kiosk and desk) and the officer's answer.

Completeness is decided by ``channels.walkin.missing_fields`` (one rule for the kiosk, the desk and the
service); these forms only carry the fields and bound their lengths.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, MultipleFileField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from ..vocab import Application, ServiceType, SpseRole, choices
from .forms import escalation_role_choices, options

# Fields the consultation form requires for every service type (the service adds application/tender code).
REQUIRED = ("name", "organization", "spse_role", "phone", "description")


class ConsultationForm(FlaskForm):
    """The Formulir Konsultasi as the visitor fills it."""

    service_type = RadioField(_l("I came for"), default=ServiceType.CONSULTATION.value, choices=[])
    name = StringField(_l("Name"), validators=[Length(max=200)])
    organization = StringField(_l("Agency or company"), validators=[Length(max=200)])
    spse_role = SelectField(_l("Role in SPSE"), choices=[])
    phone = StringField(_l("Phone / mobile number"), validators=[Length(max=40)])
    email = EmailField(_l("Email (optional)"), validators=[Optional(), Length(max=254)])
    application = SelectField(_l("Application concerned"), choices=[])
    tender_code = StringField(_l("Tender/package code"), validators=[Length(max=100)])
    error_message = TextAreaField(_l("Error message shown (if any)"), validators=[Length(max=2000)])
    description = TextAreaField(_l("Describe the problem or question"), validators=[Length(max=10000)])
    files = MultipleFileField(_l("Screenshots or documents (optional)"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.service_type.choices = options(choices(ServiceType))
        self.spse_role.choices = options(choices(SpseRole, blank="—"))
        self.application.choices = options(choices(Application, blank="—"))


class AnswerForm(FlaskForm):
    """The officer's half of the form: analysis, answer, outcome (the checklist fields are rendered apart)."""

    analysis = TextAreaField(_l("Analysis of the problem"), validators=[Length(max=10000)])
    answer = TextAreaField(_l("Answer or solution given"), validators=[Length(max=10000)])
    outcome = RadioField(_l("Outcome"), default="solved", choices=options([
        ("solved", _l("Solved")), ("pending", _l("Pending: follow up later")), ("escalate", _l("Escalate")),
    ]))
    escalate_role = SelectField(_l("Escalate to"), choices=[], validators=[Optional()])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.escalate_role.choices = escalation_role_choices()
