"""Automatic FAQ answers on email intake, and the signed links the requester confirms them with (issue 5).

Rules (``try_auto_answer``): only a new ticket that came by email, only when the ``faq.auto_answer`` setting is
on, only when the requester may get automatic mail (``helpdesk.notices.block_reason`` is None: never to
auto-submitted mail, lists, bounces, our own addresses, nor past the daily limit), and only when
``faq.match.match(subject + body).auto_answer`` names an entry (public, ``auto_answer`` allowed, confidence at or
above ``faq.auto_answer_threshold``, clear of the runner-up). Then one email goes, ``faq-answer``, instead of the
acknowledgement; the ticket service records it (``tickets.record_faq_answer``).

The email's two links lead to ``/faq/jawaban/<token>`` (helpdesk/web/faq_answers.py): a page with two buttons,
because mail scanners fetch links; only the posted choice changes the ticket. The token is the FaqAnswer's id
signed with itsdangerous (salt ``faq-answer``), valid ``FAQ_LINK_MAX_AGE_DAYS``.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime
from html.parser import HTMLParser

import markdown
from flask import current_app, has_request_context
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from helpdesk import notices, settings, tickets
from helpdesk.extensions import db
from helpdesk.links import absolute_url
from helpdesk.models import FaqAnswer, FaqEntry, Ticket
from helpdesk.vocab import Channel

log = logging.getLogger(__name__)

SALT = "faq-answer"
TOKEN_MAX = 200
MATCH_TEXT_MAX = 20000


# -- the automatic answer -----------------------------------------------------------------------------------

def try_auto_answer(ticket: Ticket, *, subject: str, body: str, at: datetime,
                    headers: dict[str, str] | None = None) -> FaqAnswer | None:
    """Send the FAQ answer to a new email ticket if the rules above allow; None when the acknowledgement should go.

    Flushes, never commits (intake owns the transaction).
    """
    if ticket.channel != Channel.EMAIL or not settings.get_setting("faq.auto_answer"):
        return None
    if notices.block_reason(ticket, at=at) is not None:
        return None  # the acknowledgement path records why nothing automatic goes
    if not can_link():
        log.warning("FAQ auto-answer skipped for %s: set PUBLIC_BASE_URL so the email's links can be made",
                    ticket.ref)
        return None
    found = _auto_answer_match(f"{subject}\n\n{body}"[:MATCH_TEXT_MAX])
    if found is None:
        return None
    match, entry = found
    return tickets.record_faq_answer(ticket, entry=entry, score=match.score, confidence=match.confidence,
                                     answer_text=answer_text(entry), link=faq_answer_url, at=at, headers=headers)


def _auto_answer_match(text: str):
    """(the Match intake may send, its published public entry), or None. A matcher failure is logged, not raised:
    the requester then gets the plain acknowledgement."""
    from faq import match as matching

    try:
        result = matching.match(text, top=3, include_internal=False)
    except Exception:  # a help, never a reason to lose an email
        log.exception("FAQ matching failed on an incoming email; sending the acknowledgement")
        return None
    if result.auto_answer is None:
        return None
    match = next((m for m in result.matches if m.key == result.auto_answer), None)
    if match is None:
        return None
    entry = db.session.get(FaqEntry, match.entry_id)
    if entry is None or entry.visibility != "public" or entry.retired_at is not None or not entry.auto_answer:
        return None
    return match, entry


def note_reply(ticket: Ticket, *, at: datetime) -> FaqAnswer | None:
    """An email reply from the requester joined ``ticket``: an undecided FAQ answer on it becomes ``replied``."""
    return tickets.note_faq_reply(ticket, at=at)


# -- signed links -------------------------------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def answer_token(answer: FaqAnswer) -> str:
    """A signed, timestamped token naming the FaqAnswer."""
    return _serializer().dumps(answer.id)


def link_max_age() -> int:
    """How long a link works, in seconds (``FAQ_LINK_MAX_AGE_DAYS``)."""
    return int(float(current_app.config.get("FAQ_LINK_MAX_AGE_DAYS", 30)) * 86400)


def answer_for_token(token: str) -> tuple[FaqAnswer | None, str | None]:
    """(the FaqAnswer a token names, None) or (None, ``invalid`` / ``expired``)."""
    if not isinstance(token, str) or not token or len(token) > TOKEN_MAX:
        return None, "invalid"
    try:
        answer_id = _serializer().loads(token, max_age=link_max_age())
    except SignatureExpired:
        return None, "expired"
    except (BadData, UnicodeError, ValueError):
        return None, "invalid"
    if type(answer_id) is not int:
        return None, "invalid"
    answer = db.session.get(FaqAnswer, answer_id)
    if answer is None:
        return None, "invalid"
    return answer, None


def can_link() -> bool:
    """Whether absolute links can be made here: PUBLIC_BASE_URL, a request, or SERVER_NAME (a poller has none)."""
    config = current_app.config
    return bool(config.get("PUBLIC_BASE_URL") or has_request_context() or config.get("SERVER_NAME"))


def faq_answer_url(answer: FaqAnswer) -> str:
    """The absolute address of the answer's confirmation page: ``PUBLIC_BASE_URL`` + path when configured (works
    in a poller, outside any request), else the request's own address."""
    return absolute_url("faq_answers.answer", token=answer_token(answer))


# -- the answer as plain text ---------------------------------------------------------------------------------

def answer_text(entry: FaqEntry) -> str:
    """The entry's answer as readable plain text for an email or a reply box (Markdown rendered, then flattened)."""
    html = entry.answer_html or markdown.markdown(entry.answer or "")
    return html_to_text(html) or (entry.answer or "").strip()


class _TextMaker(HTMLParser):
    BLOCKS = frozenset({"p", "div", "ul", "ol", "table", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "tr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.lists: list[list[int]] = []  # per open list: [is_ordered, counter]
        self.href: str | None = None
        self.link_text: list[str] = []
        self.pre = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCKS:
            self.parts.append("\n\n")
        if tag == "pre":
            self.pre += 1
        if tag == "br":
            self.parts.append("\n")
        elif tag in ("ul", "ol"):
            self.lists.append([tag == "ol", 0])
        elif tag == "li":
            indent = "  " * max(len(self.lists) - 1, 0)
            if self.lists and self.lists[-1][0]:
                self.lists[-1][1] += 1
                self.parts.append(f"\n{indent}{self.lists[-1][1]}. ")
            else:
                self.parts.append(f"\n{indent}- ")
        elif tag == "a":
            self.href = dict(attrs).get("href")
            self.link_text = []
        elif tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_endtag(self, tag):
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        if tag == "pre":
            self.pre = max(self.pre - 1, 0)
        if tag == "a" and self.href is not None:
            text = "".join(self.link_text).strip()
            if self.href and self.href != text and not self.href.startswith("#"):
                self.parts.append(f" ({self.href})")
            self.href = None
        if tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
        if self.href is not None:
            self.link_text.append(data)
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of sanitised answer HTML: paragraphs, list items ("- " / "1. "), links as "text (url)"."""
    maker = _TextMaker()
    maker.feed(html or "")
    maker.close()
    text = "".join(maker.parts)
    lines = [line.rstrip() for line in text.splitlines()]
    text = "\n".join(line if line.strip() else "" for line in lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return "\n".join(re.sub(r"^ (?=\S)", "", line) for line in text.splitlines()).strip()
