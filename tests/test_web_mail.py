"""The email channel's pages: outbox, quarantine, mailbox warning, and email events on the ticket page."""
from __future__ import annotations

import hashlib
import itertools
import re
from datetime import datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from helpdesk import formatting, tickets
from helpdesk.blobs import store_blob
from helpdesk.extensions import db
from helpdesk.models import Attachment, InboundEmail, Mailbox, OutboxMessage, Ticket, TicketEvent
from helpdesk.outbox import enqueue_email
from helpdesk.timeutil import utcnow

WIB = ZoneInfo("Asia/Jakarta")
_serial = itertools.count(1)


def text(response) -> str:
    return response.get_data(as_text=True)


def make_inbound(office, *, status: str, raw: bytes | None = None, reason: str | None = None,
                 from_address: str = "budi@penyedia.example.co.id", subject: str = "Tidak bisa login",
                 received_at: datetime | None = None, ticket: Ticket | None = None,
                 message_id: str | None = None) -> InboundEmail:
    """An inbound_email row with its raw bytes in the blob store, as intake leaves one."""
    n = next(_serial)
    raw = raw if raw is not None else f"From: {from_address}\r\nSubject: {subject}\r\n\r\nIsi {n}\r\n".encode()
    blob = store_blob(raw, content_type="message/rfc822")
    content_hash = hashlib.sha256(raw).hexdigest()
    row = InboundEmail(
        office_id=office.id, dedupe_key=hashlib.sha256(f"{n}|{content_hash}".encode()).hexdigest(),
        message_id=message_id, content_hash=content_hash, raw_sha256=blob.sha256, size=len(raw),
        source="imap:default", received_at=received_at or datetime(2026, 11, 24, 9, 0, tzinfo=WIB),
        from_address=from_address, subject=subject, status=status, reason=reason, attempts=1,
        ticket_id=ticket.id if ticket else None)
    db.session.add(row)
    db.session.commit()
    return row


def email_reply(ticket, officer, body: str = "Silakan reset kata sandi lewat menu lupa password.") -> OutboxMessage:
    """An officer's reply by email, queued in the outbox through the ticket service."""
    event = tickets.add_message(ticket, direction="outbound", body=body, actor=officer, via="email")
    db.session.commit()
    return db.session.get(OutboxMessage, event.data["outbox_id"])


def email_message(ticket, body: str, **data) -> TicketEvent:
    """A requester's email on the ticket, with the event data intake records."""
    event = tickets.add_message(ticket, direction="inbound", body=body, via="email",
                                data={"subject": "Re: " + ticket.subject, "from": ticket.requester.email, **data})
    db.session.commit()
    return event


@pytest.fixture
def admin(make_staff):
    return make_staff(role="admin", name="Admin Sistem")


@pytest.fixture
def officer(make_staff):
    return make_staff(role="helpdesk", name="Rina Petugas")


# -- access -----------------------------------------------------------------------------------------------

def test_mail_pages_need_a_login(app, client, office, make_ticket):
    ticket = make_ticket(channel="email")
    row = make_inbound(office, status="quarantined", reason="parser: boom")
    event = email_message(ticket, "Halo", html_sha256=store_blob(b"<p>Halo</p>").sha256)
    db.session.commit()
    urls = [("GET", "/admin/outbox"), ("GET", "/admin/outbox/1"), ("POST", "/admin/outbox/1/retry"),
            ("GET", "/admin/quarantine"), ("GET", f"/admin/quarantine/{row.id}/raw"),
            ("POST", f"/admin/quarantine/{row.id}/retry"), ("POST", f"/tickets/{ticket.ref}/clear-flag"),
            ("GET", f"/tickets/{ticket.ref}/events/{event.id}/html")]
    for method, url in urls:
        response = client.open(url, method=method)
        assert response.status_code == 302 and response.location.startswith("/login"), (method, url)


def test_outbox_is_for_admins_only(client, login, officer, admin, make_ticket):
    message = email_reply(make_ticket(), officer)
    message.status = "failed"
    db.session.commit()
    login(client, officer)
    assert client.get("/admin/outbox").status_code == 403
    assert client.get(f"/admin/outbox/{message.id}").status_code == 403
    assert client.post(f"/admin/outbox/{message.id}/retry").status_code == 403
    db.session.refresh(message)
    assert message.status == "failed"
    assert "/admin/outbox" not in text(client.get("/tickets"))  # no menu entry either
    client.post("/logout")
    login(client, admin)
    assert client.get("/admin/outbox").status_code == 200
    assert client.get(f"/admin/outbox/{message.id}").status_code == 200


@pytest.mark.parametrize("role, allowed", [("helpdesk", True), ("admin", True), ("verifikator", False),
                                           ("kepala", False)])
def test_quarantine_is_for_admins_and_helpdesk_officers(client, login, make_staff, office, role, allowed):
    row = make_inbound(office, status="quarantined", reason="parser: boom")
    login(client, make_staff(role=role))
    expected = 200 if allowed else 403
    assert client.get("/admin/quarantine").status_code == expected
    assert client.get(f"/admin/quarantine/{row.id}/raw").status_code == expected
    if not allowed:
        assert client.post(f"/admin/quarantine/{row.id}/retry").status_code == 403
        assert "/admin/quarantine" not in text(client.get("/tickets"))


def test_other_offices_mail_is_not_shown(client, login, admin, make_office, make_ticket, make_staff):
    other = make_office()
    foreign_row = make_inbound(other, status="quarantined", reason="parser: boom", subject="Surat kantor lain")
    foreign_message = email_reply(make_ticket(office=other), make_staff(office=other))
    login(client, admin)
    assert "Surat kantor lain" not in text(client.get("/admin/quarantine"))
    assert client.get(f"/admin/quarantine/{foreign_row.id}/raw").status_code == 404
    assert client.get(f"/admin/outbox/{foreign_message.id}").status_code == 404
    assert f'data-outbox-id="{foreign_message.id}"' not in text(client.get("/admin/outbox"))


# -- outbox -----------------------------------------------------------------------------------------------

def test_outbox_lists_newest_first_with_status_filter_and_no_smtp_banner(app, client, login, admin, officer,
                                                                         make_ticket):
    ticket = make_ticket(channel="email")
    first = email_reply(ticket, officer, body="Balasan pertama.")
    second = tickets.notify(ticket, "pending")
    second.status, second.attempts, second.last_error = "failed", 8, "550 5.1.1 mailbox unavailable"
    db.session.commit()
    login(client, admin)
    page = text(client.get("/admin/outbox"))
    assert re.findall(r'<tr data-outbox-id="(\d+)"', page) == [str(second.id), str(first.id)]
    assert f'href="/tickets/{ticket.ref}"' in page
    assert "otomatis" in page and "petugas" in page  # automatic notice, officer's reply
    assert 'data-outbox-status="failed"' in page and "550 5.1.1 mailbox unavailable" in page
    assert "Tidak ada server SMTP: email menunggu di outbox dan tidak dikirim." in page
    failed_only = text(client.get("/admin/outbox?status=failed"))
    assert re.findall(r'<tr data-outbox-id="(\d+)"', failed_only) == [str(second.id)]
    assert client.get("/admin/outbox?status=bogus").status_code == 400
    app.config["SMTP_HOST"] = "smtp.lpse.example.go.id"
    assert "Tidak ada server SMTP" not in text(client.get("/admin/outbox"))


def test_outbox_pages_by_fifty(client, login, admin, make_ticket):
    ticket = make_ticket(channel="email")
    ids = [enqueue_email(to=f"p{n}@example.co.id", template="staff-reply", ticket=ticket, reply=f"Balasan {n}",
                         officer=admin, signature="Helpdesk").id for n in range(51)]
    db.session.commit()
    login(client, admin)
    page = text(client.get("/admin/outbox"))
    shown = re.findall(r'<tr data-outbox-id="(\d+)"', page)
    assert shown == [str(i) for i in reversed(ids)][:50]
    next_url = re.search(r'rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert re.findall(r'<tr data-outbox-id="(\d+)"', text(client.get(next_url))) == [str(ids[0])]
    assert client.get("/admin/outbox?before=x").status_code == 400


def test_outbox_message_shows_the_mail_as_the_requester_receives_it(app, client, login, admin, officer, office,
                                                                   make_ticket):
    app.config["MAIL_FROM"] = "helpdesk@lpse.example.go.id"
    ticket = make_ticket(channel="email")
    make_inbound(office, status="processed", ticket=ticket, message_id="<asal-123@penyedia.example.co.id>")
    message = email_reply(ticket, officer, body="Coba <script>alert(1)</script> & ulangi.")
    message.body_html = '<p onclick="x()">Halo <script>alert(2)</script></p>'
    db.session.commit()
    login(client, admin)
    page = text(client.get(f"/admin/outbox/{message.id}"))
    headers = page.split('id="mail-headers"')[1].split("</dl>")[0]
    assert "LPSE Kabupaten Uji &lt;helpdesk@lpse.example.go.id&gt;" in headers
    assert message.recipient in headers and message.subject in headers
    assert message.message_id.strip("<>") in headers
    assert "In-Reply-To" in headers and "References" in headers and "asal-123@penyedia.example.co.id" in headers
    body = re.search(r'<pre[^>]*id="mail-body">(.*?)</pre>', page, flags=re.DOTALL).group(1)
    assert "Coba &lt;script&gt;alert(1)&lt;/script&gt; &amp; ulangi." in body
    assert "<script>alert" not in page  # stored text and HTML are never markup on this page
    assert 'sandbox="" ' in page and 'srcdoc="&lt;p onclick=&#34;x()&#34;&gt;Halo' in page
    assert "Tidak ada server SMTP: email menunggu di outbox dan tidak dikirim." in page


def test_outbox_message_without_a_sender_address_says_so(app, client, login, admin, officer, make_ticket):
    message = email_reply(make_ticket(channel="email"), officer)
    login(client, admin)
    assert "Tidak ada alamat pengirim" in text(client.get(f"/admin/outbox/{message.id}"))


def test_retry_queues_a_failed_message_again(client, login, admin, officer, make_ticket):
    """Needs helpdesk.delivery.retry (concurrent work)."""
    message = email_reply(make_ticket(channel="email"), officer)
    message.status, message.attempts, message.last_error = "failed", 8, "timeout"
    db.session.commit()
    login(client, admin)
    response = client.post(f"/admin/outbox/{message.id}/retry")
    assert response.status_code == 302 and response.location == f"/admin/outbox/{message.id}"
    db.session.expire_all()
    message = db.session.get(OutboxMessage, message.id)
    assert (message.status, message.attempts) == ("queued", 0)
    # A message that has not failed is not queued again; the page says why.
    response = client.post(f"/admin/outbox/{message.id}/retry", follow_redirects=True)
    assert "alert-danger" in text(response)
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message.id).status == "queued"


# -- quarantine -------------------------------------------------------------------------------------------

def test_quarantine_lists_quarantined_and_ignored_mail_with_reasons(client, login, officer, office):
    make_inbound(office, status="quarantined", reason="parser: UnicodeDecodeError: bad byte", subject="Rusak")
    make_inbound(office, status="ignored", reason="auto_reply matching no open ticket", subject="Sedang cuti")
    make_inbound(office, status="processed", subject="Sudah jadi tiket")
    login(client, officer)
    page = text(client.get("/admin/quarantine"))
    assert "Rusak" in page and "parser: UnicodeDecodeError: bad byte" in page and "imap:default" in page
    assert "Sedang cuti" not in page and "Sudah jadi tiket" not in page
    assert "Coba lagi" in page
    ignored = text(client.get("/admin/quarantine?tab=ignored"))
    assert "Sedang cuti" in ignored and "auto_reply matching no open ticket" in ignored
    assert "Rusak" not in ignored and "Coba lagi" not in ignored
    assert client.get("/admin/quarantine?tab=x").status_code == 400


def test_raw_download_returns_the_exact_bytes(client, login, officer, office):
    raw = b"From: =?utf-8?q?Budi?= <budi@x.co.id>\r\nSubject: caf\xe9\r\n\r\nbaris\r\n\x00\xff\r\n"
    row = make_inbound(office, status="quarantined", raw=raw, reason="parser: boom")
    login(client, officer)
    response = client.get(f"/admin/quarantine/{row.id}/raw")
    assert response.status_code == 200
    assert response.data == raw
    assert response.mimetype == "message/rfc822"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and f"inbound-{row.id}.eml" in disposition
    assert client.get(f"/admin/quarantine/{row.id + 1}/raw").status_code == 404


def test_retry_of_a_message_no_longer_in_quarantine_changes_nothing(client, login, officer, office):
    row = make_inbound(office, status="ignored", reason="bounce matching none of our messages")
    login(client, officer)
    response = client.post(f"/admin/quarantine/{row.id}/retry", follow_redirects=True)
    assert "tidak lagi di karantina" in text(response)
    db.session.refresh(row)
    assert (row.status, row.attempts) == ("ignored", 1)


def test_retry_of_a_quarantined_message_makes_its_ticket(client, login, officer, office):
    """Needs channels.email.intake.retry_quarantined and the parser it calls (concurrent work)."""
    mail = EmailMessage()
    mail["From"] = "Budi Santoso <budi@penyedia.example.co.id>"
    mail["To"] = "helpdesk@lpse.example.go.id"
    mail["Subject"] = "Tidak bisa unggah penawaran"
    mail["Message-ID"] = "<karantina-1@penyedia.example.co.id>"
    mail["Date"] = "Tue, 24 Nov 2026 09:00:00 +0700"
    mail.set_content("Selamat pagi, saat unggah dokumen penawaran muncul galat 500.")
    row = make_inbound(office, status="quarantined", raw=mail.as_bytes(), reason="parser: a bug, since fixed",
                       message_id="<karantina-1@penyedia.example.co.id>")
    login(client, officer)
    response = client.post(f"/admin/quarantine/{row.id}/retry")
    db.session.expire_all()
    row = db.session.get(InboundEmail, row.id)
    assert row.status == "processed" and row.ticket_id is not None and row.attempts == 2
    ticket = db.session.get(Ticket, row.ticket_id)
    assert response.status_code == 302 and response.location == f"/tickets/{ticket.ref}"
    assert ticket.ref in text(client.get(response.location))  # the flash names the new ticket


def test_navbar_counts_quarantined_mail_for_inbox_staff(client, login, officer, office, make_office):
    make_inbound(office, status="quarantined", reason="a")
    make_inbound(office, status="quarantined", reason="b")
    make_inbound(office, status="ignored", reason="c")
    make_inbound(make_office(), status="quarantined", reason="another office's")
    login(client, officer)
    nav = text(client.get("/tickets")).split("</nav>")[0]
    assert re.search(r'id="nav-quarantine">Karantina <span[^>]*data-quarantined="2"', nav)


# -- mailbox warning --------------------------------------------------------------------------------------

STALE_BANNER = "Kotak surat default belum berhasil dibaca sejak"


def _mailbox(office, *, last_success_minutes_ago: int, error: str | None = "LOGIN failed") -> Mailbox:
    row = Mailbox(name="default", office_id=office.id, last_uid=0, failures=3, last_error=error,
                  last_success_at=utcnow() - timedelta(minutes=last_success_minutes_ago),
                  created_at=utcnow() - timedelta(days=2))
    db.session.add(row)
    db.session.commit()
    return row


def _configure_imap(app, stale_minutes: int = 15) -> None:
    app.config.update(IMAP_HOST="imap.lpse.example.go.id", IMAP_USER="helpdesk@lpse.example.go.id",
                      IMAP_PASSWORD="rahasia", MAIL_STALE_MINUTES=stale_minutes)


def test_stale_mailbox_warning_on_every_staff_page(app, client, login, officer, office, make_ticket):
    """Needs channels.email.poller to import (it imports channels.email.imap: concurrent work)."""
    _configure_imap(app, stale_minutes=60)
    box = _mailbox(office, last_success_minutes_ago=90)
    ticket = make_ticket()
    login(client, officer)
    with app.test_request_context():
        since = formatting.local_datetime(box.last_success_at, "Asia/Jakarta")
    for url in ("/tickets", f"/tickets/{ticket.ref}", "/phone/new"):
        page = text(client.get(url))
        assert f"{STALE_BANNER} {since} (LOGIN failed)" in page, url
        assert 'class="alert alert-danger" role="alert" data-stale-mailbox="default"' in page


def test_no_mailbox_warning_when_recently_read_or_not_configured(app, client, login, officer, office):
    box = _mailbox(office, last_success_minutes_ago=30)
    login(client, officer)
    assert STALE_BANNER not in text(client.get("/tickets"))  # no IMAP configured: nothing is polled
    _configure_imap(app, stale_minutes=60)
    assert STALE_BANNER not in text(client.get("/tickets"))  # read 30 minutes ago, limit 60
    box.last_success_at = utcnow() - timedelta(hours=3)
    db.session.commit()
    app.config["IMAP_HOST"] = None
    assert STALE_BANNER not in text(client.get("/tickets"))


def test_a_broken_mailbox_configuration_does_not_break_pages(app, client, login, officer, office):
    app.config["MAILBOXES"] = [{"name": "dup", "host": "a"}, {"name": "dup", "host": "b"}]  # names must be unique
    login(client, officer)
    response = client.get("/tickets")
    assert response.status_code == 200 and "data-stale-mailbox" not in text(response)


# -- the ticket page --------------------------------------------------------------------------------------

def test_quoted_history_is_folded_under_details(client, login, officer, make_ticket):
    ticket = make_ticket(channel="email")
    visible = "Terima kasih, sudah bisa login sekarang."
    quoted = "Pada 24 Nov 2026, Helpdesk LPSE menulis:\n> Silakan reset kata sandi."
    body = visible + "\n\n" + quoted
    email_message(ticket, body, quoted_at=len(visible) + 2, cc=["atasan@penyedia.example.co.id"])
    login(client, officer)
    page = text(client.get(f"/tickets/{ticket.ref}"))
    item = page.split('data-event="message_received"')[1].split("</li>")[0]
    details = re.search(r"<details class=\"quoted-history[^>]*>(.*?)</details>", item, flags=re.DOTALL).group(1)
    assert "Tampilkan kutipan" in details and "&gt; Silakan reset kata sandi." in details
    assert visible in item.split("<details")[0] and "Silakan reset" not in item.split("<details")[0]
    assert "atasan@penyedia.example.co.id" in item and "Re: " + ticket.subject in item


def test_message_without_quoted_history_is_shown_whole(client, login, officer, make_ticket):
    ticket = make_ticket(channel="email")
    email_message(ticket, "Mohon dibantu, akun saya terkunci.")
    login(client, officer)
    item = text(client.get(f"/tickets/{ticket.ref}")).split('data-event="message_received"')[1].split("</li>")[0]
    assert "Mohon dibantu, akun saya terkunci." in item and "<details" not in item


def test_email_html_view_is_confined_and_shows_inline_images(client, login, officer, make_ticket):
    ticket = make_ticket(channel="email")
    html = '<p>Lihat gambar:</p><img src="cid:logo.123@penyedia" alt="logo"><img src="cid:tidak-ada">'
    event = email_message(ticket, "Lihat gambar:", html_sha256=store_blob(html.encode()).sha256)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    inline = tickets.attach(ticket, event, blob=store_blob(png, content_type="image/png"), filename="logo.png",
                            content_type="image/png", content_id="logo.123@penyedia", inline=True)
    listed = tickets.attach(ticket, event, blob=store_blob(b"%PDF-1.4 surat"), filename="surat.pdf",
                            content_type="application/pdf")
    db.session.commit()
    login(client, officer)
    page = text(client.get(f"/tickets/{ticket.ref}"))
    item = page.split('data-event="message_received"')[1].split("</li>")[0]
    assert f'/tickets/{ticket.ref}/events/{event.id}/html' in item and "Lihat HTML" in item
    assert f"/attachments/{listed.id}" in item and "surat.pdf" in item
    assert f"/attachments/{inline.id}" not in page and "logo.png" not in page  # inline: not in any list

    response = client.get(f"/tickets/{ticket.ref}/events/{event.id}/html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    served = text(response)
    assert f'src="/tickets/{ticket.ref}/attachments/{inline.id}"' in served
    assert "cid:logo.123@penyedia" not in served and 'src="cid:tidak-ada"' in served
    assert client.get(f"/tickets/{ticket.ref}/attachments/{inline.id}").data == png  # reachable


def test_email_html_view_only_for_events_of_the_ticket_with_html(client, login, officer, make_ticket):
    ticket, other = make_ticket(channel="email"), make_ticket(channel="email")
    with_html = email_message(ticket, "Halo", html_sha256=store_blob(b"<p>Halo</p>").sha256)
    without = email_message(ticket, "Tanpa HTML")
    login(client, officer)
    assert client.get(f"/tickets/{ticket.ref}/events/{with_html.id}/html").status_code == 200
    assert client.get(f"/tickets/{other.ref}/events/{with_html.id}/html").status_code == 404
    assert client.get(f"/tickets/{ticket.ref}/events/{without.id}/html").status_code == 404


def test_flag_is_shown_and_clearing_it_records_flag_cleared(client, login, officer, make_ticket):
    ticket = make_ticket(channel="email")
    tickets.flag(ticket, "bounce")
    db.session.commit()
    login(client, officer)
    page = text(client.get(f"/tickets/{ticket.ref}"))
    assert "Email ke pelapor gagal terkirim (bounce)" in page.split('id="ticket-flag"')[1].split("</div>")[0]
    assert 'data-flag="bounce"' in text(client.get("/tickets")).split(f'data-ref="{ticket.ref}"')[1].split("</tr>")[0]
    response = client.post(f"/tickets/{ticket.ref}/clear-flag")
    assert response.status_code == 302
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    last = db.session.scalars(db.select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                              .order_by(TicketEvent.id.desc())).first()
    assert ticket.flag is None
    assert (last.kind, last.data, last.actor_id) == ("flag_cleared", {"flag": "bounce"}, officer.id)
    page = text(client.get(f"/tickets/{ticket.ref}"))
    assert 'id="ticket-flag"' not in page and "Tanda sudah ditangani" in page
    assert "data-flag" not in text(client.get("/tickets"))
    client.post(f"/tickets/{ticket.ref}/clear-flag")  # nothing to clear: no second event
    assert db.session.query(TicketEvent).filter_by(ticket_id=ticket.id, kind="flag_cleared").count() == 1


def test_linked_ticket_and_automatic_mail_block_are_shown(client, login, officer, make_ticket):
    closed = make_ticket(channel="email", status="closed")
    follow_up = make_ticket(channel="email")
    tickets.link(follow_up, closed, kind="follow_up_of")
    tickets.block_automatic_mail(follow_up, "list", detail="List-Id: <pengumuman.lpse.example>")
    duplicate = make_ticket(channel="email")
    tickets.link(duplicate, closed, kind="possible_duplicate")
    db.session.commit()
    login(client, officer)
    page = text(client.get(f"/tickets/{follow_up.ref}"))
    notice = page.split('id="ticket-link"')[1].split("</div>")[0]
    assert f'Lanjutan dari tiket <a href="/tickets/{closed.ref}">{closed.ref}</a> yang sudah ditutup' in notice
    block = page.split('id="auto-reply-block"')[1].split("</p>")[0]
    assert "Email otomatis tidak dikirim untuk tiket ini" in block and "milis" in block
    page = text(client.get(f"/tickets/{duplicate.ref}"))
    assert f'Mungkin duplikat dari <a href="/tickets/{closed.ref}">{closed.ref}</a>' in page


def test_email_reply_shows_its_outbox_status(client, login, officer, admin, make_ticket):
    ticket = make_ticket(channel="email")
    message = email_reply(ticket, officer)
    login(client, officer)
    item = text(client.get(f"/tickets/{ticket.ref}")).split('data-event="replied"')[1].split("</li>")[0]
    assert 'data-outbox-status="queued"' in item and "dalam antrean" in item
    assert "/admin/outbox/" not in item  # officers cannot open the outbox
    message.status, message.last_error = "failed", "550 mailbox unavailable"
    db.session.commit()
    client.post("/logout")
    login(client, admin)
    item = text(client.get(f"/tickets/{ticket.ref}")).split('data-event="replied"')[1].split("</li>")[0]
    assert 'data-outbox-status="failed"' in item and "gagal" in item and "550 mailbox unavailable" in item
    assert f'href="/admin/outbox/{message.id}"' in item


SUPPRESS_REASON_LABELS = {
    "loop_header": "header loop", "own_address": "alamat kita sendiri", "system_sender": "alamat sistem",
    "bounce": "email adalah pemberitahuan gagal kirim", "delivery_report": "email adalah laporan pengiriman",
    "auto_submitted": "Auto-Submitted", "auto_response_suppress": "X-Auto-Response-Suppress",
    "autoreply_header": "header autoreply", "precedence": "Precedence", "list": "berasal dari milis",
    "no_sender": "tidak memiliki alamat pengirim", "auto_replies_off": "balasan otomatis dimatikan",
    "daily_limit": "batas harian balasan otomatis",
}


def test_every_email_event_kind_renders_its_indonesian_label(client, login, admin, officer, make_ticket):
    ticket = make_ticket(channel="email")
    other = make_ticket(channel="email", status="closed")
    at = datetime(2026, 11, 24, 11, 0, tzinfo=WIB)
    email_message(ticket, "Akun saya terkunci.")
    for kind in ("out_of_office", "auto_reply", "delivery_report"):
        tickets.record_automatic_mail(ticket, kind=kind, body=f"isi {kind}", at=at)
    queued = tickets.notify(ticket, "acknowledgement", at=at)
    for reason in SUPPRESS_REASON_LABELS:
        tickets.block_automatic_mail(ticket, reason, detail=f"rincian-{reason}", at=at)
    ticket.auto_reply_block = None
    reply = email_reply(ticket, officer)
    tickets.record_delivery(reply, outcome="sent", at=at)
    tickets.record_delivery(queued, outcome="failed", error="421 coba lagi nanti", at=at)
    tickets.record_bounce(reply, detail="550 5.1.1 user unknown", at=at)
    tickets.clear_flag(ticket, actor=officer, at=at)
    tickets.link(ticket, other, kind="follow_up_of", at=at)
    tickets.link(ticket, other, kind="possible_duplicate", at=at)
    db.session.commit()
    login(client, admin)
    response = client.get(f"/tickets/{ticket.ref}")
    assert response.status_code == 200
    page = text(response)
    timeline = page.split('id="timeline"')[1].split("</ol>")[0]
    for label in (
        "Pesan dari pelapor", "Balasan otomatis dari pelapor: sedang di luar kantor",
        "Balasan otomatis dari sistem surat pelapor", "Laporan pengiriman untuk email ke pelapor",
        "Email otomatis ke pelapor: tanda terima", "Email otomatis tidak dikirim (tanda terima)",
        f"Email terkirim ke {reply.recipient}", f"Email ke {queued.recipient} gagal terkirim", "421 coba lagi nanti",
        f"Email ke {reply.recipient} ditolak (bounce)", "550 5.1.1 user unknown",
        "Ditandai: Pesan kepada pelapor tidak dapat terkirim", "Ditandai: Email ke pelapor gagal terkirim (bounce)",
        "Tanda sudah ditangani: Email ke pelapor gagal terkirim (bounce)",
        "Lanjutan dari tiket", "Mungkin duplikat dari", "Balas pelapor",
    ):
        assert label in timeline, label
    for reason, label in SUPPRESS_REASON_LABELS.items():
        assert label in timeline and f"rincian-{reason}" in timeline, reason
    shown_kinds = set(re.findall(r'data-event="([a-z_]+)"', timeline))
    assert {"automatic_mail_received", "auto_reply_queued", "auto_reply_suppressed", "email_sent", "email_failed",
            "email_bounced", "flagged", "flag_cleared", "linked", "message_received", "replied"} <= shown_kinds
    # Every kind has its own label: none falls through to the bare kind name.
    for kind in shown_kinds:
        assert not re.search(rf'data-event="{kind}"[^>]*>\s*<div[^>]*>[^<]*</div>\s*<div>{kind}</div>', timeline)


def test_unknown_codes_are_shown_as_they_are_not_as_errors(client, login, officer, make_ticket):
    ticket = make_ticket(channel="email")
    tickets.block_automatic_mail(ticket, "kode_baru")
    tickets.flag(ticket, "requester_asked_for_officer")
    tickets.record_automatic_mail(ticket, kind="jenis_baru", body="?", at=utcnow())
    db.session.commit()
    login(client, officer)
    response = client.get(f"/tickets/{ticket.ref}")
    assert response.status_code == 200
    page = text(response)
    assert "kode_baru" in page and "requester_asked_for_officer" in page and "jenis_baru" in page


def test_inline_attachments_are_not_listed_at_the_bottom(client, login, officer, make_ticket):
    ticket = make_ticket(channel="email")
    created = db.session.scalars(db.select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).first()
    tickets.attach(ticket, created, blob=store_blob(b"gambar"), filename="inline.png", content_type="image/png",
                   content_id="x@y", inline=True)
    tickets.attach(ticket, created, blob=store_blob(b"%PDF"), filename="bukti.pdf", content_type="application/pdf")
    db.session.commit()
    login(client, officer)
    page = text(client.get(f"/tickets/{ticket.ref}"))
    assert "bukti.pdf" in page and "inline.png" not in page
    assert db.session.query(Attachment).filter_by(ticket_id=ticket.id).count() == 2
