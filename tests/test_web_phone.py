"""The phone log: one form, three outcomes, caller lookup, numbers kept even when they do not parse."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from helpdesk.extensions import db
from helpdesk.models import Requester, Ticket, TicketEvent


@pytest.fixture
def officer(client, login, make_staff):
    staff = make_staff(name="Dewi Helpdesk")
    login(client, staff)
    return staff


CALL = {"phone": "0812-3456-7890", "name": "Ahmad Fauzi", "organization": "CV Karya Mandiri",
        "spse_role": "penyedia", "address": "Jl. Merdeka 1", "application": "spse", "tender_code": "10023456",
        "question": "Bagaimana cara reset password akun penyedia?"}


def test_call_answered_now_is_resolved_with_follow_up_met(client, officer):
    response = client.post("/phone/new", data={**CALL, "answer": "Datang ke LPSE membawa dokumen asli untuk "
                                                                 "verifikasi.", "outcome": "answered"})
    ticket = db.session.query(Ticket).one()
    assert response.status_code == 302 and response.location == f"/tickets/{ticket.ref}"
    assert ticket.channel == "phone" and ticket.status == "resolved"
    assert ticket.follow_up_met is True and ticket.assignee_id == officer.id
    assert (ticket.application, ticket.tender_code) == ("spse", "10023456")
    requester = ticket.requester
    assert (requester.name, requester.phone, requester.organization, requester.spse_role) == \
        ("Ahmad Fauzi", "+6281234567890", "CV Karya Mandiri", "penyedia")
    replied = db.session.query(TicketEvent).filter_by(ticket_id=ticket.id, kind="replied").one()
    assert replied.data["via"] == "phone"


def test_pending_call_keeps_its_follow_up_clock_running(client, officer):
    client.post("/phone/new", data={**CALL, "answer": "Akan kami tanyakan ke LKPP.", "outcome": "pending"})
    ticket = db.session.query(Ticket).one()
    assert ticket.status == "pending" and ticket.first_follow_up_at is None
    assert ticket.follow_up_due_at > ticket.received_at
    assert db.session.query(TicketEvent).filter_by(ticket_id=ticket.id, kind="note_added").count() == 1


def test_escalated_call_records_the_role_and_counts_as_follow_up(client, officer):
    client.post("/phone/new", data={**CALL, "answer": "Diteruskan ke verifikator.", "outcome": "escalate",
                                    "escalate_role": "verifikator"})
    ticket = db.session.query(Ticket).one()
    assert ticket.status == "escalated" and ticket.follow_up_met is True
    event = db.session.query(TicketEvent).filter_by(ticket_id=ticket.id, kind="escalated").one()
    assert event.data == {"tier": "internal", "role": "verifikator", "requester_told": True,
                          "escalation_id": event.data["escalation_id"]}


def test_call_time_is_when_the_form_was_opened(client, officer):
    opened = datetime.now(timezone.utc) - timedelta(minutes=4)
    client.post("/phone/new", data={**CALL, "answer": "Dijawab.", "outcome": "answered",
                                    "started_at": opened.isoformat()})
    ticket = db.session.query(Ticket).one()
    assert abs((ticket.received_at - opened).total_seconds()) < 1


def test_unbelievable_call_time_falls_back_to_now(client, officer):
    client.post("/phone/new", data={**CALL, "answer": "Dijawab.", "outcome": "answered",
                                    "started_at": "2020-01-01T00:00:00+00:00"})
    ticket = db.session.query(Ticket).one()
    assert (datetime.now(timezone.utc) - ticket.received_at).total_seconds() < 60


def test_unparseable_number_is_kept_as_typed_and_flagged(client, officer):
    response = client.post("/phone/new", data={**CALL, "phone": "ext. 12 bu ani", "answer": "Dijawab.",
                                               "outcome": "answered"}, follow_redirects=True)
    requester = db.session.query(Requester).one()
    assert (requester.phone, requester.phone_valid) == ("ext. 12 bu ani", False)
    assert "disimpan sesuai ketikan" in response.get_data(as_text=True).lower()


@pytest.mark.parametrize("missing", ["name", "question"])
def test_incomplete_call_is_shown_again_marked_and_nothing_saved(client, officer, missing):
    data = {**CALL, "answer": "Dijawab.", "outcome": "answered"}
    data[missing] = ""
    response = client.post("/phone/new", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="{missing}"' in page and "is-invalid" in page
    assert "Ahmad Fauzi" in page or missing == "name"  # what was typed is kept
    assert db.session.query(Ticket).count() == 0 and db.session.query(Requester).count() == 0


def test_answered_outcome_needs_the_answer(client, officer):
    response = client.post("/phone/new", data={**CALL, "answer": "", "outcome": "answered"})
    assert response.status_code == 422
    assert db.session.query(Ticket).count() == 0


def test_lookup_finds_the_caller_and_their_tickets(client, officer, make_requester, make_ticket):
    caller = make_requester(name="Siti Aminah", phone="+62 812 9999 0000", organization="Dinas PUPR",
                            spse_role="ppk")
    ticket = make_ticket(requester=caller, subject="Paket tidak muncul di SiRUP")
    result = client.get("/phone/lookup?number=0812-9999-0000").get_json()
    assert result["number"] == "+6281299990000" and result["valid"] is True
    assert result["requester"]["name"] == "Siti Aminah" and result["requester"]["spse_role"] == "ppk"
    assert [t["ref"] for t in result["tickets"]] == [ticket.ref]


def test_lookup_of_unknown_and_junk_numbers(client, officer):
    assert client.get("/phone/lookup?number=0811-0000-1111").get_json()["requester"] is None
    junk = client.get("/phone/lookup?number=abc").get_json()
    assert junk["valid"] is False and junk["requester"] is None


def test_known_caller_found_again_by_phone_gets_no_duplicate(client, officer, make_requester):
    make_requester(name="Ahmad Fauzi", phone="+6281234567890", email="ahmad@karya.co.id")
    client.post("/phone/new", data={**CALL, "answer": "Dijawab.", "outcome": "answered"})
    assert db.session.query(Requester).count() == 1
    assert db.session.query(Requester).one().email == "ahmad@karya.co.id"
