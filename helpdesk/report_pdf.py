"""The quarterly report as a PDF (ReportLab, the fonts of the printed consultation form)."""
from __future__ import annotations

import io
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .copies import FONT, FONT_BOLD, _register_fonts
from .models import Office


def quarterly_pdf(report: dict[str, Any], office: Office, *, headline_labels: dict[str, Any],
                  locale: str = "id") -> bytes:
    """A4 portrait: the office, the quarter, and each headline figure beside the quarter before and the change."""
    _register_fonts()
    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=12)
    title = ParagraphStyle("title", base, fontName=FONT_BOLD, fontSize=13, leading=17)
    out = io.BytesIO()
    with force_locale(locale):
        heading = _("Quarterly helpdesk report, quarter %(q)d of %(year)d", q=report["quarter"], year=report["year"])
        rows = [[_("Figure"), _("This quarter"), _("Quarter before"), _("Change")]]
        for item in report["headlines"]:
            rows.append([str(headline_labels.get(item["name"], item["name"])), _number(item["current"]),
                         _number(item["previous"]), _change(item)])
        note = _("Until yesterday: the quarter is still running.") if report["partial"] else ""
        produced = _("Produced %(time)s from the ticket history.", time=report["generated_at"][:16].replace("T", " "))
    table = Table(rows, colWidths=[80 * mm, 30 * mm, 30 * mm, 30 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 9), ("FONT", (0, 0), (-1, 0), FONT_BOLD, 9),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#999999")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")), ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
    ]))
    story = [Paragraph(office.name, title), Paragraph(heading, base), Spacer(1, 6 * mm), table]
    if note:
        story += [Spacer(1, 3 * mm), Paragraph(note, base)]
    story += [Spacer(1, 3 * mm), Paragraph(produced, base)]
    SimpleDocTemplate(out, pagesize=A4, title=heading, author=office.name, leftMargin=18 * mm,
                      rightMargin=18 * mm, topMargin=18 * mm, bottomMargin=18 * mm).build(story)
    return out.getvalue()


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}"
    return str(int(value)) if isinstance(value, float) else str(value)


def _change(item: dict[str, Any]) -> str:
    if item["change"] is None:
        return "—"
    text = ("+" if item["change"] > 0 else "") + _number(item["change"])
    if item["change_share"] is not None:
        text += f" ({item['change_share'] * 100:+.0f}%)"
    return text
