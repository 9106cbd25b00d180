"""The FAQ's answer to "is this question already answered?", asked by the kiosk and the staff forms as text is
typed ("Mungkin ini jawaban Anda").

This is the hook the channels call. The knowledge base and the Indonesian matcher are issue 5; until they land
there are no FAQ entries to suggest, so ``suggest`` returns an empty list and the kiosk shows nothing.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Suggestion:
    """One FAQ entry offered for a question: its key, question, answer (sanitised HTML) and confidence 0..1."""

    key: str
    question: str
    answer_html: str
    confidence: float


def suggest(text: str, *, limit: int = 3) -> list[Suggestion]:
    """FAQ entries that may answer ``text``, best first. Empty: no knowledge base yet (issue 5)."""
    return []
