"""Escalation to LKPP (helpdesk/escalations.py, escalation/lkpp.py): the templated email to a real SMTP server,
LPSE Support fields and the gateway's HTTP mode against a local stand-in, phone calls, LKPP's answer, reminders,
and bad input that records nothing."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from channels.email.compose import ComposeError, compose
from channels.email.smtp import make_sender
from channels.lkpp_gateway import make_webhook_sender
from escalation import lkpp
from escalation.reminders import send_due_reminders
from helpdesk import escalations, tickets
from helpdesk.blobs import store_blob
from helpdesk.delivery import DeliveryReport, deliver_due
from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.mail_ids import ticket_ref_from
from helpdesk.models import Escalation, EscalationCall, OutboxMessage, TicketEvent
from helpdesk.settings import set_setting
from helpdesk.states import Status
from helpdesk.timeutil import utcnow

from .conftest import RECEIVED_AT, WIB
from .servers.lkpp_gateway import lkpp_gateway_server
from .servers.smtp import refuse_other_hosts

pytestmark = pytest.mark.usefixtures("english")  # these tests read messages in English

SNAPSHOTS = Path(__file__).parent / "escalation"
AT = RECEIVED_AT + timedelta(hours=1)  # Tue 24 Nov 2026 11:00 WIB
FIRST_REMINDER = datetime(2026, 11, 26, 11, 0, tzinfo=WIB)  # two working days later
LKPP_TO = "helpdesk-lpsepusat@lkpp.go.id"
SCREENSHOT = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def events_of(ticket, kind=None) -> list[TicketEvent]:
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    if kind is not None:
        query = query.where(TicketEvent.kind == kind)
    return list(db.session.scalars(query.order_by(TicketEvent.id)))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def outbox(**where) -> list[OutboxMessage]:
    query = select(OutboxMessage).filter_by(**where)
    return list(db.session.scalars(query.order_by(OutboxMessage.id)))


def assert_snapshot(text: str, name: str) -> None:
    """Compare with tests/escalation/<name>; HELPDESK_UPDATE_SNAPSHOTS=1 rewrites it."""
    path = SNAPSHOTS / name
    if os.environ.get("HELPDESK_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.fixture
def officer(make_staff):
    return make_staff(name="Rina Wulandari", email="rina@lpse-uji.example.go.id")


@pytest.fixture
def ticket(office, make_ticket, make_requester):
    """An open email ticket of a supplier, classified, with a screenshot attached."""
    office.email = "helpdesk@lpse-uji.example.go.id"
    office.phone = "021-555-0101"
    requester = make_requester(name="Budi Santoso", email="budi@cvmaju.example.co.id", organization="CV Maju Jaya",
                               spse_role="penyedia", phone="+6281234567890")
    requester.npwp, requester.spse_user_id = "01.234.567.8-901.000", "cvmajujaya"
    ticket = make_ticket(status=Status.OPEN, channel="email", requester=requester,
                         subject="Gagal unggah dokumen penawaran",
                         body="Saat unggah dokumen penawaran tender 10012345 muncul pesan galat ERR-500.",
                         application="spse", spse_version="4.5u20231030", error_code="ERR-500",
                         tender_code="10012345", ticket_type="problem")
    blob = store_blob(SCREENSHOT, content_type="image/png")
    tickets.attach(ticket, None, blob=blob, filename="galat-unggah.png", content_type="image/png")
    db.session.commit()
    return ticket


def attachment_ids(ticket) -> list[int]:
    from helpdesk.models import Attachment

    return list(db.session.scalars(select(Attachment.id).where(Attachment.ticket_id == ticket.id)))


def escalate_by_email(ticket, officer, **kw):
    values = {"actor": officer, "channel": "email", "reason": "Galat terjadi di server SPSE; perlu tim LKPP.",
              "steps_tried": "Cache peramban dibersihkan; dicoba dengan Firefox dan Chrome terbaru.",
              "attachment_ids": attachment_ids(ticket), "at": AT}
    values.update(kw)
    escalation = escalations.escalate_to_lkpp(ticket, **values)
    db.session.commit()
    return escalation


# -- by email ------------------------------------------------------------------------------------------------

def test_lkpp_email_matches_the_snapshot_and_reaches_a_real_smtp_server(app, smtp, ticket, officer, monkeypatch):
    refuse_other_hosts(monkeypatch)
    escalation = escalate_by_email(ticket, officer)
    [message] = outbox(template="lkpp-escalation")
    assert_snapshot(f"To: {message.recipient}\nSubject: {message.subject}\n\n{message.body}", "lkpp-email.txt")
    assert message.recipient == LKPP_TO and f"[#{ticket.ref}]" in message.subject
    assert not message.automatic  # an officer's email: LKPP's systems may answer it
    assert escalation.message_id == message.message_id and ticket_ref_from(message.message_id) == ticket.ref
    assert escalation.outbox_id == message.id and message.attachments == attachment_ids(ticket)
    assert escalation.content["subject"] == message.subject and escalation.sent_at == AT

    app.config.update(smtp.config(), MAIL_FROM="Helpdesk LPSE Uji <helpdesk@lpse-uji.example.go.id>")
    assert deliver_due(make_sender(app.config)).sent >= 1
    [received] = [mail for mail in smtp.received if LKPP_TO in mail.rcpt_tos]
    mail = received.message
    assert mail["Message-ID"] == escalation.message_id and mail["Subject"] == message.subject
    assert mail["Auto-Submitted"] is None
    assert "Budi Santoso" in mail.get_body(("plain",)).get_content()
    [part] = list(mail.iter_attachments())
    assert part.get_filename() == "galat-unggah.png" and part.get_content_type() == "image/png"
    assert part.get_payload(decode=True) == SCREENSHOT


def test_escalation_by_email_moves_the_ticket_pauses_the_clock_and_tells_the_requester(ticket, officer):
    escalation = escalate_by_email(ticket, officer)
    assert ticket.status == Status.ESCALATED and ticket.clock_paused_for == "lkpp"
    assert (escalation.tier, escalation.channel, escalation.target, escalation.status) == \
        ("lkpp", "email", "helpdesk_lkpp", "open")
    assert escalation.next_reminder_at == FIRST_REMINDER
    [event] = events_of(ticket, "escalated")
    assert event.data["tier"] == "lkpp" and event.data["channel"] == "email"
    assert event.data["escalation_id"] == escalation.id and event.data["outbox_id"] == escalation.outbox_id
    [notice] = outbox(template="escalation-notice")
    assert notice.recipient == ticket.requester.email and notice.automatic
    assert "Helpdesk LKPP" in notice.body and f"[#{ticket.ref}]" in notice.subject
    assert events_of(ticket, "auto_reply_queued")[-1].data["notice"] == "escalation"
    [followed] = events_of(ticket, "followed_up")
    assert followed.data["how"] == "escalation_notice" and ticket.first_follow_up_at == AT


def test_a_requester_with_only_a_mobile_number_is_told_by_sms(make_ticket, make_requester, officer):
    requester = make_requester(name="Sari", email=None, phone="081298765432")
    ticket = make_ticket(status=Status.OPEN, requester=requester)
    escalations.escalate_to_lkpp(ticket, actor=officer, channel="phone", reason="Perlu LKPP", at=AT)
    db.session.commit()
    [text] = outbox(channel="sms")
    assert text.recipient == "+6281298765432" and ticket.ref in text.body and "LKPP" in text.body
    assert events_of(ticket, "text_queued")[0].data["notice"] == "escalation"
    assert ticket.first_follow_up_at == AT


def test_a_broken_template_sends_nothing_and_records_nothing(ticket, officer):
    set_setting("lkpp.email_body_template", "Yth. LKPP,\n{{ tidak_ada_variabel }}\n")
    db.session.commit()
    before = (count(Escalation), count(OutboxMessage), len(events_of(ticket)), ticket.status)
    with pytest.raises(lkpp.LkppTemplateError) as info:
        escalations.escalate_to_lkpp(ticket, actor=officer, channel="email", reason="Perlu LKPP", at=AT)
    assert "tidak_ada_variabel" in str(info.value)
    assert before == (count(Escalation), count(OutboxMessage), len(events_of(ticket)), ticket.status)
    set_setting("lkpp.email_body_template", "{% if lpse %}\nbelum ditutup\n")
    with pytest.raises(lkpp.LkppTemplateError) as info:
        escalations.escalate_to_lkpp(ticket, actor=officer, channel="email", reason="Perlu LKPP", at=AT)
    assert "line" in str(info.value) and before[:3] == (count(Escalation), count(OutboxMessage),
                                                       len(events_of(ticket)))


def test_an_admins_template_renders_in_a_sandbox_and_keeps_our_reference(ticket, officer):
    with pytest.raises(lkpp.LkppTemplateError):  # the sandbox refuses internals
        lkpp.validate_template("x", "{{ ''.__class__.__mro__ }}")
    subject, body = lkpp.validate_template("Eskalasi {{ judul }}", "Tiket {{ ref }}: {{ uraian }}\n")
    assert subject.startswith("[#LPSE-2026-000123] Eskalasi CV Maju Jaya - ")
    assert body == "Tiket LPSE-2026-000123: Saat unggah dokumen penawaran muncul pesan galat.\n"
    set_setting("lkpp.email_subject_template", "Mohon bantuan: {{ tiket.perihal }}")
    set_setting("lkpp.email_body_template", "{{ identitas }}\nLampiran: {{ lampiran|join(', ') }}\n")
    escalation = escalate_by_email(ticket, officer)
    assert escalation.content["subject"] == f"[#{ticket.ref}] Mohon bantuan: Gagal unggah dokumen penawaran"
    assert "NPWP: 01.234.567.8-901.000" in escalation.content["body"]
    assert "Lampiran: galat-unggah.png" in escalation.content["body"]


def test_only_the_tickets_own_attachments_go_to_lkpp(ticket, officer, make_ticket):
    other = make_ticket()
    tickets.attach(other, None, blob=store_blob(b"rahasia", content_type="text/plain"), filename="lain.txt",
                   content_type="text/plain")
    db.session.commit()
    with pytest.raises(ValidationError):
        escalations.escalate_to_lkpp(ticket, actor=officer, channel="email", reason="x", at=AT,
                                     attachment_ids=attachment_ids(other))
    assert count(Escalation) == 0


def test_an_outbox_row_naming_another_tickets_file_is_refused(ticket, officer, make_ticket):
    escalation = escalate_by_email(ticket, officer)
    other = make_ticket()
    foreign = tickets.attach(other, None, blob=store_blob(b"rahasia", content_type="text/plain"), filename="x.txt",
                             content_type="text/plain")
    message = db.session.get(OutboxMessage, escalation.outbox_id)
    message.attachments = [foreign.id]
    with pytest.raises(ComposeError):
        compose(message, sender="helpdesk@lpse-uji.example.go.id", loop_header="X-LPSE-Helpdesk-Loop")


def test_smtp_down_keeps_the_lkpp_email_pending_in_the_outbox(app, smtp, ticket, officer, monkeypatch):
    refuse_other_hosts(monkeypatch)
    escalation = escalate_by_email(ticket, officer)
    app.config.update(smtp.config(), MAIL_FROM="helpdesk@lpse-uji.example.go.id")
    smtp.stop()
    now = utcnow()
    report = deliver_due(make_sender(app.config), now=now)
    assert report.retried >= 1 and report.sent == 0
    message = db.session.get(OutboxMessage, escalation.outbox_id, populate_existing=True)
    assert message.status == "queued" and "cannot connect" in message.last_error
    assert escalation.status == "open"
    smtp.start()
    deliver_due(make_sender(app.config), now=message.next_attempt_at)
    assert [m.message["Message-ID"] for m in smtp.received if LKPP_TO in m.rcpt_tos] == [escalation.message_id]


def test_mail_to_lkpp_addresses_is_never_automatic(make_ticket, make_requester):
    requester = make_requester(name="Petugas LKPP", email="someone@eproc.lkpp.go.id")
    ticket = make_ticket(channel="email", requester=requester)
    assert tickets.notify(ticket, "acknowledgement", at=AT) is None
    assert events_of(ticket, "auto_reply_suppressed")[0].data["reason"] == "lkpp"


# -- by LPSE Support (TTS) -----------------------------------------------------------------------------------------

def test_tts_fields_carry_everything_lkpp_asks_for(ticket, officer):
    escalation = escalations.escalate_to_lkpp(ticket, actor=officer, channel="tts", reason="Perlu tim LKPP",
                                              steps_tried="Cache dibersihkan", attachment_ids=attachment_ids(ticket),
                                              at=AT)
    db.session.commit()
    fields = lkpp.form_fields(escalation.content["fields"])
    assert list(fields) == list(lkpp.FIELDS)
    assert fields["judul"] == "CV Maju Jaya - Gagal unggah dokumen penawaran"
    assert (fields["lpse"], fields["aplikasi"], fields["kode_error"], fields["kode_tender"], fields["tipe"]) == \
        ("LPSE Kabupaten Uji", "SPSE", "ERR-500", "10012345", "Permasalahan")
    for expected in ("NPWP: 01.234.567.8-901.000", "User ID SPSE: cvmajujaya", "Email: budi@cvmaju.example.co.id",
                     "Perusahaan: CV Maju Jaya", "Cache dibersihkan", "Versi SPSE: 4.5u20231030", ticket.ref):
        assert expected in fields["deskripsi"]
    assert fields["lampiran"] == "galat-unggah.png"
    assert outbox(channel="webhook") == []  # no gateway configured
    assert escalation.external_ref is None and escalation.message_id is None


def test_malformed_lkpp_ticket_number_is_refused_with_the_pattern(ticket, officer):
    escalation = escalations.escalate_to_lkpp(ticket, actor=officer, channel="tts", reason="Perlu LKPP", at=AT)
    db.session.commit()
    before = len(events_of(ticket))
    for bad in ("ABC-12", "1234", "12345678901", ""):
        with pytest.raises(ValidationError) as info:
            escalations.record_external_ref(escalation, bad, actor=officer)
        assert "[0-9]{5,10}" in str(info.value)
    assert escalation.external_ref is None and len(events_of(ticket)) == before
    event = escalations.record_external_ref(escalation, " #20261234 ", actor=officer)
    assert escalation.external_ref == "20261234" and event.kind == "lkpp_ref_recorded"
    assert event.data == {"escalation_id": escalation.id, "number": "20261234", "previous": None, "source": "officer"}
    assert escalations.record_external_ref(escalation, "20261234", actor=officer) is None  # nothing new
    with pytest.raises(ValidationError):  # typed with the escalation: refused before anything is written
        escalations.escalate_to_lkpp(ticket, actor=officer, channel="tts", reason="x", external_ref="T-1", at=AT)
    assert count(Escalation) == 1


def test_tts_http_mode_posts_the_fields_and_records_the_gateways_number(app, ticket, officer):
    with lkpp_gateway_server() as gateway:
        set_setting("lkpp.gateway_url", gateway.url)
        app.config["LKPP_GATEWAY_TOKEN"] = "token-uji"
        escalation = escalations.escalate_to_lkpp(ticket, actor=officer, channel="tts", reason="Perlu LKPP",
                                                  attachment_ids=attachment_ids(ticket), at=AT)
        db.session.commit()
        [message] = outbox(channel="webhook")
        assert message.recipient == gateway.url and escalation.outbox_id == message.id
        gateway.fail_next(503)
        sender = make_webhook_sender(app.config)
        assert deliver_due(sender, channel="webhook") == DeliveryReport(retried=1)
        message = db.session.get(OutboxMessage, message.id, populate_existing=True)
        assert message.status == "queued" and "503" in message.last_error  # pending, retried from the outbox
        assert deliver_due(sender, channel="webhook", now=message.next_attempt_at) == DeliveryReport(sent=1)
        first, second = gateway.requests
        assert first.body == second.body  # the same content each time
    payload = second.json
    assert second.method == "POST" and second.path == "/api/tiket"
    assert second.headers["Authorization"] == "Bearer token-uji"
    assert second.headers["Content-Type"].startswith("application/json")
    assert payload["referensi"] == ticket.ref and payload["escalation_id"] == escalation.id
    assert payload["judul"] == "CV Maju Jaya - Gagal unggah dokumen penawaran"
    assert payload["kode_tender"] == "10012345" and payload["lampiran"] == ["galat-unggah.png"]
    assert set(lkpp.FIELDS) <= set(payload)
    db.session.expire_all()
    assert escalation.external_ref == "20260001"
    [recorded] = events_of(ticket, "lkpp_ref_recorded")
    assert recorded.data["source"] == "gateway"


def test_a_gateway_that_refuses_fails_the_message_and_a_bad_number_becomes_a_note(app, ticket, officer):
    with lkpp_gateway_server() as gateway:
        set_setting("lkpp.gateway_url", gateway.url)
        escalations.escalate_to_lkpp(ticket, actor=officer, channel="tts", reason="Perlu LKPP", at=AT)
        db.session.commit()
        gateway.fail_next(400)
        assert deliver_due(make_webhook_sender(app.config), channel="webhook") == DeliveryReport(failed=1)
        other = make_second_escalation(ticket, officer)
        gateway.answer_with({"nomor_tiket": "bukan-nomor"})
        assert deliver_due(make_webhook_sender(app.config), channel="webhook") == DeliveryReport(sent=1)
    db.session.expire_all()
    assert other.external_ref is None
    assert "bukan-nomor" in events_of(ticket, "note_added")[-1].body


def make_second_escalation(ticket, officer):
    escalation = escalations.escalate_to_lkpp(ticket, actor=officer, channel="tts", reason="Lagi", at=AT,
                                              requester_told=False)
    db.session.commit()
    return escalation


def test_an_unreachable_gateway_is_retried(app, ticket, officer):
    with lkpp_gateway_server() as gateway:
        set_setting("lkpp.gateway_url", gateway.url)
        escalations.escalate_to_lkpp(ticket, actor=officer, channel="tts", reason="Perlu LKPP", at=AT)
        db.session.commit()
        gateway.stop()
        assert deliver_due(make_webhook_sender(app.config), channel="webhook") == DeliveryReport(retried=1)
        [message] = outbox(channel="webhook")
        assert message.status == "queued" and "cannot reach" in message.last_error


# -- by phone, LKPP's answer and the review ------------------------------------------------------------------

def test_phone_escalation_logs_the_confirmation_call(ticket, officer):
    escalation = escalations.escalate_to_lkpp(ticket, actor=officer, channel="phone", reason="Konfirmasi",
                                              requester_told=False, at=AT)
    call = escalations.log_call(escalation, officer=officer, called_at=AT + timedelta(minutes=5), number="",
                                reference_given=ticket.ref, outcome="confirmed", note="Diterima petugas LKPP.")
    db.session.commit()
    assert call.number == "144" and call.reference_given == ticket.ref and call.officer_id == officer.id
    assert [c.id for c in escalation.calls] == [call.id]
    [event] = events_of(ticket, "lkpp_call_logged")
    assert event.data["outcome"] == "confirmed" and event.body == "Diterima petugas LKPP."
    with pytest.raises(ValidationError):
        escalations.log_call(escalation, officer=officer, called_at=AT, number="144", reference_given="",
                             outcome="marah")
    assert count(EscalationCall) == 1
    assert ticket.first_follow_up_at is None  # requester_told=False


def test_lkpp_answer_waits_for_review_and_sends_nothing(ticket, officer):
    escalation = escalate_by_email(ticket, officer)
    queued = count(OutboxMessage)
    answered_at = datetime(2026, 11, 25, 14, 0, tzinfo=WIB)
    escalations.record_answer(escalation, body="Silakan ulangi unggah; server sudah diperbaiki.", via="tts",
                              at=answered_at, actor=officer)
    db.session.commit()
    assert escalation.status == "answered" and escalation.answered_at == answered_at
    assert escalation.next_reminder_at is None
    assert ticket.status == Status.OPEN and ticket.flag == "lkpp_answered" and ticket.clock_paused_at is None
    assert ticket.lkpp_seconds > 0
    assert count(OutboxMessage) == queued  # nothing goes to the requester (or anyone) by itself
    [event] = events_of(ticket, "lkpp_answered")
    assert event.body.startswith("Silakan ulangi") and event.data["via"] == "tts"
    event = escalations.review_answer(escalation, actor=officer, at=answered_at + timedelta(hours=1))
    db.session.commit()
    assert escalation.status == "closed" and escalation.reviewed_by_id == officer.id and ticket.flag is None
    assert event.kind == "lkpp_answer_reviewed"
    with pytest.raises(ValidationError):
        escalations.review_answer(escalation, actor=officer)


def test_lkpp_escalation_reminds_the_officer_who_escalated(ticket, officer, make_staff):
    make_staff(name="Desk", email="desk@lpse-uji.example.go.id")
    escalation = escalate_by_email(ticket, officer)
    assert send_due_reminders(now=FIRST_REMINDER - timedelta(seconds=1)) == 0
    assert send_due_reminders(now=FIRST_REMINDER) == 1
    [reminder] = outbox(template="staff-escalation-reminder")
    assert reminder.recipient == officer.email and "144" in reminder.body and "belum dicatat" in reminder.body
    db.session.expire_all()
    assert escalation.reminders == 1 and escalation.last_reminder_at == FIRST_REMINDER
    escalations.record_answer(escalation, body="Jawaban", via="phone", at=FIRST_REMINDER + timedelta(hours=1))
    db.session.commit()
    assert send_due_reminders(now=FIRST_REMINDER + timedelta(days=30)) == 0  # answered: no more reminders


def test_an_internal_escalation_goes_on_to_lkpp_and_back(ticket, officer, make_staff):
    ppe = make_staff(role="admin_ppe", name="Agus PPE")
    below = escalations.escalate_internal(ticket, actor=officer, role="admin_ppe", reason="Perlu PPE", at=AT)
    top = escalations.escalate_to_lkpp(ticket, actor=ppe, channel="phone", reason="Perlu LKPP",
                                       requester_told=False, at=AT + timedelta(hours=1))
    db.session.commit()
    assert below.next_reminder_at is None and ticket.status == Status.ESCALATED
    escalations.return_escalation(top, actor=ppe, note="LKPP: ditangani LPSE saja.", at=AT + timedelta(hours=2))
    db.session.commit()
    assert top.status == "returned" and ticket.status == Status.ESCALATED and ticket.holder_role == "admin_ppe"
    assert ticket.clock_paused_at is None and below.next_reminder_at is not None
    assert [e.id for e in escalations.chain(ticket)] == [below.id, top.id]
    assert json.loads(escalations.gateway_payload(top))["referensi"] == ticket.ref
