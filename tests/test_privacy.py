"""Personal data on the ticket page and the printed copy (issue 8, item 4).

NPWP and NIK are whole for the roles that need them (``privacy.identity_roles``, and admins) and masked to the last
four digits for the others, who cannot change them either; a page that shows them whole, and every attachment
download, is one audit line; the ticket event of a change names the fields, never the numbers. Identity documents
are marked at intake or by hand, and only the same roles open them.
"""
from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from helpdesk import tickets
from helpdesk.blobs import store_blob
from helpdesk.copies import archive_pdf
from helpdesk.errors import PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.models import Attachment, AuditEntry, Requester, TicketEvent
from helpdesk.privacy import mask_number
from helpdesk.requesters import normalise_nik, normalise_npwp, set_identity

NPWP = "01.234.567.8-901.000"
NIK = "3201011205900001"  # Kab. Bogor, born 12 May 1990, serial 0001


@pytest.fixture
def ticket(make_requester, make_ticket):
    requester = make_requester(name="Budi Santoso")
    requester.npwp, requester.nik, requester.spse_user_id = NPWP, NIK, "cvmajujaya"
    db.session.commit()
    return make_ticket(requester=requester, channel="walkin")


def audit_lines(action: str) -> list[AuditEntry]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def digits(value: str) -> str:
    return re.sub(r"\D", "", value)


# -- the numbers ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "stored"), [
    ("012345678901000", NPWP), ("01.234.567.8-901.000", NPWP), (" 01 234 567 8 901 000 ", NPWP),
    ("0012345678901000", "0012345678901000"),  # 2024: an organisation's 16 digits
    (NIK, NIK),  # 2024: a person's NPWP is the NIK
    ("", None), ("   ", None),
])
def test_npwp_is_stored_in_its_written_form(app, typed, stored):
    assert normalise_npwp(typed) == stored


@pytest.mark.parametrize("typed", ["12345", "01.234.567.8-901.00", "01.234.567.8-901.0000X", "000000000000000",
                                   "9901011205900001", "12.345.678.9-012.345.6"])
def test_malformed_npwp_is_refused(app, typed):
    with pytest.raises(ValidationError):
        normalise_npwp(typed)


@pytest.mark.parametrize(("typed", "stored"), [(NIK, NIK), ("3201 0112 0590 0001", NIK), ("3201015205900001",
                                               "3201015205900001"), ("", None)])
def test_nik_is_stored_as_its_sixteen_digits(app, typed, stored):
    assert normalise_nik(typed) == stored  # a woman's NIK adds 40 to the day of birth


@pytest.mark.parametrize("typed", ["320101120590000", "32010112059000012", "3201011299900001", "3201013205900001",
                                   "0001011205900001", "3201011205900000", "3201-01I2-0590-0001"])
def test_malformed_nik_is_refused(app, typed):
    with pytest.raises(ValidationError):
        normalise_nik(typed)


def test_masking_keeps_the_last_four_digits_and_the_punctuation():
    assert mask_number(NPWP) == "••.•••.•••.•-••1.000"
    assert mask_number(NIK) == "••••••••••••0001"


# -- the ticket page --------------------------------------------------------------------------------------------

def test_an_officer_who_needs_them_sees_the_numbers_whole_and_the_view_is_audited(client, login, make_staff,
                                                                                    ticket):
    officer = make_staff(role="verifikator")
    login(client, officer)
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    assert NPWP in page and NIK in page and "cvmajujaya" in page
    assert 'id="identity-form"' in page
    [line] = audit_lines("personal_data.viewed")
    assert (line.actor_id, line.target_type, line.target_id) == (officer.id, "ticket", str(ticket.id))
    assert line.detail["fields"] == ["npwp", "nik"] and line.detail["requester_id"] == ticket.requester_id
    assert NIK not in str(line.detail) and digits(NPWP) not in str(line.detail)
    client.get(f"/tickets/{ticket.ref}")
    assert len(audit_lines("personal_data.viewed")) == 2  # one line per page view


@pytest.mark.parametrize("role", ["trainer", "kepala"])
def test_other_roles_see_them_masked_cannot_edit_and_leave_no_view_line(client, login, make_staff, ticket, role):
    login(client, make_staff(role=role))
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    assert NPWP not in page and NIK not in page and digits(NPWP) not in page
    assert mask_number(NPWP) in page and mask_number(NIK) in page
    assert 'id="identity-form"' not in page and 'data-identity="masked"' in page
    assert audit_lines("personal_data.viewed") == []
    response = client.post(f"/tickets/{ticket.ref}/identity", data={"identity-npwp": "", "identity-nik": "",
                                                                   "identity-spse_user_id": ""})
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Requester, ticket.requester_id).npwp == NPWP


def test_an_admin_sees_and_edits_whatever_the_identity_roles(client, login, make_staff, ticket):
    from helpdesk.settings import set_setting

    set_setting("privacy.identity_roles", [])
    db.session.commit()
    login(client, make_staff(role="admin"))
    assert NIK in client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    response = client.post(f"/tickets/{ticket.ref}/identity", data={
        "identity-npwp": "0012345678901000", "identity-nik": NIK, "identity-spse_user_id": "cvmajujaya"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Requester, ticket.requester_id).npwp == "0012345678901000"


def test_a_page_without_identity_numbers_writes_no_view_line(client, login, make_staff, make_ticket):
    login(client, make_staff(role="helpdesk"))
    page = client.get(f"/tickets/{make_ticket().ref}").get_data(as_text=True)
    assert 'id="requester-identity"' not in page and 'id="identity-form"' in page
    assert audit_lines("personal_data.viewed") == []


def test_setting_the_numbers_normalises_them_and_the_event_names_only_the_fields(client, login, make_staff,
                                                                                 make_ticket, english):
    officer = make_staff(role="helpdesk")
    login(client, officer)
    ticket = make_ticket()
    response = client.post(f"/tickets/{ticket.ref}/identity", data={
        "identity-npwp": "012345678901000", "identity-nik": "3201 0112 0590 0001", "identity-spse_user_id": " budi "})
    assert response.status_code == 302
    db.session.expire_all()
    requester = db.session.get(Requester, ticket.requester_id)
    assert (requester.npwp, requester.nik, requester.spse_user_id) == (NPWP, NIK, "budi")
    [event] = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                           TicketEvent.kind == "identity_changed")).all()
    assert event.actor_id == officer.id and event.data == {"fields": ["npwp", "nik", "spse_user_id"],
                                                           "requester_id": requester.id}
    assert event.body == ""
    [changed] = audit_lines("personal_data.changed")
    assert changed.detail["fields"] == ["npwp", "nik", "spse_user_id"]
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    assert "identity changed: NPWP, NIK, SPSE User ID" in page
    # The same values again change nothing and record nothing.
    client.post(f"/tickets/{ticket.ref}/identity", data={
        "identity-npwp": NPWP, "identity-nik": NIK, "identity-spse_user_id": "budi"})
    assert db.session.scalar(select(db.func.count()).select_from(TicketEvent).where(
        TicketEvent.kind == "identity_changed")) == 1
    # A blank field clears it.
    client.post(f"/tickets/{ticket.ref}/identity", data={"identity-npwp": NPWP, "identity-nik": "",
                                                         "identity-spse_user_id": "budi"})
    db.session.expire_all()
    assert db.session.get(Requester, ticket.requester_id).nik is None


def test_malformed_numbers_are_shown_with_their_errors_and_nothing_changes(client, login, make_staff, ticket,
                                                                           english):
    login(client, make_staff(role="helpdesk"))
    response = client.post(f"/tickets/{ticket.ref}/identity", data={
        "identity-npwp": "12345", "identity-nik": "3201011299900001", "identity-spse_user_id": "x"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "An NPWP has 15 digits (or 16 since 2024); 5 were given." in page
    assert "This is not a valid NIK" in page
    assert 'id="identity" open' in page
    db.session.expire_all()
    requester = db.session.get(Requester, ticket.requester_id)
    assert (requester.npwp, requester.nik, requester.spse_user_id) == (NPWP, NIK, "cvmajujaya")
    assert db.session.scalar(select(TicketEvent.id).where(TicketEvent.kind == "identity_changed")) is None


def test_the_service_refuses_roles_without_access(make_staff, ticket):
    with pytest.raises(PermissionDenied):
        set_identity(ticket, actor=make_staff(role="trainer"), npwp=None, nik=None, spse_user_id=None)


# -- the printed copy -------------------------------------------------------------------------------------------

def test_the_printed_copy_is_whole_for_identity_roles_and_the_view_is_audited(client, login, make_staff, ticket):
    login(client, make_staff(role="helpdesk"))
    page = client.get(f"/tickets/{ticket.ref}/formulir").get_data(as_text=True)
    assert f'id="visitor-npwp">{NPWP}<' in page and f'id="visitor-nik">{NIK}<' in page
    [line] = audit_lines("personal_data.viewed")
    assert line.detail["page"] == "copies.form" and line.detail["fields"] == ["npwp", "nik"]


def test_the_printed_copy_is_masked_for_the_other_roles(client, login, make_staff, ticket):
    login(client, make_staff(role="trainer"))
    page = client.get(f"/tickets/{ticket.ref}/formulir").get_data(as_text=True)
    assert NIK not in page and NPWP not in page
    assert f'id="visitor-nik">{mask_number(NIK)}<' in page and 'id="visitor-user-id">cvmajujaya<' in page
    assert audit_lines("personal_data.viewed") == []


def test_the_stored_pdf_is_masked_whoever_stores_it(ticket):
    item = archive_pdf(ticket)
    db.session.commit()
    from helpdesk.blobs import read_blob

    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(read_blob(item.blob_sha256))).pages)
    assert NIK not in text and "901.000" not in text and "0001" in text and "cvmajujaya" in text


# -- attachments ------------------------------------------------------------------------------------------------

@pytest.fixture
def files(ticket):
    ktp = tickets.attach(ticket, None, blob=store_blob(b"scan KTP"), filename="Scan_KTP.jpg", content_type="image/jpeg")
    shot = tickets.attach(ticket, None, blob=store_blob(b"tangkapan"), filename="galat.png", content_type="image/png")
    db.session.commit()
    return ktp, shot


def test_every_download_is_one_audit_line(client, login, make_staff, ticket, files):
    officer = make_staff(role="helpdesk")
    login(client, officer)
    ktp, shot = files
    assert ktp.identity_document and not shot.identity_document
    assert client.get(f"/tickets/{ticket.ref}/attachments/{shot.id}").data == b"tangkapan"
    assert client.get(f"/tickets/{ticket.ref}/attachments/{ktp.id}").data == b"scan KTP"
    client.get(f"/tickets/{ticket.ref}/attachments/{ktp.id}")
    lines = audit_lines("attachment.downloaded")
    assert [(line.actor_id, line.target_type, line.target_id, line.detail["attachment_id"],
             line.detail["identity_document"]) for line in lines] == [
        (officer.id, "ticket", str(ticket.id), shot.id, False), (officer.id, "ticket", str(ticket.id), ktp.id, True),
        (officer.id, "ticket", str(ticket.id), ktp.id, True)]


def test_identity_documents_open_only_for_identity_roles(client, login, make_staff, ticket, files):
    ktp, shot = files
    login(client, make_staff(role="trainer"))
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    assert f"/attachments/{ktp.id}\"" not in page and f"/attachments/{shot.id}\"" in page
    assert client.get(f"/tickets/{ticket.ref}/attachments/{ktp.id}").status_code == 403
    assert client.get(f"/tickets/{ticket.ref}/attachments/{shot.id}").status_code == 200
    assert [line.detail["attachment_id"] for line in audit_lines("attachment.downloaded")] == [shot.id]


def test_an_officer_marks_and_unmarks_an_identity_document(client, login, make_staff, ticket, files):
    ktp, shot = files
    officer = make_staff(role="helpdesk")
    login(client, officer)
    assert client.post(f"/tickets/{ticket.ref}/attachments/{shot.id}/identity",
                       data={"identity_document": "1"}).status_code == 302
    assert client.post(f"/tickets/{ticket.ref}/attachments/{ktp.id}/identity",
                       data={"identity_document": "0"}).status_code == 302
    assert client.post(f"/tickets/{ticket.ref}/attachments/{ktp.id}/identity",
                       data={"identity_document": "0"}).status_code == 302  # already so: nothing recorded
    assert client.post(f"/tickets/{ticket.ref}/attachments/{ktp.id}/identity",
                       data={"identity_document": "ya"}).status_code == 400
    db.session.expire_all()
    assert db.session.get(Attachment, shot.id).identity_document is True
    assert db.session.get(Attachment, ktp.id).identity_document is False
    events = db.session.scalars(select(TicketEvent).where(TicketEvent.kind.like("identity_document_%"))
                                .order_by(TicketEvent.id)).all()
    assert [(e.kind, e.actor_id, e.data["attachment_id"]) for e in events] == [
        ("identity_document_marked", officer.id, shot.id), ("identity_document_unmarked", officer.id, ktp.id)]


def test_an_officer_who_may_not_open_it_cannot_take_the_mark_off(client, login, make_staff, ticket, files):
    ktp, shot = files
    login(client, make_staff(role="trainer"))
    assert client.post(f"/tickets/{ticket.ref}/attachments/{ktp.id}/identity",
                       data={"identity_document": "0"}).status_code == 302
    assert client.post(f"/tickets/{ticket.ref}/attachments/{shot.id}/identity",
                       data={"identity_document": "1"}).status_code == 302  # marking only protects more
    db.session.expire_all()
    assert db.session.get(Attachment, ktp.id).identity_document is True
    assert db.session.get(Attachment, shot.id).identity_document is True
    assert client.get(f"/tickets/{ticket.ref}/attachments/{ktp.id}").status_code == 403


def test_marking_needs_the_csrf_token(client, login, app, make_staff, ticket, files):
    ktp, _shot = files
    officer = make_staff(role="helpdesk")
    app.config["WTF_CSRF_ENABLED"] = True
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page)[1]
    client.post("/login", data={"email": officer.email, "password": "rahasia123", "csrf_token": token})
    url = f"/tickets/{ticket.ref}/attachments/{ktp.id}/identity"
    assert client.post(url, data={"identity_document": "0"}).status_code == 400
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    assert client.post(url, data={"identity_document": "0", "csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Attachment, ktp.id).identity_document is False


def test_the_kiosk_and_email_intake_mark_files_named_like_identity_documents(app, office):
    from email.message import EmailMessage

    from channels import walkin
    from channels.base import Contact
    from channels.email.intake import ingest

    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    visit = walkin.register_visit(walkin.ConsultationRequest(
        contact=Contact(name="Siti Rahma", organization="CV Maju Jaya", spse_role="penyedia",
                        phone="0812-3456-7890", email="siti@majujaya.example.co.id"),
        description="Verifikasi akun penyedia.", application="spse",
        uploads=(walkin.Upload("KTP_depan.png", png, "image/png"), walkin.Upload("galat.png", png, "image/png"))),
        office=office)
    message = EmailMessage()
    message["From"], message["To"] = "Budi <budi@penyedia.example.co.id>", "helpdesk@lpse-uji.example.go.id"
    message["Subject"], message["Message-ID"] = "Verifikasi akun", "<verif-9@penyedia.example.co.id>"
    message.set_content("Terlampir kartu keluarga dan NPWP.")
    message.add_attachment(b"%PDF-1.4 kk", maintype="application", subtype="pdf", filename="Kartu Keluarga.pdf")
    message.add_attachment(b"%PDF-1.4 surat", maintype="application", subtype="pdf", filename="surat-kuasa.pdf")
    db.session.commit()
    result = ingest(message.as_bytes(), received_at=visit.arrived_at, office=office, source="import")
    assert result.outcome == "ticket"
    marks = dict(db.session.execute(select(Attachment.filename, Attachment.identity_document)).all())
    assert marks == {"KTP_depan.png": True, "galat.png": False, "Kartu Keluarga.pdf": True,
                     "surat-kuasa.pdf": False}
