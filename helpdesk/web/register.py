"""The Standar LPSE helpdesk register of the officer's office for a chosen period: a printable page (A4 landscape)
and the same rows as CSV and XLSX downloads.

``GET /register?dari=YYYY-MM-DD&sampai=YYYY-MM-DD`` (both missing: the current month up to today),
``GET /register.csv?...`` and ``GET /register.xlsx?...``. A period that cannot be read or is refused answers
400 with the page and its message. For administrators, the head of the LPSE and helpdesk officers.
"""
from __future__ import annotations

from datetime import date
from functools import wraps
from typing import Final

from flask import Blueprint, Response, abort, make_response, render_template, request
from flask_login import current_user, login_required

from .. import audit, register
from ..errors import ValidationError
from ..formatting import local_datetime
from ..reports import local_today
from ..timeutil import utcnow

bp = Blueprint("register", __name__, url_prefix="/register")

# Who keeps and shows the register: the helpdesk, the head of the LPSE (for the assessment) and administrators.
REGISTER_ROLES: Final = frozenset({"admin", "kepala", "helpdesk"})
DOWNLOADS: Final = {"csv": register.CSV_CONTENT_TYPE, "xlsx": register.XLSX_CONTENT_TYPE}


def register_staff_required(view):
    """Administrators, the head of the LPSE and helpdesk officers; anyone else gets 403."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if current_user.role not in REGISTER_ROLES:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


@bp.get("")
@register_staff_required
def index():
    """The register of the period as a printable page, with the period form and the download links."""
    office = current_user.office
    try:
        start, end = _period()
    except ValidationError as exc:
        return _refused(str(exc))
    rows = register.register_rows(office, start, end)
    _audit("register.viewed", start, end, len(rows))
    return _page(rows, start=start, end=end)


@register_staff_required
def download(fmt: str):
    """The register of the period as a CSV or XLSX file named for the office and the period."""
    office = current_user.office
    try:
        start, end = _period()
    except ValidationError as exc:
        return _refused(str(exc))
    rows = register.register_rows(office, start, end)
    if fmt == "csv":
        data = register.to_csv(rows, office.timezone)
    else:
        data = register.to_xlsx(rows, office=office, start=start, end=end)
    _audit("register.exported", start, end, len(rows), format=fmt)
    response = Response(data, content_type=DOWNLOADS[fmt])
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{register.filename(office, start, end, fmt)}"')
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _add_download_rules(state) -> None:
    """/register.csv and /register.xlsx sit beside /register, outside the blueprint's prefix: they are added to the
    application directly, under this blueprint's endpoint name (``register.download``)."""
    for fmt in DOWNLOADS:
        state.app.add_url_rule(f"/register.{fmt}", f"{bp.name}.download", download, defaults={"fmt": fmt},
                               methods=["GET"])


bp.record_once(_add_download_rules)


def _audit(action: str, start: date, end: date, count: int, **detail: str) -> None:
    """The register shows requesters' names, emails and phone numbers: each view and download is recorded
    (period and row count, never the rows). Commits the line."""
    audit.record_view(action, target_type="register", start=start.isoformat(), end=end.isoformat(), rows=count,
                      **detail)


def _period() -> tuple[date, date]:
    """The period asked for (``dari``, ``sampai``), or the current month up to the office's today."""
    return register.parse_period(request.args.get("dari"), request.args.get("sampai"),
                                  today=local_today(current_user.office, utcnow()))


def _refused(message: str):
    """The page with the period form and the reason the period was refused, as 400."""
    return _page([], error=message, dari=request.args.get("dari", ""), sampai=request.args.get("sampai", ""))


def _page(rows: list[register.RegisterRow], *, start: date | None = None, end: date | None = None,
          error: str | None = None, dari: str = "", sampai: str = ""):
    office = current_user.office
    page = render_template(
        "web/register/index.html", office=office, rows=rows, start=start, end=end, error=error,
        dari=start.isoformat() if start else dari, sampai=end.isoformat() if end else sampai,
        period=register.period_label(start, end) if start and end else "",
        printed_at=local_datetime(utcnow(), office.timezone), title=register.REGISTER_TITLE)
    response = make_response(page, 400 if error else 200)
    response.headers["Cache-Control"] = "private, no-cache"
    return response
