"""The escalation pages (helpdesk/web/escalations.py): the ticket page's Eskalasi panel and forms, the LKPP preview,
the LPSE Support copy page (in Chromium too), calls, answers, review and the reply it fills, the way back down, and
the admin's LKPP template page. Bad input changes nothing and says why."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from escalation.reminders import send_due_reminders
from helpdesk import escalations, tickets
from helpdesk.blobs import store_blob
from helpdesk.extensions import db
from helpdesk.models import Escalation, EscalationCall, OutboxMessage, Setting, TicketEvent
from helpdesk.settings import get_setting, set_setting
from helpdesk.states import Status

from .conftest import RECEIVED_AT
from .servers.live import browser_login

pytestmark = pytest.mark.usefixtures("english")  # these tests read messages in English

AT = RECEIVED_AT + timedelta(hours=1)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def kinds(ticket) -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)
                                   .order_by(TicketEvent.id)))


@pytest.fixture
def officer(client, login, make_staff):
    staff = make_staff(name="Rina Petugas", email="rina@lpse.example.go.id")
    login(client, staff)
    return staff


@pytest.fixture
def ticket(make_ticket, make_requester):
    requester = make_requester(name="Budi Santoso", email="budi@cvmaju.example.co.id", organization="CV Maju Jaya",
                               spse_role="penyedia")
    ticket = make_ticket(status=Status.OPEN, channel="email", requester=requester,
                         subject="Gagal unggah dokumen penawaran", tender_code="10012345", application="spse")
    tickets.attach(ticket, None, blob=store_blob(b"\x89PNG gambar", content_type="image/png"),
                   filename="galat.png", content_type="image/png")
    db.session.commit()
    return ticket


def post_lkpp(client, ticket, **values):
    data = {"lkpp-channel": "email", "lkpp-target": "helpdesk_lkpp", "lkpp-reason": "Galat di server SPSE",
            "lkpp-steps_tried": "Cache dibersihkan", "lkpp-requester_told": "y", "action": "send"}
    data.update({(key if key == "action" else f"lkpp-{key}"): value for key, value in values.items()})
    return client.post(f"/eskalasi/tiket/{ticket.ref}/lkpp", data=data)


def test_panel_shows_who_holds_the_ticket_and_the_chain(client, officer, ticket, make_staff):
    verifier = make_staff(role="verifikator", name="Vera Verifikator")
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    assert 'id="escalations"' in page and 'data-holder="desk"' in page
    escalations.escalate_internal(ticket, actor=officer, officer=verifier, reason="Cek berkas", at=AT)
    escalations.escalate_to_lkpp(ticket, actor=verifier, channel="email", reason="Perlu LKPP",
                                 at=AT + timedelta(hours=1))
    db.session.commit()
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    assert 'data-holder="lkpp"' in page
    chain = re.findall(r'data-escalation-id="(\d+)" data-tier="(\w+)" data-status="(\w+)" data-channel="(\w+)"', page)
    assert [(tier, status, channel) for _id, tier, status, channel in chain] == [
        ("internal", "open", "internal"), ("lkpp", "open", "email")]
    assert "Vera Verifikator" in page and "helpdesk-lpsepusat@lkpp.go.id" in page
    assert page.count('data-event="escalated"') == 2
    assert 'data-outbox-status="queued"' in page  # the LKPP email waits in the outbox, visibly


def test_internal_escalation_form_takes_a_role_or_one_officer(client, officer, ticket, make_staff):
    verifier = make_staff(role="verifikator", name="Vera Verifikator")
    for data in ({"esc-reason": "x"}, {"esc-reason": "x", "esc-role": "admin_ppe", "esc-officer": str(verifier.id)}):
        assert client.post(f"/tickets/{ticket.ref}/escalate", data=data).status_code == 422
    assert count(Escalation) == 0
    response = client.post(f"/tickets/{ticket.ref}/escalate", data={"esc-officer": str(verifier.id),
                                                                     "esc-reason": "Cek dokumen"})
    assert response.status_code == 302
    db.session.expire_all()
    assert ticket.status == Status.ESCALATED and ticket.assignee_id == verifier.id


def test_lkpp_preview_shows_the_email_and_saves_nothing(client, officer, ticket):
    response = post_lkpp(client, ticket, action="preview", attachments=str(ticket_attachment(ticket)))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"[#{ticket.ref}] Eskalasi" in page and "helpdesk-lpsepusat@lkpp.go.id" in page
    assert "Cache dibersihkan" in page and "galat.png" in page
    assert count(Escalation) == 0 and count(OutboxMessage) == 0 and kinds(ticket)[-1] != "escalated"
    response = post_lkpp(client, ticket, attachments=str(ticket_attachment(ticket)))
    assert response.status_code == 302 and "#escalation-" in response.location
    [escalation] = db.session.scalars(select(Escalation)).all()
    message = db.session.get(OutboxMessage, escalation.outbox_id)
    assert message.recipient == "helpdesk-lpsepusat@lkpp.go.id" and message.attachments == [ticket_attachment(ticket)]
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.template == "escalation-notice")) == 1


def ticket_attachment(ticket) -> int:
    from helpdesk.models import Attachment

    return db.session.scalar(select(Attachment.id).where(Attachment.ticket_id == ticket.id))


def test_a_broken_template_is_shown_and_nothing_is_sent(client, officer, ticket):
    set_setting("lkpp.email_body_template", "Yth. LKPP {{ salah_ketik }}")
    db.session.commit()
    response = post_lkpp(client, ticket)
    assert response.status_code == 422 and "salah_ketik" in response.get_data(as_text=True)
    assert count(Escalation) == 0 and count(OutboxMessage) == 0
    db.session.expire_all()
    assert ticket.status == Status.OPEN


def test_tts_page_has_copy_buttons_and_refuses_a_malformed_number(client, officer, ticket):
    response = post_lkpp(client, ticket, channel="tts")
    [escalation] = db.session.scalars(select(Escalation)).all()
    assert response.status_code == 302 and response.location == f"/eskalasi/{escalation.id}/tts"
    page = client.get(response.location).get_data(as_text=True)
    for key in ("judul", "lpse", "aplikasi", "kode_error", "kode_tender", "tipe", "deskripsi", "lampiran"):
        assert f'data-copy-target="tts-{key}"' in page and f'id="tts-{key}"' in page
    assert 'id="no-support-url"' in page and "escalation.js" in page and "<script>" not in page
    assert "CV Maju Jaya - Gagal unggah dokumen penawaran" in page
    set_setting("lkpp.support_url", "https://lpse-support.example.id/tiket/baru")
    db.session.commit()
    page = client.get(response.location).get_data(as_text=True)
    assert 'href="https://lpse-support.example.id/tiket/baru"' in page

    refused = client.post(f"/eskalasi/{escalation.id}/nomor", data={"number": "LKPP-12", "from": "tts"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "[0-9]{5,10}" in text and 'aria-invalid="true"' in text
    db.session.expire_all()
    assert escalation.external_ref is None and "lkpp_ref_recorded" not in kinds(ticket)
    assert client.post(f"/eskalasi/{escalation.id}/nomor", data={"number": "20261234"}).status_code == 302
    db.session.expire_all()
    assert escalation.external_ref == "20261234"


def test_call_answer_review_and_the_reply_it_fills(client, officer, ticket):
    post_lkpp(client, ticket, channel="phone", requester_told="")
    [escalation] = db.session.scalars(select(Escalation)).all()
    assert client.post(f"/eskalasi/{escalation.id}/panggilan", data={
        "called_at": "2030-01-01T10:00", "number": "144", "reference_given": ticket.ref, "outcome": "confirmed",
    }).status_code == 302
    assert count(EscalationCall) == 0  # a call in the future is refused
    client.post(f"/eskalasi/{escalation.id}/panggilan", data={
        "called_at": "2026-11-24T11:30", "number": "144", "reference_given": ticket.ref, "outcome": "confirmed",
        "note": "Diterima Bu Ani."})
    [call] = db.session.scalars(select(EscalationCall)).all()
    assert call.outcome == "confirmed" and call.called_at == RECEIVED_AT + timedelta(minutes=90)
    client.post(f"/eskalasi/{escalation.id}/jawaban", data={"body": "Akun sudah dibuka kembali oleh LKPP.",
                                                            "via": "phone"})
    db.session.expire_all()
    assert escalation.status == "answered" and ticket.flag == "lkpp_answered"
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    assert 'class="review-form"' in page and "Akun sudah dibuka kembali oleh LKPP." in page
    response = client.post(f"/eskalasi/{escalation.id}/tinjau")
    assert response.status_code == 302 and f"jawaban_lkpp={escalation.id}" in response.location
    page = client.get(response.location).get_data(as_text=True)
    reply = re.search(r'<textarea[^>]*id="reply-body"[^>]*>(.*?)</textarea>', page, re.DOTALL).group(1)
    assert "Akun sudah dibuka kembali oleh LKPP." in reply
    db.session.expire_all()
    assert escalation.status == "closed" and ticket.flag is None
    for kind in ("lkpp_call_logged", "lkpp_answered", "lkpp_answer_reviewed"):
        assert f'data-event="{kind}"' in page


def test_return_and_reminder_show_in_the_timeline(client, officer, ticket, make_staff):
    ppe = make_staff(role="admin_ppe")
    escalation = escalations.escalate_internal(ticket, actor=officer, role="admin_ppe", reason="Reset", at=AT)
    db.session.commit()
    send_due_reminders(now=escalation.next_reminder_at)
    response = client.post(f"/eskalasi/{escalation.id}/kembalikan", data={"note": ""})
    assert response.status_code == 302
    db.session.expire_all()
    assert escalation.status == "open"  # a return needs a note
    client.post(f"/eskalasi/{escalation.id}/kembalikan", data={"note": "Bukan wewenang Admin PPE."})
    db.session.expire_all()
    assert escalation.status == "returned" and ticket.status == Status.OPEN and ticket.assignee_id == officer.id
    assert ppe.email in {m.recipient for m in db.session.scalars(select(OutboxMessage))}  # it was notified
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    assert 'data-event="escalation_returned"' in page and 'data-event="escalation_reminder"' in page
    assert "Bukan wewenang Admin PPE." in page


def test_escalations_of_another_office_are_not_found(client, officer, make_office, make_ticket, make_staff):
    other_office = make_office()
    foreign = make_ticket(office=other_office, status=Status.OPEN)
    stranger = make_staff(office=other_office)
    escalation = escalations.escalate_to_lkpp(foreign, actor=stranger, channel="tts", reason="x", at=AT)
    db.session.commit()
    assert client.get(f"/eskalasi/{escalation.id}/tts").status_code == 404
    assert client.post(f"/eskalasi/{escalation.id}/nomor", data={"number": "12345678"}).status_code == 404
    assert post_lkpp(client, foreign).status_code == 404


# -- the admin's template page ---------------------------------------------------------------------------------

@pytest.fixture
def admin(client, login, make_staff):
    staff = make_staff(role="admin", name="Admin Sistem", email="admin@lpse.example.go.id")
    login(client, staff)
    return staff


def template_form(**values) -> dict[str, str]:
    data = {"email_to": "helpdesk-lpsepusat@lkpp.go.id", "addresses": "lkpp.go.id\nhelpdesk@inaproc.id",
            "ticket_number_pattern": "[0-9]{5,10}", "support_url": "", "call_centre": "144", "gateway_url": "",
            "reminder_working_days": "2", "subject_template": "[#{{ ref }}] Eskalasi {{ lpse }}",
            "body_template": "Yth. Helpdesk LKPP,\n\n{{ deskripsi }}\n", "preview_ref": "", "action": "save"}
    data.update(values)
    return data


def test_only_admins_edit_the_lkpp_template(client, officer):
    assert client.get("/eskalasi/templat").status_code == 403


def test_a_broken_template_or_pattern_is_refused_and_nothing_is_saved(client, admin):
    page = client.get("/eskalasi/templat").get_data(as_text=True)
    assert "Nomor tiket kami" in page  # the shipped template, ready to edit
    for bad, expected in (({"body_template": "{% for x in %}"}, "line"),
                          ({"body_template": "{{ tidak.ada }}"}, "tidak"),
                          ({"ticket_number_pattern": "([0-9]"}, "regular expression"),
                          ({"addresses": "bukan alamat"}, "bukan")):
        response = client.post("/eskalasi/templat", data=template_form(**bad))
        assert response.status_code == 422 and expected in response.get_data(as_text=True), bad
    assert count(Setting) == 0


def test_preview_on_a_real_ticket_then_save(client, admin, ticket):
    response = client.post("/eskalasi/templat", data=template_form(action="preview", preview_ref=ticket.ref.lower()))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and f"[#{ticket.ref}] Eskalasi LPSE Kabupaten Uji" in page
    assert "Budi Santoso" in page and count(Setting) == 0
    response = client.post("/eskalasi/templat", data=template_form(support_url="https://lpse-support.example.id",
                                                                   reminder_working_days="3"))
    assert response.status_code == 302
    db.session.expire_all()
    assert get_setting("lkpp.email_body_template") == "Yth. Helpdesk LKPP,\n\n{{ deskripsi }}\n"
    assert get_setting("lkpp.addresses") == ["lkpp.go.id", "helpdesk@inaproc.id"]
    assert get_setting("escalation.reminder_working_days") == 3
    assert get_setting("lkpp.support_url") == "https://lpse-support.example.id"
    client.post("/eskalasi/templat", data={"action": "reset"})
    db.session.expire_all()
    assert get_setting("lkpp.email_body_template") == "" and get_setting("lkpp.email_subject_template") == ""


# -- in a browser ----------------------------------------------------------------------------------------------

@pytest.mark.browser
def test_copy_button_puts_the_field_on_the_clipboard(page, site, make_staff, ticket):
    officer = make_staff(name="Dewi Lestari", email="dewi@lpse.example.go.id")
    escalation = escalations.escalate_to_lkpp(ticket, actor=officer, channel="tts", reason="Perlu LKPP", at=AT)
    db.session.commit()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    browser_login(page, site, officer)
    page.goto(f"{site}/eskalasi/{escalation.id}/tts")
    button = page.locator('[data-copy-target="tts-judul"]')
    button.click()
    page.locator('[data-copy-target="tts-judul"][data-copied="yes"]').wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == "CV Maju Jaya - Gagal unggah dokumen penawaran"
