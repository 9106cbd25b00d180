"""The queue: the office's tickets by follow-up deadline."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from escalation.sla import SLA_LABELS, SlaState, sla_state

from ..calendars import calendar_for
from ..queue import BadCursor, QueueFilters, queue_page
from ..staff import office_staff
from ..states import STATUS_LABELS, Status
from ..timeutil import utcnow
from ..vocab import Channel, choices

bp = Blueprint("queue", __name__)

# Beyond this many calendar days the time left is shown in days: hours of office time stop meaning much.
HOURS_HORIZON_DAYS = 10


@bp.get("/")
@login_required
def home():
    return redirect(url_for(".index"))


@bp.get("/tickets")
@login_required
def index():
    """The queue, filtered and searched, one page at a time."""
    filters = _filters_from(request.args)
    office = current_user.office
    now = utcnow()
    try:
        page = queue_page(office, filters, now=now, viewer_id=current_user.id, after=request.args.get("after"),
                          limit=current_app.config["QUEUE_PAGE_SIZE"])
    except BadCursor:
        abort(400)
    calendar = calendar_for(office)
    rows = [{"ticket": t, "sla": sla_state(due=t.follow_up_due_at, first_follow_up_at=t.first_follow_up_at,
                                           now=now, calendar=calendar),
             "left": _time_left(calendar, now, t.follow_up_due_at) if t.first_follow_up_at is None else None}
            for t in page.tickets]
    return render_template(
        "web/queue/index.html", rows=rows, page=page, filters=filters, office=office,
        status_choices=[("active", None)] + [(s.value, STATUS_LABELS[s]) for s in Status] + [("all", None)],
        channel_choices=choices(Channel), sla_choices=[(s.value, SLA_LABELS[s]) for s in SlaState],
        staff=office_staff(office.id), **_page_links(page.next_cursor),
    )


def _page_links(next_cursor: str | None) -> dict[str, str | None]:
    """Links to the first and the next page, keeping the filters."""
    kept = {key: value for key, value in request.args.items() if key != "after"}
    return {"first_url": url_for(".index", **kept) if "after" in request.args else None,
            "next_url": url_for(".index", **kept, after=next_cursor) if next_cursor else None}


def _filters_from(args) -> QueueFilters:
    status = args.get("status", "active")
    if status not in {"active", "all", *Status.__members__.values()}:
        abort(400)
    channel = args.get("channel", "")
    if channel and channel not in Channel.__members__.values():
        abort(400)
    sla = args.get("sla", "")
    if sla and sla not in SlaState.__members__.values():
        abort(400)
    assignee = args.get("assignee", "")
    if assignee not in ("", "me", "none") and not assignee.isdigit():
        abort(400)
    return QueueFilters(status=status, channel=channel, assignee=assignee, sla=sla, q=args.get("q", "")[:200])


def _time_left(calendar, now, due) -> dict:
    """Working time between now and the deadline (negative when overdue), or calendar days when far off."""
    days = (due - now).total_seconds() / 86400
    if abs(days) > HOURS_HORIZON_DAYS:
        return {"days": int(abs(days)), "seconds": None, "overdue": days < 0}
    seconds = calendar.working_seconds(now, due)
    return {"days": None, "seconds": seconds, "overdue": due < now}
