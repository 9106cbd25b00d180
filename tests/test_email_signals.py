"""Classifying inbound mail (person, autoresponder, out-of-office, bounce, report, list) on real .eml files."""
from __future__ import annotations

from pathlib import Path

import pytest

from channels.email.parse import parse_email
from channels.email.signals import NO_REPLY_REASONS, MailKind, Signals, classify

FIXTURES = Path(__file__).parent / "email"
OWN = {"helpdesk@lpse-kota.example"}
LOOP = "X-LPSE-Helpdesk-Loop"
OUR_ID = "<LPSE-2026-000123.a1b2c3d4e5f6.0123456789abcdef@lpse-kota.example>"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def signals_of(data: bytes, own: set[str] = OWN, loop_header: str = LOOP) -> Signals:
    return classify(parse_email(data), own_addresses=own, loop_header=loop_header)


def with_header(data: bytes, header: bytes) -> bytes:
    """The message with one more header line on top, in the file's own line ending."""
    newline = b"\r\n" if b"\r\n" in data else b"\n"
    return header + newline + data


@pytest.mark.parametrize(("name", "kind", "reason", "detail"), [
    ("bounce-postfix.eml", MailKind.BOUNCE, "system_sender", "From: mailer-daemon@mx.lpse-kota.example"),
    ("bounce-gmail-dsn.eml", MailKind.BOUNCE, "system_sender", "From: mailer-daemon@googlemail.com"),
    ("bounce-exchange-ndr.eml", MailKind.BOUNCE, "bounce", "Action: failed"),
    ("bounce-exim-inline.eml", MailKind.BOUNCE, "system_sender", "From: mailer-daemon@mail.hosting.example"),
    ("dsn-delayed.eml", MailKind.DELIVERY_REPORT, "system_sender", "From: mailer-daemon@mx.lpse-kota.example"),
    ("mdn-read-receipt.eml", MailKind.DELIVERY_REPORT, "delivery_report", "report-type=disposition-notification"),
    ("oof-exchange.eml", MailKind.OUT_OF_OFFICE, "auto_submitted", "Auto-Submitted: auto-generated"),
    ("oof-gmail-vacation.eml", MailKind.OUT_OF_OFFICE, "auto_submitted", "Auto-Submitted: auto-replied"),
    ("oof-outlook-indonesian.eml", MailKind.OUT_OF_OFFICE, "auto_submitted", "Auto-Submitted: auto-replied"),
    ("oof-zimbra.eml", MailKind.OUT_OF_OFFICE, "auto_submitted", "Auto-Submitted: auto-replied (zimbra; vacation)"),
    ("autoreply-ticket-ack.eml", MailKind.AUTO_REPLY, "autoreply_header", "X-Autoreply: yes"),
    ("list-mailman.eml", MailKind.BULK, "precedence", "Precedence: list"),
    ("newsletter-list-unsubscribe.eml", MailKind.BULK, "list",
     "List-Unsubscribe: <https://infotender.example/unsub?u=8841>, <mailto:unsub-8841@infotender.example>"),
    ("precedence-bulk.eml", MailKind.BULK, "precedence", "Precedence: bulk"),
    ("loop-header.eml", MailKind.AUTO_REPLY, "loop_header", "X-LPSE-Helpdesk-Loop: lpse-kota"),
    ("noreply-notification.eml", MailKind.HUMAN, "system_sender", "From: noreply@spse.lpse-kota.example"),
    ("plain-utf8-qp-crlf.eml", MailKind.HUMAN, None, ""),
    ("human-auto-submitted-no.eml", MailKind.HUMAN, None, ""),
])
def test_fixture_is_classified(name: str, kind: MailKind, reason: str | None, detail: str):
    signals = signals_of(raw(name))
    assert (signals.kind, signals.no_reply_reason, signals.no_reply_detail) == (kind, reason, detail)
    assert reason is None or reason in NO_REPLY_REASONS


@pytest.mark.parametrize(("name", "original"), [
    ("bounce-postfix.eml", OUR_ID),  # the attached message/rfc822
    ("bounce-gmail-dsn.eml", "<CAHelpdesk0001+reply@mail.gmail.com>"),  # text/rfc822-headers
    ("bounce-exchange-ndr.eml", OUR_ID),
    ("bounce-exim-inline.eml", OUR_ID.replace("000123", "000124")),  # the copy of the headers in the body
    ("dsn-delayed.eml", OUR_ID.replace("000123", "000125")),
    ("mdn-read-receipt.eml", OUR_ID),  # Original-Message-ID of the disposition notification
])
def test_reports_name_the_message_they_report_on(name: str, original: str):
    assert signals_of(raw(name)).original_message_ids == [original]


def test_bounce_without_an_attached_original_falls_back_to_threading_headers():
    data = raw("bounce-exchange-ndr.eml")
    data = data.split(b"\r\n--a6f1c2d3-0b4e-4f5a-9c8d-7e6f5a4b3c2d\r\nContent-Type: message/rfc822")[0] + \
        b"\r\n--a6f1c2d3-0b4e-4f5a-9c8d-7e6f5a4b3c2d--\r\n"
    signals = signals_of(data)
    assert signals.kind == MailKind.BOUNCE
    assert signals.original_message_ids == [OUR_ID]  # from In-Reply-To


def test_people_and_lists_have_no_original_message_ids():
    assert signals_of(raw("oof-exchange.eml")).original_message_ids == []


def test_auto_submitted_no_is_a_person_we_may_answer():
    signals = signals_of(raw("human-auto-submitted-no.eml"))
    assert signals == Signals(kind=MailKind.HUMAN, no_reply_reason=None, no_reply_detail="",
                              original_message_ids=[], has_loop_header=False)


def test_loop_header_is_matched_whatever_its_case_and_comes_first():
    signals = signals_of(raw("loop-header.eml"), loop_header="x-lpse-helpdesk-loop")
    assert signals.has_loop_header
    assert signals.no_reply_reason == "loop_header"  # before own_address: it is From our helpdesk too


def test_loop_header_inside_a_bounced_copy_does_not_count():
    data = raw("bounce-postfix.eml")
    assert b"X-LPSE-Helpdesk-Loop: lpse-kota" in data  # in the attached original only
    assert not signals_of(data).has_loop_header


def test_mail_from_our_own_address_is_not_answered():
    signals = signals_of(raw("plain-utf8-qp-crlf.eml"), own={"Budi.Santoso@example.com"})
    assert (signals.kind, signals.no_reply_reason) == (MailKind.HUMAN, "own_address")
    assert signals.no_reply_detail == "From: budi.santoso@example.com"


def test_empty_return_path_with_a_report_shape_is_a_system_sender():
    data = with_header(raw("bounce-exchange-ndr.eml"), b"Return-Path: <>")
    signals = signals_of(data)
    assert (signals.no_reply_reason, signals.no_reply_detail) == ("system_sender", "Return-Path: <>")


def test_empty_return_path_alone_does_not_make_a_system_sender():
    signals = signals_of(with_header(raw("plain-utf8-qp-crlf.eml").split(b"\r\n", 1)[1], b"Return-Path: <>"))
    assert signals.no_reply_reason is None


def test_x_auto_response_suppress_alone_blocks_replies_but_stays_human():
    signals = signals_of(with_header(raw("plain-utf8-qp-crlf.eml"), b"X-Auto-Response-Suppress: All"))
    assert (signals.kind, signals.no_reply_reason) == (MailKind.HUMAN, "auto_response_suppress")


@pytest.mark.parametrize("header", [b"X-Autorespond: yes", b"X-Autoresponder: true", b"X-Auto-Reply-From: x@y.z",
                                    b"X-Mail-Autoreply: yes", b"X-Autoreply: yes"])
def test_autoresponder_headers_mean_an_auto_reply(header: bytes):
    signals = signals_of(with_header(raw("plain-utf8-qp-crlf.eml"), header))
    assert (signals.kind, signals.no_reply_reason) == (MailKind.AUTO_REPLY, "autoreply_header")


@pytest.mark.parametrize(("value", "kind"), [(b"bulk", MailKind.BULK), (b"junk", MailKind.BULK),
                                             (b"list", MailKind.BULK), (b"auto_reply", MailKind.AUTO_REPLY)])
def test_precedence_values(value: bytes, kind: MailKind):
    signals = signals_of(with_header(raw("plain-utf8-qp-crlf.eml"), b"Precedence: " + value))
    assert (signals.kind, signals.no_reply_reason) == (kind, "precedence")


def test_list_id_alone_is_bulk():
    signals = signals_of(with_header(raw("plain-utf8-qp-crlf.eml"), b"List-Id: <pengadaan.lists.example.org>"))
    assert (signals.kind, signals.no_reply_reason) == (MailKind.BULK, "list")


def test_auto_submitted_reply_without_vacation_words_is_an_auto_reply():
    data = raw("oof-gmail-vacation.eml").replace(b"Subject: Sedang cuti: Re:", b"Subject: Re:")
    data = data.replace(b"sedang cuti", b"akan membalas")
    signals = signals_of(data)
    assert (signals.kind, signals.no_reply_reason) == (MailKind.AUTO_REPLY, "auto_submitted")


def test_exchange_oof_is_recognised_by_its_headers_alone():
    data = raw("oof-exchange.eml").replace(b"Subject: Automatic reply: ", b"Subject: ")
    assert signals_of(data).kind == MailKind.OUT_OF_OFFICE


def test_message_without_a_usable_sender_is_not_answered():
    data = raw("plain-utf8-qp-crlf.eml").split(b"\r\n", 1)[1]  # drop Return-Path
    data = data.replace(b"From: Budi Santoso <Budi.Santoso@Example.com>", b"From: (c):")
    signals = signals_of(data)
    assert (signals.kind, signals.no_reply_reason) == (MailKind.HUMAN, "no_sender")


def test_bounce_subject_from_postmaster_without_a_report_is_a_bounce():
    data = (b"From: postmaster@pemkab.example\nTo: helpdesk@lpse-kota.example\n"
            b"Subject: Undeliverable: Jawaban atas pertanyaan Anda\n"
            b"In-Reply-To: " + OUR_ID.encode() + b"\n\nThe message could not be delivered.\n")
    signals = signals_of(data)
    assert signals.kind == MailKind.BOUNCE and signals.original_message_ids == [OUR_ID]
