"""The FAQ search index: each matchable entry's normalised tokens in ``faq_search``, and the ranker over them.

Stores (migration 0006): SQLite ``faq_search`` is an FTS5 table (rowid = faq_entry.id); PostgreSQL ``faq_search``
holds the same two token strings plus a weighted tsvector (config ``simple``: question 'A', answer 'B') under a
GIN index. Only entries that can be matched are in it: public or internal, not retired (drafts never).

Ranking: one BM25F in Python over the stored tokens, the same on both stores (so they rank identically; the
stores' own ``bm25()`` / ``ts_rank_cd`` are kept as ``store_search`` and compared in bench/faq.py). The tokens
and their statistics are loaded once per process and reloaded when the index changes: at once in this process
(index_entry, remove_entry, rebuild_index), and within one query elsewhere (a fingerprint of faq_entry --
row count, highest id, latest update -- is compared on every query).

Writes flush, never commit: the caller's transaction decides.
"""
from __future__ import annotations

import heapq
import math
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from flask import current_app

from helpdesk.extensions import db
from helpdesk.models import FaqEntry

from .normalize import INDEX_MAX_CHARS, normalise_text

MATCHABLE = ("public", "internal")

# BM25F parameters: the question (with its alternatives and topic) weighs more than the answer.
K1 = 1.2
WEIGHT_QUESTION = 2.0
WEIGHT_ANSWER = 1.0
B_QUESTION = 0.75
B_ANSWER = 0.75

_lock = threading.Lock()


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def entry_texts(entry: FaqEntry) -> tuple[str, str]:
    """The token strings stored for ``entry``: (question + alternatives + topic, answer)."""
    alternatives = [a for a in (entry.alternatives or []) if isinstance(a, str)]
    topic = (entry.topic or "").replace("_", " ")
    question = "\n".join([entry.question or "", *alternatives, topic])
    return (normalise_text(question, max_chars=INDEX_MAX_CHARS, max_tokens=20_000),
            normalise_text(entry.answer or "", max_chars=INDEX_MAX_CHARS, max_tokens=20_000))


def _write(entry_id: int, question: str, answer: str) -> None:
    if _dialect() == "sqlite":
        db.session.execute(sa.text("DELETE FROM faq_search WHERE rowid = :id"), {"id": entry_id})
        db.session.execute(sa.text("INSERT INTO faq_search (rowid, question, answer) VALUES (:id, :q, :a)"),
                           {"id": entry_id, "q": question, "a": answer})
    else:
        db.session.execute(sa.text(
            "INSERT INTO faq_search (entry_id, question, answer, vector) VALUES (:id, :q, :a, "
            "setweight(to_tsvector('simple', :q), 'A') || setweight(to_tsvector('simple', :a), 'B')) "
            "ON CONFLICT (entry_id) DO UPDATE SET question = excluded.question, answer = excluded.answer, "
            "vector = excluded.vector"), {"id": entry_id, "q": question, "a": answer})


def _delete(entry_id: int) -> None:
    column = "rowid" if _dialect() == "sqlite" else "entry_id"
    db.session.execute(sa.text(f"DELETE FROM faq_search WHERE {column} = :id"), {"id": entry_id})


def is_matchable(entry: FaqEntry) -> bool:
    return entry.retired_at is None and entry.visibility in MATCHABLE


def index_entry(entry: FaqEntry) -> None:
    """Bring ``entry``'s row in faq_search up to date: written when public/internal and not retired, else removed."""
    if entry.id is None:
        db.session.flush()
    if is_matchable(entry):
        _write(entry.id, *entry_texts(entry))
    else:
        _delete(entry.id)
    db.session.flush()
    invalidate()


def remove_entry(entry_id: int) -> None:
    """Take an entry out of the index (e.g. before deleting it)."""
    _delete(entry_id)
    db.session.flush()
    invalidate()


def rebuild_index() -> int:
    """Re-write faq_search from every entry (after a normaliser or stemmer change); returns the count indexed."""
    db.session.execute(sa.text("DELETE FROM faq_search"))
    count = 0
    for entry in db.session.scalars(sa.select(FaqEntry).order_by(FaqEntry.id)):
        if is_matchable(entry):
            _write(entry.id, *entry_texts(entry))
            count += 1
    db.session.flush()
    invalidate()
    return count


# -- the in-memory ranker ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Doc:
    entry_id: int
    key: str
    question: str
    visibility: str
    auto_answer: bool


@dataclass(frozen=True)
class Ranked:
    doc: Doc
    score: float
    coverage: float  # share of the question's idf mass that this entry contains (0..1)
    question_coverage: float  # the same, counted on the entry's question field only


@dataclass
class SearchIndex:
    """Postings and statistics of the indexed tokens; ``rank`` is BM25F over question and answer."""

    docs: list[Doc] = field(default_factory=list)
    postings: dict[str, list[int]] = field(default_factory=dict)  # term -> docs containing it
    weighted: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # term -> (doc, saturated tf)
    public: list[bool] = field(default_factory=list)
    weights: list[dict[str, float]] = field(default_factory=list)  # per doc: term -> saturated BM25F tf
    in_question: list[frozenset[str]] = field(default_factory=list)
    idf: dict[str, float] = field(default_factory=dict)
    terms: frozenset[str] = frozenset()
    choices: list[str] = field(default_factory=list)
    unknown_idf: float = 0.0
    common_df: int = 0
    fingerprint: Any = None

    @classmethod
    def build(cls, rows: Iterable[tuple[Doc, str, str]], fingerprint: Any = None) -> SearchIndex:
        index = cls(fingerprint=fingerprint)
        fields: list[tuple[Counter, int, Counter, int]] = []
        for doc, question, answer in rows:
            q, a = question.split(), answer.split()
            index.docs.append(doc)
            fields.append((Counter(q), len(q), Counter(a), len(a)))
            index.in_question.append(frozenset(q))
            index.public.append(doc.visibility == "public")
        n = len(fields)
        avg_q = (sum(f[1] for f in fields) / n) if n else 1.0
        avg_a = (sum(f[3] for f in fields) / n) if n else 1.0
        for i, (tq, lq, ta, la) in enumerate(fields):
            norm_q = 1 - B_QUESTION + B_QUESTION * lq / (avg_q or 1)
            norm_a = 1 - B_ANSWER + B_ANSWER * la / (avg_a or 1)
            weights = {}
            for term in set(tq) | set(ta):
                tf = WEIGHT_QUESTION * tq.get(term, 0) / norm_q + WEIGHT_ANSWER * ta.get(term, 0) / norm_a
                weights[term] = tf / (K1 + tf)
                index.postings.setdefault(term, []).append(i)
                index.weighted.setdefault(term, []).append((i, weights[term]))
            index.weights.append(weights)
        for term, docs in index.postings.items():
            df = len(docs)
            index.idf[term] = math.log(1 + (n - df + 0.5) / (df + 0.5))
        index.unknown_idf = math.log(1 + (n + 0.5) / 0.5) if n else 1.0
        index.terms = frozenset(index.postings)
        index.choices = sorted(index.terms)
        index.common_df = max(64, n // 20)
        return index

    def _scores(self, terms: list[str], candidates: Iterable[int] | None) -> dict[int, float]:
        scores: dict[int, float] = {}
        if candidates is None:
            get = scores.get
            for term in terms:
                idf = self.idf[term]
                for i, saturated in self.weighted[term]:
                    scores[i] = get(i, 0.0) + idf * saturated
            return scores
        for i in candidates:
            weights = self.weights[i]
            scores[i] = sum(self.idf[t] * weights[t] for t in terms if t in weights)
        return scores

    def rank(self, tokens: list[str], *, include_internal: bool = False, limit: int = 3) -> list[Ranked]:
        """The best ``limit`` entries for the query tokens, best first (ties by key)."""
        query = list(dict.fromkeys(tokens))  # each term once: a repeated word in a chatty message is not evidence
        known = [t for t in query if t in self.idf]
        if not known or not self.docs:
            return []

        def top(scores: dict[int, float]) -> list[tuple[int, float]]:
            items = scores.items()
            if not include_internal:
                public = self.public
                items = [item for item in items if public[item[0]]]
            head = heapq.nlargest(limit + 8, items, key=itemgetter(1))  # then ties broken by key
            return sorted(head, key=lambda item: (-item[1], self.docs[item[0]].key))[:limit]

        # Exact top-k, faster: candidates come from the rarer terms; an entry holding only common terms cannot
        # score more than the sum of their idf, so the shortcut stands when the k-th candidate beats that bound.
        rare = [t for t in known if len(self.postings[t]) <= self.common_df]
        common = [t for t in known if len(self.postings[t]) > self.common_df]
        best = None
        if rare and common:
            candidates = set().union(*(self.postings[t] for t in rare))
            best = top(self._scores(known, candidates))
            bound = sum(self.idf[t] for t in common)
            if len(best) < limit or best[-1][1] < bound:
                best = None
        if best is None:
            best = top(self._scores(known, None))
        total = sum(self.idf.get(term, self.unknown_idf) for term in query) or 1.0
        ranked = []
        for i, score in best:
            covered = sum(self.idf[t] for t in known if t in self.weights[i])
            in_q = sum(self.idf[t] for t in known if t in self.in_question[i])
            ranked.append(Ranked(self.docs[i], score, covered / total, in_q / total))
        return ranked


def _fingerprint() -> tuple:
    row = db.session.execute(sa.select(sa.func.count(FaqEntry.id), sa.func.max(FaqEntry.id),
                                       sa.func.max(FaqEntry.updated_at))).one()
    return (str(db.engine.url), tuple(row))


def _load(fingerprint: Any) -> SearchIndex:
    id_column = "s.rowid" if _dialect() == "sqlite" else "s.entry_id"
    rows = db.session.execute(sa.text(
        f"SELECT {id_column}, e.key, e.question, e.visibility, e.auto_answer, s.question, s.answer "
        f"FROM faq_search s JOIN faq_entry e ON e.id = {id_column} "
        f"WHERE e.retired_at IS NULL ORDER BY {id_column}"))
    return SearchIndex.build(((Doc(r[0], r[1], r[2], r[3], bool(r[4])), r[5] or "", r[6] or "")
                              for r in rows), fingerprint)


def _state() -> dict:
    return current_app.extensions.setdefault("faq_index", {"index": None, "generation": 0})


def invalidate() -> None:
    """Forget the loaded index (this process): the next query reloads it."""
    state = _state()
    with _lock:
        state["index"] = None
        state["generation"] += 1


def current_index() -> SearchIndex:
    """The loaded index, reloaded when faq_entry changed since (in any process)."""
    state = _state()
    fingerprint = (_fingerprint(), state["generation"])
    index = state["index"]
    if index is None or index.fingerprint != fingerprint:
        index = _load(fingerprint)
        with _lock:
            state["index"] = index
    return index


def vocabulary() -> frozenset[str]:
    """Every stem in the index (for typo correction); cached with the index."""
    return current_index().terms


# -- the stores' own ranking (measured against the Python ranker in bench/faq.py) ---------------------------------

def store_search(tokens: list[str], *, limit: int = 10) -> list[tuple[int, float]]:
    """(entry id, score) best first by the store's own ranking of an OR query: FTS5 ``bm25(faq_search, 2, 1)``
    on SQLite, ``ts_rank_cd`` with weights A=1.0, B=0.5 on PostgreSQL."""
    terms = [t for t in dict.fromkeys(tokens) if t.isalnum()]
    if not terms:
        return []
    if _dialect() == "sqlite":
        expression = " OR ".join(f'"{t}"' for t in terms)
        rows = db.session.execute(sa.text(
            "SELECT rowid, -bm25(faq_search, :wq, :wa) AS score FROM faq_search WHERE faq_search MATCH :q "
            "ORDER BY bm25(faq_search, :wq, :wa) LIMIT :limit"),
            {"q": expression, "wq": WEIGHT_QUESTION, "wa": WEIGHT_ANSWER, "limit": limit})
    else:
        expression = " | ".join(f"'{t}'" for t in terms)
        rows = db.session.execute(sa.text(
            "SELECT entry_id, ts_rank_cd('{0, 0, 0.5, 1.0}', vector, to_tsquery('simple', :q)) AS score "
            "FROM faq_search WHERE vector @@ to_tsquery('simple', :q) ORDER BY score DESC, entry_id LIMIT :limit"),
            {"q": expression, "limit": limit})
    return [(int(r[0]), float(r[1])) for r in rows]
