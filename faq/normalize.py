"""Text -> search tokens for FAQ matching: the same pipeline for the entries (faq/index.py) and for questions.

``normalise(text)`` returns the tokens (stems) of ``text``, in order, duplicates kept:

1. bounds: anything not ``str``/``bytes`` gives no tokens; bytes are decoded as UTF-8 (bad bytes replaced); the
   text is cut to ``max_chars``; text that is mostly control/unassigned/replacement characters (binary) gives
   no tokens; other control characters become spaces. Never raises.
2. NFKC, case folding; URLs and email addresses removed; everything but letters and digits becomes a space.
3. multi-word expressions (``lexicon.PHRASES``: "kata sandi" -> password, greetings dropped).
4. per word: reduplication written with a 2 ("langkah2" -> langkah); digits-only words kept only at 3-4 digits
   (call-centre numbers, error codes; not NPWP, tender codes or phone numbers); letters repeated three times
   or more squeezed ("tolonggg" -> tolong, "maaaaf" -> maaf when the doubled form is a known word); "non" joins
   the next word ("non-penyedia" -> nonpenyedia, so it does not match "penyedia").
5. informal words, abbreviations, domain synonyms and English (``lexicon.SLANG``, ``SYNONYMS``, ``ENGLISH``)
   to the formal word the entries use; then stop words dropped.
6. with a ``vocabulary`` (the index's stems; questions only): colloquial affixes ("dinonaktifin" ->
   dinonaktifkan, "ngupload"/"keupload" -> upload) and typo tolerance (rapidfuzz ratio against the vocabulary,
   only for words of 5+ letters that are not in it, cut-off 88) -- each accepted only when it lands on a stem the
   index knows.
7. stemming: Snowball Indonesian (PyStemmer, the algorithm PostgreSQL's ``indonesian`` dictionary uses);
   ``use_stemmer("sastrawi")`` switches to pysastrawi when installed (measured by bench/faq.py; Snowball won).
"""
from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from . import lexicon

MAX_CHARS = 20_000  # a question longer than this is cut (an entry's text is indexed up to INDEX_MAX_CHARS)
INDEX_MAX_CHARS = 200_000
MAX_TOKENS = 400  # tokens kept from one question
MAX_WORD = 40  # longer "words" are noise (base64, hashes)
FUZZY_MIN_LENGTH = 5
FUZZY_CUTOFF = 88

_URL = re.compile(r"(?:https?://|ftp://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NON_WORD = re.compile(r"[\W_]+")
_REDUP = re.compile(r"^([^\W\d_]{2,})2$")
_RUN3 = re.compile(r"(.)\1{2,}")

_WORDS: dict[str, str] = {**lexicon.ENGLISH, **lexicon.SYNONYMS, **lexicon.SLANG}
_KNOWN: frozenset[str] = frozenset(_WORDS) | frozenset(_WORDS.values()) | lexicon.STOP_WORDS
_PHRASES = sorted(lexicon.PHRASES.items(), key=lambda item: -len(item[0]))
_PHRASE_RE = re.compile(r"(?<!\w)(" + "|".join(re.escape(p) for p, _ in _PHRASES) + r")(?!\w)")
_PHRASE_MAP = dict(_PHRASES)


# -- stemmers -------------------------------------------------------------------------------------------------

class _Snowball:
    name = "snowball"

    def __init__(self) -> None:
        import Stemmer  # PyStemmer

        self._stemmer = Stemmer.Stemmer("indonesian")
        self._lock = threading.Lock()  # a PyStemmer object is not safe to share between threads

    def stem(self, word: str) -> str:
        with self._lock:
            return self._stemmer.stemWord(word)


class _Sastrawi:
    name = "sastrawi"

    def __init__(self) -> None:
        from Sastrawi.Stemmer.StemmerFactory import StemmerFactory  # pysastrawi (optional)

        self._stemmer = StemmerFactory().create_stemmer()
        self._lock = threading.Lock()

    def stem(self, word: str) -> str:
        if not word.isalpha():
            return word
        with self._lock:
            return self._stemmer.stem(word) or word


class _NoStemmer:
    name = "none"

    def stem(self, word: str) -> str:
        return word


_STEMMERS = {"snowball": _Snowball, "sastrawi": _Sastrawi, "none": _NoStemmer}
_stemmer: Any = None
_stemmer_name = "snowball"


def use_stemmer(name: str) -> None:
    """Switch the stemmer (``snowball`` or ``sastrawi``); the index must be rebuilt afterwards."""
    global _stemmer, _stemmer_name
    if name not in _STEMMERS:
        raise ValueError(f"unknown stemmer {name!r}")
    _stemmer_name, _stemmer = name, None
    stem.cache_clear()


def stemmer_name() -> str:
    return _stemmer_name


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """The stem of one formal, lower-case word."""
    global _stemmer
    if _stemmer is None:
        _stemmer = _STEMMERS[_stemmer_name]()
    return _stemmer.stem(word) or word


# -- the pipeline ----------------------------------------------------------------------------------------------

def _clean(text: Any, max_chars: int) -> str:
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text[: max_chars * 4]).decode("utf-8", errors="replace")
    if not isinstance(text, str) or not text:
        return ""
    text = text[:max_chars]
    bad = sum(1 for ch in text if ch == "\ufffd" or (unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn")
                                                    and ch not in "\t\n\r"))
    if bad > max(2, len(text) // 20):  # binary, not text
        return ""
    text = unicodedata.normalize("NFKC", text)[:max_chars].casefold()
    text = _URL.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    text = _NON_WORD.sub(" ", text)  # punctuation, symbols, control characters
    return f" {text} "


def _phrases(text: str) -> str:
    return _PHRASE_RE.sub(lambda m: f" {_PHRASE_MAP[m.group(1)]} ", text)


def _squeeze(word: str, vocabulary: frozenset[str] | None) -> str:
    if not _RUN3.search(word):
        return word
    doubled = _RUN3.sub(r"\1\1", word)
    if doubled in _KNOWN or (vocabulary is not None and stem(doubled) in vocabulary):
        return doubled
    return _RUN3.sub(r"\1", word)


def _words(text: str, vocabulary: frozenset[str] | None) -> Iterable[str]:
    """Formal words of the cleaned text, stop words dropped (not yet stemmed)."""
    words = text.split()
    for n, word in enumerate(words):
        if word == "non" and n + 1 < len(words):  # "non-penyedia": one word, not "penyedia"
            words[n + 1] = "non" + words[n + 1]
            continue
        if len(word) > MAX_WORD:
            continue
        match = _REDUP.match(word)
        if match:
            word = match.group(1)
        if word.isdigit():
            if 3 <= len(word) <= 4:
                yield word
            continue
        word = _squeeze(word, vocabulary)
        mapped = _WORDS.get(word, word)
        for part in mapped.split():
            part = lexicon.SYNONYMS.get(part, part)
            for formal in part.split():
                if formal not in lexicon.STOP_WORDS and len(formal) > 1:
                    yield formal


def _colloquial(word: str, vocabulary: frozenset[str]) -> str | None:
    """A formal form of a colloquial word whose stem the index knows, or None."""
    candidates = []
    if word.endswith("in") and len(word) > 5:
        candidates.append(word[:-2] + "kan")  # dinonaktifin -> dinonaktifkan
    for prefix in ("nge", "ng", "ke"):
        if word.startswith(prefix) and len(word) - len(prefix) >= 4:
            candidates.append(word[len(prefix):])  # ngupload -> upload, keupload -> upload
    for candidate in candidates:
        candidate = _WORDS.get(candidate, candidate)
        if " " not in candidate and stem(candidate) in vocabulary:
            return stem(candidate)
    return None


def _fuzzy(token: str, vocabulary: frozenset[str], choices: list[str] | None) -> str | None:
    if len(token) < FUZZY_MIN_LENGTH or not token.isalpha() or not choices:
        return None
    from rapidfuzz import fuzz, process

    found = process.extractOne(token, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
    return found[0] if found else None


def normalise(text: Any, *, vocabulary: frozenset[str] | None = None, choices: list[str] | None = None,
              max_chars: int = MAX_CHARS, max_tokens: int = MAX_TOKENS) -> list[str]:
    """The search tokens (stems) of ``text``; [] for empty, binary or non-text input. Never raises.

    ``vocabulary``: the stems the index knows (faq.index.vocabulary()), for a question: enables colloquial
    affixes and typo correction onto known stems (``choices``: the same stems as a list, for rapidfuzz).
    """
    try:
        cleaned = _clean(text, max_chars)
        if not cleaned.strip():
            return []
        tokens: list[str] = []
        for word in _words(_phrases(cleaned), vocabulary):
            token = stem(word)
            if vocabulary is not None and token not in vocabulary and not word.isdigit():
                token = (_colloquial(word, vocabulary) or _fuzzy(token, vocabulary, choices)
                         or _fuzzy(word, vocabulary, choices) or token)
            tokens.append(token)
            if len(tokens) >= max_tokens:
                break
        return tokens
    except Exception:  # noqa: BLE001 - a question that cannot be read has no tokens, never an error
        return []


def normalise_text(text: Any, **kw: Any) -> str:
    """The tokens joined by spaces: what faq_search stores."""
    return " ".join(normalise(text, **kw))
