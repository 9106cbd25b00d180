"""The email an outbox row becomes (channels/email/compose.py): headers, bodies, and no header injection."""
from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from channels.email.compose import ComposeError, NoSenderAddress, compose, sender_address
from helpdesk.extensions import db
from helpdesk.mail_ids import ticket_ref_from
from helpdesk.models import OutboxMessage, Ticket
from helpdesk.outbox import enqueue_email

LOOP = "X-LPSE-Helpdesk-Loop"
SENDER = "helpdesk@lpse-uji.example.go.id"
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 10:00 WIB


@pytest.fixture
def queue_reply(app, make_ticket, make_staff):
    """``queue_reply(ticket=None, **enqueue_kw)``: an officer's reply queued with enqueue_email and committed."""
    app.config["MAIL_FROM"] = SENDER
    officer = make_staff(name="Rina Wulandari")

    def _queue_reply(ticket=None, **kw) -> OutboxMessage:
        ticket = ticket or make_ticket(channel="email")
        message = enqueue_email(to=ticket.requester.email, template="staff-reply", ticket=ticket,
                                reply="Silakan unggah ulang dengan peramban terbaru.", officer=officer,
                                signature="Helpdesk", **kw)
        db.session.commit()
        return message
    return _queue_reply


def sent_form(mail: EmailMessage) -> EmailMessage:
    """The message as a recipient parses it from the bytes we would send."""
    return message_from_bytes(mail.as_bytes(), policy=policy.default)


def text_of(part: EmailMessage) -> str:
    """A text part's content with the wire's CRLF line ends as LF and without the final line end."""
    return part.get_content().replace("\r\n", "\n").removesuffix("\n")


def header_lines(mail: EmailMessage) -> list[bytes]:
    """The raw header lines (unfolded continuation lines start with whitespace)."""
    head = mail.as_bytes().split(b"\r\n\r\n", 1)[0]
    return head.split(b"\r\n")


def test_reply_keeps_its_message_id_thread_headers_and_carries_the_loop_header(app, queue_reply):
    message = queue_reply(headers={"In-Reply-To": "<asal-1@penyedia.example.co.id>",
                                   "References": "<asal-0@penyedia.example.co.id> <asal-1@penyedia.example.co.id>"})
    parsed = sent_form(compose(message, sender=SENDER, loop_header=LOOP, now=NOW))
    assert parsed["Message-ID"] == message.message_id
    assert ticket_ref_from(parsed["Message-ID"]) == db.session.get(Ticket, message.ticket_id).ref
    assert parsed["In-Reply-To"] == "<asal-1@penyedia.example.co.id>"
    assert parsed["References"] == "<asal-0@penyedia.example.co.id> <asal-1@penyedia.example.co.id>"
    assert parsed[LOOP] == "lpse-uji.example.go.id"  # MAIL_FROM's domain, without MAIL_DOMAIN
    assert parsed["To"] == message.recipient
    assert "Auto-Submitted" not in parsed and "X-Auto-Response-Suppress" not in parsed


def test_loop_header_names_our_mail_domain(app, queue_reply):
    app.config["MAIL_DOMAIN"] = "helpdesk.lpse-uji.example.go.id"
    parsed = sent_form(compose(queue_reply(), sender=SENDER, loop_header="X-Helpdesk-Loop"))
    assert parsed["X-Helpdesk-Loop"] == "helpdesk.lpse-uji.example.go.id"
    assert LOOP not in parsed


def test_only_automatic_messages_are_marked_auto_submitted(app, queue_reply):
    automatic = sent_form(compose(queue_reply(automatic=True), sender=SENDER, loop_header=LOOP))
    assert automatic["Auto-Submitted"] == "auto-replied"
    assert automatic["X-Auto-Response-Suppress"] == "All"
    assert automatic[LOOP]
    officer = sent_form(compose(queue_reply(automatic=False), sender=SENDER, loop_header=LOOP))
    assert officer["Auto-Submitted"] is None and officer[LOOP]


def test_indonesian_subject_and_body_round_trip_as_utf8(app, make_ticket, queue_reply):
    subject = "Dokumen penawaran “CV Maju Jaya” gagal diunggah – mohon bantuan segera ✓"
    ticket = make_ticket(channel="email", subject=subject)
    message = queue_reply(ticket)
    mail = compose(message, sender=SENDER, loop_header=LOOP)
    assert all(line.isascii() for line in header_lines(mail))  # encoded words, not raw UTF-8
    parsed = sent_form(mail)
    assert subject in message.subject and parsed["Subject"] == message.subject
    body = parsed.get_body(("plain",))
    assert body.get_content_charset() == "utf-8"
    assert text_of(body) == message.body.removesuffix("\n")
    assert "Rina Wulandari" in text_of(body)
    assert not parsed.is_multipart()


def test_from_shows_the_office_name_and_date_is_office_local_time(app, queue_reply):
    parsed = sent_form(compose(queue_reply(), sender=SENDER, loop_header=LOOP, now=NOW))
    assert parsed["From"].addresses[0].display_name == "LPSE Kabupaten Uji"
    assert parsed["From"].addresses[0].addr_spec == SENDER
    assert parsed["Date"] == "Tue, 24 Nov 2026 10:00:00 +0700"
    named = sent_form(compose(queue_reply(), sender=f"Layanan LPSE <{SENDER}>", loop_header=LOOP))
    assert named["From"].addresses[0].display_name == "Layanan LPSE"


def test_html_body_becomes_an_alternative_to_the_plain_text(app, queue_reply):
    message = queue_reply()
    message.body_html = "<p>Yth. Pelapor, silakan <b>unggah ulang</b>.</p>"
    parsed = sent_form(compose(message, sender=SENDER, loop_header=LOOP))
    assert parsed.get_content_type() == "multipart/alternative"
    assert text_of(parsed.get_body(("plain",))) == message.body.removesuffix("\n")
    assert text_of(parsed.get_body(("html",))) == message.body_html


def test_row_without_message_id_gets_one_and_keeps_it_for_retries(app, queue_reply):
    message = queue_reply()
    message.message_id = None
    first = compose(message, sender=SENDER, loop_header=LOOP)
    assert message.message_id and first["Message-ID"] == message.message_id
    assert ticket_ref_from(message.message_id) is not None
    assert compose(message, sender=SENDER, loop_header=LOOP)["Message-ID"] == first["Message-ID"]


@pytest.mark.parametrize("subject", [
    "Tolong\r\nBcc: penyusup@evil.example",
    "Tolong\nBcc: penyusup@evil.example",
    "Tolong\rBcc: penyusup@evil.example",
    "Tolong\r\n\r\nbadan palsu",
])
def test_line_breaks_in_the_subject_cannot_add_headers(app, subject):
    message = OutboxMessage(channel="email", recipient="pelapor@penyedia.example.co.id", subject=subject,
                            body="Isi pesan.", headers={}, automatic=False)
    mail = compose(message, sender=SENDER, loop_header=LOOP)
    parsed = sent_form(mail)
    assert parsed["Bcc"] is None
    assert "\n" not in parsed["Subject"] and "\r" not in parsed["Subject"]
    assert parsed["Subject"].startswith("Tolong ")
    assert not any(line.lower().startswith(b"bcc") for line in header_lines(mail))
    assert text_of(parsed) == "Isi pesan."


def test_line_breaks_in_extra_header_values_cannot_add_headers(app):
    message = OutboxMessage(
        channel="email", recipient="pelapor@penyedia.example.co.id", subject="Uji", body="Isi.",
        headers={"In-Reply-To": "<a@penyedia.example.co.id>\r\nBcc: penyusup@evil.example",
                 "References": "<a@penyedia.example.co.id>\n\tX-Injected: ya"}, automatic=False)
    mail = compose(message, sender=SENDER, loop_header=LOOP)
    parsed = sent_form(mail)
    assert parsed["Bcc"] is None and parsed["X-Injected"] is None
    assert parsed["In-Reply-To"] == "<a@penyedia.example.co.id> Bcc: penyusup@evil.example"
    assert not any(line.lower().startswith((b"bcc", b"x-injected")) for line in header_lines(mail))


@pytest.mark.parametrize("recipient", [
    "pelapor@penyedia.example.co.id\r\nBcc: penyusup@evil.example",
    "pelapor@penyedia.example.co.id\nBcc: penyusup@evil.example",
    "pelapor@penyedia.example.co.id, penyusup@evil.example",
    "bukan alamat",
    "",
])
def test_a_recipient_that_is_not_exactly_one_address_is_refused(app, recipient):
    message = OutboxMessage(channel="email", recipient=recipient, subject="Uji", body="Isi.", headers={},
                            automatic=False)
    with pytest.raises(ComposeError):
        compose(message, sender=SENDER, loop_header=LOOP)


@pytest.mark.parametrize("headers", [
    {"Bcc": "penyusup@evil.example"},
    {"from": "penipu@evil.example"},
    {"Message-ID": "<lain@evil.example>"},
    {LOOP: "palsu"},
    {"X-Evil\r\nBcc": "penyusup@evil.example"},
    {"X Spasi": "nilai"},
    {"X-Angka": 5},
])
def test_extra_headers_cannot_replace_ours_or_be_malformed(app, headers):
    message = OutboxMessage(channel="email", recipient="pelapor@penyedia.example.co.id", subject="Uji",
                            body="Isi.", headers=headers, automatic=False)
    with pytest.raises(ComposeError):
        compose(message, sender=SENDER, loop_header=LOOP)


def test_sender_address_is_mail_from_else_the_office_email(app, office):
    app.config["MAIL_FROM"] = None
    with pytest.raises(NoSenderAddress, match="MAIL_FROM"):
        sender_address(office)
    with pytest.raises(NoSenderAddress):
        sender_address(None)
    office.email = "lpse@uji.example.go.id"
    assert sender_address(office) == "lpse@uji.example.go.id"
    app.config["MAIL_FROM"] = "Helpdesk LPSE <helpdesk@lpse-uji.example.go.id>"
    assert sender_address(office) == "Helpdesk LPSE <helpdesk@lpse-uji.example.go.id>"
    assert sender_address(None) == "Helpdesk LPSE <helpdesk@lpse-uji.example.go.id>"
    app.config["MAIL_FROM"] = "helpdesk@lpse-uji.example.go.id\r\nBcc: penyusup@evil.example"
    assert sender_address(office) == "lpse@uji.example.go.id"  # a broken MAIL_FROM is not used
