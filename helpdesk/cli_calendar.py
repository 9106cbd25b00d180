"""``helpdesk calendar show YEAR``: an office's working calendar, with the source of every day off."""
from __future__ import annotations

from datetime import date

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from escalation.calendar import CalendarError, DayInfo, WorkingCalendar, library_version

from .calendar_admin import FIRST_YEAR, LAST_YEAR, periods_for
from .calendars import calendar_for
from .extensions import db
from .models import Office

WEEKDAY_ABBREVIATIONS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ORIGINS = {"library": "holidays library", "national": "override, national", "office": "override, this office"}


@click.group("calendar")
def calendar_group() -> None:
    """The working calendar: holidays, overrides and office hours."""


def _office(code: str | None) -> Office:
    """The office with ``code``, or the first one."""
    query = select(Office).where(Office.code == code) if code else select(Office).order_by(Office.id).limit(1)
    try:
        office = db.session.scalar(query)
    except (OperationalError, ProgrammingError):
        raise click.ClickException("the database is not initialised; run `helpdesk init`") from None
    if office is None:
        raise click.ClickException(f"no office with code {code!r}" if code else "no office yet: run `helpdesk init`")
    return office


def _hours_lines(hours: dict[int, tuple | None]) -> list[str]:
    """``Mon 07:30-16:00`` per weekday, ``closed`` on a day without hours."""
    return [f"  {WEEKDAY_ABBREVIATIONS[weekday - 1]}  "
            + (f"{window[0]:%H:%M}-{window[1]:%H:%M}" if window else "closed")
            for weekday, window in sorted(hours.items())]


def _day_line(info: DayInfo) -> str:
    """One day off: date, weekday, kind, name and where it comes from."""
    off = info.off
    assert off is not None
    if off.origin == "weekend":
        source = "weekend"
    elif off.origin == "library":
        source = off.source
    else:
        source = f"{ORIGINS[off.origin]}: {off.source or 'no source given'}"
    weekday = WEEKDAY_ABBREVIATIONS[info.day.weekday()]
    return f"{info.day.isoformat()}  {weekday}  {off.kind:<14}  {off.name}  [{source}]"


def _header(office: Office, calendar: WorkingCalendar, year: int) -> list[str]:
    """The office, its hours and Ramadan profile, and the calendar version."""
    lines = [f"Working calendar {year}: {office.name} ({office.code}), {office.timezone}",
             f"Holidays: holidays {library_version()} (public + government); calendar version {calendar.version}",
             f"Staffed on cuti bersama: {'yes' if calendar.staffed_on_cuti_bersama else 'no'}",
             "Office hours:", *_hours_lines(calendar.hours)]
    periods = [p for p in periods_for(office) if p.start.year <= year <= p.end.year]
    if office.ramadan_hours and periods:
        lines.append("Ramadan hours (weekdays left unset keep the office hours):")
        lines += _hours_lines(calendar.ramadan_hours)
        lines += [f"  period {p.start.isoformat()} to {p.end.isoformat()}" + (f" [{p.source_ref}]" if p.source_ref
                                                                             else "") for p in reversed(periods)]
    elif periods:
        lines.append("Ramadan periods are entered but no Ramadan hours: office hours apply.")
    else:
        lines.append("Ramadan hours: none this year")
    return lines


@calendar_group.command("show")
@click.argument("year", type=click.IntRange(FIRST_YEAR, LAST_YEAR))
@click.option("--office", "office_code", help="office code (default: the first office)")
@click.option("--weekends", is_flag=True, help="list weekend days too, not only their number")
@with_appcontext
def calendar_show_command(year: int, office_code: str | None, weekends: bool) -> None:
    """Print YEAR's days off with their kind, name and source, the office hours and the number of working days."""
    office = _office(office_code)
    try:
        calendar = calendar_for(office)
        days = calendar.describe_year(year)
    except CalendarError as exc:
        raise click.ClickException(str(exc)) from None
    for line in _header(office, calendar, year):
        click.echo(line)
    click.echo("")
    click.echo("Days off:")
    weekend_days = 0
    for info in days:
        if info.off is None:
            continue
        if info.off.kind == "weekend":
            weekend_days += 1
            if not weekends:
                continue
        click.echo(_day_line(info))
    working = sum(info.working for info in days)
    ramadan = sum(info.working and info.profile == "ramadan" for info in days)
    click.echo("")
    click.echo(f"Weekend days: {weekend_days}")
    click.echo(f"Working days: {working} of {(date(year, 12, 31) - date(year, 1, 1)).days + 1}"
               + (f" ({ramadan} with Ramadan hours)" if ramadan else ""))
