"""Outbox delivery (helpdesk/delivery.py) through the real SMTP sender (channels/email/smtp.py) to a real server.

Every delivery goes to aiosmtpd on 127.0.0.1 (tests/servers/smtp.py); smtplib is refused any other host.
"""
from __future__ import annotations

import logging
import os
import smtplib
import threading
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from channels.email.smtp import SmtpPermanentError, SmtpTemporaryError, make_sender, send
from helpdesk.delivery import LEASE, DeliveryReport, deliver_due, outbox_backlog, retry, retry_delay
from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.models import OutboxMessage, Ticket, TicketEvent
from helpdesk.outbox import enqueue_email
from helpdesk.timeutil import utcnow

from .servers.smtp import SmtpServer, TestCa, make_test_ca, refuse_other_hosts, smtp_server

FROM = "helpdesk@lpse-uji.example.go.id"
LOOP = "X-LPSE-Helpdesk-Loop"


# -- fixtures ---------------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_other_hosts(monkeypatch)


@pytest.fixture
def smtp():
    """A plain SMTP server on a loopback port, recording what it accepts."""
    with smtp_server() as server:
        yield server


@pytest.fixture
def sender(app, smtp):
    """The email sender the scheduler would wire in, configured for ``smtp``."""
    app.config.update(smtp.config(), MAIL_FROM=FROM)
    return make_sender(app.config)


@pytest.fixture
def queue_reply(make_ticket, make_staff):
    """``queue_reply(ticket=None)``: an officer's reply queued through enqueue_email and committed."""
    officer = make_staff(name="Rina Wulandari")

    def _queue_reply(ticket: Ticket | None = None) -> OutboxMessage:
        ticket = ticket or make_ticket(channel="email")
        message = enqueue_email(to=ticket.requester.email, template="staff-reply", ticket=ticket,
                                reply="Silakan unggah ulang dengan peramban terbaru.", officer=officer,
                                signature="Helpdesk")
        db.session.commit()
        return message
    return _queue_reply


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCa:
    ca = make_test_ca(tmp_path_factory.mktemp("smtp-tls"))
    if ca is None:
        reason = "the openssl command is needed to make a test certificate"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return ca


def reload(message: OutboxMessage) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, message.id)


def event_kinds(ticket_id: int) -> list[str]:
    return list(db.session.scalars(
        select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)))


def plain_mail(to: str = "pelapor@penyedia.example.co.id") -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = f"LPSE Kabupaten Uji <{FROM}>"
    mail["To"] = to
    mail["Subject"] = "Uji kirim"
    mail.set_content("Isi pesan uji.")
    return mail


# -- delivery ---------------------------------------------------------------------------------------------

def test_due_replies_are_delivered_once_each_over_smtp(app, smtp, sender, queue_reply):
    first, second = queue_reply(), queue_reply()
    assert deliver_due(sender) == DeliveryReport(sent=2)
    assert len(smtp.received) == 2
    for message, received in zip((first, second), smtp.received):
        row = reload(message)
        assert received.mail_from == FROM and received.rcpt_tos == (row.recipient,)
        mail = received.message
        assert mail["Message-ID"] == row.message_id and mail["To"] == row.recipient
        assert mail["From"].addresses[0].addr_spec == FROM
        assert mail[LOOP] == "lpse-uji.example.go.id" and mail["Auto-Submitted"] is None
        assert mail["Subject"] == row.subject
        assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None and row.last_error is None
        assert "email_sent" in event_kinds(row.ticket_id)
    assert deliver_due(sender) == DeliveryReport()  # idempotent: nothing is due any more
    assert len(smtp.received) == 2


def test_an_officers_reply_goes_before_a_burst_of_automatic_mail(app, smtp, sender, queue_reply):
    automatic = [queue_reply() for _ in range(3)]
    for message in automatic:
        message.automatic = True
    reply = queue_reply()
    db.session.commit()
    assert deliver_due(sender, limit=1) == DeliveryReport(sent=1)
    assert reload(reply).status == "sent" and [reload(m).status for m in automatic] == ["queued"] * 3
    assert deliver_due(sender, limit=1) == DeliveryReport(sent=1)
    assert reload(automatic[0]).status == "sent"  # then the automatic ones, oldest first


def test_a_run_sends_over_one_connection_and_reconnects_when_it_went_stale(app, smtp, sender, queue_reply):
    first = [queue_reply() for _ in range(3)]
    assert deliver_due(sender) == DeliveryReport(sent=3)
    assert smtp.connections == 1 and sender.session.connection is None  # closed at the end of the run
    # A kept connection the server dropped meanwhile: reopened once, the message is not counted as failed.
    more = [queue_reply() for _ in range(2)]
    sender.session.send(plain_mail())
    sender.session.connection.sock.close()
    assert deliver_due(sender) == DeliveryReport(sent=2)
    assert all(reload(message).attempts == 1 for message in first + more)
    assert len(smtp.received) == 6


def test_smtp_down_keeps_the_message_and_a_later_run_delivers_it_once(app, smtp, sender, queue_reply):
    message = queue_reply()
    smtp.stop()
    now = utcnow()
    assert deliver_due(sender, now=now) == DeliveryReport(retried=1)
    row = reload(message)
    assert row.status == "queued" and row.attempts == 1
    assert row.next_attempt_at == now + timedelta(seconds=app.config["OUTBOX_RETRY_SECONDS"]) > now
    assert "cannot connect" in row.last_error and str(smtp.port) in row.last_error
    assert event_kinds(row.ticket_id).count("email_sent") == 0

    smtp.start()
    assert deliver_due(sender, now=now + timedelta(seconds=30)) == DeliveryReport()  # not due yet
    assert smtp.received == []
    assert deliver_due(sender, now=row.next_attempt_at) == DeliveryReport(sent=1)
    assert [mail.message["Message-ID"] for mail in smtp.received] == [row.message_id]
    row = reload(message)
    assert row.status == "sent" and row.attempts == 2
    assert deliver_due(sender, now=row.next_attempt_at + timedelta(days=1)) == DeliveryReport()
    assert len(smtp.received) == 1


def test_rejected_recipient_fails_the_message_and_flags_its_ticket(app, smtp, sender, make_ticket,
                                                                   make_requester, queue_reply):
    requester = make_requester(email="tidak.ada@penyedia.example.co.id")
    smtp.reject("tidak.ada@penyedia.example.co.id", "550 5.1.1 mailbox unavailable")
    message = queue_reply(make_ticket(channel="email", requester=requester))
    assert deliver_due(sender) == DeliveryReport(failed=1)
    row = reload(message)
    assert row.status == "failed" and row.attempts == 1
    assert "550 5.1.1 mailbox unavailable" in row.last_error
    ticket = db.session.get(Ticket, row.ticket_id)
    assert ticket.flag == "delivery_failed"
    assert event_kinds(ticket.id)[-2:] == ["email_failed", "flagged"]
    failed = db.session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                         TicketEvent.kind == "email_failed"))
    assert failed.data["outbox_id"] == row.id and "550" in failed.data["error"]
    assert smtp.received == []
    assert deliver_due(sender, now=utcnow() + timedelta(days=1)) == DeliveryReport()  # failed is final


def test_temporary_rejection_is_retried_with_the_server_reply_kept(app, smtp, sender, make_ticket,
                                                                   make_requester, queue_reply):
    requester = make_requester(email="penuh@penyedia.example.co.id")
    smtp.reject("penuh@penyedia.example.co.id", "452 4.2.2 mailbox full")
    message = queue_reply(make_ticket(channel="email", requester=requester))
    assert deliver_due(sender) == DeliveryReport(retried=1)
    row = reload(message)
    assert row.status == "queued" and "452 4.2.2 mailbox full" in row.last_error
    assert db.session.get(Ticket, row.ticket_id).flag is None


def test_message_fails_after_max_attempts_with_doubling_delays(app, smtp, sender, queue_reply):
    app.config.update(OUTBOX_MAX_ATTEMPTS=3, OUTBOX_RETRY_SECONDS=60)
    message = queue_reply()
    smtp.stop()
    now = utcnow()
    delays = []
    for _ in range(2):
        assert deliver_due(sender, now=now) == DeliveryReport(retried=1)
        row = reload(message)
        delays.append(row.next_attempt_at - now)
        now = row.next_attempt_at
    assert delays == [timedelta(seconds=60), timedelta(seconds=120)]
    assert deliver_due(sender, now=now) == DeliveryReport(failed=1)
    row = reload(message)
    assert row.status == "failed" and row.attempts == 3
    assert "gave up after 3 attempts" in row.last_error and "cannot connect" in row.last_error
    assert db.session.get(Ticket, row.ticket_id).flag == "delivery_failed"
    assert "email_failed" in event_kinds(row.ticket_id)


def test_retry_delay_doubles_up_to_six_hours():
    assert [retry_delay(n, first=60) for n in (1, 2, 3)] == [timedelta(seconds=s) for s in (60, 120, 240)]
    assert retry_delay(9, first=60) == timedelta(seconds=60 * 256)
    assert retry_delay(10, first=60) == timedelta(hours=6)
    assert retry_delay(500, first=60) == timedelta(hours=6)


def test_an_unexpected_sender_error_is_logged_and_does_not_stop_the_batch(app, smtp, sender, queue_reply,
                                                                          caplog):
    broken, fine = queue_reply(), queue_reply()

    def flaky(message: OutboxMessage) -> None:
        if message.id == broken.id:
            raise RuntimeError("template data is broken")
        sender(message)

    with caplog.at_level(logging.ERROR, logger="helpdesk.delivery"):
        assert deliver_due(flaky) == DeliveryReport(sent=1, retried=1)
    assert any(record.exc_info and "RuntimeError" in record.exc_text for record in caplog.records)
    assert reload(broken).status == "queued" and reload(broken).last_error == "RuntimeError: template data is broken"
    assert reload(fine).status == "sent"
    assert [mail.rcpt_tos for mail in smtp.received] == [(fine.recipient,)]


def test_without_a_sender_address_messages_wait_with_the_reason(app, smtp, sender, queue_reply):
    app.config["MAIL_FROM"] = None  # and the office has no email address
    message = queue_reply()
    assert deliver_due(sender) == DeliveryReport(retried=1)
    row = reload(message)
    assert row.status == "queued" and "MAIL_FROM" in row.last_error
    assert smtp.received == []


def test_two_workers_at_once_send_each_message_once(app, smtp, sender, make_ticket, queue_reply):
    ticket = make_ticket(channel="email")
    messages = [queue_reply(ticket) for _ in range(12)]
    # Each worker waits in its first send until the other is sending too, so both are inside deliver_due with
    # overlapping lists of due messages and race for every claim after that.
    both_sending = threading.Barrier(2)
    reports: dict[int, DeliveryReport] = {}
    errors: list[BaseException] = []

    def work(n: int) -> None:
        waited = False
        own = make_sender(app.config)  # each worker its own sender (and SMTP connection), as each job run has

        def send_after_meeting(message: OutboxMessage) -> None:
            nonlocal waited
            if not waited:
                waited = True
                both_sending.wait(timeout=30)
            own(message)

        try:
            with app.app_context():  # its own app context: its own session and connection
                reports[n] = deliver_due(send_after_meeting)
        except BaseException as exc:  # noqa: BLE001  (reported below, in the test's thread)
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors and len(reports) == 2
    assert all(report.sent >= 1 and report.retried == report.failed == 0 for report in reports.values())
    assert sum(report.sent for report in reports.values()) == len(messages)
    received_ids = [mail.message["Message-ID"] for mail in smtp.received]
    assert sorted(received_ids) == sorted(reload(message).message_id for message in messages)
    assert all(reload(message).status == "sent" and reload(message).attempts == 1 for message in messages)
    assert event_kinds(ticket.id).count("email_sent") == len(messages)


def test_a_claim_left_by_a_crashed_worker_is_sent_after_its_lease(app, smtp, sender, queue_reply):
    message = queue_reply()
    now = utcnow()

    def crash(message: OutboxMessage) -> None:
        raise SystemExit("the worker process is killed mid-send")

    with pytest.raises(SystemExit):
        deliver_due(crash, now=now)
    db.session.rollback()
    row = reload(message)
    assert row.status == "sending" and row.attempts == 1
    assert deliver_due(sender, now=now + LEASE - timedelta(seconds=1)) == DeliveryReport()  # still claimed
    assert smtp.received == []
    assert deliver_due(sender, now=now + LEASE) == DeliveryReport(sent=1)
    row = reload(message)
    assert row.status == "sent" and row.attempts == 2
    assert [mail.message["Message-ID"] for mail in smtp.received] == [row.message_id]


def test_a_claim_that_crashed_on_its_last_attempt_fails_instead_of_looping(app, smtp, sender, queue_reply):
    app.config["OUTBOX_MAX_ATTEMPTS"] = 1
    message = queue_reply()
    now = utcnow()

    def crash(message: OutboxMessage) -> None:
        raise SystemExit("the worker process is killed mid-send")

    with pytest.raises(SystemExit):
        deliver_due(crash, now=now)
    db.session.rollback()
    assert deliver_due(sender, now=now + LEASE) == DeliveryReport(failed=1)
    row = reload(message)
    assert row.status == "failed" and "never finished" in row.last_error
    assert db.session.get(Ticket, row.ticket_id).flag == "delivery_failed"
    assert smtp.received == []


def test_retry_queues_a_failed_message_again(app, smtp, sender, make_ticket, make_requester, make_staff,
                                             queue_reply):
    address = "pindah@penyedia.example.co.id"
    smtp.reject(address, "550 5.1.1 mailbox unavailable")
    message = queue_reply(make_ticket(channel="email", requester=make_requester(email=address)))
    assert deliver_due(sender) == DeliveryReport(failed=1)
    smtp.accept(address)  # the requester's mailbox works again
    admin = make_staff(role="admin")
    retry(reload(message), actor=admin)
    db.session.commit()
    row = reload(message)
    assert row.status == "queued" and row.attempts == 0 and "550" in row.last_error
    assert deliver_due(sender) == DeliveryReport(sent=1)
    assert reload(message).status == "sent"
    assert [mail.rcpt_tos for mail in smtp.received] == [(address,)]
    with pytest.raises(ValidationError):
        retry(reload(message), actor=admin)


def test_outbox_backlog_counts_by_status_and_ages_the_oldest_queued(app, smtp, sender, make_ticket,
                                                                    make_requester, queue_reply):
    address = "tidak.ada@penyedia.example.co.id"
    smtp.reject(address, "550 5.1.1 mailbox unavailable")
    queue_reply()
    queue_reply(make_ticket(channel="email", requester=make_requester(email=address)))
    assert deliver_due(sender) == DeliveryReport(sent=1, failed=1)
    waiting = [queue_reply(), queue_reply()]
    oldest = reload(waiting[0]).created_at
    backlog = outbox_backlog(now=oldest + timedelta(seconds=90))
    assert backlog == {"queued": 2, "sending": 0, "sent": 1, "failed": 1, "oldest_queued_at": oldest,
                       "oldest_queued_seconds": 90}
    assert outbox_backlog(channel="sms")["queued"] == 0


# -- the SMTP transport -----------------------------------------------------------------------------------

def test_starttls_with_login_verifies_the_certificate_and_authenticates(test_ca, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(test_ca.ca_file))
    with smtp_server(users={"helpdesk": "sandi-rahasia-1"}, tls=test_ca, security="starttls") as server:
        send(plain_mail(), config=server.config())
        assert [(mail.mail_from, mail.rcpt_tos, mail.login) for mail in server.received] == [
            (FROM, ("pelapor@penyedia.example.co.id",), "helpdesk")]


def test_implicit_tls_is_verified(test_ca, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(test_ca.ca_file))
    with smtp_server(tls=test_ca, security="ssl") as server:
        send(plain_mail(), config=server.config())
        assert len(server.received) == 1


def test_an_untrusted_certificate_is_a_temporary_error(test_ca, monkeypatch, tmp_path: Path):
    other = make_test_ca(tmp_path / "other")  # a CA that did not sign the server's certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(other.ca_file))
    with smtp_server(tls=test_ca, security="ssl") as server:
        with pytest.raises(SmtpTemporaryError, match="certificate could not be verified"):
            send(plain_mail(), config=server.config())
        assert server.received == []


def test_a_refused_login_is_temporary_and_never_shows_the_password(test_ca, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(test_ca.ca_file))
    with smtp_server(users={"helpdesk": "sandi-rahasia-1"}, tls=test_ca, security="starttls") as server:
        with pytest.raises(SmtpTemporaryError) as refused:
            send(plain_mail(), config=server.config(SMTP_PASSWORD="sandi-keliru-99"))
        assert "535" in str(refused.value) and "helpdesk" in str(refused.value)
        assert "sandi-keliru-99" not in str(refused.value)
        assert server.received == []


def test_starttls_not_offered_is_a_temporary_error(smtp):
    with pytest.raises(SmtpTemporaryError, match="STARTTLS"):
        send(plain_mail(), config=smtp.config(SMTP_SECURITY="starttls"))
    assert smtp.received == []


def test_5xx_is_permanent_and_4xx_temporary(smtp):
    smtp.reject("ditolak@penyedia.example.co.id", "550 5.1.1 mailbox unavailable")
    smtp.reject("nanti@penyedia.example.co.id", "451 4.3.0 try again later")
    with pytest.raises(SmtpPermanentError, match="550 5.1.1 mailbox unavailable"):
        send(plain_mail("ditolak@penyedia.example.co.id"), config=smtp.config())
    with pytest.raises(SmtpTemporaryError, match="451 4.3.0 try again later"):
        send(plain_mail("nanti@penyedia.example.co.id"), config=smtp.config())
    assert smtp.received == []


def test_a_stopped_server_comes_back_on_the_same_port():
    server = SmtpServer()
    server.start()
    try:
        port = server.port
        server.stop()
        with pytest.raises(SmtpTemporaryError, match="cannot connect"):
            send(plain_mail(), config=server.config())
        server.start()
        assert server.port == port
        send(plain_mail(), config=server.config())
        assert len(server.received) == 1
    finally:
        server.stop()


def test_smtp_is_refused_any_host_but_the_loopback():
    with pytest.raises(AssertionError, match="smtp.example.com"):
        smtplib.SMTP("smtp.example.com", 25, timeout=1)
