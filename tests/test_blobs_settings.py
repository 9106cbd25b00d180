"""The content-addressed blob store, attachments as downloads, and operational settings."""
from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from helpdesk import tickets
from helpdesk.blobs import blob_path, read_blob, store_blob
from helpdesk.extensions import db
from helpdesk.models import Attachment, Blob
from helpdesk.settings import get_setting, set_setting

WIB = ZoneInfo("Asia/Jakarta")


def test_blobs_are_stored_once_by_content_and_read_back_exactly(app):
    data = b"%PDF-1.4\n\x00\xff binary \r\n"
    first = store_blob(data, content_type="application/pdf")
    again = store_blob(data, content_type="application/pdf")
    db.session.commit()
    assert first.sha256 == again.sha256 == hashlib.sha256(data).hexdigest()
    assert db.session.query(Blob).count() == 1 and first.size == len(data)
    assert blob_path(first.sha256).read_bytes() == data
    assert read_blob(first.sha256) == data


def test_a_corrupted_blob_is_refused_on_read(app):
    blob = store_blob(b"asli")
    blob_path(blob.sha256).write_bytes(b"diubah")
    with pytest.raises(OSError, match="corrupt"):
        read_blob(blob.sha256)


def test_attachment_downloads_byte_exact_with_its_name(client, login, make_staff, make_ticket):
    login(client, make_staff())
    ticket = make_ticket()
    data = bytes(range(256)) * 10
    blob = store_blob(data, content_type="image/png")
    attachment = Attachment(ticket_id=ticket.id, blob_sha256=blob.sha256, filename="tangkapan layar.png",
                            content_type="image/png", size=len(data))
    db.session.add(attachment)
    db.session.commit()
    response = client.get(f"/tickets/{ticket.ref}/attachments/{attachment.id}")
    assert response.status_code == 200 and response.data == data
    assert "attachment" in response.headers["Content-Disposition"]
    assert client.get(f"/tickets/{ticket.ref}/attachments/{attachment.id + 1}").status_code == 404
    assert client.get(f"/tickets/{make_ticket().ref}/attachments/{attachment.id}").status_code == 404


def test_follow_up_working_days_setting_moves_the_deadline(app, office, make_requester):
    assert get_setting("sla.follow_up_working_days") == 1
    set_setting("sla.follow_up_working_days", 2)
    ticket = tickets.open_ticket(office=office, requester=make_requester(), channel="phone", subject="Uji",
                                 body="Uji", received_at=datetime(2026, 11, 24, 10, 0, tzinfo=WIB))
    assert ticket.follow_up_due_at == datetime(2026, 11, 26, 10, 0, tzinfo=WIB)


def test_unknown_settings_are_refused(app):
    with pytest.raises(KeyError):
        get_setting("no.such.setting")
    with pytest.raises(KeyError):
        set_setting("no.such.setting", 1)
