"""Retention (helpdesk/retention.py; ``helpdesk retention run``; the ``retention`` job).

A ticket closed more than ``retention.months`` ago loses its identity documents (or every attachment, scope "all")
and its raw emails: exactly the files nothing else uses vanish from disk, a file shared with an open ticket stays,
the ticket's text, events and email HTML stay, and each purge is a ticket event and an audit line. A dry run
changes nothing, a second run purges nothing more, 0 months purges nothing; the page and the download show the
deletion.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from helpdesk import tickets
from helpdesk.audit import SYSTEM
from helpdesk.blobs import blob_path, store_blob
from helpdesk.cli_retention import retention_group
from helpdesk.extensions import db
from helpdesk.models import Attachment, AuditEntry, Blob, InboundEmail, Office, Ticket, TicketEvent
from helpdesk.retention import RetentionError, cutoff, mark_identity_document, purge
from helpdesk.scheduler import run_job
from helpdesk.settings import set_setting
from helpdesk.states import Status

WIB = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=WIB)  # 24 months back: 7 December 2024
LONG_AGO = datetime(2024, 3, 12, 9, 0, tzinfo=WIB)  # closed then: due
LATELY = datetime(2026, 10, 5, 9, 0, tzinfo=WIB)  # closed then: not due yet

RAW = (b"From: Budi <budi@penyedia.example.co.id>\r\nTo: helpdesk@lpse-uji.example.go.id\r\n"
       b"Subject: Verifikasi akun\r\nMessage-ID: <verif-1@penyedia.example.co.id>\r\n\r\nTerlampir KTP saya.\r\n")
KTP = b"\xff\xd8\xff\xe0 scan KTP Budi Santoso"
SCREENSHOT = b"\x89PNG tangkapan layar galat unggah"
HTML = "<p>Terlampir KTP saya.</p>"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def email_ticket(office: Office, requester, *, received_at: datetime, raw: bytes, status: str = Status.CLOSED,
                 files: tuple[tuple[str, bytes], ...] = (), html: str | None = None) -> Ticket:
    """An email ticket as intake leaves it (its raw message, HTML body and attachments), then moved to ``status``."""
    blob = store_blob(raw, content_type="message/rfc822")
    inbound = InboundEmail(office_id=office.id, dedupe_key=sha(raw + str(received_at).encode()),
                           message_id=f"<{sha(raw)[:12]}@example>", content_hash=sha(raw), raw_sha256=blob.sha256,
                           size=len(raw), source="import", received_at=received_at, subject="Verifikasi akun",
                           status="processed")
    db.session.add(inbound)
    db.session.flush()
    data = {"inbound_email_id": inbound.id}
    if html is not None:
        data["html_sha256"] = store_blob(html.encode(), content_type="text/html; charset=utf-8").sha256
    ticket = tickets.open_ticket(office=office, requester=requester, channel="email", subject="Verifikasi akun",
                                 body="Terlampir KTP saya.", received_at=received_at, event_data=data)
    inbound.ticket_id = ticket.id
    created = db.session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))
    for name, content in files:
        stored = store_blob(content, content_type="application/octet-stream")
        tickets.attach(ticket, created, blob=stored, filename=name, content_type="application/octet-stream")
    if status in (Status.RESOLVED, Status.CLOSED):
        tickets.resolve(ticket, actor=None, solution="Akun sudah diverifikasi.", at=received_at + timedelta(hours=1))
    if status == Status.CLOSED:
        tickets.change_status(ticket, Status.CLOSED, actor=None, at=received_at + timedelta(days=2))
    db.session.commit()
    return ticket


@pytest.fixture
def world(app, office, make_requester, make_ticket):
    """A ticket closed long ago with a KTP scan, a screenshot, its raw email and its HTML body; an open ticket
    holding the same raw message as an attachment (a forwarded copy); a recently closed ticket with an ID card."""
    requester = make_requester(name="Budi Santoso")
    old = email_ticket(office, requester, received_at=LONG_AGO, raw=RAW, html=HTML,
                       files=(("KTP Budi.jpg", KTP), ("tangkapan-layar.png", SCREENSHOT)))
    open_ticket = make_ticket(status=Status.OPEN, subject="Email diteruskan")
    forwarded = store_blob(RAW, content_type="message/rfc822")
    tickets.attach(open_ticket, None, blob=forwarded, filename="pesan-asli.eml", content_type="message/rfc822")
    recent = email_ticket(office, make_requester(), received_at=LATELY, raw=RAW.replace(b"verif-1", b"verif-2"),
                          files=(("npwp-perusahaan.pdf", b"%PDF-1.4 kartu NPWP"),))
    db.session.commit()
    return {"old": old, "open": open_ticket, "recent": recent}


def files_on_disk() -> set[str]:
    db.session.rollback()
    return {row for row in db.session.scalars(select(Blob.sha256)) if blob_path(row).is_file()}


def attachment(name: str) -> Attachment:
    db.session.rollback()
    return db.session.scalar(select(Attachment).where(Attachment.filename == name))


def test_intake_marks_files_named_like_identity_documents(world):
    assert attachment("KTP Budi.jpg").identity_document
    assert attachment("npwp-perusahaan.pdf").identity_document
    assert not attachment("tangkapan-layar.png").identity_document
    assert not attachment("pesan-asli.eml").identity_document


def test_a_broken_identity_pattern_marks_nothing_and_intake_goes_on(app, make_ticket):
    set_setting("retention.identity_pattern", "ktp(")
    ticket = make_ticket()
    item = tickets.attach(ticket, None, blob=store_blob(KTP), filename="ktp.jpg", content_type="image/jpeg")
    assert item.identity_document is False


def test_purge_deletes_exactly_the_files_nothing_else_uses(world):
    before = files_on_disk()
    result = purge(now=NOW)

    assert [t.ref for t in result.tickets] == [world["old"].ref]
    assert (result.attachments, result.raw_emails, result.files_deleted, result.files_kept) == (1, 1, 1, 1)
    assert result.bytes_freed == len(KTP)
    assert before - files_on_disk() == {sha(KTP)}  # the raw email is the open ticket's attachment too: it stays
    assert blob_path(sha(RAW)).is_file() and blob_path(sha(HTML.encode())).is_file()
    assert blob_path(sha(SCREENSHOT)).is_file()

    ktp = attachment("KTP Budi.jpg")
    assert ktp.purged_at is not None and attachment("tangkapan-layar.png").purged_at is None
    assert db.session.get(Blob, sha(KTP)).purged_at is not None
    assert db.session.get(Blob, sha(RAW)).purged_at is None
    raws = {row.ticket_id: row for row in db.session.scalars(select(InboundEmail))}
    assert raws[world["old"].id].raw_purged_at is not None
    assert raws[world["recent"].id].raw_purged_at is None
    assert attachment("npwp-perusahaan.pdf").purged_at is None  # closed two months ago

    ticket = db.session.get(Ticket, world["old"].id)
    assert ticket.status == Status.CLOSED and ticket.description == "Terlampir KTP saya."
    event = db.session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                        TicketEvent.kind == "retention_purged"))
    assert event.actor_id is None and event.data["attachments"] == [{"id": ktp.id, "filename": "KTP Budi.jpg"}]
    assert event.data["raw_emails"] == 1 and event.data["months"] == 24 and event.data["scope"] == "identity"

    [line] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "retention.purged")).all()
    assert (line.actor_id, line.actor_label, line.target_type, line.target_id) == (None, SYSTEM, "ticket",
                                                                                   str(ticket.id))
    assert line.detail["filenames"] == ["KTP Budi.jpg"] and line.detail["raw_emails"] == 1
    assert line.office_id == ticket.office_id
    assert "Terlampir" not in str(line.detail) and "Terlampir" not in str(event.data)  # no contents


def test_running_twice_purges_nothing_more(world):
    purge(now=NOW)
    events = db.session.scalar(select(db.func.count()).select_from(TicketEvent))
    again = purge(now=NOW + timedelta(days=1))
    assert again.tickets == [] and (again.attachments, again.raw_emails, again.files_deleted) == (0, 0, 0)
    assert db.session.scalar(select(db.func.count()).select_from(TicketEvent)) == events
    assert db.session.scalar(select(db.func.count()).select_from(AuditEntry)) == 1


def test_a_dry_run_reports_what_would_go_and_changes_nothing(world):
    before = files_on_disk()
    preview = purge(now=NOW, dry_run=True)
    assert files_on_disk() == before
    assert db.session.scalar(select(db.func.count()).select_from(AuditEntry)) == 0
    assert db.session.scalar(select(Attachment.id).where(Attachment.purged_at.is_not(None))) is None
    assert db.session.scalar(select(InboundEmail.id).where(InboundEmail.raw_purged_at.is_not(None))) is None
    done = purge(now=NOW)
    assert preview.tickets == done.tickets and preview.dry_run and "would purge 1 ticket(s)" in preview.line()
    assert (preview.attachments, preview.raw_emails, preview.files_deleted, preview.files_kept,
            preview.bytes_freed) == (done.attachments, done.raw_emails, done.files_deleted, done.files_kept,
                                     done.bytes_freed)


def test_a_dry_run_counts_a_file_shared_by_two_due_tickets_once_as_deleted(app, office, make_requester):
    first = email_ticket(office, make_requester(), received_at=LONG_AGO, raw=RAW, files=(("ktp.jpg", KTP),))
    second = email_ticket(office, make_requester(), received_at=LONG_AGO + timedelta(days=3),
                          raw=RAW.replace(b"verif-1", b"verif-3"), files=(("ktp-lagi.jpg", KTP),))
    preview = purge(now=NOW, dry_run=True, chunk=1)
    done = purge(now=NOW, chunk=1)  # one ticket per chunk: the shared file goes with the second
    assert {t.ref for t in done.tickets} == {first.ref, second.ref}
    assert not blob_path(sha(KTP)).exists()
    assert (preview.files_deleted, preview.files_kept) == (done.files_deleted, done.files_kept) == (3, 0)


def test_zero_months_purges_nothing(world):
    set_setting("retention.months", 0)
    db.session.commit()
    before = files_on_disk()
    result = purge(now=NOW + timedelta(days=3650))
    assert result.tickets == [] and result.line() == "retention: off (retention.months is 0)"
    assert files_on_disk() == before


def test_scope_all_purges_every_attachment(world):
    set_setting("retention.scope", "all")
    db.session.commit()
    result = purge(now=NOW)
    assert result.attachments == 2 and sorted(result.tickets[0].attachments) == ["KTP Budi.jpg",
                                                                                 "tangkapan-layar.png"]
    assert not blob_path(sha(SCREENSHOT)).exists() and not blob_path(sha(KTP)).exists()
    assert blob_path(sha(RAW)).is_file()


def test_an_unknown_scope_is_refused_before_anything_changes(world):
    set_setting("retention.scope", "semua")
    db.session.commit()
    with pytest.raises(RetentionError, match="retention.scope"):
        purge(now=NOW)
    assert attachment("KTP Budi.jpg").purged_at is None


def test_a_shorter_period_reaches_the_recent_ticket(world):
    set_setting("retention.months", 1)
    db.session.commit()
    result = purge(now=NOW)
    assert {t.ref for t in result.tickets} == {world["old"].ref, world["recent"].ref}
    assert attachment("npwp-perusahaan.pdf").purged_at is not None


def test_the_cutoff_is_in_calendar_months_on_the_office_clock(office):
    assert cutoff(office, now=datetime(2026, 3, 31, 10, 0, tzinfo=WIB), months=1) == \
        datetime(2026, 2, 28, 10, 0, tzinfo=WIB)
    assert cutoff(office, now=datetime(2026, 1, 15, 0, 30, tzinfo=WIB), months=24) == \
        datetime(2024, 1, 15, 0, 30, tzinfo=WIB)


def test_a_file_already_gone_and_bytes_stored_again(world):
    """A worker that finds the file already deleted carries on; the same bytes arriving later live again."""
    blob_path(sha(KTP)).unlink()
    result = purge(now=NOW)
    assert result.attachments == 1
    again = store_blob(KTP, content_type="image/jpeg")
    db.session.commit()
    assert blob_path(sha(KTP)).is_file() and db.session.get(Blob, again.sha256).purged_at is None


def test_a_file_left_behind_by_an_interrupted_run_is_deleted_by_the_next(world):
    purge(now=NOW)
    blob_path(sha(KTP)).write_bytes(KTP)  # as if the process stopped between the commit and the delete
    result = purge(now=NOW)
    assert result.files_deleted == 1 and not blob_path(sha(KTP)).exists()


def test_the_ticket_page_and_the_download_say_the_file_was_deleted(client, login, make_staff, world, english):
    login(client, make_staff())
    purge(now=NOW)
    ktp = attachment("KTP Budi.jpg")
    page = client.get(f"/tickets/{world['old'].ref}").get_data(as_text=True)
    assert "deleted on 7 December 2026" in page and "under the retention schedule" in page
    assert f"/attachments/{ktp.id}\"" not in page
    assert 'data-event="retention_purged"' in page
    response = client.get(f"/tickets/{world['old'].ref}/attachments/{ktp.id}")
    assert response.status_code == 410 and "KTP Budi.jpg was deleted on" in response.get_data(as_text=True)
    screenshot = attachment("tangkapan-layar.png")
    assert client.get(f"/tickets/{world['old'].ref}/attachments/{screenshot.id}").status_code == 200
    # The email's HTML is its text: it stays readable.
    event = db.session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == world["old"].id,
                                                        TicketEvent.kind == "created"))
    assert client.get(f"/tickets/{world['old'].ref}/events/{event.id}/html").status_code == 200


def test_the_raw_email_download_says_it_was_deleted(client, login, make_staff, world, english):
    login(client, make_staff(role="helpdesk"))
    purge(now=NOW)
    db.session.rollback()
    row = db.session.scalar(select(InboundEmail).where(InboundEmail.ticket_id == world["old"].id))
    assert row.raw_purged_at is not None
    response = client.get(f"/admin/quarantine/{row.id}/raw")
    assert response.status_code == 410 and f"inbound-{row.id}.eml was deleted on" in response.get_data(as_text=True)


def test_the_text_stays_searchable_after_a_purge(client, login, make_staff, world):
    login(client, make_staff())
    purge(now=NOW)
    page = client.get("/tickets?q=verifikasi+akun&status=closed").get_data(as_text=True)
    assert world["old"].ref in page


def test_an_attachment_an_outbox_message_still_waits_to_send_is_kept(world):
    from helpdesk.models import OutboxMessage

    ktp = attachment("KTP Budi.jpg")
    db.session.add(OutboxMessage(channel="email", recipient="helpdesk-lpsepusat@lkpp.go.id", subject="Eskalasi",
                                 ticket_id=world["old"].id, attachments=[ktp.id], status="queued"))
    db.session.commit()
    result = purge(now=NOW)
    assert result.attachments == 0 and result.raw_emails == 1
    assert attachment("KTP Budi.jpg").purged_at is None and blob_path(sha(KTP)).is_file()


def test_a_purged_attachment_can_no_longer_be_marked(world, make_staff):
    purge(now=NOW)
    from helpdesk.errors import ValidationError

    with pytest.raises(ValidationError):
        mark_identity_document(attachment("KTP Budi.jpg"), False, actor=make_staff())


def test_the_command_and_the_job(app, world):
    runner = app.test_cli_runner()
    dry = runner.invoke(retention_group, ["run", "--dry-run", "--now", "2026-12-07T02:00+07:00"])
    assert dry.exit_code == 0, dry.output
    assert "would purge 1 ticket(s)" in dry.stdout and f"{world['old'].ref}: 1 attachment(s): KTP Budi.jpg" in dry.stdout
    assert attachment("KTP Budi.jpg").purged_at is None
    bad = runner.invoke(retention_group, ["run", "--now", "kemarin"])
    assert bad.exit_code != 0 and "--now" in bad.output
    summary = run_job(app, "retention", now=NOW)
    assert "purged 1 ticket(s), 1 attachment(s), 1 raw email(s)" in summary
    assert attachment("KTP Budi.jpg").purged_at is not None
