"""Calendar administration (DESIGN.md §5): overrides, office hours, Ramadan profile, cuti bersama, reviews.

Admin only. Every form posts back here, the service in helpdesk.calendar_admin checks it, and a refused change
re-renders the page with the reason (status 422) and saves nothing.
"""
from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from escalation.calendar import CalendarError, library_version

from .. import audit, calendar_admin
from ..calendar_admin import KIND_LABELS, OVERRIDE_KINDS, WEEKDAY_LABELS, WEEKDAYS
from ..calendars import calendar_for, review_for, review_status
from ..errors import ValidationError
from ..extensions import db
from ..formatting import long_date
from ..models import HolidayOverride, HoursPeriod, Office, Staff
from ..timeutil import utcnow
from .access import admin_required
from .forms import options

bp = Blueprint("admin_calendar", __name__, url_prefix="/admin/kalender")

SCOPE_OFFICE, SCOPE_NATIONAL = "office", "national"
ORIGIN_LABELS = {
    "library": _l("holidays library"), "national": _l("override, all offices"), "office": _l("override, this office"),
}


# -- forms --------------------------------------------------------------------------------------------------------

def _scope_choices():
    return options([(SCOPE_OFFICE, _l("This office")), (SCOPE_NATIONAL, _l("All offices (national)"))])


class OverrideForm(FlaskForm):
    """One row of the override table."""

    day = DateField(_l("Date"), validators=[InputRequired()])
    kind = SelectField(_l("Kind"), choices=lambda: options((kind, KIND_LABELS[kind]) for kind in OVERRIDE_KINDS))
    scope = SelectField(_l("Applies to"), choices=_scope_choices)
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=calendar_admin.MAX_NAME)])
    source_ref = StringField(_l("Source (decree, SKB, Perbup or announcement)"),
                             validators=[Length(max=calendar_admin.MAX_SOURCE)])


class HoursForm(FlaskForm):
    """Opening and closing time per weekday; both blank means closed. Fields open_1..7 and close_1..7."""

    def windows(self) -> dict[str, list[str]]:
        """The form's times as the service takes them."""
        return {str(d): [self[f"open_{d}"].data or "", self[f"close_{d}"].data or ""] for d in WEEKDAYS}

    @classmethod
    def from_hours(cls, hours: dict | None, **kw) -> HoursForm:
        """A form showing stored hours."""
        data = {}
        for weekday in WEEKDAYS:
            window = (hours or {}).get(str(weekday)) or ["", ""]
            data[f"open_{weekday}"], data[f"close_{weekday}"] = window
        return cls(formdata=None, data=data, **kw)


for _weekday in WEEKDAYS:
    setattr(HoursForm, f"open_{_weekday}", StringField(_l("Opens"), validators=[Optional()],
                                                        render_kw={"type": "time"}))
    setattr(HoursForm, f"close_{_weekday}", StringField(_l("Closes"), validators=[Optional()],
                                                         render_kw={"type": "time"}))


class PeriodForm(FlaskForm):
    """Dates on which the Ramadan hours apply."""

    start = DateField(_l("First day"), validators=[InputRequired()])
    end = DateField(_l("Last day"), validators=[InputRequired()])
    period_source = StringField(_l("Source (announcement)"), validators=[Length(max=calendar_admin.MAX_SOURCE)])


class CutiBersamaForm(FlaskForm):
    """The staffing switch."""

    staffed = BooleanField(_l("The helpdesk is staffed on cuti bersama (those days count as working days)"))


class ReviewForm(FlaskForm):
    """Mark a year's dates as checked against the decrees."""

    review_scope = SelectField(_l("Reviewed for"), choices=_scope_choices, default=SCOPE_NATIONAL)
    note = TextAreaField(_l("Note (which decrees were checked)"), validators=[Length(max=2000)])


# -- helpers ------------------------------------------------------------------------------------------------------

def _office() -> Office:
    return current_user.office


def _today(office: Office) -> date:
    """Today in the office's zone."""
    return utcnow().astimezone(ZoneInfo(office.timezone)).date()


def _year(office: Office) -> int:
    """The year asked for with ``?tahun=YYYY`` (400 on junk), else the office's current year."""
    raw = request.args.get("tahun", "").strip()
    if not raw:
        return _today(office).year
    if not raw.isdigit() or not calendar_admin.FIRST_YEAR <= int(raw) <= calendar_admin.LAST_YEAR:
        abort(400)
    return int(raw)


def _staff_name(staff_id: int | None) -> str:
    staff = db.session.get(Staff, staff_id) if staff_id else None
    return staff.name if staff else _("the system")


def _page(year: int, *, status: int = 200, **forms: FlaskForm):
    """Render the calendar page of ``year``; a form passed in (with its errors) replaces the blank one."""
    office = _office()
    try:
        calendar, calendar_error = calendar_for(office), None
    except CalendarError as exc:
        calendar, calendar_error = None, str(exc)
    days = calendar.describe_year(year) if calendar else []
    context = {
        "office": office, "year": year, "calendar": calendar, "calendar_error": calendar_error,
        "days_off": [d for d in days if d.off and d.off.kind != "weekend"],
        "working_days": sum(d.working for d in days),
        "ramadan_days": sum(d.profile == "ramadan" for d in days),
        "overrides": calendar_admin.overrides_for(office, year), "periods": calendar_admin.periods_for(office),
        "review": review_status(office, _today(office)),
        "year_reviews": [r for r in (review_for(year, None), review_for(year, office)) if r is not None],
        "library_version": library_version(), "weekdays": WEEKDAY_LABELS, "kind_labels": KIND_LABELS,
        "origin_labels": ORIGIN_LABELS, "long_date": long_date, "staff_name": _staff_name,
        "override_form": OverrideForm(formdata=None),
        "hours_form": HoursForm.from_hours(office.hours),
        "ramadan_form": HoursForm.from_hours(office.ramadan_hours, prefix="ramadan"),
        "period_form": PeriodForm(formdata=None),
        "cuti_form": CutiBersamaForm(formdata=None, data={"staffed": office.staffed_on_cuti_bersama}),
        "review_form": ReviewForm(formdata=None),
    }
    context.update(forms)
    return render_template("web/admin/calendar.html", **context), status


def _done(message: str, year: int):
    """Commit, say so, and go back to the year's page."""
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(".index", tahun=year))


def _refused(form: FlaskForm, name: str, exc: ValidationError, year: int):
    """Roll back and show the page again with the service's reason on ``form``."""
    db.session.rollback()
    form.form_errors.append(str(exc))
    return _page(year, status=422, **{name: form})


# -- pages --------------------------------------------------------------------------------------------------------

@bp.get("")
@admin_required
def index():
    """The year's working calendar and every setting that shapes it."""
    return _page(_year(_office()))


@bp.post("/libur")
@admin_required
def add_override():
    """Add a day off (or a working day) for this office or nationally."""
    office, year = _office(), _year(_office())
    form = OverrideForm()
    if not form.validate():
        return _page(year, status=422, override_form=form)
    try:
        row = calendar_admin.add_override(
            day=form.day.data, kind=form.kind.data, name=form.name.data, source_ref=form.source_ref.data,
            office=office if form.scope.data == SCOPE_OFFICE else None, actor=current_user)
    except ValidationError as exc:
        return _refused(form, "override_form", exc, year)
    audit.record("calendar.override_added", target=row, day=row.day.isoformat(), kind=row.kind,
                 scope=form.scope.data, name=row.name, source=row.source_ref)
    return _done(_("%(day)s added: %(name)s.", day=long_date(row.day), name=row.name), row.day.year)


@bp.post("/libur/<int:override_id>/hapus")
@admin_required
def remove_override(override_id: int):
    """Remove an override row of this office or a national one."""
    row = db.session.get(HolidayOverride, override_id)
    if row is None or row.office_id not in (None, current_user.office_id):
        abort(404)
    day, name = row.day, row.name
    audit.record("calendar.override_removed", target=row, office_id=current_user.office_id, day=day.isoformat(),
                 kind=row.kind, scope=SCOPE_NATIONAL if row.office_id is None else SCOPE_OFFICE, name=name)
    calendar_admin.remove_override(row, actor=current_user)
    return _done(_("%(day)s removed: %(name)s.", day=long_date(day), name=name), day.year)


@bp.post("/jam-kerja")
@admin_required
def office_hours():
    """Save the office hours per weekday."""
    year, form = _year(_office()), HoursForm()
    if not form.validate():
        return _page(year, status=422, hours_form=form)
    office = _office()
    old = office.hours
    try:
        calendar_admin.set_office_hours(office, form.windows(), actor=current_user)
    except ValidationError as exc:
        return _refused(form, "hours_form", exc, year)
    audit.record("calendar.hours_changed", target=office, hours={"old": old, "new": office.hours})
    return _done(_("Office hours saved."), year)


@bp.post("/ramadan")
@admin_required
def ramadan_hours():
    """Save the Ramadan hours (all blank removes them)."""
    year, form = _year(_office()), HoursForm(prefix="ramadan")
    if not form.validate():
        return _page(year, status=422, ramadan_form=form)
    office = _office()
    old = office.ramadan_hours
    try:
        calendar_admin.set_ramadan_hours(office, form.windows(), actor=current_user)
    except ValidationError as exc:
        return _refused(form, "ramadan_form", exc, year)
    audit.record("calendar.ramadan_hours_changed", target=office, hours={"old": old, "new": office.ramadan_hours})
    return _done(_("Ramadan hours saved."), year)


@bp.post("/ramadan/periode")
@admin_required
def add_period():
    """Add the dates of a Ramadan period."""
    year, form = _year(_office()), PeriodForm()
    if not form.validate():
        return _page(year, status=422, period_form=form)
    try:
        period = calendar_admin.add_period(_office(), start=form.start.data, end=form.end.data,
                                           source_ref=form.period_source.data, actor=current_user)
    except ValidationError as exc:
        return _refused(form, "period_form", exc, year)
    audit.record("calendar.ramadan_period_added", target=period, start=period.start.isoformat(),
                 end=period.end.isoformat())
    return _done(_("Ramadan period added: %(start)s to %(end)s.", start=long_date(period.start),
                   end=long_date(period.end)), period.start.year)


@bp.post("/ramadan/periode/<int:period_id>/hapus")
@admin_required
def remove_period(period_id: int):
    """Remove one of this office's Ramadan periods."""
    period = db.session.get(HoursPeriod, period_id)
    if period is None or period.office_id != current_user.office_id:
        abort(404)
    audit.record("calendar.ramadan_period_removed", target=period, start=period.start.isoformat(),
                 end=period.end.isoformat())
    calendar_admin.remove_period(period, actor=current_user)
    return _done(_("Ramadan period removed."), _year(_office()))


@bp.post("/cuti-bersama")
@admin_required
def cuti_bersama():
    """Switch whether the helpdesk is staffed on cuti bersama."""
    form = CutiBersamaForm()  # an unticked box sends nothing: not staffed (CSRFProtect has checked the token)
    office = _office()
    old = office.staffed_on_cuti_bersama
    calendar_admin.set_staffed_on_cuti_bersama(office, form.staffed.data, actor=current_user)
    audit.record("calendar.cuti_bersama_changed", target=office,
                 staffed={"old": old, "new": office.staffed_on_cuti_bersama})
    message = _("Cuti bersama now count as working days.") if form.staffed.data else \
        _("Cuti bersama now count as days off.")
    return _done(message, _year(_office()))


@bp.post("/tinjau")
@admin_required
def mark_reviewed():
    """Record that the year's dates were checked against the decrees."""
    office, year = _office(), _year(_office())
    form = ReviewForm()
    if not form.validate():
        return _page(year, status=422, review_form=form)
    try:
        review = calendar_admin.mark_reviewed(
            year=year, office=office if form.review_scope.data == SCOPE_OFFICE else None, note=form.note.data,
            actor=current_user)
    except ValidationError as exc:
        return _refused(form, "review_form", exc, year)
    audit.record("calendar.reviewed", target=review, office_id=office.id, year=year, scope=form.review_scope.data)
    return _done(_("The dates of %(year)d are marked as reviewed.", year=year), year)
