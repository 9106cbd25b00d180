"""The walk-in desk: the consultation form's completeness, queue numbers, call next, the officer's answer with
its outcome, the service types' checklists, uploads, and the public kiosk and display pages."""
from __future__ import annotations

import io
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from channels import walkin
from channels.base import Contact
from helpdesk import tickets
from helpdesk.errors import ValidationError
from helpdesk.extensions import db, limiter
from helpdesk.models import Attachment, CallLog, OutboxMessage, Ticket, TicketEvent, WalkinVisit
from helpdesk.timeutil import as_utc

from .conftest import RECEIVED_AT, WIB

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def request_for(**overrides) -> walkin.ConsultationRequest:
    contact = {"name": "Siti Rahma", "organization": "CV Maju Jaya", "spse_role": "penyedia",
               "phone": "0812-3456-7890", "email": "siti@majujaya.example.co.id"}
    contact.update(overrides.pop("contact", {}))
    values = {"description": "Tidak bisa mengunggah dokumen kualifikasi, muncul galat 500.",
              "application": "spse", "tender_code": "10012345", "error_message": "HTTP 500"}
    values.update(overrides)
    return walkin.ConsultationRequest(contact=Contact(**contact), **values)


def form_data(**overrides) -> dict:
    data = {"service_type": "consultation", "name": "Siti Rahma", "organization": "CV Maju Jaya",
            "spse_role": "penyedia", "phone": "0812-3456-7890", "email": "siti@majujaya.example.co.id",
            "application": "spse", "tender_code": "10012345", "error_message": "HTTP 500",
            "description": "Tidak bisa mengunggah dokumen kualifikasi, muncul galat 500."}
    data.update(overrides)
    return data


# -- completeness -------------------------------------------------------------------------------------------

def test_a_complete_form_has_no_missing_fields(app):
    assert walkin.missing_fields(request_for()) == {}


@pytest.mark.parametrize(("override", "field"), [
    ({"contact": {"name": " "}}, "name"),
    ({"contact": {"organization": ""}}, "organization"),
    ({"contact": {"spse_role": None}}, "spse_role"),
    ({"contact": {"phone": ""}}, "phone"),
    ({"contact": {"phone": "12"}}, "phone"),
    ({"contact": {"email": "bukan-email"}}, "email"),
    ({"application": None}, "application"),
    ({"description": "galat"}, "description"),
    ({"service_type": "bidding_room", "tender_code": ""}, "tender_code"),
    ({"service_type": "pijat"}, "service_type"),
])
def test_each_missing_or_wrong_field_is_named(app, override, field):
    assert field in walkin.missing_fields(request_for(**override))


def test_an_incomplete_form_never_enters_the_queue(app, office):
    with pytest.raises(ValidationError):
        walkin.register_visit(request_for(contact={"phone": ""}), office=office, at=RECEIVED_AT)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0
    assert db.session.scalar(select(func.count()).select_from(WalkinVisit)) == 0


def test_email_is_optional_and_verification_needs_no_application(app, office):
    visit = walkin.register_visit(request_for(contact={"email": None}, application=None,
                                              service_type="document_verification"), office=office, at=RECEIVED_AT)
    assert visit.queue_label == "C-001"
    assert visit.ticket.requester.email is None


# -- queue numbers ------------------------------------------------------------------------------------------

def test_queue_numbers_count_per_day_per_office_and_per_service(app, office, make_office):
    other = make_office()
    first = walkin.register_visit(request_for(), office=office, at=RECEIVED_AT)
    second = walkin.register_visit(request_for(contact={"phone": "0813-1111-2222", "email": None}),
                                   office=office, at=RECEIVED_AT + timedelta(minutes=3))
    bidding = walkin.register_visit(request_for(service_type="bidding_room"), office=office,
                                    at=RECEIVED_AT + timedelta(minutes=4))
    elsewhere = walkin.register_visit(request_for(), office=other, at=RECEIVED_AT)
    next_day = walkin.register_visit(request_for(), office=office, at=RECEIVED_AT + timedelta(days=1))
    db.session.commit()
    assert [first.queue_label, second.queue_label, bidding.queue_label] == ["A-001", "A-002", "B-001"]
    assert elsewhere.queue_label == "A-001"
    assert next_day.queue_label == "A-001" and next_day.service_day == first.service_day + timedelta(days=1)


def test_the_day_is_the_offices_local_day(app, office):
    # 23:30 WIB on Monday is 16:30 UTC: still Monday's queue, not Tuesday's.
    late = datetime(2026, 11, 23, 23, 30, tzinfo=WIB)
    visit = walkin.register_visit(request_for(), office=office, at=late)
    assert visit.service_day.isoformat() == "2026-11-23"


def test_registering_opens_a_walkin_ticket_with_the_form_and_texts_the_number(app, office):
    visit = walkin.register_visit(request_for(), office=office, at=RECEIVED_AT)
    db.session.commit()
    ticket = visit.ticket
    assert ticket.channel == "walkin" and ticket.status == "new"
    assert ticket.application == "spse" and ticket.tender_code == "10012345" and ticket.error_code == "HTTP 500"
    assert "galat 500" in ticket.description and "Pesan kesalahan: HTTP 500" in ticket.description
    assert ticket.received_at == RECEIVED_AT
    assert ticket.follow_up_due_at == datetime(2026, 11, 25, 10, 0, tzinfo=WIB)
    assert ticket.requester.phone == "+6281234567890" and ticket.requester.spse_role == "penyedia"
    created = ticket.events[0]
    assert created.kind == "created" and created.data["queue"] == "A-001" and created.data["source"] == "kiosk"
    sms = db.session.scalars(select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id)).one()
    assert sms.channel == "sms" and sms.recipient == "+6281234567890" and ticket.ref in sms.body


def test_a_landline_gets_no_sms(app, office):
    visit = walkin.register_visit(request_for(contact={"phone": "0711-580398"}), office=office, at=RECEIVED_AT)
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.ticket_id == visit.ticket_id)) == 0


# -- uploads ------------------------------------------------------------------------------------------------

def test_uploads_are_checked_by_content_size_and_count(app):
    uploads = [walkin.Upload("layar.png", PNG), walkin.Upload("virus.png", b"MZ\x90\x00" + b"\x00" * 200),
               walkin.Upload("besar.pdf", b"%PDF-1.4\n" + b"0" * 2000), walkin.Upload("kosong.png", b"")]
    accepted, refused = walkin.check_uploads(uploads, max_files=5, max_bytes=1000)
    assert [u.filename for u in accepted] == ["layar.png"] and accepted[0].declared_type == "image/png"
    assert len(refused) == 2
    assert "virus.png" in refused[0] and "besar.pdf" in refused[1]
    _, too_many = walkin.check_uploads([walkin.Upload(f"{n}.png", PNG) for n in range(3)], max_files=2,
                                       max_bytes=1000)
    assert len(too_many) == 1 and "2.png" in too_many[0]


def test_accepted_uploads_are_attached_to_the_ticket(app, office):
    visit = walkin.register_visit(request_for(uploads=(walkin.Upload("layar.png", PNG, "image/png"),)),
                                  office=office, at=RECEIVED_AT)
    db.session.commit()
    attachment = db.session.scalars(select(Attachment).where(Attachment.ticket_id == visit.ticket_id)).one()
    assert attachment.filename == "layar.png" and attachment.content_type == "image/png"
    assert attachment.size == len(PNG) and attachment.event_id == visit.ticket.events[0].id


# -- calling ------------------------------------------------------------------------------------------------

def test_call_next_takes_the_longest_waiting_and_two_officers_get_different_visitors(app, office, make_staff):
    dewi, budi = make_staff(name="Dewi"), make_staff(name="Budi")
    first = walkin.register_visit(request_for(), office=office, at=RECEIVED_AT)
    second = walkin.register_visit(request_for(service_type="bidding_room"), office=office,
                                   at=RECEIVED_AT + timedelta(minutes=1))
    db.session.commit()
    at = RECEIVED_AT + timedelta(minutes=5)
    called = walkin.call_next(office, dewi, desk="Meja 1", at=at)
    again = walkin.call_next(office, budi, desk="Meja 2", at=at)
    nobody = walkin.call_next(office, budi, at=at)
    db.session.commit()
    assert (called.id, again.id, nobody) == (first.id, second.id, None)
    assert called.status == "called" and called.called_by_id == dewi.id and called.desk == "Meja 1"
    assert called.ticket.assignee_id == dewi.id and called.ticket.status == "open"
    assert [e.kind for e in called.ticket.events][-3:] == ["visitor_called", "status_changed", "assigned"]


def test_call_next_can_pick_a_service_type(app, office, make_staff):
    officer = make_staff()
    walkin.register_visit(request_for(), office=office, at=RECEIVED_AT)
    bidding = walkin.register_visit(request_for(service_type="bidding_room"), office=office,
                                    at=RECEIVED_AT + timedelta(minutes=1))
    called = walkin.call_next(office, officer, service_type="bidding_room", at=RECEIVED_AT + timedelta(minutes=2))
    assert called.id == bidding.id


def test_the_display_shows_the_latest_call_and_a_recall_counts(app, office, make_staff):
    officer = make_staff()
    one = walkin.register_visit(request_for(), office=office, at=RECEIVED_AT)
    walkin.register_visit(request_for(), office=office, at=RECEIVED_AT + timedelta(minutes=1))
    walkin.call_next(office, officer, desk="Meja 1", at=RECEIVED_AT + timedelta(minutes=2))
    walkin.call_next(office, officer, desk="Meja 2", at=RECEIVED_AT + timedelta(minutes=3))
    walkin.call(one, officer, desk="Meja 1", at=RECEIVED_AT + timedelta(minutes=4))
    state = walkin.now_serving(office, day=one.service_day)
    assert state["current"]["number"] == "A-001" and state["current"]["calls"] == 2
    assert [item["number"] for item in state["recent"]] == ["A-002"]
    assert state["waiting"] == 0


def test_a_visitor_who_left_keeps_an_open_ticket(app, office, make_staff):
    officer = make_staff()
    visit = walkin.register_visit(request_for(), office=office, at=RECEIVED_AT)
    walkin.mark_left(visit, officer, at=RECEIVED_AT + timedelta(minutes=30))
    db.session.commit()
    assert visit.status == "left" and visit.ticket.status == "new"
    assert visit.ticket.events[-1].kind == "visitor_left"
    with pytest.raises(ValidationError):
        walkin.call(visit, officer)


# -- the officer's answer -----------------------------------------------------------------------------------

def test_solved_consultation_is_initialled_resolved_and_followed_up(app, office, make_staff):
    officer = make_staff(name="Dewi Lestari")
    visit = walkin.register_visit(request_for(), office=office, at=RECEIVED_AT)
    walkin.call_next(office, officer, at=RECEIVED_AT + timedelta(minutes=5))
    at = RECEIVED_AT + timedelta(minutes=40)
    event = walkin.answer_consultation(visit, walkin.ConsultationAnswer(
        analysis="Ukuran berkas melebihi batas.", answer="Kompres berkas di bawah 5 MB lalu unggah ulang.",
        outcome="solved"), officer=officer, at=at)
    db.session.commit()
    ticket = visit.ticket
    assert event.kind == "consultation_recorded"
    assert event.data["officer_name"] == "Dewi Lestari" and event.data["initialled_at"] == as_utc(at).isoformat()
    assert ticket.status == "resolved" and ticket.first_follow_up_at == at and ticket.follow_up_met is True
    assert visit.status == "done" and visit.finished_at == at
    assert tickets.latest_consultation(ticket)["answer"].startswith("Kompres berkas")


@pytest.mark.parametrize(("outcome", "status"), [("pending", "pending"), ("escalate", "escalated")])
def test_pending_and_escalated_consultations(app, office, make_staff, outcome, status):
    officer = make_staff()
    visit = walkin.register_visit(request_for(), office=office, at=RECEIVED_AT)
    walkin.answer_consultation(visit, walkin.ConsultationAnswer(
        analysis="Perlu dicek di server LKPP.", answer="", outcome=outcome, escalate_role="admin_ppe"),
        officer=officer, at=RECEIVED_AT + timedelta(minutes=20))
    db.session.commit()
    assert visit.ticket.status == status
    if outcome == "escalate":
        escalated = next(e for e in visit.ticket.events if e.kind == "escalated")
        assert escalated.data["role"] == "admin_ppe" and escalated.data["requester_told"] is True


def test_solved_needs_an_answer_and_escalate_needs_a_role(app, office, make_staff):
    officer = make_staff()
    visit = walkin.register_visit(request_for(), office=office, at=RECEIVED_AT)
    with pytest.raises(ValidationError):
        walkin.answer_consultation(visit, walkin.ConsultationAnswer(analysis="x", answer="", outcome="solved"),
                                   officer=officer)
    with pytest.raises(ValidationError):
        walkin.answer_consultation(visit, walkin.ConsultationAnswer(analysis="x", answer="y", outcome="escalate"),
                                   officer=officer)


def test_the_bidding_room_checklist_is_stored_with_times(app, office, make_staff):
    officer = make_staff()
    visit = walkin.register_visit(request_for(service_type="bidding_room"), office=office, at=RECEIVED_AT)
    first_at = RECEIVED_AT + timedelta(minutes=10)
    walkin.answer_consultation(visit, walkin.ConsultationAnswer(
        analysis="Belum pelatihan.", answer="", outcome="pending",
        checklist={"training_attended": {"result": "no", "note": "disarankan ikut pelatihan"},
                   "qualification_filled": {"result": "yes", "note": ""}}), officer=officer, at=first_at)
    checklist = tickets.latest_checklist(visit.ticket)
    assert checklist["service_type"] == "bidding_room"
    entries = {entry["key"]: entry for entry in checklist["items"]}
    assert list(entries) == ["training_attended", "qualification_filled", "documents_uploaded", "offer_uploaded"]
    assert entries["training_attended"]["result"] == "no" and entries["training_attended"]["at"] == as_utc(first_at).isoformat()
    assert entries["documents_uploaded"]["result"] is None and entries["documents_uploaded"]["at"] is None
    # Answering the remaining steps later keeps the time the first ones were answered.
    later = first_at + timedelta(minutes=30)
    tickets.record_checklist(visit.ticket, service_type="bidding_room", actor=officer, at=later, items={
        "training_attended": {"result": "no", "note": "disarankan ikut pelatihan"},
        "qualification_filled": {"result": "yes"}, "documents_uploaded": {"result": "yes"},
        "offer_uploaded": {"result": "yes"}})
    entries = {entry["key"]: entry for entry in tickets.latest_checklist(visit.ticket)["items"]}
    assert entries["training_attended"]["at"] == as_utc(first_at).isoformat()
    assert entries["offer_uploaded"]["at"] == as_utc(later).isoformat()


def test_checklist_refuses_unknown_items_and_results_and_skips_no_change(app, office, make_staff):
    officer = make_staff()
    visit = walkin.register_visit(request_for(service_type="document_verification", application=None),
                                  office=office, at=RECEIVED_AT)
    with pytest.raises(ValidationError):
        tickets.record_checklist(visit.ticket, service_type="document_verification", actor=officer,
                                 items={"training_attended": {"result": "yes"}})
    with pytest.raises(ValidationError):
        tickets.record_checklist(visit.ticket, service_type="document_verification", actor=officer,
                                 items={"complete": {"result": "mungkin"}})
    assert tickets.record_checklist(visit.ticket, service_type="document_verification", actor=officer,
                                    items={"complete": {"result": "yes"}}) is not None
    assert tickets.record_checklist(visit.ticket, service_type="document_verification", actor=officer,
                                    items={"complete": {"result": "yes"}}) is None


# -- the pages ----------------------------------------------------------------------------------------------

@pytest.fixture
def kiosk_url(office):
    return f"/kiosk/{office.code}"


def test_kiosk_needs_no_login_and_marks_missing_fields(client, office, kiosk_url):
    assert client.get(kiosk_url).status_code == 200
    response = client.post(kiosk_url, data=form_data(name="", phone="", application=""))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    for name in ("name", "phone", "application"):
        assert f'id="{name}-error"' in page and f'name="{name}"' in page
    assert 'value="CV Maju Jaya"' in page  # what was filled in is kept
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_kiosk_submission_gives_a_queue_number_and_a_receipt(client, office, kiosk_url):
    response = client.post(kiosk_url, data={**form_data(), "files": (io.BytesIO(PNG), "layar.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    receipt = client.get(response.headers["Location"])
    page = receipt.get_data(as_text=True)
    ticket = db.session.scalars(select(Ticket)).one()
    assert receipt.status_code == 200
    assert 'id="queue-number">A-001<' in page and ticket.ref in page
    assert "/status/" in page  # the status link
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 1


def test_kiosk_receipt_tokens_cannot_be_guessed(client, office, kiosk_url):
    assert client.get(f"{kiosk_url}/tanda-terima/1").status_code == 404


def test_kiosk_refuses_a_disallowed_upload_and_keeps_the_form(client, office, kiosk_url):
    response = client.post(kiosk_url, data={**form_data(), "files": (io.BytesIO(b"MZ\x90\x00" * 100), "a.exe")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "a.exe" in page and 'value="Siti Rahma"' in page
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_kiosk_refuses_an_oversized_upload(client, app, office, kiosk_url):
    app.config["KIOSK_MAX_FILE_BYTES"] = 1024
    big = b"%PDF-1.4\n" + b"0" * 4096
    response = client.post(kiosk_url, data={**form_data(), "files": (io.BytesIO(big), "scan.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "scan.pdf" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_kiosk_flooding_is_rate_limited(client, app, office, kiosk_url):
    app.config["KIOSK_RATE_LIMIT"] = "2 per minute"
    limiter.reset()
    codes = [client.post(kiosk_url, data=form_data(name="")).status_code for _ in range(3)]
    assert codes == [422, 422, 429]
    limiter.reset()


def test_unknown_office_is_404(client, office):
    assert client.get("/kiosk/tidak-ada").status_code == 404
    assert client.get("/display/tidak-ada/state").status_code == 404
    assert client.get("/kiosk").headers["Location"].endswith(f"/kiosk/{office.code}")


def test_suggestions_hook_answers_json(client, office, kiosk_url):
    response = client.get(f"{kiosk_url}/saran", query_string={"q": "lupa password akun spse saya"})
    assert response.status_code == 200 and response.get_json() == {"suggestions": []}


def test_desk_call_next_shows_the_number_on_the_display(client, login, office, make_staff, kiosk_url):
    officer = make_staff(name="Dewi Lestari")
    client.post(kiosk_url, data=form_data())
    login(client, officer)
    desk = client.get("/walkin").get_data(as_text=True)
    assert 'data-visit="A-001"' in desk
    response = client.post("/walkin/panggil", data={"desk": "Meja 2"})
    ticket = db.session.scalars(select(Ticket)).one()
    assert response.headers["Location"].endswith(f"/walkin/konsultasi/{ticket.ref}")
    state = json.loads(client.get(f"/display/{office.code}/state").get_data())
    assert state["current"]["number"] == "A-001" and state["current"]["desk"] == "Meja 2"
    assert "A-001" in client.get(f"/display/{office.code}").get_data(as_text=True)


def test_consultation_page_records_answer_checklist_and_archives_the_copy(client, login, office, make_staff):
    officer = make_staff(name="Dewi Lestari")
    visit = walkin.register_visit(request_for(service_type="bidding_room"), office=office, at=RECEIVED_AT)
    db.session.commit()
    login(client, officer)
    ref = visit.ticket.ref
    page = client.get(f"/walkin/konsultasi/{ref}").get_data(as_text=True)
    assert 'data-check="training_attended"' in page and "10012345" in page
    response = client.post(f"/walkin/konsultasi/{ref}", data={
        "analysis": "Dokumen penawaran belum dienkripsi.", "answer": "Dienkripsi dengan Apendo lalu diunggah.",
        "outcome": "solved", "check-training_attended": "yes", "check-qualification_filled": "yes",
        "check-documents_uploaded": "yes", "check-offer_uploaded": "yes", "note-offer_uploaded": "berhasil"})
    assert response.status_code == 302
    db.session.expire_all()
    ticket = db.session.get(Ticket, visit.ticket_id)
    assert ticket.status == "resolved"
    kinds = [e.kind for e in ticket.events]
    assert "checklist_recorded" in kinds and "consultation_recorded" in kinds
    pdf = db.session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id,
                                                      Attachment.content_type == "application/pdf")).one()
    consultation = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                                TicketEvent.kind == "consultation_recorded")).one()
    assert pdf.event_id == consultation.id
    shown = client.get(f"/tickets/{ref}").get_data(as_text=True)
    assert 'id="ticket-checklist"' in shown and 'data-check="offer_uploaded" data-result="yes"' in shown


def test_consultation_page_keeps_input_on_error(client, login, office, make_staff):
    officer = make_staff()
    visit = walkin.register_visit(request_for(service_type="bidding_room"), office=office, at=RECEIVED_AT)
    db.session.commit()
    login(client, officer)
    response = client.post(f"/walkin/konsultasi/{visit.ticket.ref}", data={
        "analysis": "Analisis.", "answer": "", "outcome": "solved", "check-training_attended": "no"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="check-training_attended-no" value="no" checked' in page
    db.session.expire_all()
    assert db.session.get(Ticket, visit.ticket_id).status == "new"


def test_staff_fill_the_form_for_a_visitor_and_serve_at_once(client, login, office, make_staff):
    officer = make_staff()
    login(client, officer)
    response = client.post("/walkin/baru", data=form_data())
    ticket = db.session.scalars(select(Ticket)).one()
    visit = walkin.visit_for(ticket)
    assert response.headers["Location"].endswith(f"/walkin/konsultasi/{ticket.ref}")
    assert visit.source == "desk" and visit.status == "called" and visit.called_by_id == officer.id
    assert ticket.assignee_id == officer.id and ticket.status == "open"


def test_staff_pages_need_a_login(client, office):
    for url in ("/walkin", "/walkin/baru", "/walkin/konsultasi/TST-2026-000001"):
        assert client.get(url).status_code == 302
    assert client.post("/walkin/panggil").status_code == 302


def test_the_demo_fills_todays_walkin_queue(app):
    from helpdesk.demo import fill_demo

    summary = fill_demo(now=RECEIVED_AT)
    db.session.commit()
    visits = db.session.scalars(select(WalkinVisit).order_by(WalkinVisit.arrived_at)).all()
    assert "walkin" in summary
    assert [(v.queue_label, v.status) for v in visits] == [
        ("A-001", "done"), ("B-001", "called"), ("A-002", "waiting"), ("C-001", "waiting")]
    assert visits[0].ticket.status == "resolved"
    assert tickets.latest_checklist(visits[1].ticket)["items"][0]["result"] == "yes"
    calls = {call.call_sid: call for call in db.session.scalars(select(CallLog))}
    assert calls["CADEMO0001"].outcome == "answered" and calls["CADEMO0001"].ticket_id is None  # a draft to log
    assert calls["CADEMO0002"].outcome == "missed" and calls["CADEMO0002"].ticket.flag == "call_back"


def test_a_request_over_the_size_limit_gets_a_clear_page(client, app, office, kiosk_url):
    app.config["MAX_CONTENT_LENGTH"] = 2048
    response = client.post(kiosk_url, data={**form_data(), "files": (io.BytesIO(b"%PDF" + b"0" * 8192), "a.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 413 and "2048" not in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


@pytest.mark.parametrize("body", [
    {"json": [1, 2]}, {"json": {"name": 5, "description": None}}, {"data": {"name": "\x00" * 10, "phone": "\x00"}},
    {"data": {"name": "A" * 100_000, "description": "x" * 100_000, "spse_role": "root"}},
    {"data": {"service_type": ["consultation", "bidding_room"], "application": "<script>"}},
    {"data": b"\xff\xfe garbage", "content_type": "application/x-www-form-urlencoded"},
    {"data": "--x\r\nbroken", "content_type": "multipart/form-data; boundary=x"},
])
def test_malformed_kiosk_posts_never_fail_the_server(client, office, kiosk_url, body):
    limiter.reset()
    response = client.post(kiosk_url, **body)
    assert response.status_code in (400, 413, 415, 422)  # 415: a JSON body is refused before the form reads it
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0
    for url in (f"{kiosk_url}/saran?q=%00%ff", f"/display/{office.code}/state?x=%00", f"{kiosk_url}/tanda-terima/%00"):
        assert client.get(url).status_code < 500


def test_behind_a_trusted_proxy_each_client_has_its_own_kiosk_limit(database_url, tmp_path):
    from helpdesk import create_app

    from .conftest import _config

    proxied = create_app({**_config(database_url, tmp_path / "data"), "TRUSTED_PROXIES": 1,
                          "KIOSK_RATE_LIMIT": "1 per minute"})
    with proxied.app_context():
        from helpdesk.models import Office

        db.session.add(Office(code="px", name="LPSE Proksi", ticket_prefix="PX"))
        db.session.commit()
        client = proxied.test_client()
        first = client.post("/kiosk/px", data={"name": ""}, headers={"X-Forwarded-For": "10.0.0.1"})
        other = client.post("/kiosk/px", data={"name": ""}, headers={"X-Forwarded-For": "10.0.0.2"})
        again = client.post("/kiosk/px", data={"name": ""}, headers={"X-Forwarded-For": "10.0.0.1"})
        assert (first.status_code, other.status_code, again.status_code) == (422, 422, 429)
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
