"""The FAQ's answer to "is this question already answered?", asked by the kiosk and the staff forms as text is
typed ("Mungkin ini jawaban Anda"), and shown on the ticket page ("Saran FAQ").

Built on ``faq.match.match``. The public kiosk gets public entries only (``suggest``); staff get internal entries
too (``staff_suggestions``). A match below a minimum confidence is not shown, so junk never reaches the screen.
Suggestions are a help, never a hindrance: a failing matcher gives an empty list, logged.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from markupsafe import escape

from helpdesk.extensions import db
from helpdesk.models import FaqEntry

log = logging.getLogger(__name__)

# Calibrated confidence (0..1, faq/match.py) a suggestion needs: lower for staff, who judge what they see.
PUBLIC_MIN_CONFIDENCE: Final = 0.35
STAFF_MIN_CONFIDENCE: Final = 0.2
TEXT_MAX: Final = 4000


@dataclass(frozen=True)
class Suggestion:
    """One FAQ entry offered for a question: its key, question, answer (sanitised HTML) and confidence 0..1."""

    key: str
    question: str
    answer_html: str
    confidence: float


@dataclass(frozen=True)
class StaffSuggestion:
    """A suggestion for an officer: also the answer as plain text (to insert into a reply) and the visibility."""

    key: str
    question: str
    answer_html: str
    answer_text: str
    confidence: float
    visibility: str

    def as_json(self) -> dict:
        return {"key": self.key, "question": self.question, "answer_html": self.answer_html,
                "answer_text": self.answer_text, "confidence": round(self.confidence, 3),
                "visibility": self.visibility}


def suggest(text: str, *, limit: int = 3) -> list[Suggestion]:
    """Public FAQ entries that may answer ``text``, best first, at most ``limit``."""
    return [Suggestion(entry.key, entry.question, _answer_html(entry), confidence)
            for entry, confidence in _found(text, limit=limit, include_internal=False,
                                            minimum=PUBLIC_MIN_CONFIDENCE)]


def staff_suggestions(text: str, *, limit: int = 3) -> list[StaffSuggestion]:
    """Public and internal FAQ entries that may answer ``text``, for an officer's reply, best first."""
    from .autoanswer import answer_text

    return [StaffSuggestion(entry.key, entry.question, _answer_html(entry), answer_text(entry), confidence,
                            entry.visibility)
            for entry, confidence in _found(text, limit=limit, include_internal=True, minimum=STAFF_MIN_CONFIDENCE)]


def _found(text: str, *, limit: int, include_internal: bool, minimum: float) -> list[tuple[FaqEntry, float]]:
    text = (text or "")[:TEXT_MAX]
    if not text.strip() or limit <= 0:
        return []
    from . import match as matching

    try:
        result = matching.match(text, top=limit, include_internal=include_internal)
    except Exception:
        log.exception("FAQ matching failed for a suggestion")
        return []
    found = []
    for match in result.matches[:limit]:
        if match.confidence < minimum:
            continue
        entry = db.session.get(FaqEntry, match.entry_id)
        if entry is None or entry.retired_at is not None:
            continue
        if entry.visibility != "public" and not (include_internal and entry.visibility == "internal"):
            continue
        found.append((entry, float(match.confidence)))
    return found


def _answer_html(entry: FaqEntry) -> str:
    """The entry's sanitised HTML (written by the knowledge base); the escaped text if it has none yet."""
    if entry.answer_html:
        return entry.answer_html
    return str(escape(entry.answer or "")).replace("\n", "<br>")
