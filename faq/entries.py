"""The FAQ knowledge base: create, edit, publish and retire entries, each change a new version with who made it.

Every verb validates first and changes nothing on bad input (``ValidationError`` with a message meant for the
editor), bumps ``FaqEntry.version``, writes a ``FaqVersion`` row holding the entry's fields after the change, and
hands the entry to ``faq.index.index_entry`` so the search index stays in step (the index decides itself whether a
draft or retired entry is searchable). Verbs flush, never commit: the caller (view, CLI, import) owns the
transaction.

Answers are Markdown; ``render_answer`` turns them into HTML that is safe to show on the public page and in
emails (no script, style, frames or event handlers; links only http, https and mailto, with rel="noopener
noreferrer").
"""
from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from html import escape as html_escape
from typing import Any, Final

import markdown
import nh3
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.models import FaqEntry, FaqVersion, Staff, Ticket, TicketEvent
from helpdesk.states import Status
from helpdesk.timeutil import as_utc, utcnow
from helpdesk.vocab import Application

log = logging.getLogger(__name__)

VISIBILITIES: Final = ("public", "internal", "draft")
PUBLISHED: Final = ("public", "internal")
SOURCES: Final = ("lpse", "lkpp", "ticket")
# Who may write the knowledge base; every logged-in officer may read it, internal entries included.
EDITOR_ROLES: Final = frozenset({"admin", "helpdesk"})

KEY_MAX = 64
QUESTION_MAX = 1000
ANSWER_MAX = 20_000
ALTERNATIVES_MAX = 50
TOPIC_MAX = 60
SPSE_VERSION_MAX = 40
MARKDOWN_MAX_BRACKETS = 1000  # see render_answer
KEY_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# "Re:", "Fwd:", "[#TST-2026-000001]" ... in front of an email ticket's subject: not the requester's question.
_REPLY_PREFIX: Final = re.compile(r"^(?:(?:re|fw|fwd|aw|balas|tr)\s*:\s*|\[[^\]]*\]\s*)+", re.IGNORECASE)
RESERVED_KEYS: Final = frozenset({"admin", "saran", "jawaban"})  # /faq/<word> pages that are not entries

# The fields an editor changes, in the order forms, versions and packs list them.
FIELDS: Final = ("question", "alternatives", "answer", "topic", "application", "spse_version", "visibility",
                 "source", "review_by", "auto_answer")

_MARKDOWN_EXTENSIONS: Final = ("sane_lists", "fenced_code", "tables", "nl2br")
_ALLOWED_TAGS: Final = frozenset({
    "p", "br", "hr", "strong", "em", "b", "i", "u", "del", "s", "sub", "sup", "code", "pre", "kbd", "blockquote",
    "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
})
_CLEANER = nh3.Cleaner(
    tags=set(_ALLOWED_TAGS),
    clean_content_tags={"script", "style", "iframe", "object", "embed", "template", "noscript", "svg", "math",
                        "title", "textarea", "select"},
    attributes={"a": {"href", "title"}, "ol": {"start"}, "th": {"colspan", "rowspan"},
                "td": {"colspan", "rowspan"}},
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer",
    strip_comments=True,
)


# -- rendering ----------------------------------------------------------------------------------------------

def render_answer(text: str) -> str:
    """Markdown to sanitised HTML: the tight allow-list above, links only http/https/mailto with rel set.

    Text that would make Python-Markdown slow or recurse too deep (thousands of brackets, lists nested thousands
    deep; never a real answer) is shown as plain paragraphs instead.
    """
    text = text or ""
    if text.count("[") > MARKDOWN_MAX_BRACKETS:
        return _plain_html(text)
    try:
        html = markdown.markdown(text, extensions=list(_MARKDOWN_EXTENSIONS), output_format="html")
    except RecursionError:
        return _plain_html(text)
    return _CLEANER.clean(html).strip()


def _plain_html(text: str) -> str:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "\n".join("<p>" + html_escape(p).replace("\n", "<br>\n") + "</p>" for p in paragraphs)


# -- validation ---------------------------------------------------------------------------------------------

def clean_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validated, normalised copies of the editable fields in ``values`` (the others are refused).

    Raises ValidationError naming the first bad field. Checks each field on its own; ``check_complete`` checks
    the entry as a whole (an answer before publishing).
    """
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ValidationError(_l("Unknown FAQ field %(field)s.", field=", ".join(sorted(unknown))))
    cleaned: dict[str, Any] = {}
    for field, value in values.items():
        cleaned[field] = _CLEANERS[field](value)
    return cleaned


def check_complete(values: Mapping[str, Any]) -> None:
    """Raise ValidationError unless the entry has a question, and an answer and a topic when it is not a draft."""
    if not values.get("question"):
        raise ValidationError(_l("The question is required."))
    if values.get("visibility", "draft") != "draft":
        if not values.get("answer"):
            raise ValidationError(_l("A published entry needs an answer."))
        if not values.get("topic"):
            raise ValidationError(_l("A published entry needs a topic."))


def clean_key(value: Any) -> str:
    """A valid entry key (letters, digits, dot, dash, underscore; up to 64), or ValidationError."""
    key = value.strip() if isinstance(value, str) else ""
    if not KEY_PATTERN.match(key) or key.lower() in RESERVED_KEYS:
        raise ValidationError(_l("The key must be 1 to 64 letters, digits, dots, dashes or underscores, starting "
                                 "with a letter or a digit; \"admin\", \"saran\" and \"jawaban\" are taken."))
    return key


def _text(value: Any, *, field: str, limit: int, required: bool = False, multiline: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(_l("%(field)s must be text.", field=field))
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not multiline:
        value = " ".join(value.split())
    if required and not value:
        raise ValidationError(_l("%(field)s is required.", field=field))
    if len(value) > limit:
        raise ValidationError(_l("%(field)s is longer than %(n)d characters.", field=field, n=limit))
    return value


def _optional(value: Any, *, field: str, limit: int) -> str | None:
    return _text(value, field=field, limit=limit, multiline=False) or None


def _clean_alternatives(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise ValidationError(_l("The alternative phrasings must be a list of texts."))
    seen: set[str] = set()
    result: list[str] = []
    for item in value:
        text = _text(item, field="alternative", limit=QUESTION_MAX, multiline=False)
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            result.append(text)
    if len(result) > ALTERNATIVES_MAX:
        raise ValidationError(_l("At most %(n)d alternative phrasings.", n=ALTERNATIVES_MAX))
    return result


def _choice(value: Any, allowed: Iterable[str], message) -> Any:
    if value not in tuple(allowed):
        raise ValidationError(message)
    return value


def _clean_application(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, str) and value.strip().lower() in tuple(Application):
        return value.strip().lower()
    raise ValidationError(_l("Unknown application %(value)s: use one of %(allowed)s.", value=repr(value),
                             allowed=", ".join(Application)))


def _clean_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValidationError(_l("The review-by date must be a date (YYYY-MM-DD)."))


def _clean_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValidationError(_l("auto_answer must be true or false."))


_CLEANERS = {
    "question": lambda v: _text(v, field="question", limit=QUESTION_MAX, required=True, multiline=False),
    "alternatives": _clean_alternatives,
    "answer": lambda v: _text(v, field="answer", limit=ANSWER_MAX),
    "topic": lambda v: _optional(v, field="topic", limit=TOPIC_MAX),
    "application": _clean_application,
    "spse_version": lambda v: _optional(v, field="spse_version", limit=SPSE_VERSION_MAX),
    "visibility": lambda v: _choice(v, VISIBILITIES, _l("Visibility must be public, internal or draft.")),
    "source": lambda v: _choice(v, SOURCES, _l("Source must be lpse, lkpp or ticket.")),
    "review_by": _clean_date,
    "auto_answer": _clean_bool,
}


# -- verbs --------------------------------------------------------------------------------------------------

def create_entry(*, actor: Staff | None, question: str, answer: str = "", key: str | None = None,
                 alternatives: Iterable[str] | str = (), topic: str | None = None, application: str | None = None,
                 spse_version: str | None = None, visibility: str = "draft", source: str = "lpse",
                 source_ticket: Ticket | None = None, review_by: date | None = None, auto_answer: bool = True,
                 change: str = "created") -> FaqEntry:
    """Create an entry (version 1) with its first history row; ``key`` is made from the question when not given.

    ``alternatives`` is a list of phrasings, or text with one per line.

    Raises ValidationError on bad input, before anything is written. Flushes, never commits.
    """
    values = clean_fields({
        "question": question, "answer": answer,
        "alternatives": alternatives if isinstance(alternatives, str) else list(alternatives), "topic": topic,
        "application": application, "spse_version": spse_version, "visibility": visibility, "source": source,
        "review_by": review_by, "auto_answer": auto_answer})
    check_complete(values)
    if key is not None:
        key = clean_key(key)
        if db.session.scalar(select(FaqEntry.id).where(FaqEntry.key == key)) is not None:
            raise ValidationError(_l("Another entry already has the key %(key)s.", key=key))
    else:
        key = _new_key(values["question"])
    now = utcnow()
    entry = FaqEntry(key=key, version=1, answer_html=render_answer(values["answer"]),
                     source_ticket_id=source_ticket.id if source_ticket else None,
                     created_by_id=actor.id if actor else None, updated_by_id=actor.id if actor else None,
                     created_at=now, updated_at=now, **values)
    db.session.add(entry)
    db.session.flush()
    _record(entry, change, actor=actor, at=now)
    log.info("FAQ %s %s (v1, %s)", entry.key, change, entry.visibility)
    return entry


def update_entry(entry: FaqEntry, changes: Mapping[str, Any], *, actor: Staff | None,
                 change: str = "edited") -> FaqVersion | None:
    """Apply ``changes`` (a mapping of FIELDS) as a new version; None when nothing actually changed.

    Raises ValidationError on bad input, before anything is written. Flushes, never commits.
    """
    values = clean_fields(changes)
    check_complete({**_fields_of(entry), **values})
    diff = {field: value for field, value in values.items() if getattr(entry, field) != value}
    if not diff:
        return None
    for field, value in diff.items():
        setattr(entry, field, value)
    if "answer" in diff:
        entry.answer_html = render_answer(entry.answer)
    return _bump(entry, change, actor=actor)


def publish(entry: FaqEntry, *, actor: Staff | None, visibility: str = "public") -> FaqVersion | None:
    """Make the entry public or internal (bringing back a retired one); None when it already was.

    Raises ValidationError for another visibility or an entry without an answer. Flushes, never commits.
    """
    if visibility not in PUBLISHED:
        raise ValidationError(_l("An entry is published as public or internal."))
    if entry.visibility == visibility and entry.retired_at is None:
        return None
    check_complete({**_fields_of(entry), "visibility": visibility})
    entry.visibility = visibility
    entry.retired_at = None
    return _bump(entry, "published", actor=actor)


def retire(entry: FaqEntry, *, actor: Staff | None, at: datetime | None = None) -> FaqVersion | None:
    """Take the entry out of the FAQ page and of matching, keeping its row and history; None when already retired.

    Flushes, never commits.
    """
    if entry.retired_at is not None:
        return None
    entry.retired_at = as_utc(at) if at else utcnow()
    return _bump(entry, "retired", actor=actor, at=entry.retired_at)


def draft_from_ticket(ticket: Ticket, *, actor: Staff | None) -> FaqEntry:
    """"Jadikan FAQ": a draft entry from a resolved or closed ticket, for an editor to clean up and publish.

    The question is the ticket's subject (the requester's words), with the description as an alternative
    phrasing; the answer is the latest staff reply (or consultation answer), else the resolution note. The draft
    is never published here. When an entry already came from this ticket and is not retired, that entry is
    returned instead of a second one. Raises ValidationError for a ticket that is not resolved or closed.
    Flushes, never commits.
    """
    if ticket.status not in (Status.RESOLVED, Status.CLOSED):
        raise ValidationError(_l("Only a resolved or closed ticket can become an FAQ entry."))
    existing = entry_from_ticket(ticket)
    if existing is not None:
        return existing
    question = _REPLY_PREFIX.sub("", " ".join(ticket.subject.split()))[:QUESTION_MAX]
    description = " ".join((ticket.description or "").split())[:QUESTION_MAX]
    alternatives = [description] if description and description.casefold() != question.casefold() else []
    return create_entry(actor=actor, question=question or description, alternatives=alternatives,
                        answer=staff_answer(ticket)[:ANSWER_MAX], application=ticket.application,
                        spse_version=ticket.spse_version, visibility="draft", source="ticket",
                        source_ticket=ticket, auto_answer=False)


# -- queries ------------------------------------------------------------------------------------------------

def entry_from_ticket(ticket: Ticket) -> FaqEntry | None:
    """The latest entry, not retired, drafted from ``ticket``; None when there is none."""
    return db.session.scalar(select(FaqEntry).where(FaqEntry.source_ticket_id == ticket.id,
                                                    FaqEntry.retired_at.is_(None))
                             .order_by(FaqEntry.id.desc()).limit(1))


def staff_answer(ticket: Ticket) -> str:
    """What staff answered on ``ticket``: the latest reply or consultation answer, else the resolution note, else ""."""
    events = db.session.scalars(select(TicketEvent).where(
        TicketEvent.ticket_id == ticket.id,
        TicketEvent.kind.in_(("replied", "consultation_recorded", "status_changed")))
        .order_by(TicketEvent.id.desc())).all()
    resolution = ""
    for event in events:
        if event.kind == "replied" and event.actor_id is not None and event.body.strip():
            return event.body.strip()
        if event.kind == "consultation_recorded" and (event.data or {}).get("answer", "").strip():
            return event.data["answer"].strip()
        if (event.kind == "status_changed" and (event.data or {}).get("to") == Status.RESOLVED
                and event.body.strip() and not resolution):
            resolution = event.body.strip()
    return resolution


def entries_due_for_review(today: date) -> list[FaqEntry]:
    """Entries not retired whose review-by date is ``today`` or earlier, the longest overdue first."""
    return list(db.session.scalars(select(FaqEntry).where(
        FaqEntry.retired_at.is_(None), FaqEntry.review_by.is_not(None), FaqEntry.review_by <= today)
        .order_by(FaqEntry.review_by, FaqEntry.id)))


def get_entry(entry_id: int) -> FaqEntry | None:
    """The entry with id ``entry_id``, or None."""
    return db.session.get(FaqEntry, entry_id)


def get_by_key(key: str) -> FaqEntry | None:
    """The entry with ``key``, or None."""
    return db.session.scalar(select(FaqEntry).where(FaqEntry.key == key))


def public_entries() -> list[FaqEntry]:
    """Public entries not retired, by topic then key: the public FAQ page."""
    return list(db.session.scalars(select(FaqEntry).where(
        FaqEntry.visibility == "public", FaqEntry.retired_at.is_(None)).order_by(FaqEntry.topic, FaqEntry.key)))


def is_public(entry: FaqEntry | None) -> bool:
    """Whether ``entry`` may be shown to anyone: public and not retired."""
    return entry is not None and entry.visibility == "public" and entry.retired_at is None


def can_edit(staff: Staff | None) -> bool:
    """Whether ``staff`` may write the knowledge base."""
    return staff is not None and getattr(staff, "role", None) in EDITOR_ROLES


@dataclass(frozen=True)
class HistoryItem:
    """One version of an entry as the history table shows it: what changed, when and by whom."""

    version: int
    change: str
    changed_at: datetime
    changed_by: Staff | None
    fields: tuple[str, ...]  # the fields that differ from the previous version (all of them for the first)


def history(entry: FaqEntry) -> list[HistoryItem]:
    """The entry's versions, newest first, each with the fields it changed."""
    rows = db.session.scalars(select(FaqVersion).where(FaqVersion.entry_id == entry.id)
                              .order_by(FaqVersion.version)).all()
    staff = {s.id: s for s in db.session.scalars(select(Staff).where(
        Staff.id.in_({r.changed_by_id for r in rows if r.changed_by_id})))} if rows else {}
    items: list[HistoryItem] = []
    previous: dict[str, Any] | None = None
    for row in rows:
        data = dict(row.data or {})
        if previous is None:
            fields = tuple(f for f in FIELDS if data.get(f) not in (None, "", []))
        else:
            fields = tuple(f for f in (*FIELDS, "retired_at") if data.get(f) != previous.get(f))
        items.append(HistoryItem(version=row.version, change=row.change, changed_at=row.changed_at,
                                 changed_by=staff.get(row.changed_by_id), fields=fields))
        previous = data
    return items[::-1]


def snapshot(entry: FaqEntry) -> dict[str, Any]:
    """The entry's fields as stored in a FaqVersion row (JSON: dates as ISO strings)."""
    data = _fields_of(entry)
    data["alternatives"] = list(data["alternatives"] or [])
    data["review_by"] = entry.review_by.isoformat() if entry.review_by else None
    data["key"] = entry.key
    data["source_ticket_id"] = entry.source_ticket_id
    data["retired_at"] = entry.retired_at.isoformat() if entry.retired_at else None
    return data


# -- internals ----------------------------------------------------------------------------------------------

def _fields_of(entry: FaqEntry) -> dict[str, Any]:
    return {field: getattr(entry, field) for field in FIELDS}


def _bump(entry: FaqEntry, change: str, *, actor: Staff | None, at: datetime | None = None) -> FaqVersion:
    at = at or utcnow()
    entry.version = (entry.version or 0) + 1
    entry.updated_by_id = actor.id if actor else None
    entry.updated_at = at
    db.session.flush()
    version = _record(entry, change, actor=actor, at=at)
    log.info("FAQ %s %s (v%d, %s%s)", entry.key, change, entry.version, entry.visibility,
             ", retired" if entry.retired_at else "")
    return version


def _record(entry: FaqEntry, change: str, *, actor: Staff | None, at: datetime) -> FaqVersion:
    version = FaqVersion(entry_id=entry.id, version=entry.version, data=snapshot(entry), change=change,
                         changed_by_id=actor.id if actor else None, changed_at=at)
    db.session.add(version)
    db.session.flush()
    from . import index  # the matching engine's module; imported here so this module loads without it

    index.index_entry(entry)
    return version


def _new_key(question: str) -> str:
    """A readable key from the question (ASCII words, up to 48 characters), made unique with -2, -3 ..."""
    ascii_text = unicodedata.normalize("NFKD", question).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", ascii_text)
    base = ""
    for word in words:
        if len(base) + len(word) + 1 > 48:
            break
        base = f"{base}-{word}" if base else word
    base = base or "faq"
    if base in RESERVED_KEYS:
        base = f"faq-{base}"
    taken = set(db.session.scalars(select(FaqEntry.key).where(FaqEntry.key.like(f"{base}%"))))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
