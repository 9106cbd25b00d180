"""The ticket page and its actions: reply, note, status, assign, escalate, classify; bad input changes nothing."""
from __future__ import annotations

import re

import pytest

from helpdesk import tickets
from helpdesk.extensions import db
from helpdesk.models import OutboxMessage, TicketEvent


@pytest.fixture
def officer(client, login, make_staff):
    staff = make_staff(name="Rina Petugas")
    login(client, staff)
    return staff


def kinds(ticket) -> list[str]:
    db.session.expire_all()
    return [e.kind for e in db.session.query(TicketEvent).filter_by(ticket_id=ticket.id).order_by(TicketEvent.id)]


def test_ticket_page_shows_requester_card_deadline_and_history(client, officer, make_ticket, make_requester):
    requester = make_requester(name="Budi Santoso", organization="PT Sinar Abadi", phone="081234567890")
    older = make_ticket(requester=requester, subject="Lupa kata sandi", status="closed")
    ticket = make_ticket(requester=requester)
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    assert "Budi Santoso" in page and "PT Sinar Abadi" in page and "+62 812-3456-7890" in page
    assert older.ref in page  # earlier tickets of the requester
    assert "Rabu, 25 November 2026 10.00 WIB" in page  # received Tue 24 Nov 10:00, due a working day later
    assert 'data-event="created"' in page


def test_unknown_reference_is_a_404_page(client, officer):
    response = client.get("/tickets/TST-2026-999999")
    assert response.status_code == 404
    assert "Tidak ditemukan" in response.get_data(as_text=True)


def test_lower_case_reference_redirects_to_the_ticket(client, officer, make_ticket):
    ticket = make_ticket()
    response = client.get(f"/tickets/{ticket.ref.lower()}")
    assert response.status_code == 302 and response.location == f"/tickets/{ticket.ref}"


def test_ticket_of_another_office_is_not_shown(client, officer, make_office, make_ticket):
    foreign = make_ticket(office=make_office())
    assert client.get(f"/tickets/{foreign.ref}").status_code == 404


def test_reply_by_email_is_queued_in_the_outbox_and_is_the_follow_up(client, officer, make_ticket):
    ticket = make_ticket()
    response = client.post(f"/tickets/{ticket.ref}/reply", data={"reply-body": "Silakan reset lewat menu lupa "
                                                                 "password.", "reply-via": "email"})
    assert response.status_code == 302
    message = db.session.query(OutboxMessage).one()
    assert message.recipient == ticket.requester.email
    assert ticket.ref in message.subject
    assert "Silakan reset" in message.body and "Rina Petugas" in message.body
    db.session.refresh(ticket)
    assert ticket.status == "open" and ticket.first_follow_up_at is not None
    assert kinds(ticket)[-3:] == ["replied", "status_changed", "followed_up"]


def test_empty_reply_is_shown_again_marked_and_nothing_saved(client, officer, make_ticket):
    ticket = make_ticket()
    response = client.post(f"/tickets/{ticket.ref}/reply", data={"reply-body": "  ", "reply-via": "email"})
    assert response.status_code == 422
    assert "is-invalid" in response.get_data(as_text=True)
    assert kinds(ticket) == ["created"]
    assert db.session.query(OutboxMessage).count() == 0


def test_note_is_recorded_and_not_sent(client, officer, make_ticket):
    ticket = make_ticket()
    client.post(f"/tickets/{ticket.ref}/note", data={"note-body": "Sudah dicek di server, log normal."})
    assert kinds(ticket) == ["created", "note_added"]
    assert db.session.query(OutboxMessage).count() == 0


def test_status_change_offers_and_applies_only_allowed_moves(client, officer, make_ticket):
    ticket = make_ticket(status="open")
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    status_select = page[page.index('id="status-status"'):]
    status_select = status_select[:status_select.index("</select>")]
    assert 'value="pending"' in status_select and 'value="closed"' not in status_select
    assert 'value="escalated"' not in status_select  # escalation has its own form
    client.post(f"/tickets/{ticket.ref}/status", data={"status-status": "pending", "status-note": "Menunggu LKPP"})
    db.session.refresh(ticket)
    assert ticket.status == "pending"


def test_illegal_status_change_shows_a_message_and_changes_nothing(client, officer, make_ticket):
    ticket = make_ticket(status="open")
    before = kinds(ticket)
    response = client.post(f"/tickets/{ticket.ref}/status", data={"status-status": "closed"},
                           follow_redirects=True)
    assert "tidak diizinkan" in response.get_data(as_text=True)
    db.session.refresh(ticket)
    assert ticket.status == "open" and kinds(ticket) == before
    assert client.post(f"/tickets/{ticket.ref}/status", data={"status-status": "nonsense"}).status_code == 400


def test_resolving_needs_the_solution(client, officer, make_ticket):
    ticket = make_ticket(status="open")
    response = client.post(f"/tickets/{ticket.ref}/status", data={"status-status": "resolved"},
                           follow_redirects=True)
    db.session.refresh(ticket)
    assert ticket.status == "open"
    assert "solusi" in response.get_data(as_text=True).lower() or "solution" in response.get_data(as_text=True)
    client.post(f"/tickets/{ticket.ref}/status", data={"status-status": "resolved",
                                                       "status-note": "Akun sudah direset."})
    db.session.refresh(ticket)
    assert ticket.status == "resolved" and ticket.resolved_at is not None


def test_assign_and_unassign(client, officer, make_staff, make_ticket):
    colleague = make_staff(name="Andi Verifikator", role="verifikator")
    ticket = make_ticket()
    client.post(f"/tickets/{ticket.ref}/assign", data={"assign-assignee": str(colleague.id)})
    db.session.refresh(ticket)
    assert ticket.assignee_id == colleague.id
    client.post(f"/tickets/{ticket.ref}/assign", data={"assign-assignee": ""})
    db.session.refresh(ticket)
    assert ticket.assignee_id is None
    assert kinds(ticket).count("assigned") == 2
    response = client.post(f"/tickets/{ticket.ref}/assign", data={"assign-assignee": "99999"})
    assert response.status_code == 422  # not a choice on the page
    db.session.refresh(ticket)
    assert ticket.assignee_id is None


def test_escalate_to_a_role(client, officer, make_ticket):
    ticket = make_ticket(status="open")
    client.post(f"/tickets/{ticket.ref}/escalate", data={"esc-role": "admin_ppe", "esc-reason": "Perlu reset "
                                                         "akun oleh Admin PPE", "esc-requester_told": "y"})
    db.session.refresh(ticket)
    assert ticket.status == "escalated" and ticket.first_follow_up_at is not None
    event = db.session.query(TicketEvent).filter_by(ticket_id=ticket.id, kind="escalated").one()
    assert event.data["role"] == "admin_ppe" and event.data["requester_told"] is True
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    assert "Admin PPE" in page


def test_classification_is_edited_and_recorded(client, officer, make_ticket):
    ticket = make_ticket()
    client.post(f"/tickets/{ticket.ref}/classify", data={
        "cls-application": "spse", "cls-spse_version": "4.5", "cls-error_code": "ERR-500",
        "cls-tender_code": "10012345", "cls-ticket_type": "problem", "cls-is_technical": "yes",
        "cls-kind": "software", "cls-urgency": "urgent", "cls-impact": "medium", "cls-priority": "high"})
    db.session.refresh(ticket)
    assert (ticket.application, ticket.spse_version, ticket.is_technical, ticket.priority) == \
        ("spse", "4.5", True, "high")
    event = db.session.query(TicketEvent).filter_by(ticket_id=ticket.id, kind="classified").one()
    assert event.data["changes"]["kind"] == [None, "software"]
    response = client.post(f"/tickets/{ticket.ref}/classify", data={"cls-kind": "magic"})
    assert response.status_code == 422
    db.session.refresh(ticket)
    assert ticket.kind == "software"


def test_closed_ticket_offers_no_reply_or_status_change(client, officer, make_ticket):
    ticket = make_ticket(status="closed")
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    assert 'id="reply-form"' not in page and 'id="status-form"' not in page
    response = client.post(f"/tickets/{ticket.ref}/reply", data={"reply-body": "halo", "reply-via": "phone"},
                           follow_redirects=True)
    assert "ditutup" in response.get_data(as_text=True)
    assert "replied" not in kinds(ticket)


def selected(page: str, select_id: str) -> str | None:
    """The value of the selected option of the <select id=select_id> in a page."""
    select = re.search(rf'<select[^>]*id="{select_id}".*?</select>', page, flags=re.S).group(0)
    match = re.search(r'<option (?:selected value="([^"]*)"|value="([^"]*)" selected)', select)
    return (match.group(1) or match.group(2)) if match else None


def test_page_shown_again_after_bad_input_keeps_the_tickets_other_values(client, officer, make_ticket):
    ticket = make_ticket(application="sirup", priority="high")
    tickets.assign(ticket, officer, actor=officer)
    db.session.commit()
    response = client.post(f"/tickets/{ticket.ref}/reply", data={"reply-body": "", "reply-via": "email"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert selected(page, "cls-application") == "sirup"
    assert selected(page, "cls-priority") == "high"
    assert selected(page, "assign-assignee") == str(officer.id)
