"""The walk-in consultation form (Formulir Konsultasi, SOP-LPSE.BTG-008) as a printable copy.

``consultation_copy`` gathers everything the form shows into one ``ConsultationCopy``: the office's header, the
ticket reference and queue number, the visitor's identity and problem as filled in, the checklist of the service
type, and the officer's analysis, answer and initials. The print page (web/copies.py) and ``render_pdf`` both
show that one object, so the page the visitor takes home and the PDF the ticket keeps say the same thing.

``archive_pdf`` stores the PDF with the ticket, which is then the form's archive. The copy is a document for the
visitor, so it is written in the deployment's language (Indonesian by default) whatever language the officer's
screen uses, the way messages to requesters are.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from io import BytesIO
from typing import Any, Final

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import select

from . import tickets
from .blobs import store_blob
from .checklists import RESULT_LABELS, checklist_for
from .extensions import db
from .formatting import local_datetime, short_datetime
from .models import Attachment, Staff, Ticket, TicketEvent, WalkinVisit
from .privacy import can_see_identity, mask_number
from .requesters import format_phone
from .timeutil import utcnow
from .vocab import Application, ServiceType, SpseRole, label

PDF_CONTENT_TYPE: Final = "application/pdf"
# The events whose content the copy shows: a stored PDF older than the latest of them is out of date.
SOURCE_EVENT_KINDS: Final = ("consultation_recorded", "checklist_recorded")
# The name of the form as the SOPs call it; the printed title, in every language.
FORM_TITLE: Final = "FORMULIR KONSULTASI"

OUTCOME_LABELS: Final = {
    "solved": _l("Solved"), "pending": _l("Pending (answer to follow)"),
    "escalate": _l("Escalated to a more competent officer or to LKPP"),
}


@dataclass(frozen=True)
class ChecklistLine:
    """One checklist item as printed: its question, the result, when it was answered and the note."""

    key: str
    label: str
    result: str | None  # yes, no, skipped, or None when not answered
    result_label: str
    answered_at: str  # local time, "" when not answered
    note: str


@dataclass(frozen=True)
class ConsultationCopy:
    """Everything the printed consultation form shows, as text ready to print (labels in ``locale``)."""

    locale: str
    # the office's header
    office_name: str
    office_address: str
    office_phone: str
    office_email: str
    timezone: str
    # the ticket and the visit
    ref: str
    queue_label: str  # "A-007", "" when the ticket has no walk-in visit
    service_type: str | None
    service_type_label: str
    arrived_at: datetime
    arrived_at_label: str
    # the visitor
    visitor_name: str
    visitor_organization: str
    visitor_role: str
    visitor_phone: str
    visitor_email: str
    visitor_address: str
    # the problem, as the visitor wrote it
    subject: str
    application: str
    tender_code: str
    error_message: str
    description: str
    attachments: tuple[str, ...]
    # the checklist of the service type (empty for a consultation)
    checklist: tuple[ChecklistLine, ...]
    # the officer's part; empty strings while nothing has been recorded
    analysis: str
    answer: str
    outcome: str | None
    outcome_label: str
    officer_name: str
    initialled_at: datetime | None
    initialled_at_label: str
    printed_at: datetime
    printed_at_label: str
    # the newest consultation or checklist event shown (the event a stored PDF belongs to), or None
    source_event_id: int | None = None
    # the visitor's identity numbers, whole or masked (the last four digits) for whoever the copy is for
    visitor_npwp: str = ""
    visitor_nik: str = ""
    visitor_user_id: str = ""
    identity_whole: tuple[str, ...] = ()  # the numbers shown whole ("npwp", "nik"): a view for the audit log

    @property
    def initialled(self) -> bool:
        """Whether the officer has written an answer and initialled the form."""
        return bool(self.officer_name and self.initialled_at)

    @property
    def initials(self) -> str:
        """"Dewi Lestari, Selasa, 24 November 2026 10.30 WIB"; "" before the officer initialled the form."""
        return f"{self.officer_name}, {self.initialled_at_label}" if self.initialled else ""


def archive_filename(ref: str, version: int = 1) -> str:
    """``formulir-konsultasi-<REF>.pdf``, then ``-2``, ``-3``... for later versions of the same ticket's form."""
    return f"formulir-konsultasi-{ref}.pdf" if version <= 1 else f"formulir-konsultasi-{ref}-{version}.pdf"


def _is_archive(attachment: Attachment, ref: str) -> bool:
    pattern = rf"formulir-konsultasi-{re.escape(ref)}(-\d+)?\.pdf"
    return attachment.content_type == PDF_CONTENT_TYPE and re.fullmatch(pattern, attachment.filename) is not None


# -- the copy -----------------------------------------------------------------------------------------------

def consultation_copy(ticket: Ticket, *, locale: str | None = None, now: datetime | None = None,
                      viewer: Staff | None = None) -> ConsultationCopy:
    """The consultation form of ``ticket`` as it stands: the visitor's part, the checklist, the officer's part.

    Works before the officer has recorded anything (the officer's part is then empty, to be written by hand or
    printed again later). Dates are in the office's zone; labels in ``locale``, by default the deployment's
    language (BABEL_DEFAULT_LOCALE, Indonesian), not the officer's screen language: the copy is the visitor's.
    NPWP and NIK are whole only when ``viewer`` may see them (``privacy.can_see_identity``); without a viewer (the
    PDF stored with the ticket, which every officer of the office can open) they are masked.
    """
    locale = locale or current_app.config.get("BABEL_DEFAULT_LOCALE", "id")
    office, requester = ticket.office, ticket.requester
    tz = office.timezone
    visit = db.session.scalar(select(WalkinVisit).where(WalkinVisit.ticket_id == ticket.id))
    consultation = tickets.latest_consultation(ticket) or {}
    checklist = tickets.latest_checklist(ticket)
    service_type = (visit.service_type if visit else None) or consultation.get("service_type") or \
        (checklist or {}).get("service_type")
    printed_at = now or utcnow()
    arrived_at = visit.arrived_at if visit else ticket.received_at
    initialled_at = _parse_time(consultation.get("initialled_at"))
    with force_locale(locale):
        lines = _checklist_lines(checklist, tz)
        return ConsultationCopy(
            locale=locale, office_name=office.name, office_address=office.address or "",
            office_phone=format_phone(office.phone), office_email=office.email or "", timezone=tz,
            ref=ticket.ref, queue_label=visit.queue_label if visit else "", service_type=service_type,
            service_type_label=str(label(ServiceType, service_type)) if service_type else "",
            arrived_at=arrived_at, arrived_at_label=local_datetime(arrived_at, tz),
            visitor_name=requester.name, visitor_organization=requester.organization or "",
            visitor_role=str(label(SpseRole, requester.spse_role)), visitor_phone=format_phone(requester.phone),
            visitor_email=requester.email or "", visitor_address=requester.address or "",
            subject=ticket.subject, application=str(label(Application, ticket.application)),
            tender_code=ticket.tender_code or "", error_message=ticket.error_code or "",
            description=ticket.description or "", attachments=_attachment_names(ticket), checklist=lines,
            analysis=consultation.get("analysis") or "", answer=consultation.get("answer") or "",
            outcome=consultation.get("outcome"),
            outcome_label=str(OUTCOME_LABELS.get(consultation.get("outcome"), consultation.get("outcome") or "")),
            officer_name=consultation.get("officer_name") or "", initialled_at=initialled_at,
            initialled_at_label=local_datetime(initialled_at, tz), printed_at=printed_at,
            printed_at_label=local_datetime(printed_at, tz), source_event_id=latest_source_event_id(ticket),
            **_identity(requester, viewer),
        )


def _identity(requester, viewer: Staff | None) -> dict[str, Any]:
    """The visitor's NPWP, NIK and User ID as ``viewer`` may see them, and which numbers are whole."""
    whole = viewer is not None and can_see_identity(viewer)
    numbers = {"npwp": requester.npwp or "", "nik": requester.nik or ""}
    return {"visitor_npwp": numbers["npwp"] if whole else mask_number(numbers["npwp"]),
            "visitor_nik": numbers["nik"] if whole else mask_number(numbers["nik"]),
            "visitor_user_id": requester.spse_user_id or "",
            "identity_whole": tuple(name for name, value in numbers.items() if value and whole)}


def latest_source_event_id(ticket: Ticket) -> int | None:
    """The id of the ticket's newest consultation or checklist event, or None."""
    return db.session.scalar(select(TicketEvent.id).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.kind.in_(SOURCE_EVENT_KINDS))
        .order_by(TicketEvent.id.desc()).limit(1))


def _checklist_lines(checklist: dict[str, Any] | None, tz: str) -> tuple[ChecklistLine, ...]:
    if not checklist:
        return ()
    try:
        labels = {item.key: str(item.label) for item in checklist_for(checklist.get("service_type"))}
    except (KeyError, ValueError):
        labels = {}
    lines = []
    for entry in checklist.get("items") or []:
        result = entry.get("result")
        lines.append(ChecklistLine(
            key=entry.get("key", ""), label=labels.get(entry.get("key"), entry.get("key", "")), result=result,
            result_label=str(RESULT_LABELS.get(result, "")) if result else "—",
            answered_at=short_datetime(_parse_time(entry.get("at")), tz), note=entry.get("note") or ""))
    return tuple(lines)


def _attachment_names(ticket: Ticket) -> tuple[str, ...]:
    """The files attached to the ticket, in order, without inline images and without the form's own PDFs."""
    rows = db.session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id, Attachment.inline.is_(False))
                              .order_by(Attachment.id)).all()
    return tuple(row.filename for row in rows if not _is_archive(row, ticket.ref))


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else None


# -- archive ------------------------------------------------------------------------------------------------

def archived_pdfs(ticket: Ticket) -> list[Attachment]:
    """The form's PDFs stored with the ticket, oldest first."""
    rows = db.session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id,
                                                       Attachment.content_type == PDF_CONTENT_TYPE)
                              .order_by(Attachment.id)).all()
    return [row for row in rows if _is_archive(row, ticket.ref)]


def current_archive(ticket: Ticket) -> Attachment | None:
    """The latest stored PDF if it shows the ticket's latest consultation and checklist, else None.

    A stored PDF belongs to the event it was attached to; it is current when no consultation or checklist event
    came after that one (or, for a PDF of the visitor's part alone, when there is no such event at all).
    """
    stored = archived_pdfs(ticket)
    if not stored:
        return None
    latest, source = stored[-1], latest_source_event_id(ticket)
    if latest.purged_at is not None:  # deleted under the retention schedule: a fresh one is made when asked
        return None
    if source is None or (latest.event_id is not None and latest.event_id >= source):
        return latest
    return None


def archive_pdf(ticket: Ticket, *, event: TicketEvent | None = None, locale: str | None = None) -> Attachment:
    """Render the form as it stands, store the PDF and attach it to the ticket (and to ``event``).

    ``event`` is normally the ``consultation_recorded`` event just written; by default the PDF goes with the
    newest consultation or checklist event it shows (none before the officer's part exists). Called by the walk-in
    desk after the officer initials the form, or to print the visitor's part first. Flushes, never commits.
    """
    copy = consultation_copy(ticket, locale=locale)
    data = render_pdf(copy)
    blob = store_blob(data, content_type=PDF_CONTENT_TYPE)
    if event is None and copy.source_event_id is not None:
        event = db.session.get(TicketEvent, copy.source_event_id)
    version = len(archived_pdfs(ticket)) + 1
    return tickets.attach(ticket, event, blob=blob, filename=archive_filename(ticket.ref, version),
                          content_type=PDF_CONTENT_TYPE)


# -- PDF ----------------------------------------------------------------------------------------------------

FONT: Final = "HelpdeskVera"
FONT_BOLD: Final = "HelpdeskVera-Bold"
PAGE_MARGIN: Final = 18 * mm
GREY: Final = colors.HexColor("#555555")
RULE: Final = colors.HexColor("#999999")
SHADE: Final = colors.HexColor("#eeeeee")


def _register_fonts() -> None:
    """Bitstream Vera (bundled with ReportLab): a TrueType font, so Latin text beyond ASCII prints as written."""
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    pdfmetrics.registerFont(TTFont(FONT, "Vera.ttf"))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, "VeraBd.ttf"))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=8.5, leading=11, splitLongWords=1)
    return {
        "base": base,
        "office": ParagraphStyle("office", base, fontName=FONT_BOLD, fontSize=13, leading=16, alignment=TA_CENTER),
        "office_line": ParagraphStyle("office_line", base, fontSize=8.5, leading=11, alignment=TA_CENTER,
                                      textColor=GREY),
        "title": ParagraphStyle("title", base, fontName=FONT_BOLD, fontSize=14, leading=18, alignment=TA_CENTER,
                                spaceBefore=6),
        "ref": ParagraphStyle("ref", base, fontSize=10, leading=13, alignment=TA_CENTER, spaceAfter=5),
        "section": ParagraphStyle("section", base, fontName=FONT_BOLD, fontSize=10, leading=13, spaceBefore=8,
                                  spaceAfter=3),
        "label": ParagraphStyle("label", base, textColor=GREY),
        "small": ParagraphStyle("small", base, fontSize=8, leading=10, textColor=GREY),
        "cell_bold": ParagraphStyle("cell_bold", base, fontName=FONT_BOLD),
        "right": ParagraphStyle("right", base, alignment=TA_RIGHT),
    }


def _esc(value: object) -> str:
    """Text as Paragraph markup: &, < and > escaped."""
    return escape(str(value), quote=False)


def _text(value: str) -> str:
    """User text as Paragraph markup: escaped, line breaks kept."""
    lines = (value or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "<br/>".join(_esc(line) for line in lines)


class _NumberedCanvas(Canvas):
    """A canvas that writes "<ref> · page n of m" at the foot of every page once it knows m."""

    footer_text = ""
    page_label = "Page %(page)d of %(pages)d"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._draw_footer(number, total)
            super().showPage()
        super().save()

    def _draw_footer(self, number: int, total: int) -> None:
        width, _height = self._pagesize
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        self.line(PAGE_MARGIN, 12 * mm, width - PAGE_MARGIN, 12 * mm)
        self.setFont(FONT, 7.5)
        self.setFillColor(GREY)
        self.drawString(PAGE_MARGIN, 8 * mm, self.footer_text)
        self.drawRightString(width - PAGE_MARGIN, 8 * mm, self.page_label % {"page": number, "pages": total})
        self.restoreState()


def _canvas_class(footer: str, page_label: str) -> type[Canvas]:
    return type("_FormCanvas", (_NumberedCanvas,), {"footer_text": footer, "page_label": page_label})


Pair = tuple[str, str]
LABEL_WIDTH: Final = 30 * mm


def _pairs_table(rows: Iterable[Sequence[Pair]], styles: dict[str, ParagraphStyle], width: float) -> Table:
    """A grid of labels and values, two pairs a row; a row of one pair runs the full width.

    User text is escaped; a long value may run onto the next page.
    """
    value_width = width / 2 - LABEL_WIDTH
    data, commands = [], []
    for number, row in enumerate(rows):
        cells: list[Any] = []
        for column, (name, value) in enumerate(row):
            cells += [Paragraph(_esc(name), styles["label"]), Paragraph(_text(value) or "—", styles["base"])]
            commands.append(("BACKGROUND", (2 * column, number), (2 * column, number), SHADE))
        if len(row) == 1:
            cells += ["", ""]
            commands.append(("SPAN", (1, number), (3, number)))
        data.append(cells)
    table = Table(data, colWidths=[LABEL_WIDTH, value_width, LABEL_WIDTH, value_width], splitInRow=1,
                  hAlign="LEFT")
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, RULE), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 3), *commands,
    ]))
    return table


def _box(title: str, value: str, styles: dict[str, ParagraphStyle], width: float, *,
         empty_height: float) -> KeepTogether:
    """A titled frame holding free text; an empty frame keeps room for handwriting."""
    if value.strip():
        content: Any = [Paragraph(_text(part), styles["base"]) for part in value.strip().split("\n\n")]
        table = Table([[content]], colWidths=[width], splitInRow=1, hAlign="LEFT")
    else:
        table = Table([[""]], colWidths=[width], rowHeights=[empty_height], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 0.5, RULE), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]))
    return KeepTogether([Paragraph(_esc(title), styles["label"]), table, Spacer(1, 3)])


def render_pdf(copy: ConsultationCopy) -> bytes:
    """The consultation form as an A4 PDF: office header, title, the form's sections, the officer's and the
    visitor's initials boxes, and a footer with the reference and page numbers on every page."""
    _register_fonts()
    with force_locale(copy.locale):
        return _render_pdf(copy)


def _render_pdf(copy: ConsultationCopy) -> bytes:
    styles = _styles()
    width = A4[0] - 2 * PAGE_MARGIN
    story: list[Any] = []

    # Header: the office, the title, the reference.
    story.append(Paragraph(_esc(copy.office_name), styles["office"]))
    if copy.office_address:
        story.append(Paragraph(_text(copy.office_address), styles["office_line"]))
    contact = "  ·  ".join(part for part in (
        _("Phone %(phone)s", phone=copy.office_phone) if copy.office_phone else "",
        _("Email %(email)s", email=copy.office_email) if copy.office_email else "") if part)
    if contact:
        story.append(Paragraph(_esc(contact), styles["office_line"]))
    rule = Table([[""]], colWidths=[width], rowHeights=[4])
    rule.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 1.2, colors.black)]))
    story.append(rule)
    story.append(Paragraph(FORM_TITLE, styles["title"]))
    story.append(Paragraph(_esc(_("Ticket %(ref)s", ref=copy.ref)), styles["ref"]))

    visit: list[Pair] = [(_("Ticket number"), copy.ref)]
    if copy.queue_label:
        visit.append((_("Queue number"), copy.queue_label))
    if copy.service_type_label:
        visit.append((_("Service"), copy.service_type_label))
    visit += [(_("Arrived"), copy.arrived_at_label), (_("Printed"), copy.printed_at_label)]
    story.append(_pairs_table(_two_by_two(visit), styles, width))

    # The visitor's part.
    story.append(Paragraph(_esc(_("A. Visitor (filled in by the visitor)")), styles["section"]))
    story.append(_pairs_table([
        [(_("Name"), copy.visitor_name), (_("Agency / company"), copy.visitor_organization)],
        [(_("Role in SPSE"), copy.visitor_role), (_("Phone"), copy.visitor_phone)],
        [(_("Email"), copy.visitor_email), (_("Address"), copy.visitor_address)],
        *_identity_rows(copy),
    ], styles, width))

    story.append(Paragraph(_esc(_("B. Problem")), styles["section"]))
    story.append(_pairs_table([
        [(_("Subject"), copy.subject)],
        [(_("Application"), copy.application), (_("Tender / package code"), copy.tender_code)],
        [(_("Error message"), copy.error_message)],
        [(_("Attached files"), ", ".join(copy.attachments))],
    ], styles, width))
    story.append(Spacer(1, 4))
    story.append(_box(_("Description of the problem"), copy.description, styles, width, empty_height=30 * mm))

    # The checklist of the service type.
    if copy.checklist:
        story.append(Paragraph(_esc(_("C. Checklist: %(service)s", service=copy.service_type_label)),
                               styles["section"]))
        head = [Paragraph(_esc(text), styles["cell_bold"])
                for text in ("#", _("Step"), _("Result"), _("Time"), _("Note"))]
        data = [head] + [[
            Paragraph(str(number), styles["base"]), Paragraph(_esc(line.label), styles["base"]),
            Paragraph(_esc(line.result_label), styles["base"]), Paragraph(_esc(line.answered_at), styles["base"]),
            Paragraph(_text(line.note), styles["base"]),
        ] for number, line in enumerate(copy.checklist, start=1)]
        table = Table(data, colWidths=[7 * mm, 66 * mm, 18 * mm, 34 * mm, width - 125 * mm], repeatRows=1,
                      splitInRow=1, hAlign="LEFT")
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.5, RULE), ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (-1, 0), SHADE), ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ]))
        story.append(table)

    # The officer's part.
    letter = "D" if copy.checklist else "C"
    story.append(Paragraph(_esc(_("%(letter)s. Answer (filled in by the officer)", letter=letter)),
                           styles["section"]))
    story.append(_box(_("Analysis"), copy.analysis, styles, width, empty_height=20 * mm))
    story.append(_box(_("Answer / solution"), copy.answer, styles, width, empty_height=32 * mm))

    # Outcome and initials: the officer's (name and time as recorded) and the visitor's (signed on paper).
    half = width / 2
    officer_lines = [Paragraph(_esc(_("Officer (initials)")), styles["cell_bold"]), Spacer(1, 12 * mm)]
    if copy.initialled:
        officer_lines += [Paragraph(_esc(copy.officer_name), styles["base"]),
                          Paragraph(_esc(copy.initialled_at_label), styles["small"])]
    else:
        officer_lines += [Paragraph("(........................................)", styles["base"])]
    visitor_lines = [Paragraph(_esc(_("Visitor")), styles["cell_bold"]), Spacer(1, 12 * mm),
                     Paragraph(_esc(copy.visitor_name), styles["base"])]
    signatures = Table([[officer_lines, visitor_lines]], colWidths=[half, half], hAlign="LEFT")
    signatures.setStyle(TableStyle([
        ("BOX", (0, 0), (0, 0), 0.5, RULE), ("BOX", (1, 0), (1, 0), 0.5, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
    ]))
    story.append(KeepTogether([
        _pairs_table([[(_("Outcome"), copy.outcome_label)]], styles, width), Spacer(1, 8), signatures,
        Spacer(1, 4), Paragraph(_esc(_("The visitor keeps this copy; the ticket %(ref)s is the office's archive.",
                                       ref=copy.ref)), styles["small"]),
    ]))

    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=PAGE_MARGIN, rightMargin=PAGE_MARGIN, topMargin=14 * mm,
        bottomMargin=17 * mm, title=f"{FORM_TITLE} {copy.ref}", author=copy.office_name,
        subject=copy.subject, creator="LPSE Helpdesk", lang=copy.locale)
    footer = f"{FORM_TITLE} · {copy.ref} · {copy.office_name}"
    # "%(page)d" stays a placeholder for the canvas, which fills it in once it knows the number of pages.
    page_label = _("Page %(page)s of %(pages)s", page="%(page)d", pages="%(pages)d")
    document.build(story, canvasmaker=_canvas_class(footer, page_label))
    return buffer.getvalue()


def _identity_rows(copy: ConsultationCopy) -> list[list[Pair]]:
    """NPWP, NIK and SPSE User ID, two to a row; none when the visitor gave none."""
    pairs = [(name, value) for name, value in (("NPWP", copy.visitor_npwp), ("NIK", copy.visitor_nik),
                                               (_("SPSE User ID"), copy.visitor_user_id)) if value]
    return _two_by_two(pairs)


def _two_by_two(pairs: list[Pair]) -> list[list[Pair]]:
    return [pairs[index:index + 2] for index in range(0, len(pairs), 2)]
