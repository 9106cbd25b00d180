"""Email intake through the real database: tickets, threading, automatic replies, dedupe and quarantine."""
from __future__ import annotations

import hashlib
from pathlib import Path
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from sqlalchemy import func, select

from channels.email import intake
from channels.email.intake import ingest, retry_quarantined
from helpdesk import tickets
from helpdesk.blobs import read_blob
from helpdesk.extensions import db
from helpdesk.models import Attachment, InboundEmail, OutboxMessage, Ticket, TicketEvent
from helpdesk.states import Status

from .conftest import RECEIVED_AT

SENDER = "budi@penyedia.example.co.id"


def make_mail(*, subject: str = "Tidak bisa login SPSE", body: str = "Mohon bantuan, saya tidak bisa login.",
              sender: str = f"Budi Santoso <{SENDER}>", message_id: str | None = None,
              headers: dict[str, str] | None = None, attachments: list[tuple[str, str, bytes]] = ()) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "helpdesk@lpse.example.go.id"
    message["Subject"] = subject
    message["Date"] = format_datetime(RECEIVED_AT)
    message["Message-ID"] = message_id or make_msgid(domain="penyedia.example.co.id")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


@pytest.fixture
def take(app, office):
    """``take(raw, at=RECEIVED_AT)``: ingest as the IMAP poller would."""
    def _take(raw: bytes, at=RECEIVED_AT):
        return ingest(raw, received_at=at, office=office, source="test")
    return _take


def events(ticket: Ticket, kind: str) -> list[TicketEvent]:
    return db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == kind)
                              .order_by(TicketEvent.id)).all()


def outbox_for(ticket: Ticket) -> list[OutboxMessage]:
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id)
                              .order_by(OutboxMessage.id)).all()


def ticket_of(result) -> Ticket:
    return db.session.scalar(select(Ticket).where(Ticket.ref == result.ticket_ref))


# -- new tickets and the acknowledgement -------------------------------------------------------------------------

def test_new_mail_opens_ticket_and_queues_acknowledgement_with_local_deadline(take, office):
    office.email = "helpdesk@lpse.example.go.id"
    db.session.commit()
    result = take(make_mail(subject="Re: Tidak bisa login SPSE"))
    assert result.outcome == "ticket"
    ticket = ticket_of(result)
    assert ticket.channel == "email" and ticket.subject == "Tidak bisa login SPSE"
    assert ticket.requester.email == SENDER and ticket.requester.name == "Budi Santoso"
    [ack] = outbox_for(ticket)
    assert ack.automatic and ack.template == "acknowledgement" and ack.recipient == SENDER
    assert ack.subject.startswith(f"[#{ticket.ref}]")
    assert "paling lambat Rabu, 25 November 2026 pukul 10.00 WIB" in ack.body
    assert ticket.ref in ack.body
    inbound = db.session.scalar(select(InboundEmail).where(InboundEmail.ticket_id == ticket.id))
    assert ack.headers["In-Reply-To"] == inbound.message_id
    assert events(ticket, "auto_reply_queued")[0].data["outbox_id"] == ack.id
    assert inbound.status == "processed" and inbound.from_address == SENDER


def test_raw_message_is_kept_byte_exact(take):
    raw = make_mail()
    result = take(raw)
    inbound = db.session.get(InboundEmail, result.inbound_id)
    assert read_blob(inbound.raw_sha256) == raw
    assert inbound.size == len(raw)


def test_attachments_are_stored_byte_exact_with_names_and_types(take):
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40
    result = take(make_mail(attachments=[("Surat Penawaran.pdf", "application/pdf", pdf)]))
    [attachment] = db.session.scalars(select(Attachment).where(Attachment.ticket_id == ticket_of(result).id)).all()
    assert attachment.filename == "Surat Penawaran.pdf" and attachment.content_type == "application/pdf"
    assert hashlib.sha256(read_blob(attachment.blob_sha256)).hexdigest() == hashlib.sha256(pdf).hexdigest()
    assert attachment.event_id is not None


# -- dedupe ------------------------------------------------------------------------------------------------------

def test_same_message_twice_is_a_duplicate(take):
    raw = make_mail()
    first = take(raw)
    again = take(raw)
    assert again.outcome == "duplicate" and again.ticket_ref == first.ticket_ref
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_same_message_with_other_transport_headers_is_a_duplicate(take):
    raw = make_mail(message_id="<same@example.co.id>")
    take(raw)
    relayed = b"Received: from mx2.example.net by mx.lpse.example.go.id; Tue, 24 Nov 2026 10:00:05 +0700\r\n" + raw
    assert take(relayed).outcome == "duplicate"


def test_reused_message_id_with_other_content_is_a_new_message(take):
    first = take(make_mail(message_id="<reused@example.co.id>", body="Pertanyaan pertama tentang login."))
    second = take(make_mail(message_id="<reused@example.co.id>", body="Pertanyaan lain tentang e-Katalog."))
    assert second.outcome == "ticket" and second.ticket_ref != first.ticket_ref


# -- threading ---------------------------------------------------------------------------------------------------

def reply_to(message_id: str, body: str = "Terima kasih, tetapi masih gagal.", **kw) -> bytes:
    return make_mail(subject="Re: Tidak bisa login SPSE", body=body,
                     headers={"In-Reply-To": message_id, "References": message_id}, **kw)


def test_reply_to_our_acknowledgement_joins_the_ticket_and_reopens_pending(take, make_staff):
    ticket = ticket_of(take(make_mail()))
    tickets.change_status(ticket, Status.PENDING, actor=make_staff())
    db.session.commit()
    [ack, _pending_notice] = outbox_for(ticket)
    result = take(reply_to(ack.message_id), at=RECEIVED_AT + timedelta(hours=2))
    assert result.outcome == "reply" and result.ticket_ref == ticket.ref
    assert ticket.status == Status.OPEN
    assert events(ticket, "message_received")[0].data["via"] == "email"


def test_reply_referencing_the_requesters_own_message_joins(take):
    first = take(make_mail(message_id="<asli-1@penyedia.example.co.id>"))
    result = take(make_mail(subject="Tambahan", body="Tambahan: kode tender 12345",
                            headers={"References": "<asli-1@penyedia.example.co.id>"}))
    assert result.outcome == "reply" and result.ticket_ref == first.ticket_ref


def test_forged_signed_message_id_is_not_trusted(take):
    ticket = ticket_of(take(make_mail()))
    [ack] = outbox_for(ticket)
    forged = ack.message_id.replace(ack.message_id.split(".")[2][:4], "0000", 1)
    result = take(reply_to(forged, sender="Orang Lain <lain@example.com>"))
    assert result.outcome == "ticket" and result.ticket_ref != ticket.ref


def test_subject_tag_is_trusted_from_a_participant(take):
    ticket = ticket_of(take(make_mail()))
    result = take(make_mail(subject=f"[#{ticket.ref}] masih error", body="Masih error setelah dicoba."))
    assert result.outcome == "reply" and result.ticket_ref == ticket.ref


def test_subject_tag_from_a_stranger_opens_a_linked_possible_duplicate(take):
    ticket = ticket_of(take(make_mail()))
    result = take(make_mail(subject=f"[#{ticket.ref}] tolong tutup tiket ini", sender="Iseng <iseng@example.com>"))
    other = ticket_of(result)
    assert result.outcome == "ticket" and other.id != ticket.id
    assert other.linked_ticket_id == ticket.id and other.link_kind == "possible_duplicate"
    assert ticket.status == Status.NEW and not events(ticket, "message_received")


def test_reply_to_a_closed_ticket_opens_a_new_linked_ticket(take, make_staff):
    ticket = ticket_of(take(make_mail()))
    officer = make_staff()
    tickets.resolve(ticket, actor=officer, solution="Reset kata sandi.")
    tickets.change_status(ticket, Status.CLOSED, actor=officer)
    db.session.commit()
    ack = outbox_for(ticket)[0]
    result = take(reply_to(ack.message_id, body="Masalah muncul lagi."))
    new = ticket_of(result)
    assert result.outcome == "ticket" and new.id != ticket.id
    assert new.linked_ticket_id == ticket.id and new.link_kind == "follow_up_of"


def test_reply_to_a_resolved_ticket_reopens_it(take, make_staff):
    ticket = ticket_of(take(make_mail()))
    tickets.resolve(ticket, actor=make_staff(), solution="Reset kata sandi.")
    db.session.commit()
    take(reply_to(outbox_for(ticket)[0].message_id))
    assert ticket.status == Status.OPEN and ticket.resolved_at is None


# -- automatic replies -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "sender", "reason"), [
    ({"Auto-Submitted": "auto-generated"}, None, "auto_submitted"),
    ({"Precedence": "bulk"}, None, "precedence"),
    ({"Precedence": "junk"}, None, "precedence"),
    ({"Precedence": "list"}, None, "precedence"),
    ({"List-Id": "<pengadaan.lists.example.org>"}, None, "list"),
    ({"List-Unsubscribe": "<mailto:unsubscribe@example.org>"}, None, "list"),
    ({"X-Auto-Response-Suppress": "All"}, None, "auto_response_suppress"),
    ({}, "no-reply@marketplace.example.com", "system_sender"),
    ({}, "postmaster@example.com", "system_sender"),
])
def test_no_acknowledgement_to_machines_and_lists_and_the_reason_is_recorded(take, headers, sender, reason):
    raw = make_mail(headers=headers, **({"sender": sender} if sender else {}))
    result = take(raw)
    ticket = ticket_of(result)
    assert outbox_for(ticket) == []
    [suppressed] = events(ticket, "auto_reply_suppressed")
    assert suppressed.data["reason"] == reason
    assert ticket.auto_reply_block == reason


def test_auto_submitted_no_is_a_person(take):
    ticket = ticket_of(take(make_mail(headers={"Auto-Submitted": "no"})))
    assert [message.template for message in outbox_for(ticket)] == ["acknowledgement"]


def test_mail_with_our_loop_header_or_from_ourselves_is_ignored(take, app, office):
    office.email = "helpdesk@lpse.example.go.id"
    db.session.commit()
    looped = take(make_mail(headers={app.config["MAIL_LOOP_HEADER"]: "lpse.example.go.id"}))
    ours = take(make_mail(sender="Helpdesk <helpdesk@lpse.example.go.id>"))
    assert looped.outcome == "ignored" and looped.reason.startswith("loop_header")
    assert ours.outcome == "ignored" and ours.reason.startswith("own_address")
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_at_most_ten_automatic_replies_per_address_per_day(take):
    results = [take(make_mail(body=f"Pertanyaan nomor {n}"), at=RECEIVED_AT + timedelta(minutes=n))
               for n in range(11)]
    acks = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.automatic))
    assert acks == 10
    last = ticket_of(results[-1])
    assert events(last, "auto_reply_suppressed")[0].data["reason"] == "daily_limit"
    # A day later the address may be answered again.
    later = ticket_of(take(make_mail(body="Pertanyaan esok hari"), at=RECEIVED_AT + timedelta(days=1, minutes=20)))
    assert len(outbox_for(later)) == 1


def test_out_of_office_reply_is_kept_but_does_not_reopen(take, make_staff):
    ticket = ticket_of(take(make_mail()))
    tickets.change_status(ticket, Status.PENDING, actor=make_staff())
    db.session.commit()
    ack = outbox_for(ticket)[0]
    oof = make_mail(subject="Balasan otomatis: Tidak bisa login SPSE", body="Saya sedang cuti sampai 1 Desember.",
                    headers={"Auto-Submitted": "auto-replied", "In-Reply-To": ack.message_id})
    result = take(oof)
    assert result.outcome == "reply"
    assert ticket.status == Status.PENDING
    [kept] = events(ticket, "automatic_mail_received")
    assert "cuti" in kept.body
    assert len(outbox_for(ticket)) == 2  # the acknowledgement and the pending notice; nothing sent to the OOF


def test_pending_and_resolution_notices_go_to_email_requesters(take, make_staff):
    ticket = ticket_of(take(make_mail()))
    officer = make_staff()
    tickets.change_status(ticket, Status.PENDING, actor=officer, note="Menunggu jawaban LKPP.")
    tickets.resolve(ticket, actor=officer, solution="Gunakan peramban terbaru.")
    db.session.commit()
    templates = [message.template for message in outbox_for(ticket)]
    assert templates == ["acknowledgement", "pending-notice", "resolution-notice"]
    assert "Menunggu jawaban LKPP." in outbox_for(ticket)[1].body
    assert "balas email ini" in outbox_for(ticket)[2].body


def test_phone_tickets_get_no_automatic_mail(make_ticket, make_staff):
    ticket = make_ticket(channel="phone")
    tickets.change_status(ticket, Status.PENDING, actor=make_staff())
    db.session.commit()
    assert outbox_for(ticket) == []


# -- bounces -----------------------------------------------------------------------------------------------------

def bounce_for(message_id: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.co.id>\r\n"
        "To: helpdesk@lpse.example.go.id\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.example.co.id>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver your message.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.co.id\r\n\r\n"
        f"Final-Recipient: rfc822; {SENDER}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: helpdesk@lpse.example.go.id\r\nTo: {SENDER}\r\nMessage-ID: {message_id}\r\nSubject: x\r\n\r\n"
        "--B--\r\n").encode()


def test_bounce_of_our_message_fails_it_and_flags_the_ticket(take):
    ticket = ticket_of(take(make_mail()))
    [ack] = outbox_for(ticket)
    result = take(bounce_for(ack.message_id))
    assert result.outcome == "reply" and result.ticket_ref == ticket.ref
    assert ack.status == "failed" and ticket.flag == "bounce"
    assert events(ticket, "email_bounced")
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_bounce_matching_nothing_is_ignored_not_a_ticket(take):
    result = take(bounce_for("<unknown@elsewhere.example>"))
    assert result.outcome == "ignored" and "bounce" in result.reason
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0
    assert db.session.get(InboundEmail, result.inbound_id).status == "ignored"


# -- oversized ---------------------------------------------------------------------------------------------------

def test_oversized_mail_makes_a_ticket_with_its_text_a_note_and_tells_the_sender(take, app):
    app.config["MAIL_MAX_BYTES"] = 20_000
    raw = make_mail(body="Lampiran dokumen kualifikasi terlampir.",
                    attachments=[("scan-ktp.pdf", "application/pdf", b"%PDF" + b"x" * 60_000)])
    result = take(raw)
    ticket = ticket_of(result)
    assert "dokumen kualifikasi" in ticket.description
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    [note] = events(ticket, "note_added")
    assert "scan-ktp.pdf" in note.body
    [ack] = outbox_for(ticket)
    assert "scan-ktp.pdf" in ack.body and "melebihi batas" in ack.body
    assert read_blob(db.session.get(InboundEmail, result.inbound_id).raw_sha256) == raw


# -- quarantine --------------------------------------------------------------------------------------------------

def test_a_routing_failure_quarantines_the_raw_message_and_retry_recovers(take, monkeypatch):
    raw = make_mail()

    def broken(**kw):
        raise RuntimeError("database hiccup")
    monkeypatch.setattr(intake.tickets, "open_ticket", broken)
    result = take(raw)
    assert result.outcome == "quarantined" and "database hiccup" in result.reason
    row = db.session.get(InboundEmail, result.inbound_id)
    assert row.status == "quarantined" and read_blob(row.raw_sha256) == raw
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0
    assert take(raw).outcome == "duplicate"  # fetched again before the retry: still one entry
    monkeypatch.undo()
    retried = retry_quarantined(row.id)
    assert retried.outcome == "ticket"
    assert db.session.get(InboundEmail, row.id).status == "processed"


def test_a_parser_crash_quarantines(take, monkeypatch):
    def explode(raw, **kw):
        raise IndexError("pop from empty list")
    monkeypatch.setattr(intake, "parse_email", explode)
    result = take(b"To: (c):\r\n\r\nhalo")
    assert result.outcome == "quarantined" and "IndexError" in result.reason
    assert result.line().startswith("quarantined: ")


def test_mail_without_any_sender_is_quarantined(take):
    result = take(b"Subject: tanpa pengirim\r\n\r\nSiapa saya?\r\n")
    assert result.outcome == "quarantined" and "sender" in result.reason


@pytest.mark.parametrize("raw", [b"", b"\x00\x01\x02\xff" * 100, b"garbage without headers", b"From: <>\r\n\r\n"])
def test_any_bytes_end_as_ticket_ignored_or_quarantine(take, raw):
    result = take(raw)
    assert result.outcome in ("ticket", "ignored", "quarantined")
    assert db.session.get(InboundEmail, result.inbound_id) is not None
    assert take(raw).outcome == "duplicate"


# -- every fixture ----------------------------------------------------------------------------------------------

FIXTURES = sorted((Path(__file__).parent / "email").glob("*.eml"))
# Reports and automatic replies that concern no ticket of ours are recorded as ignored; the rest make tickets.
IGNORED_PREFIXES = ("bounce-", "dsn-", "mdn-", "oof-", "loop-header")


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.name)
def test_every_fixture_message_ends_as_ticket_or_ignored_and_never_twice(take, path):
    raw = path.read_bytes()
    result = take(raw)
    expected = "ignored" if path.name.startswith(IGNORED_PREFIXES) else "ticket"
    assert result.outcome == expected, f"{path.name}: {result}"
    assert read_blob(db.session.get(InboundEmail, result.inbound_id).raw_sha256) == raw
    assert take(raw).outcome == "duplicate"
