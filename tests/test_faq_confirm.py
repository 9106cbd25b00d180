"""The requester's answer to an automatic FAQ answer, and the FAQ suggestions on staff pages and the kiosk.

The confirmation links (valid, tampered, expired, reused, closed ticket, CSRF), a reply by email to the answer,
the ticket page's "Saran FAQ" panel, the staff JSON endpoint and the kiosk's ``suggest``. The matcher is replaced
by a stand-in here (its own tests are faq's); tests/test_faq_autoanswer.py runs the real one end to end.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select

import faq.match
from channels.email.intake import ingest
from faq import autoanswer
from faq.suggestions import staff_suggestions, suggest
from helpdesk import tickets
from helpdesk.extensions import db
from helpdesk.models import FaqEntry, OutboxMessage, Ticket, TicketEvent
from helpdesk.states import Status

from .conftest import RECEIVED_AT
from .servers.live import browser_login

BASE = "https://helpdesk.lpse-uji.example.go.id"
REQUESTER = "rina@cvsejahtera.example.co.id"


# -- helpers ----------------------------------------------------------------------------------------------------

def make_entry(key: str, question: str, answer: str, *, visibility: str = "public", auto_answer: bool = True,
               retired: bool = False) -> FaqEntry:
    entry = FaqEntry(key=key, question=question, answer=answer, answer_html="", visibility=visibility,
                     auto_answer=auto_answer, alternatives=[], version=1,
                     retired_at=RECEIVED_AT if retired else None)
    db.session.add(entry)
    db.session.commit()
    return entry


@dataclass
class FakeMatch:
    entry_id: int
    key: str
    question: str
    score: float
    confidence: float


@dataclass
class FakeResult:
    matches: list = field(default_factory=list)
    auto_answer: str | None = None


@pytest.fixture
def fake_matcher(monkeypatch):
    """``fake_matcher(entries_with_confidence, auto=KEY)``: faq.match.match answers these, honouring include_internal."""
    calls = []

    def install(found: list[tuple[FaqEntry, float]], auto: str | None = None):
        def match(text, *, top=3, include_internal=False):
            calls.append({"text": text, "top": top, "include_internal": include_internal})
            matches = [FakeMatch(e.id, e.key, e.question, c * 10, c) for e, c in found
                       if include_internal or e.visibility == "public"]
            return FakeResult(matches[:top], auto)
        monkeypatch.setattr(faq.match, "match", match, raising=False)
        return calls
    return install


def events(ticket: Ticket, kind: str) -> list[TicketEvent]:
    return db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == kind)
                              .order_by(TicketEvent.id)).all()


def event_count(ticket: Ticket) -> int:
    return db.session.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket.id))


@pytest.fixture
def entry(app):
    return make_entry("lupa-password", "Bagaimana jika saya lupa password akun SPSE?",
                      "Gunakan menu **Lupa Password** di halaman login SPSE.\n\n1. Isi User ID\n2. Cek email Anda")


@pytest.fixture
def answered(app, office, make_requester, entry):
    """An email ticket answered automatically with ``entry``: (ticket, answer, the link's path)."""
    app.config["PUBLIC_BASE_URL"] = BASE
    office.email = "helpdesk@lpse-uji.example.go.id"
    requester = make_requester(name="Rina", email=REQUESTER)
    ticket = tickets.open_ticket(office=office, requester=requester, channel="email", subject="Lupa password",
                                 body="Saya lupa password SPSE.", received_at=RECEIVED_AT)
    answer = tickets.record_faq_answer(ticket, entry=entry, score=12.5, confidence=0.95,
                                       answer_text=autoanswer.answer_text(entry), link=autoanswer.faq_answer_url,
                                       at=RECEIVED_AT)
    db.session.commit()
    message = db.session.get(OutboxMessage, answer.outbox_id)
    [url] = re.findall(re.escape(BASE) + r"(/faq/jawaban/[^\s?]+)\?pilihan=ya", message.body)
    return ticket, answer, url


# -- the answer as recorded ----------------------------------------------------------------------------------------

def test_record_faq_answer_waits_for_the_requester_and_counts_as_follow_up(answered, entry):
    ticket, answer, url = answered
    assert ticket.status == Status.WAITING
    [event] = events(ticket, "faq_answered")
    assert event.data["key"] == "lupa-password" and event.data["entry_version"] == 1
    assert event.data["faq_answer_id"] == answer.id and event.data["outbox_id"] == answer.outbox_id
    assert event.data["confidence"] == 0.95 and event.data["score"] == 12.5
    [follow_up] = events(ticket, "followed_up")
    assert follow_up.data["how"] == "faq_answer" and follow_up.data["met"] is True
    assert ticket.first_follow_up_at == RECEIVED_AT
    message = db.session.get(OutboxMessage, answer.outbox_id)
    assert message.template == "faq-answer" and message.automatic and message.recipient == REQUESTER
    assert message.subject.startswith(f"[#{ticket.ref}]")
    assert "Gunakan menu Lupa Password di halaman login SPSE." in message.body  # Markdown made plain text
    assert "1. Isi User ID" in message.body and "**" not in message.body
    assert f"{BASE}{url}?pilihan=tidak" in message.body
    assert "Sudah terjawab" in message.body and "Belum, saya perlu bantuan petugas" in message.body


def test_answer_text_flattens_markdown():
    entry = FaqEntry(answer="# Judul\n\nLihat [panduan](https://lpse.example.go.id/panduan).\n\n- satu\n- dua\n",
                     answer_html="")
    text = autoanswer.answer_text(entry)
    assert text == "Judul\n\nLihat panduan (https://lpse.example.go.id/panduan).\n\n- satu\n- dua"


# -- the links ---------------------------------------------------------------------------------------------------

def test_get_shows_the_question_and_two_buttons_and_changes_nothing(client, answered):
    ticket, answer, url = answered
    before = event_count(ticket)
    response = client.get(url + "?pilihan=ya")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="faq-answer-yes"' in page and 'id="faq-answer-no"' in page and 'method="post"' in page
    assert "Bagaimana jika saya lupa password akun SPSE?" in page
    assert "<script" not in page
    assert response.headers["Cache-Control"] == "no-store" and "script-src" not in response.headers[
        "Content-Security-Policy"]
    db.session.expire_all()
    assert ticket.status == Status.WAITING and answer.outcome is None and event_count(ticket) == before


def test_yes_resolves_the_ticket(client, answered):
    ticket, answer, url = answered
    response = client.post(url, data={"choice": "yes"})
    assert response.status_code == 200 and 'data-outcome="confirmed"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert ticket.status == Status.RESOLVED and ticket.resolved_at is not None
    assert answer.outcome == "confirmed" and answer.decided_at is not None
    [confirmed] = events(ticket, "faq_confirmed")
    assert confirmed.data["faq_answer_id"] == answer.id
    assert events(ticket, "status_changed")[-1].data == {"from": "waiting", "to": "resolved",
                                                          "reason": "faq_confirmed"}
    assert len(events(ticket, "followed_up")) == 1  # the FAQ answer was the follow-up
    # No resolution notice: the requester just told us.
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.ticket_id == ticket.id)) == 1


def test_no_returns_the_ticket_to_the_queue_flagged(client, answered):
    ticket, answer, url = answered
    response = client.post(url, data={"choice": "no"})
    assert response.status_code == 200 and 'data-outcome="rejected"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert ticket.status == Status.OPEN and ticket.flag == "faq_rejected"
    assert answer.outcome == "rejected"
    assert [e.data["flag"] for e in events(ticket, "flagged")] == ["faq_rejected"]
    assert len(events(ticket, "faq_rejected")) == 1


def test_a_reused_link_is_refused_and_changes_nothing(client, answered):
    ticket, _answer, url = answered
    assert client.post(url, data={"choice": "yes"}).status_code == 200
    before = event_count(ticket)
    for choice in ("no", "yes"):
        response = client.post(url, data={"choice": choice})
        assert response.status_code == 409
        assert 'id="faq-answer-decided"' in response.get_data(as_text=True)
    page = client.get(url)
    assert page.status_code == 200 and 'data-outcome="confirmed"' in page.get_data(as_text=True)
    assert 'id="faq-answer-form"' not in page.get_data(as_text=True)
    db.session.expire_all()
    assert ticket.status == Status.RESOLVED and ticket.flag is None and event_count(ticket) == before


@pytest.mark.parametrize("mangle", [
    lambda url: url[:-3] + ("aaa" if not url.endswith("aaa") else "bbb"),  # signature changed
    lambda url: url.rsplit("/", 1)[0] + "/" + "x" * 40,  # not a token at all
    lambda url: url + "%00",
])
def test_a_tampered_link_gets_a_clear_page(client, answered, mangle):
    ticket, answer, url = answered
    for method in ("get", "post"):
        response = getattr(client, method)(mangle(url), data={"choice": "yes"} if method == "post" else None)
        assert response.status_code == 404
        assert 'id="faq-answer-invalid"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert ticket.status == Status.WAITING and answer.outcome is None


def test_a_token_for_another_purpose_or_unknown_answer_is_refused(app, client, answered):
    _ticket, answer, _url = answered
    other_salt = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="ticket-status").dumps(answer.id)
    unknown = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="faq-answer").dumps(answer.id + 1000)
    for token in (other_salt, unknown):
        assert client.get(f"/faq/jawaban/{token}").status_code == 404


def test_an_expired_link_gets_a_clear_page(app, client, answered):
    ticket, answer, _url = answered

    class MonthsAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 31 * 86400

    old = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="faq-answer", signer=MonthsAgo).dumps(answer.id)
    for method in ("get", "post"):
        response = getattr(client, method)(f"/faq/jawaban/{old}", data={"choice": "yes"} if method == "post" else None)
        assert response.status_code == 410
        assert 'id="faq-answer-expired"' in response.get_data(as_text=True)
    app.config["FAQ_LINK_MAX_AGE_DAYS"] = 60  # a longer validity makes the same link work
    assert client.get(f"/faq/jawaban/{old}").status_code == 200
    db.session.expire_all()
    assert ticket.status == Status.WAITING and answer.outcome is None


def test_a_closed_ticket_cannot_be_confirmed(client, answered):
    ticket, answer, url = answered
    tickets.change_status(ticket, Status.RESOLVED, actor=None)
    tickets.change_status(ticket, Status.CLOSED, actor=None)
    db.session.commit()
    before = event_count(ticket)
    assert 'id="faq-answer-closed"' in client.get(url).get_data(as_text=True)
    response = client.post(url, data={"choice": "no"})
    assert response.status_code == 409 and 'id="faq-answer-closed"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert ticket.status == Status.CLOSED and event_count(ticket) == before and answer.outcome is None


def test_a_post_without_a_choice_asks_again(client, answered):
    _ticket, answer, url = answered
    response = client.post(url, data={"choice": "maybe"})
    assert response.status_code == 422 and 'id="faq-answer-missing"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert answer.outcome is None


def test_the_form_carries_a_csrf_token_and_a_forged_post_is_refused(app, client, answered):
    ticket, answer, url = answered
    app.config["WTF_CSRF_ENABLED"] = True
    forged = client.post(url, data={"choice": "no"})
    assert forged.status_code == 400 and 'id="faq-answer-form-expired"' in forged.get_data(as_text=True)
    db.session.expire_all()
    assert answer.outcome is None and ticket.status == Status.WAITING
    page = client.get(url).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(url, data={"choice": "yes", "csrf_token": token}).status_code == 200
    db.session.expire_all()
    assert answer.outcome == "confirmed" and ticket.status == Status.RESOLVED


def test_a_reply_by_email_reopens_the_ticket_and_marks_the_answer_replied(app, client, office, answered):
    ticket, answer, url = answered
    sent = db.session.get(OutboxMessage, answer.outbox_id)
    reply = EmailMessage()
    reply["From"] = f"Rina <{REQUESTER}>"
    reply["To"] = office.email
    reply["Subject"] = "Re: " + sent.subject
    reply["Date"] = format_datetime(RECEIVED_AT)
    reply["Message-ID"] = make_msgid(domain="cvsejahtera.example.co.id")
    reply["In-Reply-To"] = sent.message_id
    reply.set_content("Sudah saya coba tetapi email reset tidak masuk.")
    result = ingest(reply.as_bytes(), received_at=RECEIVED_AT, office=office, source="test")
    assert result.outcome == "reply" and result.ticket_ref == ticket.ref
    db.session.expire_all()
    assert ticket.status == Status.OPEN and answer.outcome == "replied" and answer.decided_at is not None
    # The links still record an explicit choice afterwards.
    assert client.post(url, data={"choice": "no"}).status_code == 200
    db.session.expire_all()
    assert answer.outcome == "rejected" and ticket.flag == "faq_rejected" and ticket.status == Status.OPEN


def test_the_ticket_page_shows_the_events(app, client, login, make_staff, answered):
    ticket, _answer, url = answered
    client.post(url, data={"choice": "no"})
    login(client, make_staff())
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    for kind in ("faq_answered", "faq_rejected", "followed_up", "flagged"):
        assert f'data-event="{kind}"' in page
    assert 'data-flag="faq_rejected"' in page


# -- suggestions ---------------------------------------------------------------------------------------------------

@pytest.fixture
def entries(app):
    public = make_entry("reset-password", "Bagaimana cara reset password SPSE?", "Gunakan menu Lupa Password.")
    internal = make_entry("cek-log-server", "Cara cek log server SPSE", "Buka /var/log/spse (petugas saja).",
                          visibility="internal")
    junk = make_entry("jadwal-pelatihan", "Jadwal pelatihan penyedia", "Lihat pengumuman.")
    return public, internal, junk


def test_kiosk_suggest_returns_public_entries_above_the_minimum_only(entries, fake_matcher):
    public, internal, junk = entries
    calls = fake_matcher([(public, 0.8), (internal, 0.7), (junk, 0.05)])
    found = suggest("saya lupa password spse", limit=3)
    assert [s.key for s in found] == ["reset-password"]
    assert calls[-1]["include_internal"] is False
    assert found[0].answer_html == "Gunakan menu Lupa Password." and found[0].confidence == 0.8


def test_suggestions_never_fail(entries, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("index missing")
    monkeypatch.setattr(faq.match, "match", broken, raising=False)
    assert suggest("saya lupa password spse") == [] and staff_suggestions("saya lupa password spse") == []


def test_staff_suggestions_endpoint_needs_login_and_answers_json(client, login, make_staff, entries, fake_matcher):
    public, internal, junk = entries
    fake_matcher([(internal, 0.7), (public, 0.6), (junk, 0.05)])
    response = client.get("/faq/saran", query_string={"q": "cara cek log server spse"})
    assert response.status_code == 302 and response.location.startswith("/login")
    login(client, make_staff())
    data = client.get("/faq/saran", query_string={"q": "cara cek log server spse"}).get_json()
    assert [s["key"] for s in data["suggestions"]] == ["cek-log-server", "reset-password"]
    assert data["suggestions"][0]["visibility"] == "internal"
    assert data["suggestions"][0]["answer_text"] == "Buka /var/log/spse (petugas saja)."
    assert client.get("/faq/saran", query_string={"q": "log"}).get_json() == {"suggestions": []}  # too short


def test_ticket_page_shows_faq_suggestions_with_insert_buttons(client, login, make_staff, make_ticket, entries,
                                                              fake_matcher):
    public, internal, _junk = entries
    calls = fake_matcher([(public, 0.8), (internal, 0.5)])
    ticket = make_ticket(subject="Lupa password SPSE", body="Saya tidak bisa masuk SPSE.")
    login(client, make_staff())
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    assert 'id="faq-suggestions-panel"' in page and "faq.js" in page
    assert page.count("data-faq-insert") == 2 and 'data-faq-target="reply-body"' in page
    assert 'data-faq-answer="Gunakan menu Lupa Password."' in page and 'id="reply-body"' in page
    assert calls[-1]["include_internal"] is True and "Lupa password SPSE" in calls[-1]["text"]


def test_ticket_page_without_suggestions_has_no_panel(client, login, make_staff, make_ticket, fake_matcher):
    fake_matcher([])
    ticket = make_ticket()
    login(client, make_staff())
    assert 'id="faq-suggestions-panel"' not in client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)


def test_phone_form_has_the_live_suggestions_box(client, login, make_staff):
    login(client, make_staff())
    page = client.get("/phone/new").get_data(as_text=True)
    assert 'data-faq-live' in page and 'data-faq-source="question"' in page and 'data-faq-target="answer"' in page
    assert "faq.js" in page


# -- in the browser (real matcher, CSRF on) ----------------------------------------------------------------------

@pytest.fixture
def published(app):
    from faq import entries as faq_entries

    entry = faq_entries.create_entry(actor=None, key="lupa-password", visibility="public", topic="Akun",
                                     question="Bagaimana cara mengatasi lupa password akun SPSE?",
                                     answer="Gunakan menu **Lupa Password** di halaman login SPSE.")
    db.session.commit()
    return entry


@pytest.mark.browser
def test_browser_suggestions_insert_into_the_phone_answer_and_the_reply(page, site, make_staff, make_ticket,
                                                                       published):
    officer = make_staff()
    browser_login(page, site, officer)
    page.goto(f"{site}/phone/new")
    page.fill("#question", "")
    page.locator("#question").press_sequentially("Penelepon lupa password akun SPSE")
    page.locator("#faq-live li[data-faq-key=lupa-password]").wait_for()
    page.locator("#faq-live [data-faq-insert]").click()
    assert page.input_value("#answer") == "Gunakan menu Lupa Password di halaman login SPSE."

    ticket = make_ticket(subject="Lupa password akun SPSE", body="Saya lupa password akun SPSE saya.")
    page.goto(f"{site}/tickets/{ticket.ref}")
    page.fill("#reply-body", "Selamat siang,")
    page.locator("#faq-suggestions-panel [data-faq-insert]").first.click()
    assert page.input_value("#reply-body") == "Selamat siang,\n\nGunakan menu Lupa Password di halaman login SPSE."


@pytest.mark.browser
def test_browser_requester_confirms_from_the_link(page, site, answered):
    ticket, answer, url = answered
    page.goto(site + url + "?pilihan=ya")
    page.click("#faq-answer-yes")
    page.locator("#faq-answer-done[data-outcome=confirmed]").wait_for()
    db.session.expire_all()
    assert ticket.status == Status.RESOLVED and answer.outcome == "confirmed"
