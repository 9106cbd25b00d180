"""How times, durations and phone numbers are shown to people: Indonesian by default."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from flask_babel import get_locale, gettext, ngettext

ZONE_ABBREVIATIONS = {
    "Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT",
}


def zone_abbreviation(tz: str) -> str:
    """WIB, WITA or WIT for Indonesia's zones; the IANA name otherwise."""
    return ZONE_ABBREVIATIONS.get(tz, tz)


def _moment(value: datetime | str | None) -> datetime | None:
    """A stored moment: a datetime, or the ISO 8601 text event data keeps."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return value


def local_datetime(moment: datetime | str | None, tz: str, *, weekday: bool = True) -> str:
    """"Selasa, 24 November 2026 10.00 WIB" (or the English form when the officer chose English)."""
    moment = _moment(moment)
    if moment is None:
        return ""
    locale = str(get_locale() or "id")
    local = moment.astimezone(ZoneInfo(tz))
    pattern = ("EEEE, " if weekday else "") + ("d MMMM y HH.mm" if locale == "id" else "d MMMM y HH:mm")
    return f"{format_datetime(local, pattern, locale=locale)} {zone_abbreviation(tz)}"


def deadline(moment: datetime | None, tz: str) -> str:
    """"Rabu, 25 November 2026 pukul 10.00 WIB": a deadline as a sentence in a letter says it."""
    if moment is None:
        return ""
    locale = str(get_locale() or "id")
    local = moment.astimezone(ZoneInfo(tz))
    pattern = "EEEE, d MMMM y 'pukul' HH.mm" if locale == "id" else "EEEE, d MMMM y 'at' HH:mm"
    return f"{format_datetime(local, pattern, locale=locale)} {zone_abbreviation(tz)}"


def short_datetime(moment: datetime | str | None, tz: str) -> str:
    """"24/11/2026 10.00" in the office's zone, for tables."""
    moment = _moment(moment)
    if moment is None:
        return ""
    locale = str(get_locale() or "id")
    local = moment.astimezone(ZoneInfo(tz))
    return format_datetime(local, "dd/MM/y HH.mm" if locale == "id" else "dd/MM/y HH:mm", locale=locale)


def working_duration(seconds: float) -> str:
    """"3 jam 20 menit" of office time; whole working days are not assumed, hours add up."""
    seconds = abs(seconds)
    hours, minutes = int(seconds // 3600), int(seconds % 3600 // 60)
    if hours and minutes:
        return gettext("%(h)d h %(m)d min", h=hours, m=minutes)
    if hours:
        return ngettext("%(num)d hour", "%(num)d hours", hours)
    return ngettext("%(num)d minute", "%(num)d minutes", max(minutes, 0))


def long_date(day: date | None) -> str:
    """"Jumat, 20 Maret 2026" (or the English form when the officer chose English)."""
    if day is None:
        return ""
    return format_date(day, "EEEE, d MMMM y", locale=str(get_locale() or "id"))
