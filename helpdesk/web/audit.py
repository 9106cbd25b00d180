"""The audit log page (UU 27/2022 accountability): who did or saw what, filtered, newest first, and as CSV.

``GET /admin/audit?aksi=&pelaku=&target=&dari=YYYY-MM-DD&sampai=YYYY-MM-DD&before=ID`` and the same filters on
``GET /admin/audit/export.csv``. Dates are the office's local days. For system administrators and the head of
the LPSE; a download is itself written to the log.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .. import audit
from ..audit import ACTIONS, AuditFilter
from ..errors import ValidationError
from ..extensions import db
from ..models import Ticket
from ..timeutil import utcnow
from .access import roles_required

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

PAGE_SIZE = 50
READERS = ("kepala",)  # and system administrators (roles_required lets them in)
# Groups of actions the filter offers besides single actions ("login." matches every sign-in line).
ACTION_GROUPS = ("login.", "staff.", "calendar.", "register.", "backup.")


@bp.app_template_global()
def audit_action_label(action: str) -> str:
    return str(ACTIONS.get(action, action))


@bp.app_template_global()
def audit_detail(detail: dict | None) -> list[tuple[str, str]]:
    """A line's detail as (name, text) pairs; ``{"old": a, "new": b}`` reads "a → b"."""
    return [(str(key), _detail_text(value)) for key, value in sorted((detail or {}).items())]


def _detail_text(value: object) -> str:
    if isinstance(value, dict) and set(value) == {"old", "new"}:
        return f"{_detail_text(value['old'])} → {_detail_text(value['new'])}"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_detail_text(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_detail_text(item) for item in value) or "—"
    if value is None or value == "":
        return "—"
    return str(value)


def _filter() -> tuple[AuditFilter, str | None]:
    """The filter asked for in the query string, and the reason it was refused (then an empty filter)."""
    args = request.args
    action = args.get("aksi", "").strip()
    if action and action not in ACTIONS and action not in ACTION_GROUPS:
        return AuditFilter(), _("Unknown action.")
    try:
        start, end = _day(args.get("dari")), _day(args.get("sampai"))
    except ValidationError as exc:
        return AuditFilter(), str(exc)
    if start and end and end < start:
        return AuditFilter(), _("The period must end on or after its first day.")
    zone = ZoneInfo(current_user.office.timezone)
    return AuditFilter(
        action=action, actor=args.get("pelaku", "").strip()[:100], target=args.get("target", "").strip()[:100],
        start=datetime.combine(start, time(0), zone) if start else None,
        end=datetime.combine(end + timedelta(days=1), time(0), zone) if end else None), None


def _day(value: str | None) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(_("Dates are written YYYY-MM-DD.")) from None


def _query_args() -> dict[str, str]:
    """The filters of this request, for links (next page, download)."""
    return {key: request.args[key] for key in ("aksi", "pelaku", "target", "dari", "sampai") if request.args.get(key)}


@bp.get("")
@roles_required(*READERS)
def index():
    """The audit lines of the office, newest first, one page at a time."""
    flt, error = _filter()
    before = request.args.get("before", "")
    if before and not before.isdigit():
        abort(400)
    rows = [] if error else audit.entries(current_user.office_id, flt, before=int(before) if before else None,
                                          limit=PAGE_SIZE + 1)
    lines, more = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
    args = _query_args()
    ticket_ids = {int(line.target_id) for line in lines
                  if line.target_type == "ticket" and (line.target_id or "").isdigit()}
    refs = dict(db.session.execute(select(Ticket.id, Ticket.ref).where(Ticket.id.in_(ticket_ids))).all()) \
        if ticket_ids else {}
    page = render_template(
        "web/admin/audit.html", lines=lines, error=error, args=args, actions=ACTIONS, groups=ACTION_GROUPS,
        ticket_refs={str(key): value for key, value in refs.items()}, ref_example=_ref_example(),
        tz=current_user.office.timezone, csv_url=url_for(".export", **args),
        first_url=url_for(".index", **args) if before else None,
        next_url=url_for(".index", before=lines[-1].id, **args) if more else None)
    response = make_response(page, 400 if error else 200)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _ref_example() -> str:
    return f"{current_user.office.ticket_prefix}-{date.today().year}-000012"


@bp.get("/export.csv")
@roles_required(*READERS)
def export():
    """Every line matching the filters as CSV; the download is recorded (filters and row count)."""
    flt, error = _filter()
    if error:
        abort(400, error)
    text, count = audit.to_csv(audit.all_entries(current_user.office_id, flt))
    audit.record_view("audit.exported", target_type="audit_log", format="csv", rows=count,
                      filters={key: value for key, value in _query_args().items()})
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    response = Response("\ufeff" + text, content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="audit-{current_user.office.code}-{stamp}.csv"')
    response.headers["Cache-Control"] = "private, no-store"
    return response
