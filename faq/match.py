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
