"""Automatic FAQ answers on email intake, end to end: the real matcher, a real SMTP server, and Dovecot.

A question the FAQ answers above the threshold gets exactly one "faq-answer" email (instead of the
acknowledgement) with the answer and the two signed links; the ticket waits for the requester with
``faq_answered`` and a follow-up recorded as ``faq_answer``. Below the threshold, with the setting off, for an
internal or non-auto-answer entry, to auto-submitted or list mail, past the daily limit: the usual
acknowledgement path (or nothing at all), never an FAQ answer.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from sqlalchemy import select

from channels.email.intake import ingest
from channels.email.poller import mailbox_configs, poll_once
from channels.email.smtp import make_sender
from faq import entries as faq_entries
from faq.suggestions import suggest
from helpdesk import settings
from helpdesk.delivery import deliver_due
from helpdesk.extensions import db
from helpdesk.models import FaqAnswer, OutboxMessage, Ticket, TicketEvent
from helpdesk.states import Status

REQUESTER = "siti@cvmaju.example.co.id"
BASE = "https://helpdesk.lpse-uji.example.go.id"
WIB = timezone(timedelta(hours=7))
ARRIVED = datetime(2026, 11, 20, 10, 0, tzinfo=WIB)  # a Friday working morning, in the past (Dovecot)

PASSWORD_ANSWER = ("Gunakan menu **Lupa Password** di halaman login SPSE:\n\n"
                   "1. Klik *Lupa Password*.\n2. Isi User ID dan alamat email yang terdaftar.\n"
                   "3. Buka tautan yang dikirim ke email Anda dan buat password baru.")
PASSWORD_QUESTION = "Bagaimana cara mengatasi lupa password akun SPSE?"


def mail(*, subject: str, body: str, sender: str = f"Siti Rahmawati <{REQUESTER}>",
         headers: dict[str, str] | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "helpdesk@lpse-uji.example.go.id"
    message["Subject"] = subject
    message["Date"] = format_datetime(ARRIVED)
    message["Message-ID"] = make_msgid(domain="cvmaju.example.co.id")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


PASSWORD_MAIL = {"subject": "Lupa password akun SPSE",
                 "body": "Selamat pagi, saya lupa password akun SPSE. Bagaimana cara mengatasi lupa password akun "
                         "SPSE saya?\n\nTerima kasih,\nSiti"}
UNRELATED_MAIL = {"subject": "Permohonan data realisasi anggaran",
                  "body": "Mohon dikirimkan rekap realisasi anggaran dinas perikanan triwulan ketiga untuk laporan "
                          "kepada inspektorat."}


@pytest.fixture
def faq_pack(app):
    """A small published knowledge base, written through the knowledge base's verbs (which index it)."""
    made = {}
    for key, question, answer, visibility, auto in [
        ("lupa-password", PASSWORD_QUESTION, PASSWORD_ANSWER, "public", True),
        ("jadwal-tender", "Di mana saya dapat melihat jadwal tahapan tender yang sedang berjalan?",
         "Buka halaman tender di SPSE, pilih paket, lalu lihat menu *Jadwal*.", "public", True),
        ("apendo-gagal-buka", "Aplikasi Apendo tidak dapat membuka file dokumen pemilihan",
         "Pastikan Apendo versi terbaru dan file diunduh ulang dari SPSE.", "public", True),
        ("restart-server-spse", "Cara restart layanan server SPSE di ruang server",
         "Hanya untuk petugas: `systemctl restart spse` setelah izin Admin PPE.", "internal", True),
        ("verifikasi-npwp", "Berapa lama proses verifikasi akun penyedia dengan NPWP baru?",
         "Verifikasi paling lama 1 hari kerja setelah dokumen asli diperiksa.", "public", False),
    ]:
        made[key] = faq_entries.create_entry(actor=None, key=key, question=question, answer=answer,
                                             visibility=visibility, auto_answer=auto, topic="Akun dan SPSE")
    db.session.commit()
    return made


@pytest.fixture
def smtp_app(app, office, smtp):
    """The app with a real SMTP server and a public address for links (as a poller runs it: no request)."""
    office.email = "helpdesk@lpse-uji.example.go.id"
    db.session.commit()
    app.config.update(MAIL_FROM="Helpdesk LPSE Uji <helpdesk@lpse-uji.example.go.id>", PUBLIC_BASE_URL=BASE,
                      **smtp.config(MAIL_TIMEOUT_SECONDS=10))
    return app


def take(office, raw: bytes):
    result = ingest(raw, received_at=ARRIVED, office=office, source="test")
    assert result.outcome == "ticket", result
    return db.session.scalar(select(Ticket).where(Ticket.ref == result.ticket_ref))


def deliver(app) -> None:
    report = deliver_due(make_sender(app.config), now=datetime.now(UTC) + timedelta(seconds=1))
    assert report.failed == 0


def kinds(ticket: Ticket) -> list[str]:
    return list(db.session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)
                                   .order_by(TicketEvent.id)))


def templates_sent(ticket: Ticket) -> list[str]:
    return list(db.session.scalars(select(OutboxMessage.template).where(OutboxMessage.ticket_id == ticket.id)
                                   .order_by(OutboxMessage.id)))


# -- above the threshold: one FAQ answer ----------------------------------------------------------------------

def test_a_question_the_faq_answers_gets_one_faq_answer_email_through_smtp(mail_app, dovecot, smtp, faq_pack,
                                                                           client):
    app = mail_app
    app.config["PUBLIC_BASE_URL"] = BASE
    dovecot.append(mail(**PASSWORD_MAIL), internaldate=ARRIVED)
    [mailbox] = mailbox_configs(app.config)
    assert poll_once(mailbox).outcomes == {"ticket": 1}
    ticket = db.session.scalar(select(Ticket))

    assert ticket.status == Status.WAITING
    assert templates_sent(ticket) == ["faq-answer"]  # instead of the acknowledgement, not as well
    [answered] = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                              TicketEvent.kind == "faq_answered")).all()
    answer = db.session.scalar(select(FaqAnswer))
    entry = faq_pack["lupa-password"]
    assert answered.data["key"] == "lupa-password" and answered.data["entry_version"] == entry.version
    assert answered.data["faq_answer_id"] == answer.id and answered.data["outbox_id"] == answer.outbox_id
    assert answer.entry_id == entry.id and answer.outcome is None
    assert answer.confidence >= settings.get_setting("faq.auto_answer_threshold")
    [follow_up] = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                               TicketEvent.kind == "followed_up")).all()
    assert follow_up.data["how"] == "faq_answer" and ticket.first_follow_up_at == ARRIVED

    deliver(app)
    [sent] = smtp.received
    message = sent.message
    assert sent.rcpt_tos == (REQUESTER,)
    assert message["Subject"].startswith(f"[#{ticket.ref}]") and "Jawaban FAQ" in message["Subject"]
    assert message["Auto-Submitted"] == "auto-replied"
    body = message.get_content()
    assert ticket.ref in body and PASSWORD_QUESTION in body
    assert "Gunakan menu Lupa Password di halaman login SPSE:" in body and "**" not in body
    assert "2. Isi User ID dan alamat email yang terdaftar." in body
    assert "Sudah terjawab" in body and "Belum, saya perlu bantuan petugas" in body and "balas email ini" in body
    yes = re.search(re.escape(BASE) + r"(/faq/jawaban/\S+)\?pilihan=ya", body).group(1)
    no = re.search(re.escape(BASE) + r"(/faq/jawaban/\S+)\?pilihan=tidak", body).group(1)
    assert yes == no

    # The link from the email works: the page asks, the button resolves.
    assert client.get(yes + "?pilihan=ya").status_code == 200
    assert client.post(yes, data={"choice": "yes"}).status_code == 200
    db.session.expire_all()
    assert ticket.status == Status.RESOLVED and answer.outcome == "confirmed"


def test_the_threshold_setting_decides(smtp_app, office, faq_pack):
    settings.set_setting("faq.auto_answer_threshold", 1.0001)  # nothing is that sure
    db.session.commit()
    ticket = take(office, mail(**PASSWORD_MAIL))
    assert templates_sent(ticket) == ["acknowledgement"] and "faq_answered" not in kinds(ticket)
    assert ticket.status == Status.NEW and ticket.first_follow_up_at is None


# -- below the threshold and the other refusals: the plain acknowledgement ------------------------------------

def test_a_question_below_the_threshold_gets_the_acknowledgement(smtp_app, smtp, office, faq_pack):
    ticket = take(office, mail(**UNRELATED_MAIL))
    assert templates_sent(ticket) == ["acknowledgement"] and "faq_answered" not in kinds(ticket)
    assert ticket.status == Status.NEW and ticket.first_follow_up_at is None  # an acknowledgement is no follow-up
    deliver(smtp_app)
    [sent] = smtp.received
    assert "Diterima" in sent.message["Subject"] and "/faq/jawaban/" not in sent.message.get_content()


def test_setting_off_gets_the_acknowledgement(smtp_app, office, faq_pack):
    settings.set_setting("faq.auto_answer", False)
    db.session.commit()
    ticket = take(office, mail(**PASSWORD_MAIL))
    assert templates_sent(ticket) == ["acknowledgement"] and "faq_answered" not in kinds(ticket)


@pytest.mark.parametrize("headers", [
    {"Auto-Submitted": "auto-replied"},
    {"Auto-Submitted": "auto-generated"},
    {"List-Id": "<pengadaan.lists.example.org>"},
    {"Precedence": "bulk"},
])
def test_never_to_auto_submitted_or_list_mail(smtp_app, smtp, office, faq_pack, headers):
    ticket = take(office, mail(**PASSWORD_MAIL, headers=headers))
    assert templates_sent(ticket) == [] and "faq_answered" not in kinds(ticket)
    assert ticket.auto_reply_block and db.session.scalar(select(FaqAnswer)) is None
    deliver(smtp_app)
    assert smtp.received == []


def test_never_past_the_daily_limit_nor_to_system_senders(smtp_app, office, faq_pack):
    ticket = take(office, mail(**PASSWORD_MAIL, sender="noreply@cvmaju.example.co.id"))
    assert templates_sent(ticket) == [] and "faq_answered" not in kinds(ticket)
    settings.set_setting("mail.auto_reply_daily_limit", 1)
    db.session.commit()
    first = take(office, mail(**PASSWORD_MAIL))
    second = take(office, mail(**PASSWORD_MAIL))
    assert templates_sent(first) == ["faq-answer"]  # the FAQ answer counts as automatic mail
    assert templates_sent(second) == [] and "faq_answered" not in kinds(second)


def test_internal_and_not_auto_answer_entries_are_never_sent(smtp_app, office, faq_pack):
    internal = take(office, mail(subject="Cara restart layanan server SPSE di ruang server",
                                 body="Cara restart layanan server SPSE di ruang server?"))
    not_allowed = take(office, mail(subject="Berapa lama proses verifikasi akun penyedia dengan NPWP baru?",
                                    body="Berapa lama proses verifikasi akun penyedia dengan NPWP baru?"))
    assert templates_sent(internal) == ["acknowledgement"] and templates_sent(not_allowed) == ["acknowledgement"]


def test_without_a_public_address_for_links_the_acknowledgement_goes(smtp_app, office, faq_pack):
    smtp_app.config["PUBLIC_BASE_URL"] = None  # a poller has no request to take the address from
    ticket = take(office, mail(**PASSWORD_MAIL))
    assert templates_sent(ticket) == ["acknowledgement"]


def test_a_reply_to_an_existing_ticket_is_never_answered_from_the_faq(smtp_app, office, faq_pack):
    first = take(office, mail(subject=UNRELATED_MAIL["subject"], body=UNRELATED_MAIL["body"]))
    [ack] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.ticket_id == first.id)).all()
    reply = mail(subject="Re: " + ack.subject, body=PASSWORD_MAIL["body"], headers={"In-Reply-To": ack.message_id})
    result = ingest(reply, received_at=ARRIVED + timedelta(hours=1), office=office, source="test")
    assert result.outcome == "reply" and templates_sent(first) == ["acknowledgement"]


# -- suggestions with the real matcher -------------------------------------------------------------------------

def test_kiosk_suggestions_are_public_only_with_the_real_matcher(app, faq_pack):
    found = suggest("saya lupa password akun spse", limit=3)
    assert found and found[0].key == "lupa-password" and "<strong>Lupa Password</strong>" in found[0].answer_html
    assert all(s.key != "restart-server-spse" for s in suggest("cara restart layanan server spse", limit=3))
    assert suggest("zzzz qqqq xxxx", limit=3) == []
