"""The whole email channel against a real Dovecot and a real SMTP server.

mailbox → ticket → acknowledgement → staff reply → requester reply threads back; filing into the processed and
pending folders; a poller killed with SIGKILL in the middle of a batch; an IMAP server that goes away.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from channels.email.imap import ImapError
from channels.email.poller import mailbox_configs, poll_once, stale_mailboxes
from channels.email.smtp import make_sender
from helpdesk import tickets
from helpdesk.delivery import deliver_due
from helpdesk.extensions import db
from helpdesk.models import InboundEmail, Mailbox, OutboxMessage, Ticket, TicketEvent
from helpdesk.states import Status

REQUESTER = "siti@cvmaju.example.co.id"
WIB = timezone(timedelta(hours=7))
# Friday, a working morning; in the past, because Dovecot keeps the server time for a future INTERNALDATE.
ARRIVED = datetime(2026, 11, 20, 10, 0, tzinfo=WIB)


def mail(*, subject: str, body: str, sender: str = f"Siti Rahmawati <{REQUESTER}>", reply_to_id: str | None = None,
         message_id: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "helpdesk@lpse-uji.example.go.id"
    message["Subject"] = subject
    message["Date"] = format_datetime(ARRIVED)
    message["Message-ID"] = message_id or make_msgid(domain="cvmaju.example.co.id")
    if reply_to_id:
        message["In-Reply-To"] = reply_to_id
        message["References"] = reply_to_id
    message.set_content(body)
    return message.as_bytes()


def the_mailbox(app):
    [mailbox] = mailbox_configs(app.config)
    return mailbox


def folder_named(dovecot, leaf: str) -> str:
    return next(name for name, _delimiter in dovecot.folders() if name.endswith(leaf))


def deliver(app) -> None:
    report = deliver_due(make_sender(app.config), now=datetime.now(timezone.utc) + timedelta(seconds=1))
    assert report.failed == 0


def test_mailbox_to_ticket_to_acknowledgement_to_reply_and_back(mail_app, dovecot, smtp, make_staff):
    app = mail_app
    first_id = make_msgid(domain="cvmaju.example.co.id")
    dovecot.append(mail(subject="Gagal unggah dokumen penawaran", message_id=first_id,
                        body="Selamat pagi, saat unggah dokumen penawaran muncul pesan galat."), internaldate=ARRIVED)

    summary = poll_once(the_mailbox(app))
    assert summary.outcomes == {"ticket": 1}
    ticket = db.session.scalar(select(Ticket))
    assert ticket.channel == "email" and ticket.received_at == ARRIVED  # INTERNALDATE is the receipt time
    assert dovecot.folder_uids("INBOX") == []
    assert len(dovecot.fetch_all(folder_named(dovecot, "Diproses"))) == 1

    # The acknowledgement leaves through SMTP, threaded to the requester's message.
    deliver(app)
    [ack] = smtp.received
    ack_mail = ack.message
    assert ack.rcpt_tos == (REQUESTER,)
    assert ack_mail["Subject"].startswith(f"[#{ticket.ref}]")
    assert ack_mail["In-Reply-To"] == first_id
    assert ack_mail["Auto-Submitted"] == "auto-replied"
    assert ack_mail[app.config["MAIL_LOOP_HEADER"]]
    assert "Senin, 23 November 2026 pukul 10.00 WIB" in ack_mail.get_content()

    # An officer replies; the requester answers that reply, quoting it.
    officer = make_staff()
    tickets.add_message(ticket, direction="outbound", body="Silakan gunakan Apendo versi terbaru.", actor=officer)
    db.session.commit()
    deliver(app)
    reply_mail = smtp.received[1].message
    assert ticket.ref in reply_mail["Subject"] and reply_mail["Auto-Submitted"] is None
    answer = mail(subject="Re: " + reply_mail["Subject"], reply_to_id=reply_mail["Message-ID"],
                  body="Sudah saya coba, berhasil. Terima kasih.\n\nPada Jum, 20 Nov 2026 pukul 11.00 Helpdesk "
                       "menulis:\n> Silakan gunakan Apendo versi terbaru.\n")
    dovecot.append(answer, internaldate=ARRIVED + timedelta(hours=2))
    assert poll_once(the_mailbox(app)).outcomes == {"reply": 1}
    db.session.refresh(ticket)
    [received] = db.session.scalars(select(TicketEvent).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "message_received")).all()
    assert received.body.startswith("Sudah saya coba")
    assert received.body[received.data["quoted_at"]:].lstrip().startswith("Pada Jum")
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_mail_of_a_pending_ticket_is_filed_in_the_pending_folder_and_back(mail_app, dovecot, make_staff):
    app = mail_app
    dovecot.append(mail(subject="Verifikasi akun", body="Akun saya belum diverifikasi."), internaldate=ARRIVED)
    poll_once(the_mailbox(app))
    ticket = db.session.scalar(select(Ticket))
    officer = make_staff()
    tickets.change_status(ticket, Status.PENDING, actor=officer)
    db.session.commit()

    assert poll_once(the_mailbox(app)).refiled == 1
    assert len(dovecot.fetch_all(folder_named(dovecot, "Pending"))) == 1
    assert dovecot.fetch_all(folder_named(dovecot, "Diproses")) == {}

    tickets.change_status(ticket, Status.OPEN, actor=officer)
    db.session.commit()
    poll_once(the_mailbox(app))
    assert dovecot.fetch_all(folder_named(dovecot, "Pending")) == {}
    assert len(dovecot.fetch_all(folder_named(dovecot, "Diproses"))) == 1


def test_a_changed_uidvalidity_reads_the_folder_again_without_duplicates(mail_app, dovecot):
    app = mail_app
    dovecot.append(mail(subject="Pertama", body="Pesan pertama."))
    poll_once(the_mailbox(app))
    state = db.session.scalar(select(Mailbox))
    state.uidvalidity, state.last_uid = 1, 10**6  # as if the server had renumbered the folder
    db.session.commit()
    dovecot.append(mail(subject="Kedua", body="Pesan kedua."))
    summary = poll_once(the_mailbox(app))
    assert summary.outcomes == {"ticket": 1}
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 2


def test_an_unreachable_mailbox_is_recorded_and_warned_about_then_recovers(mail_app, dovecot):
    app = mail_app
    poll_once(the_mailbox(app))
    dovecot.stop()
    try:
        with pytest.raises(ImapError):
            poll_once(the_mailbox(app))
        state = db.session.scalar(select(Mailbox))
        db.session.refresh(state)
        assert state.failures == 1 and state.last_error
        assert stale_mailboxes(now=datetime.now(timezone.utc) + timedelta(minutes=16)) == [state]
        assert stale_mailboxes() == []  # read successfully a moment ago
    finally:
        dovecot.start()
    dovecot.append(mail(subject="Setelah pulih", body="Server kembali."))
    assert poll_once(the_mailbox(app)).outcomes == {"ticket": 1}
    db.session.refresh(state)
    assert state.failures == 0 and state.last_error is None


def test_mail_import_prints_one_line_per_file(app, office, tmp_path):
    from helpdesk.cli import cli

    good = tmp_path / "tanya.eml"
    good.write_bytes(mail(subject="Lupa kata sandi", body="Saya lupa kata sandi akun penyedia."))
    broken = tmp_path / "tanpa-pengirim.eml"
    broken.write_bytes(b"Subject: siapa?\r\n\r\nTanpa pengirim.\r\n")
    os.utime(good, (ARRIVED.timestamp(), ARRIVED.timestamp()))
    result = app.test_cli_runner().invoke(cli, ["mail", "import", str(good), str(good), str(broken)],
                                          catch_exceptions=False)
    assert result.exit_code == 0, result.output
    ticket = db.session.scalar(select(Ticket))
    lines = result.output.strip().splitlines()
    assert lines[0] == f"{good}: {ticket.ref}"
    assert lines[1] == f"{good}: duplicate"
    assert lines[2].startswith(f"{broken}: quarantined: ")
    assert ticket.received_at == ARRIVED  # the file's modification time


# -- crash safety --------------------------------------------------------------------------------------------

def _poller_env(app, dovecot, database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": database_url, "HELPDESK_DATA_DIR": app.config["DATA_DIR"],
        "HELPDESK_SECRET_KEY": app.config["SECRET_KEY"],
        "HELPDESK_IMAP_HOST": dovecot.host, "HELPDESK_IMAP_PORT": str(dovecot.port),
        "HELPDESK_IMAP_USER": dovecot.user, "HELPDESK_IMAP_PASSWORD": dovecot.password,
        "HELPDESK_IMAP_SECURITY": "plain", "HELPDESK_MAIL_BATCH_SIZE": "20", "HELPDESK_MAIL_POLL_SECONDS": "1",
    })
    return env


def _count_inbound() -> int:
    db.session.rollback()  # a fresh snapshot
    return db.session.scalar(select(func.count()).select_from(InboundEmail))


def test_poller_killed_mid_batch_and_restarted_takes_every_message_exactly_once(app, office, dovecot, database_url):
    total = 500
    ids = []
    with dovecot.client() as client:
        for n in range(total):
            message_id = f"<crash-{n}@penyedia.example.co.id>"
            ids.append(message_id)
            client.append("INBOX", mail(subject=f"Pertanyaan {n}", body=f"Isi pertanyaan nomor {n}.",
                                        sender=f"Penyedia {n} <penyedia{n}@example.co.id>", message_id=message_id))
    helpdesk = str(Path(sys.executable).parent / "helpdesk")
    env = _poller_env(app, dovecot, database_url)
    poller = subprocess.Popen([helpdesk, "mail", "poll"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while _count_inbound() < 130:
            assert poller.poll() is None, poller.stdout.read().decode(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the poller took nothing in two minutes"
            time.sleep(0.02)
        os.killpg(poller.pid, signal.SIGKILL)
    finally:
        if poller.poll() is None:
            os.killpg(poller.pid, signal.SIGKILL)
        poller.wait()
    taken_before_restart = _count_inbound()
    assert taken_before_restart < total, "the poller finished before it was killed: nothing was tested"

    rerun = subprocess.run([helpdesk, "mail", "poll", "--once"], env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr

    db.session.rollback()
    stored = db.session.scalars(select(InboundEmail.message_id)).all()
    assert sorted(stored) == sorted(ids)  # every message once: none lost, none twice
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == total
    assert dovecot.folder_uids("INBOX") == []
    filed = dovecot.fetch_all(folder_named(dovecot, "Diproses"))
    filed_ids = sorted(message_from_bytes(m.raw, policy=policy.default)["Message-ID"] for m in filed.values())
    assert filed_ids == sorted(ids)
    acks = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.automatic))
    assert acks == total
