"""The Standar LPSE helpdesk register (Register Layanan Helpdesk): every ticket received in a period, one row each.

Standar LPSE #5 expects a register with the report (number, reporter, contact, channel, date, description), its
classification (type, technical or not, user role, kind, urgency, impact, priority), the handling (officer, date,
notes), the resolution (solution, date) and whether the user was told (research/domain.md §2.4).

``register_rows`` reads the period's tickets with their requester and assignee in one query and the events the
register needs in a second, and folds each ticket's history into a ``RegisterRow``. The print page
(web/register.py), ``to_csv`` and ``to_xlsx`` show those rows; the two files share ``COLUMNS``, so they agree.
Labels are resolved when they are shown, in the language active then.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, literal, select
from sqlalchemy.orm import joinedload

from .errors import ValidationError
from .extensions import db
from .formatting import local_datetime, short_datetime
from .models import Office, Ticket, TicketEvent
from .reports import local_bounds
from .requesters import format_phone
from .states import STATUS_LABELS, Status
from .timeutil import utcnow
from .vocab import Channel, Level, ProblemKind, SpseRole, StaffRole, TicketType, Urgency, label

# The register's name in Standar LPSE; the printed title, in every language (like the consultation form's).
REGISTER_TITLE: Final = "REGISTER LAYANAN HELPDESK"
MAX_PERIOD_DAYS: Final = 400
# Dates outside these years are refused: they cannot be a ticket's, and the zone arithmetic overflows at the ends.
FIRST_YEAR, LAST_YEAR = 1970, 9998
DESCRIPTION_CHARS: Final = 200
NOTE_CHARS: Final = 160
SOLUTION_CHARS: Final = 1000
XLSX_CONTENT_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CONTENT_TYPE: Final = "text/csv; charset=utf-8"
XLSX_HEADER_ROW: Final = 5  # title, office, period, a blank line, then the column headers

# Events an officer acts on the ticket through: the first one dates the handling and names the officer when the
# ticket has no assignee. Assignments, flags and the clock's marks are bookkeeping, not handling.
HANDLING_KINDS: Final = frozenset({
    "created", "replied", "note_added", "status_changed", "escalated", "escalation_returned", "classified",
    "consultation_recorded", "checklist_recorded", "visitor_called", "lkpp_call_logged", "lkpp_answer_reviewed",
})
# Events whose text the register shows (the rest are read for their time, officer and data only).
BODY_KINDS: Final = frozenset({"note_added", "status_changed", "escalated", "escalation_returned", "lkpp_answered",
                               "faq_answered"})
EVENT_KINDS: Final = HANDLING_KINDS | BODY_KINDS | {"followed_up", "auto_reply_queued", "text_queued"}

# How a requester was told: the ``via`` of a reply, a notice's channel.
TOLD_LABELS: Final = {
    "email": _l("email"), "phone": _l("phone"), "walkin": _l("in person"), "sms": "SMS", "whatsapp": "WhatsApp",
}
# The follow-up's ``how`` when no message shows the way (an officer told the requester of an escalation, a
# resolution recorded without a notice).
FOLLOW_UP_LABELS: Final = {
    "reply": _l("reply"), "resolution": _l("on resolution"), "escalation_notice": _l("escalation notice"),
    "faq_answer": _l("FAQ answer"),
}
# Automatic messages that only acknowledge: they tell the requester nothing about the question.
ACKNOWLEDGEMENTS: Final = frozenset({"acknowledgement", "ticket-number"})
LKPP_TARGET_LABELS: Final = {"helpdesk_lkpp": "Helpdesk LKPP", "teknis_lkpp": _l("LKPP technical team")}
LKPP_CHANNEL_LABELS: Final = {"email": _l("email"), "tts": "LPSE Support", "phone": _l("phone")}


# -- the rows -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RegisterNote:
    """A line of the handling notes: an internal note, an escalation and what came back, a closing reason."""

    at: datetime
    author: str
    kind: str  # note, escalated, escalation_returned, lkpp_answered, closed
    text: str  # already shortened
    target: str = ""  # escalated: the role, the officer or LKPP it went to

    def label(self, tz: str) -> str:
        """"24/11/2026 10.20 Dewi: Eskalasi ke Verifikator: perlu cek akun" in the active language."""
        if self.kind == "escalated":
            what = _("Escalated to %(target)s", target=self.target)
        elif self.kind == "escalation_returned":
            what = _("Escalation returned")
        elif self.kind == "lkpp_answered":
            what = _("LKPP answered")
        elif self.kind == "closed":
            what = _("Closed")
        else:
            what = ""
        text = f"{what}: {self.text}" if what and self.text else (what or self.text)
        return f"{short_datetime(self.at, tz)} {self.author}: {text}" if self.author else \
            f"{short_datetime(self.at, tz)} {text}"


@dataclass(frozen=True)
class RegisterRow:
    """One ticket as the register shows it. Codes are kept as stored; the ``*_label`` methods name them."""

    ref: str
    status: str
    reporter: str
    organization: str
    email: str
    phone: str  # formatted for people ("+62 812-3456-7890")
    channel: str
    received_at: datetime
    subject: str
    description: str  # the first DESCRIPTION_CHARS of the description, on one line
    ticket_type: str | None
    is_technical: bool | None
    requester_role: str | None
    kind: str | None
    urgency: str | None
    impact: str | None
    priority: str | None
    officer: str  # the assignee, else the officer of the first handling event; "" when nobody handled it yet
    handled_at: datetime | None  # the first follow-up or the first officer's action, whichever came first
    notes: tuple[RegisterNote, ...]
    solution: str
    resolved_at: datetime | None
    told: bool  # whether the requester was followed up or sent a reply or a notice
    told_via: tuple[str, ...]  # the ways: email, phone, walkin, sms, whatsapp
    follow_up_how: str | None  # the first follow-up's ``how``, the way told when no message shows one

    def channel_label(self) -> str:
        return str(label(Channel, self.channel))

    def status_label(self) -> str:
        return str(STATUS_LABELS.get(Status(self.status), self.status))

    def ticket_type_label(self) -> str:
        return str(label(TicketType, self.ticket_type))

    def technical_label(self) -> str:
        """Technical / Non-technical (Standar LPSE's kategori); "" when not classified."""
        if self.is_technical is None:
            return ""
        return _("Technical") if self.is_technical else _("Non-technical")

    def requester_role_label(self) -> str:
        return str(label(SpseRole, self.requester_role))

    def kind_label(self) -> str:
        return str(label(ProblemKind, self.kind))

    def urgency_label(self) -> str:
        return str(label(Urgency, self.urgency))

    def impact_label(self) -> str:
        return str(label(Level, self.impact))

    def priority_label(self) -> str:
        return str(label(Level, self.priority))

    def notes_text(self, tz: str) -> str:
        """The notes, one a line, oldest first."""
        return "\n".join(note.label(tz) for note in self.notes)

    def told_label(self) -> str:
        """"Yes (email, phone)", "Yes (on resolution)" or "Not yet"."""
        if not self.told:
            return _("Not yet")
        ways = [str(TOLD_LABELS.get(way, way)) for way in self.told_via]
        if not ways and self.follow_up_how:
            ways = [str(FOLLOW_UP_LABELS.get(self.follow_up_how, self.follow_up_how))]
        return _("Yes (%(ways)s)", ways=", ".join(ways)) if ways else _("Yes")


def register_rows(office: Office, start: date, end: date) -> list[RegisterRow]:
    """The register of ``office``: the tickets received on the office's local dates ``start`` to ``end``
    (inclusive), oldest first.

    Two queries whatever the number of tickets: the tickets with requester and assignee, then the events the
    register reads. Raises ValidationError for a period ``check_period`` refuses. Reads only.
    """
    check_period(start, end)
    since, until = local_bounds(office, start, end)
    in_period = (Ticket.office_id == office.id, Ticket.received_at >= since, Ticket.received_at < until)
    found = list(db.session.scalars(
        select(Ticket).where(*in_period)
        .options(joinedload(Ticket.requester), joinedload(Ticket.assignee))
        .order_by(Ticket.received_at, Ticket.id)))
    if not found:
        return []
    # Only the texts the register shows: a created event repeats the description, a reply can be a long email.
    body = case((TicketEvent.kind.in_(sorted(BODY_KINDS)), TicketEvent.body), else_=literal(""))
    history: dict[int, list[_Event]] = {ticket.id: [] for ticket in found}
    for row in db.session.execute(
            select(TicketEvent.ticket_id, TicketEvent.kind, TicketEvent.actor_id, TicketEvent.actor_label, body,
                   TicketEvent.data, TicketEvent.created_at)
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(*in_period, TicketEvent.kind.in_(sorted(EVENT_KINDS)))
            .order_by(TicketEvent.created_at, TicketEvent.id)):
        history[row[0]].append(_Event(kind=row[1], actor_id=row[2], actor=row[3] or "", body=row[4] or "",
                                      data=dict(row[5] or {}), at=row[6]))
    return [_fold(ticket, history[ticket.id]) for ticket in found]


@dataclass(frozen=True)
class _Event:
    kind: str
    actor_id: int | None
    actor: str
    body: str
    data: dict[str, Any]
    at: datetime


def _fold(ticket: Ticket, events: Sequence[_Event]) -> RegisterRow:
    """One ticket's row from the ticket and its events (oldest first)."""
    requester = ticket.requester
    handling = [event for event in events if event.actor_id is not None and event.kind in HANDLING_KINDS]
    notes: list[RegisterNote] = []
    ways: list[str] = []
    follow_up_how: str | None = None
    resolution: _Event | None = None
    consultation_answer = faq_answer = ""
    for event in events:
        kind, data = event.kind, event.data
        if kind == "note_added":
            notes.append(RegisterNote(event.at, event.actor, "note", _shorten(event.body, NOTE_CHARS)))
        elif kind == "escalated":
            notes.append(RegisterNote(event.at, event.actor, "escalated", _shorten(event.body, NOTE_CHARS),
                                      target=_escalation_target(data)))
        elif kind in ("escalation_returned", "lkpp_answered"):
            notes.append(RegisterNote(event.at, event.actor, kind, _shorten(event.body, NOTE_CHARS)))
        elif kind == "status_changed" and data.get("to") == Status.RESOLVED:
            resolution = event
        elif kind == "status_changed" and data.get("to") == Status.CLOSED and data.get("from") != Status.RESOLVED:
            notes.append(RegisterNote(event.at, event.actor, "closed", _shorten(event.body, NOTE_CHARS)))
        elif kind == "followed_up":
            follow_up_how = follow_up_how or data.get("how")
        elif kind == "replied":
            ways.append(data.get("via") or "")
        elif kind == "consultation_recorded" and data.get("answer"):
            consultation_answer = data["answer"]
            ways.append("walkin")
        elif kind == "faq_answered":
            faq_answer = event.body
            ways.append("email")
        elif kind == "auto_reply_queued" and data.get("notice") not in ACKNOWLEDGEMENTS:
            ways.append("email")
        elif kind == "text_queued" and data.get("notice") not in ACKNOWLEDGEMENTS:
            ways.append(data.get("channel") or "sms")
    officer = ticket.assignee.name if ticket.assignee is not None else (handling[0].actor if handling else "")
    starts = [moment for moment in (ticket.first_follow_up_at, handling[0].at if handling else None) if moment]
    solution = ""
    if ticket.resolved_at is not None:  # a solution counts only while the ticket stays resolved (or closed)
        faq_confirmed = resolution is not None and resolution.data.get("reason") == "faq_confirmed"
        solution = (faq_answer if faq_confirmed else "") or (resolution.body if resolution else "") or \
            consultation_answer or faq_answer
    told_via = tuple(dict.fromkeys(way for way in ways if way))
    return RegisterRow(
        ref=ticket.ref, status=ticket.status, reporter=requester.name, organization=requester.organization or "",
        email=requester.email or "", phone=format_phone(requester.phone), channel=ticket.channel,
        received_at=ticket.received_at, subject=ticket.subject,
        description=_shorten(ticket.description or "", DESCRIPTION_CHARS), ticket_type=ticket.ticket_type,
        is_technical=ticket.is_technical, requester_role=requester.spse_role, kind=ticket.kind,
        urgency=ticket.urgency, impact=ticket.impact, priority=ticket.priority, officer=officer,
        handled_at=min(starts) if starts else None, notes=tuple(notes),
        solution=_shorten(solution, SOLUTION_CHARS, one_line=False), resolved_at=ticket.resolved_at,
        told=bool(told_via) or follow_up_how is not None, told_via=told_via, follow_up_how=follow_up_how,
    )


def _escalation_target(data: dict[str, Any]) -> str:
    """Whom an escalation went to, as a note names it: the officer, the role, or LKPP (and how)."""
    if data.get("tier") == "lkpp":
        target = str(LKPP_TARGET_LABELS.get(data.get("target"), data.get("target") or "LKPP"))
        channel = data.get("channel")
        return f"{target} ({LKPP_CHANNEL_LABELS.get(channel, channel)})" if channel else target
    if data.get("officer_name"):
        return str(data["officer_name"])
    return str(label(StaffRole, data.get("role"))) or "—"


def _shorten(text: str, limit: int, *, one_line: bool = True) -> str:
    """The text cut at a word near ``limit`` characters with an ellipsis; on one line unless told otherwise."""
    text = " ".join(text.split()) if one_line else text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 2 // 3 else cut).rstrip() + "…"


# -- the period ---------------------------------------------------------------------------------------------

DATE_PATTERN: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def check_period(start: date, end: date) -> None:
    """Raise ValidationError unless ``start`` to ``end`` is a period the register covers (at most 400 days)."""
    for day in (start, end):
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise ValidationError(_l("%(day)s is outside the years %(first)d to %(last)d.", day=day.isoformat(),
                                     first=FIRST_YEAR, last=LAST_YEAR))
    if end < start:
        raise ValidationError(_l("The period ends (%(end)s) before it starts (%(start)s).",
                                 end=end.isoformat(), start=start.isoformat()))
    days = (end - start).days + 1
    if days > MAX_PERIOD_DAYS:
        raise ValidationError(_l("The period has %(days)d days; a register covers at most %(max)d. Choose a "
                                 "shorter period.", days=days, max=MAX_PERIOD_DAYS))


def parse_period(raw_start: str | None, raw_end: str | None, *, today: date) -> tuple[date, date]:
    """The period asked for as two ``YYYY-MM-DD`` texts; both missing: the current month up to ``today``.

    Raises ValidationError with a message for the officer: one date missing, a text that is not a date, a period
    ``check_period`` refuses.
    """
    if raw_start is None and raw_end is None:
        return default_period(today)
    if not (raw_start or "").strip() or not (raw_end or "").strip():
        raise ValidationError(_l("Choose both the first and the last day of the period."))
    start, end = _parse_day(raw_start), _parse_day(raw_end)
    check_period(start, end)
    return start, end


def default_period(today: date) -> tuple[date, date]:
    """The current month up to ``today``."""
    return today.replace(day=1), today


def _parse_day(raw: str) -> date:
    text = raw.strip()
    try:
        if DATE_PATTERN.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ValidationError(_l("%(value)s is not a date; write it as YYYY-MM-DD.", value=repr(text[:40])))


def period_label(start: date, end: date) -> str:
    """"1 November 2026 – 30 November 2026" in the active language."""
    locale = str(get_locale() or "id")
    return f"{format_date(start, 'd MMMM y', locale=locale)} – {format_date(end, 'd MMMM y', locale=locale)}"


def filename(office: Office, start: date, end: date, extension: str) -> str:
    """``register-helpdesk-<PREFIX>-<start>-<end>.<extension>``."""
    prefix = re.sub(r"[^A-Za-z0-9_-]+", "", office.ticket_prefix) or "LPSE"
    return f"register-helpdesk-{prefix}-{start.isoformat()}-{end.isoformat()}.{extension}"


# -- the files ----------------------------------------------------------------------------------------------

Cell = str | datetime | int | None


@dataclass(frozen=True)
class Column:
    """A column of the CSV and XLSX files: its header and what it shows of a row (a date in the office's zone)."""

    header: object  # a lazy translatable string
    value: Callable[[RegisterRow, str], Cell]
    width: int = 14  # XLSX column width, in characters


def _local(moment: datetime | None, tz: str) -> datetime | None:
    return moment.astimezone(ZoneInfo(tz)) if moment is not None else None


COLUMNS: Final[tuple[Column, ...]] = (
    Column(_l("Ticket number"), lambda row, tz: row.ref, 18),
    Column(_l("Reporter"), lambda row, tz: row.reporter, 22),
    Column(_l("Agency / company"), lambda row, tz: row.organization, 24),
    Column(_l("Email"), lambda row, tz: row.email, 26),
    Column(_l("Phone"), lambda row, tz: row.phone, 18),
    Column(_l("Channel"), lambda row, tz: row.channel_label(), 11),
    Column(_l("Date received"), lambda row, tz: _local(row.received_at, tz), 16),
    Column(_l("Subject"), lambda row, tz: row.subject, 30),
    Column(_l("Description"), lambda row, tz: row.description, 50),
    Column(_l("Type"), lambda row, tz: row.ticket_type_label(), 12),
    Column(_l("Technical / non-technical"), lambda row, tz: row.technical_label(), 12),
    Column(_l("Requester role"), lambda row, tz: row.requester_role_label(), 20),
    Column(_l("Kind"), lambda row, tz: row.kind_label(), 12),
    Column(_l("Urgency"), lambda row, tz: row.urgency_label(), 12),
    Column(_l("Impact"), lambda row, tz: row.impact_label(), 10),
    Column(_l("Priority"), lambda row, tz: row.priority_label(), 10),
    Column(_l("Status"), lambda row, tz: row.status_label(), 14),
    Column(_l("Officer"), lambda row, tz: row.officer, 20),
    Column(_l("Handling date"), lambda row, tz: _local(row.handled_at, tz), 16),
    Column(_l("Handling notes"), lambda row, tz: row.notes_text(tz), 50),
    Column(_l("Solution"), lambda row, tz: row.solution, 50),
    Column(_l("Resolution date"), lambda row, tz: _local(row.resolved_at, tz), 16),
    Column(_l("Requester told"), lambda row, tz: row.told_label(), 18),
)


def table(rows: Sequence[RegisterRow], tz: str) -> tuple[list[str], list[list[Cell]]]:
    """The headers (in the active language, the row number first) and one list of cells per row; dates are
    aware datetimes in zone ``tz``."""
    headers = [_("No."), *(str(column.header) for column in COLUMNS)]
    cells = [[number, *(column.value(row, tz) for column in COLUMNS)] for number, row in enumerate(rows, start=1)]
    return headers, cells


# Text a spreadsheet would run as a formula; a phone number's "+62 ..." is only digits and punctuation.
FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
HARMLESS: Final = re.compile(r"[+\-]?[\d\s().+\-]*")


def _csv_text(value: Cell) -> str:
    """A cell as CSV text: dates as "2026-11-24 10:00"; text that a spreadsheet would run as a formula is
    prefixed with an apostrophe (OWASP's advice against CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    text = str(value)
    if text.startswith(FORMULA_START) and not HARMLESS.fullmatch(text):
        return "'" + text
    return text


def to_csv(rows: Sequence[RegisterRow], tz: str) -> bytes:
    """The register as CSV: UTF-8 with a byte-order mark (so spreadsheets read it as UTF-8), a header line,
    one line per ticket."""
    headers, cells = table(rows, tz)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows([_csv_text(value) for value in line] for line in cells)
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(rows: Sequence[RegisterRow], *, office: Office, start: date, end: date,
            now: datetime | None = None) -> bytes:
    """The register as an XLSX workbook: a title block (register, office, period, print time), then the
    headers on row ``XLSX_HEADER_ROW`` and one row per ticket, with real dates, a filter and A4 landscape
    printing."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, TYPE_STRING
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    tz = office.timezone
    headers, cells = table(rows, tz)
    book = Workbook()
    sheet = book.active
    sheet.title = "Register"
    book.properties.title = f"{REGISTER_TITLE} {office.name} {start.isoformat()} – {end.isoformat()}"
    book.properties.creator = "LPSE Helpdesk"
    sheet["A1"] = REGISTER_TITLE
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A2"] = office.name
    sheet["A2"].font = Font(bold=True, size=12)
    sheet["A3"] = "  ·  ".join((_("Period: %(period)s", period=period_label(start, end)),
                                _("%(count)d tickets", count=len(rows)),
                                _("Printed: %(time)s", time=local_datetime(now or utcnow(), tz, weekday=False))))
    bold, shaded = Font(bold=True), PatternFill("solid", fgColor="DDDDDD")
    wrapped = Alignment(wrap_text=True, vertical="top")
    for index, header in enumerate(headers, start=1):
        cell = sheet.cell(row=XLSX_HEADER_ROW, column=index, value=header)
        cell.font, cell.fill = bold, shaded
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    for offset, line in enumerate(cells, start=1):
        for index, value in enumerate(line, start=1):
            cell = sheet.cell(row=XLSX_HEADER_ROW + offset, column=index)
            if isinstance(value, datetime):
                cell.value = value.replace(tzinfo=None)  # Excel has no zones: the office's local time
                cell.number_format = "dd/mm/yyyy hh:mm"
            elif isinstance(value, str):
                cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)[:32767]
                cell.data_type = TYPE_STRING  # never a formula, whatever the text starts with
            else:
                cell.value = value
            cell.alignment = wrapped
    widths = [6, *(column.width for column in COLUMNS)]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    last = get_column_letter(len(headers))
    sheet.auto_filter.ref = f"A{XLSX_HEADER_ROW}:{last}{XLSX_HEADER_ROW + max(len(cells), 1)}"
    sheet.freeze_panes = f"C{XLSX_HEADER_ROW + 1}"
    sheet.print_title_rows = f"{XLSX_HEADER_ROW}:{XLSX_HEADER_ROW}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
