"""The dashboard of the head of the LPSE (``/dasbor``): four charts drawn on the server as SVG, each with its
figures as a table under it (what a printer or a screen reader falls back on), and a print stylesheet for A4.

The figures come from ``helpdesk.dashboard``; this module only names them and draws them (``helpdesk.svg``).
"""
from __future__ import annotations

from datetime import date
from functools import wraps

from babel.dates import format_date
from flask import Blueprint, abort, render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from markupsafe import Markup

from .. import dashboard
from ..dashboard import AgeBucket, Dashboard
from ..svg import Category, PercentSeries, Series, bar_chart, hbar_chart
from ..timeutil import utcnow
from ..vocab import Channel, label

bp = Blueprint("dashboard", __name__, url_prefix="/dasbor")

VIEWER_ROLES = ("kepala", "admin")
FOLLOW_UP_STATES = ("met", "late", "missing", "not_due", "faq")
FOLLOW_UP_LABELS = {"met": _l("Met on time"), "late": _l("Late"), "missing": _l("Missing"),
                    "not_due": _l("Not yet due"), "faq": _l("FAQ automatic answer")}
# Fixed fills (helpdesk.svg.FILLS), so a state or a channel looks the same whatever else is on the chart.
FOLLOW_UP_FILLS = {"met": 0, "late": 1, "missing": 2, "not_due": 3, "faq": 4}
CHANNEL_FILLS = {channel.value: index for index, channel in enumerate(Channel)}
AGE_LABELS = {"0-1": _l("0–1 working days"), "1-2": _l("1–2 working days"), "2-5": _l("2–5 working days"),
              "5-10": _l("5–10 working days"), "10+": _l("More than 10 working days")}
OPEN_AGE_LABELS = {"0-1": _l("Open 0–1 working days"), "1-2": _l("Open 1–2 working days"),
                   "2-5": _l("Open 2–5 working days"), "5-10": _l("Open 5–10 working days"),
                   "10+": _l("Open more than 10 working days")}


def viewer_required(view):
    """Only the head of the LPSE and system administrators."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if current_user.role not in VIEWER_ROLES:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


@bp.get("")
@viewer_required
def index():
    """The dashboard of the officer's office over the last 30 days, as of now."""
    figures = dashboard.build(current_user.office, now=utcnow())
    return render_template("web/dashboard/index.html", d=figures, charts=charts(figures),
                           totals=follow_up_totals(figures), age_labels=AGE_LABELS,
                           follow_up_labels=FOLLOW_UP_LABELS, day_label=day_label)


# -- the charts -------------------------------------------------------------------------------------------------

def charts(d: Dashboard) -> dict[str, Markup | None]:
    """Every chart of the page as inline SVG; None for a figure without data (the page says so instead)."""
    return {
        "follow_ups": follow_up_chart(d) if any(day.total for day in d.follow_ups) else None,
        "volume": volume_chart(d) if any(day.total for day in d.volume) else None,
        "backlog": backlog_chart(d.backlog) if any(b.count for b in d.backlog) else None,
        "lkpp_open": lkpp_open_chart(d) if d.lkpp.open_total or d.lkpp.awaiting_review else None,
        "lkpp_weeks": lkpp_weeks_chart(d) if any(w.opened or w.answered for w in d.lkpp.weeks) else None,
    }


def follow_up_chart(d: Dashboard) -> Markup:
    """Follow-up deadlines per local day, stacked by outcome, with the share met on time as a line."""
    series = [Series(str(FOLLOW_UP_LABELS[state]), [getattr(day, state) for day in d.follow_ups],
                     fill=FOLLOW_UP_FILLS[state]) for state in FOLLOW_UP_STATES]
    totals = follow_up_totals(d)
    return bar_chart(
        chart_id="chart-follow-ups", title=_("Follow-ups within the SLA, last 30 days"),
        description=_("Follow-up deadlines falling on each day from %(start)s to %(end)s, by outcome: %(met)d met "
                      "on time, %(late)d late, %(missing)d missing, %(not_due)d not yet due, and %(faq)d answered "
                      "automatically from the FAQ (counted apart). The line shows the share met on time.",
                      start=day_label(d.start), end=day_label(d.end), **totals),
        categories=_day_categories(d), series=series,
        percent=PercentSeries(_("Met on time (%)"), [day.share_met for day in d.follow_ups], short_label="%"),
        y_label=_("Deadlines"), x_label=_("Day the follow-up fell due"), muted_label=_("Non-working day"))


def volume_chart(d: Dashboard) -> Markup:
    """Tickets received per local day, stacked by channel (only the channels used in the period)."""
    series = [Series(str(label(Channel, channel)), [day.counts[channel] for day in d.volume],
                     fill=CHANNEL_FILLS[channel]) for channel in d.channels]
    per_channel = ", ".join(f"{label(Channel, c)} {sum(day.counts[c] for day in d.volume)}" for c in d.channels)
    return bar_chart(
        chart_id="chart-volume", title=_("Tickets received by channel, last 30 days"),
        description=_("Tickets received each day from %(start)s to %(end)s, by channel. In total: %(totals)s.",
                      start=day_label(d.start), end=day_label(d.end), totals=per_channel),
        categories=_day_categories(d), series=series, y_label=_("Tickets"), x_label=_("Day received"),
        muted_label=_("Non-working day"))


def backlog_chart(buckets: list[AgeBucket]) -> Markup:
    """Active tickets by age in working days."""
    labels = [str(AGE_LABELS[b.key]) for b in buckets]
    return hbar_chart(
        chart_id="chart-backlog", title=_("Backlog by age"),
        description=_("Active tickets (new, in progress, pending, escalated, waiting) by working days since they "
                      "were received: %(figures)s.",
                      figures=", ".join(f"{text} {b.count}" for text, b in zip(labels, buckets))),
        labels=labels, values=[b.count for b in buckets], x_label=_("Active tickets"))


def lkpp_open_chart(d: Dashboard) -> Markup:
    """Open escalations to LKPP by age in working days since sent, and the answered ones awaiting review."""
    buckets = d.lkpp.open_by_age
    labels = [str(OPEN_AGE_LABELS[b.key]) for b in buckets] + [_("Answered, awaiting review")]
    values = [b.count for b in buckets] + [d.lkpp.awaiting_review]
    return hbar_chart(
        chart_id="chart-lkpp-open", title=_("Escalations at LKPP"),
        description=_("Escalations to LKPP still open, by working days since they were sent, and escalations "
                      "LKPP answered whose answer awaits review: %(figures)s.",
                      figures=", ".join(f"{text} {value}" for text, value in zip(labels, values))),
        labels=labels, values=values, fills=[0] * len(buckets) + [1], x_label=_("Escalations"))


def lkpp_weeks_chart(d: Dashboard) -> Markup:
    """Escalations sent to LKPP and answers received from LKPP, per week of the period."""
    weeks = d.lkpp.weeks
    categories = [Category(_week_label(w.start, w.end)) for w in weeks]
    return bar_chart(
        chart_id="chart-lkpp-weeks", title=_("Escalations to LKPP per week"),
        description=_("Per week from %(start)s to %(end)s: escalations sent to LKPP (%(opened)d in all) and "
                      "answers received from LKPP (%(answered)d in all).", start=day_label(d.start),
                      end=day_label(d.end), opened=sum(w.opened for w in weeks),
                      answered=sum(w.answered for w in weeks)),
        categories=categories, stacked=False,
        series=[Series(_("Sent to LKPP"), [w.opened for w in weeks], fill=0),
                Series(_("Answered by LKPP"), [w.answered for w in weeks], fill=1)],
        y_label=_("Escalations"), x_label=_("Week"), plot_height=180)


# -- labels -----------------------------------------------------------------------------------------------------

def follow_up_totals(d: Dashboard) -> dict[str, int]:
    """The period's follow-up counts per outcome, and the share met on time in whole percent (``share``, or -1)."""
    totals = {state: sum(getattr(day, state) for day in d.follow_ups) for state in FOLLOW_UP_STATES}
    judged = totals["met"] + totals["late"] + totals["missing"]
    totals["judged"] = judged
    totals["share"] = round(100 * totals["met"] / judged) if judged else -1
    return totals


def day_label(day: date) -> str:
    """"Sel, 24 Nov 2026": a day in a table or a sentence."""
    return format_date(day, "EEE, d MMM y", locale=_locale())


def _day_categories(d: Dashboard) -> list[Category]:
    """Day numbers on the axis, the month under the first day and under each 1st."""
    locale = _locale()
    return [Category(str(day.day), format_date(day, "MMM", locale=locale) if i == 0 or day.day == 1 else "",
                     muted=not working)
            for i, (day, working) in enumerate((f.day, f.working) for f in d.follow_ups)]


def _week_label(start: date, end: date) -> str:
    locale = _locale()
    if start == end:
        return format_date(start, "d MMM", locale=locale)
    if start.month == end.month:
        return f"{start.day}–{format_date(end, 'd MMM', locale=locale)}"
    return f"{format_date(start, 'd MMM', locale=locale)}–{format_date(end, 'd MMM', locale=locale)}"


def _locale() -> str:
    return str(get_locale() or "id")
