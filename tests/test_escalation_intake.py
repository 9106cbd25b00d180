"""LKPP's mail through email intake (channels/email/intake.py): answers thread back to their escalation by our
[#REF], by In-Reply-To or by LKPP's ticket number; LKPP's automatic mail is kept and never answered; LKPP mail that
matches nothing is ignored with its reason. Raw messages are tests/escalation/*.eml with placeholders."""
from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from channels.email.intake import ingest
from helpdesk import escalations
from helpdesk.extensions import db
from helpdesk.models import Escalation, InboundEmail, OutboxMessage, Ticket, TicketEvent
from helpdesk.states import Status

from .conftest import RECEIVED_AT, WIB

RAW = Path(__file__).parent / "escalation"
AT = RECEIVED_AT + timedelta(hours=1)
ANSWERED_AT = datetime(2026, 11, 25, 14, 5, tzinfo=WIB)
LKPP_NUMBER = "87654321"


def raw_mail(name: str, **values: str) -> bytes:
    """tests/escalation/<name> with its {PLACEHOLDERS} filled (the ids and numbers each test makes)."""
    data = (RAW / name).read_bytes()
    for key, value in values.items():
        data = data.replace(("{" + key.upper() + "}").encode(), value.encode())
    return data


def events_of(ticket, kind=None) -> list[TicketEvent]:
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    if kind is not None:
        query = query.where(TicketEvent.kind == kind)
    return list(db.session.scalars(query.order_by(TicketEvent.id)))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def take(app, office):
    def _take(raw: bytes, at=ANSWERED_AT):
        return ingest(raw, received_at=at, office=office, source="test")
    return _take


@pytest.fixture
def officer(make_staff):
    return make_staff(name="Rina Wulandari")


@pytest.fixture
def email_escalation(office, make_ticket, make_requester, officer):
    """An email ticket escalated to LKPP by email; the requester's notice is already queued."""
    office.email = "helpdesk@lpse-uji.example.go.id"
    requester = make_requester(name="Budi Santoso", email="budi@cvmaju.example.co.id", organization="CV Maju Jaya")
    ticket = make_ticket(status=Status.OPEN, channel="email", requester=requester,
                         subject="Gagal unggah dokumen penawaran", tender_code="10012345")
    escalation = escalations.escalate_to_lkpp(ticket, actor=officer, channel="email", reason="Perlu tim LKPP",
                                              at=AT)
    db.session.commit()
    return escalation


@pytest.fixture
def tts_escalation(make_ticket, officer):
    """A phone ticket escalated through LPSE Support, with LKPP's ticket number recorded."""
    ticket = make_ticket(status=Status.OPEN, subject="Paket RUP tidak muncul di SPSE")
    escalation = escalations.escalate_to_lkpp(ticket, actor=officer, channel="tts", reason="RUP tidak sinkron",
                                              external_ref=LKPP_NUMBER, requester_told=False, at=AT)
    db.session.commit()
    return escalation


def assert_answered(result, escalation, *, via_outbox_before: int) -> Ticket:
    assert result.outcome == "reply"
    db.session.expire_all()
    ticket = db.session.get(Ticket, escalation.ticket_id)
    assert result.ticket_ref == ticket.ref
    assert escalation.status == "answered" and escalation.answered_at == ANSWERED_AT
    [event] = events_of(ticket, "lkpp_answered")
    assert event.data["inbound_email_id"] == result.inbound_id and event.data["via"] == "email"
    assert event.actor_label == "Helpdesk LKPP"
    assert events_of(ticket, "message_received") == []  # not the requester speaking
    assert ticket.flag == "lkpp_answered" and ticket.status == Status.OPEN
    assert count(OutboxMessage) == via_outbox_before  # nobody is answered automatically
    inbound = db.session.get(InboundEmail, result.inbound_id)
    assert inbound.status == "processed" and inbound.ticket_id == ticket.id and inbound.event_id == event.id
    return ticket


@pytest.mark.parametrize("sender", [None, b"Ani (LKPP) <ani.lkpp@webmail.example.com>"])
def test_lkpp_reply_threads_back_by_in_reply_to(take, email_escalation, sender):
    before = count(OutboxMessage)
    raw = raw_mail("lkpp-reply-in-reply-to.eml", message_id=email_escalation.message_id,
                   ref=email_escalation.ticket.ref)
    if sender is not None:  # an LKPP officer answering from an address not listed: the reply still threads back
        raw = raw.replace(b"From: Helpdesk LKPP <helpdesk-lpsepusat@lkpp.go.id>", b"From: " + sender)
    result = take(raw)
    assert_answered(result, email_escalation, via_outbox_before=before)
    assert email_escalation.answer.startswith("Yth. Helpdesk LPSE Kabupaten Uji,")
    assert email_escalation.answer.endswith("Helpdesk LKPP")  # the quoted escalation is not part of the answer
    assert email_escalation.external_ref is None  # the tender code LKPP quoted is not LKPP's number


def test_lkpp_reply_threads_back_by_our_reference_in_the_subject(take, email_escalation):
    before = count(OutboxMessage)
    result = take(raw_mail("lkpp-reply-subject-tag.eml", ref=email_escalation.ticket.ref))
    assert_answered(result, email_escalation, via_outbox_before=before)
    assert "Akun penyedia sudah kami aktifkan kembali" in email_escalation.answer


def test_lkpp_reply_threads_back_by_lkpp_ticket_number(take, tts_escalation):
    before = count(OutboxMessage)
    result = take(raw_mail("lkpp-reply-ticket-number.eml", number=LKPP_NUMBER,
                           **{"from": "Helpdesk LKPP <helpdesk@eproc.lkpp.go.id>"}))
    ticket = assert_answered(result, tts_escalation, via_outbox_before=before)
    assert "Data RUP sudah kami sinkronkan ulang" in tts_escalation.answer
    assert ticket.clock_paused_at is None


def test_a_number_alone_is_trusted_only_from_lkpps_addresses(take, tts_escalation):
    # A tender code in someone else's mail may look like LKPP's number: it opens its own ticket.
    result = take(raw_mail("lkpp-reply-ticket-number.eml", number=LKPP_NUMBER,
                           **{"from": "Pokja <pokja@dinas.example.go.id>"}))
    assert result.outcome == "ticket"
    db.session.expire_all()
    assert tts_escalation.status == "open" and events_of(tts_escalation.ticket, "lkpp_answered") == []


def test_the_requester_quoting_lkpps_number_is_the_requester(take, tts_escalation):
    ticket = tts_escalation.ticket
    ticket.channel = "email"
    ticket.requester.email = "sari@dinas.example.go.id"
    db.session.commit()
    mail = EmailMessage()
    mail["From"] = "Sari <sari@dinas.example.go.id>"
    mail["To"] = "helpdesk@lpse-uji.example.go.id"
    mail["Subject"] = f"Re: [#{ticket.ref}] Paket RUP tidak muncul di SPSE"
    mail["Date"] = format_datetime(ANSWERED_AT)
    mail["Message-ID"] = make_msgid(domain="dinas.example.go.id")
    mail.set_content(f"Bagaimana perkembangan tiket LKPP {LKPP_NUMBER}?")
    result = take(mail.as_bytes())
    assert result.outcome == "reply"
    db.session.expire_all()
    assert len(events_of(ticket, "message_received")) == 1 and events_of(ticket, "lkpp_answered") == []
    assert tts_escalation.status == "open"


def test_lkpp_auto_reply_is_kept_never_answered_and_gives_its_ticket_number(take, email_escalation):
    before = count(OutboxMessage)
    ticket = email_escalation.ticket
    result = take(raw_mail("lkpp-autoreply.eml", message_id=email_escalation.message_id, ref=ticket.ref,
                           number="55512345"), at=AT + timedelta(seconds=40))
    assert result.outcome == "reply" and result.ticket_ref == ticket.ref
    db.session.expire_all()
    assert count(OutboxMessage) == before  # no automatic mail to LKPP, ever
    [kept] = events_of(ticket, "automatic_mail_received")
    assert kept.data["lkpp"] is True and kept.data["escalation_id"] == email_escalation.id
    assert kept.data["kind"] == "auto_reply" and kept.actor_label == "Helpdesk LKPP"
    assert email_escalation.status == "open" and ticket.status == Status.ESCALATED  # not an answer
    assert email_escalation.external_ref == "55512345"  # not the tender code or the NPWP it quotes
    [recorded] = events_of(ticket, "lkpp_ref_recorded")
    assert recorded.data["source"] == "lkpp_mail"
    # A second acknowledgement with another number does not replace the one recorded.
    take(raw_mail("lkpp-autoreply.eml", message_id=email_escalation.message_id, ref=ticket.ref,
                  number="55599999"), at=AT + timedelta(minutes=5))
    db.session.expire_all()
    assert email_escalation.external_ref == "55512345" and count(OutboxMessage) == before


def test_lkpp_mail_matching_no_escalation_is_ignored_with_its_reason(take, email_escalation):
    before = (count(OutboxMessage), count(Ticket), count(Escalation))
    result = take(raw_mail("lkpp-unmatched.eml"))
    assert result.outcome == "ignored" and result.reason.startswith("lkpp_unmatched")
    assert before == (count(OutboxMessage), count(Ticket), count(Escalation))
    inbound = db.session.get(InboundEmail, result.inbound_id)
    assert inbound.status == "ignored" and inbound.ticket_id is None


def test_lkpp_mail_after_the_review_threads_only_by_in_reply_to(take, email_escalation, officer):
    take(raw_mail("lkpp-reply-in-reply-to.eml", message_id=email_escalation.message_id,
                  ref=email_escalation.ticket.ref))
    db.session.expire_all()
    escalations.review_answer(email_escalation, actor=officer, at=ANSWERED_AT + timedelta(hours=1))
    db.session.commit()
    # Reviewed and closed: the subject tag no longer routes LKPP's mail to it (LKPP mail matching no open
    # escalation is ignored), but a reply to our email still does, and the escalation is answered again.
    result = take(raw_mail("lkpp-reply-subject-tag.eml", ref=email_escalation.ticket.ref),
                  at=ANSWERED_AT + timedelta(hours=2))
    assert result.outcome == "ignored" and result.reason.startswith("lkpp_unmatched")
    later = raw_mail("lkpp-reply-in-reply-to.eml", message_id=email_escalation.message_id,
                     ref=email_escalation.ticket.ref).replace(b"reply.0001", b"reply.0003").replace(
                     b"sudah kami perbaiki", b"sudah kami perbaiki sepenuhnya")
    assert take(later, at=ANSWERED_AT + timedelta(hours=3)).outcome == "reply"
    db.session.expire_all()
    assert email_escalation.status == "answered" and "sepenuhnya" in email_escalation.answer
    assert len(events_of(email_escalation.ticket, "lkpp_answered")) == 2
