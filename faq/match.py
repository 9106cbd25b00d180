"""FAQ matching: the best entries for a question, each with a score and a calibrated confidence.

The contract the rest of the product relies on (issue 5):

- ``match(text, *, top=3, include_internal=False) -> MatchResult``: the best published entries for ``text``
  (public ones; internal ones too for staff), best first. Never raises on empty, huge or binary text: it
  returns no matches.
- ``MatchResult.matches``: ``Match(entry_id, key, question, score, confidence)``; ``confidence`` is in 0..1 and
  calibrated on bench/faq.py's measurements, so that a threshold on it means the same across queries.
- ``MatchResult.auto_answer``: the key of the match intake may send automatically (public, auto_answer allowed,
  confidence at or above the ``faq.auto_answer_threshold`` setting, clear of the runner-up), or None.

Implemented in this module; faq/index.py keeps the search index (``faq_search``) in step with the entries.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from helpdesk.settings import get_setting

from .index import Ranked, current_index
from .normalize import normalise

MAX_QUESTION_CHARS = 20_000  # a longer "question" (a pasted log, an attachment) gets no suggestion
MAX_TOP = 50

# Confidence: a logistic curve over three features of a ranked entry, fitted by ``bench/faq.py --fit`` on the
# development queries (in-sample: 36 positives, 8 negatives; its leave-one-out figures are printed too):
#   coverage   share of the question's idf mass found in the entry (unknown words count at the highest idf)
#   margin     (score - best other score) / score: 1 when nothing else matches, <= 0 below the top
#   q_coverage share of the question's idf mass found in the entry's question and alternatives
CALIBRATION = {"bias": -1.84, "coverage": 1.16, "margin": 2.75, "q_coverage": 3.95}


@dataclass(frozen=True)
class Match:
    entry_id: int
    key: str
    question: str
    score: float
    confidence: float


@dataclass(frozen=True)
class MatchResult:
    matches: list[Match] = field(default_factory=list)
    auto_answer: str | None = None


def features(ranked: list[Ranked], position: int) -> dict[str, float]:
    """The calibration features of ``ranked[position]`` (see CALIBRATION)."""
    item = ranked[position]
    others = [r.score for j, r in enumerate(ranked) if j != position]
    best_other = max(others) if others else 0.0
    margin = (item.score - best_other) / item.score if item.score > 0 else 0.0
    return {"coverage": item.coverage, "margin": max(margin, -1.0), "q_coverage": item.question_coverage}


def confidence(values: dict[str, float], calibration: dict[str, float] | None = None) -> float:
    weights = calibration or CALIBRATION
    z = weights["bias"] + sum(weights[name] * value for name, value in values.items())
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def rank(text: object, *, top: int = 3, include_internal: bool = False) -> tuple[list[Ranked], list[str]]:
    """The ranked entries (at least two, for the margin) and the question's tokens; [] for unusable text."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) > MAX_QUESTION_CHARS * 4:
            return [], []
    elif not isinstance(text, str) or len(text) > MAX_QUESTION_CHARS:
        return [], []
    index = current_index()
    tokens = normalise(text, vocabulary=index.terms, choices=index.choices)
    return index.rank(tokens, include_internal=include_internal, limit=max(top, 2)), tokens


def match(text: object, *, top: int = 3, include_internal: bool = False) -> MatchResult:
    """The best entries for ``text`` with score and calibrated confidence, and the automatic answer if any."""
    try:
        top = max(1, min(int(top), MAX_TOP))
    except (TypeError, ValueError):
        top = 3
    ranked, _ = rank(text, top=top, include_internal=include_internal)
    if not ranked:
        return MatchResult([], None)
    matches = [Match(r.doc.entry_id, r.doc.key, r.doc.question, round(r.score, 4),
                     round(confidence(features(ranked, i)), 4)) for i, r in enumerate(ranked)]
    best, auto = ranked[0], None
    if (best.doc.visibility == "public" and best.doc.auto_answer and get_setting("faq.auto_answer")
            and matches[0].confidence >= float(get_setting("faq.auto_answer_threshold"))
            and matches[0].score > (matches[1].score if len(matches) > 1 else 0.0)):
        auto = best.doc.key
    return MatchResult(matches[:top], auto)
