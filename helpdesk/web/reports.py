"""The reports pages: the daily SLA report (any archived day, or computed now) and the quarterly report."""
from __future__ import annotations

import json
from datetime import date

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import reports
from ..extensions import db
from ..formatting import long_date
from ..models import Office, ReportArchive
from ..report_archive import archived, deliveries, report_csv
from ..report_pdf import quarterly_pdf
from ..reports import ReportError, daily_report, quarterly_report
from ..timeutil import utcnow
from .access import roles_required

bp = Blueprint("reports", __name__, url_prefix="/laporan")

READERS = ("admin", "kepala", "helpdesk")
HEADLINE_LABELS = {
    "received": _l("Reports received"), "follow_up_due": _l("Follow-ups due"),
    "follow_up_met": _l("Follow-ups on time"), "follow_up_met_share": _l("Share of follow-ups on time"),
    "human_follow_ups": _l("Follow-ups by officers"), "faq_answers": _l("Automatic FAQ answers"),
    "first_follow_up_median_hours": _l("Median time to first follow-up (office hours)"),
    "breaches": _l("SLA breaches"), "resolved": _l("Tickets resolved"),
    "resolution_median_hours": _l("Median time to resolution (office hours)"),
    "lpse_median_hours": _l("… of which LPSE time (median)"),
    "requester_median_hours": _l("… waiting on the requester (median)"),
    "lkpp_median_hours": _l("… waiting on LKPP (median)"), "reopened": _l("Reopened tickets"),
}
BREACH_CAUSES = {"no_follow_up": _l("No follow-up before the deadline"),
                 "resolution_overdue": _l("Resolution target passed")}


@bp.app_template_global()
def breach_cause_label(code: str | None) -> str:
    return str(BREACH_CAUSES.get(code or "", code or ""))


@bp.app_template_filter("long_date_iso")
def long_date_iso(value: str | None) -> str:
    """"Jumat, 13 Februari 2026" from an ISO date string kept in a report's figures."""
    return long_date(date.fromisoformat(value)) if value else ""


def _office() -> Office:
    return db.session.get(Office, current_user.office_id)


def _day_arg() -> date | None:
    value = request.args.get("tanggal", "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(400, _("The date must be written YYYY-MM-DD."))


@bp.get("/harian")
@roles_required(*READERS)
def daily():
    """The daily report of ``?tanggal=`` (default: the previous working day), archived or computed now."""
    office = _office()
    day = _day_arg()
    stored = archived(office, "daily", day) if day else None
    error = None
    data = stored.data if stored is not None else None
    if data is None:
        try:
            data = daily_report(office, day, now=utcnow())
        except ReportError as exc:
            error = str(exc)
            data = None
        if data is not None and day is None:
            stored = archived(office, "daily", date.fromisoformat(data["period"]["first"]))
            data = stored.data if stored is not None else data
    wanted = request.args.get("format", "html")
    if data is not None and wanted == "csv":
        return Response(report_csv(data), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="laporan-harian-{office.code}-{data["period"]["first"]}.csv"'})
    if data is not None and wanted == "json":
        return Response(json.dumps(data, ensure_ascii=False, indent=1), mimetype="application/json")
    history = db.session.scalars(db.select(ReportArchive).where(
        ReportArchive.office_id == office.id, ReportArchive.kind == "daily")
        .order_by(ReportArchive.period_start.desc()).limit(60)).all()
    return render_template("web/reports/daily.html", office=office, report=data, stored=stored, error=error,
                           deliveries=deliveries(stored) if stored is not None else [], history=history,
                           day=day), 422 if error else 200


def _quarter_args() -> tuple[int, int]:
    today = reports.local_today(_office(), utcnow())
    try:
        year = int(request.args.get("tahun") or today.year)
        quarter = int(request.args.get("triwulan") or (today.month - 1) // 3 + 1)
    except ValueError:
        abort(400, _("The year and the quarter must be numbers."))
    if not (2000 <= year <= 2100 and 1 <= quarter <= 4):
        abort(400, _("Choose a quarter from 1 to 4 of a year between 2000 and 2100."))
    return year, quarter


@bp.get("/triwulan")
@roles_required(*READERS)
def quarterly():
    """The quarterly report with the change from the quarter before; ``?format=pdf`` for the PDF."""
    office = _office()
    year, quarter = _quarter_args()
    try:
        data = quarterly_report(office, year, quarter, now=utcnow())
    except ReportError as exc:
        return render_template("web/reports/quarterly.html", office=office, report=None, error=str(exc),
                               year=year, quarter=quarter), 422
    if request.args.get("format") == "pdf":
        return Response(quarterly_pdf(data, office, headline_labels=HEADLINE_LABELS), mimetype="application/pdf",
                        headers={
            "Content-Disposition": f'inline; filename="laporan-triwulan-{office.code}-{year}-T{quarter}.pdf"'})
    return render_template("web/reports/quarterly.html", office=office, report=data, error=None, year=year,
                           quarter=quarter, labels=HEADLINE_LABELS)
