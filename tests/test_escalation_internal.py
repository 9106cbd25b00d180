"""Internal escalation (helpdesk/escalations.py): to a role or an officer, the holder notified, the chain, the way
back down, and the reminders to a holder who has not answered (escalation/reminders.py)."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from escalation.reminders import send_due_reminders
from helpdesk import escalations, tickets
from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.models import Escalation, OutboxMessage, TicketEvent
from helpdesk.states import Status

from .conftest import RECEIVED_AT, WIB

AT = RECEIVED_AT  # Tue 24 Nov 2026 10:00 WIB
# escalation.reminder_working_days is 2: Tue 10:00 -> Thu 26 Nov 10:00, then Mon 30 Nov 10:00 (Fri 27 is worked).
FIRST_REMINDER = datetime(2026, 11, 26, 10, 0, tzinfo=WIB)
SECOND_REMINDER = datetime(2026, 11, 30, 10, 0, tzinfo=WIB)


def events_of(ticket, kind=None) -> list[TicketEvent]:
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    if kind is not None:
        query = query.where(TicketEvent.kind == kind)
    return list(db.session.scalars(query.order_by(TicketEvent.id)))


def mail_to(address: str, template: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.recipient == address)
    if template is not None:
        query = query.where(OutboxMessage.template == template)
    return list(db.session.scalars(query.order_by(OutboxMessage.id)))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def staff(make_staff):
    """Rina (helpdesk), two Admin PPE officers, a verifier."""
    return {"rina": make_staff(name="Rina Helpdesk", email="rina@lpse.example.go.id"),
            "ppe1": make_staff(role="admin_ppe", name="Agus PPE", email="agus@lpse.example.go.id"),
            "ppe2": make_staff(role="admin_ppe", name="Dewi PPE", email="dewi@lpse.example.go.id"),
            "verif": make_staff(role="verifikator", name="Vera Verifikator", email="vera@lpse.example.go.id")}


def test_escalation_to_a_role_hands_it_over_and_notifies_the_role(make_ticket, staff):
    ticket = make_ticket(status=Status.OPEN)
    tickets.assign(ticket, staff["rina"], actor=staff["rina"], at=AT)
    escalation = escalations.escalate_internal(ticket, actor=staff["rina"], role="admin_ppe", at=AT,
                                               reason=" Akun penyedia perlu direset ", requester_told=True)
    db.session.commit()

    assert ticket.status == Status.ESCALATED and ticket.holder_role == "admin_ppe"
    assert ticket.assignee_id is None  # the role holds it now, so the role's officers hear about it
    assert (escalation.tier, escalation.target_role, escalation.channel, escalation.status) == \
        ("internal", "admin_ppe", "internal", "open")
    assert escalation.reason == "Akun penyedia perlu direset" and escalation.created_by_id == staff["rina"].id
    assert escalation.next_reminder_at == FIRST_REMINDER
    [event] = events_of(ticket, "escalated")
    assert event.data == {"tier": "internal", "role": "admin_ppe", "requester_told": True,
                          "escalation_id": escalation.id}
    assert event.body == "Akun penyedia perlu direset"
    assert ticket.first_follow_up_at == AT and events_of(ticket, "followed_up")[0].data["how"] == "escalation_notice"
    for officer in (staff["ppe1"], staff["ppe2"]):
        [notice] = mail_to(officer.email, "staff-escalation")
        assert notice.automatic and notice.ticket_id is None
        assert ticket.ref in notice.subject and "Akun penyedia perlu direset" in notice.body
        assert "Rina Helpdesk" in notice.body
    assert mail_to(staff["verif"].email) == [] and mail_to(staff["rina"].email) == []


def test_escalation_to_an_officer_assigns_and_notifies_only_them(make_ticket, staff):
    ticket = make_ticket(status=Status.OPEN)
    escalation = escalations.escalate_internal(ticket, actor=staff["rina"], officer=staff["verif"], at=AT,
                                               reason="Perlu cek dokumen verifikasi")
    db.session.commit()
    assert ticket.assignee_id == staff["verif"].id and ticket.holder_role is None
    assert escalation.target_staff_id == staff["verif"].id and escalation.target_role is None
    [event] = events_of(ticket, "escalated")
    assert event.data["officer"] == staff["verif"].id and event.data["officer_name"] == "Vera Verifikator"
    assert ticket.first_follow_up_at is None  # the requester was not told
    assert len(mail_to(staff["verif"].email, "staff-escalation")) == 1
    assert mail_to(staff["ppe1"].email) == []


@pytest.mark.parametrize("target", [{}, {"role": "admin_ppe", "officer": "verif"}, {"role": "presiden"},
                                    {"officer": "stranger"}, {"officer": "inactive"}])
def test_bad_targets_are_refused_and_change_nothing(make_ticket, make_staff, make_office, staff, target):
    ticket = make_ticket(status=Status.OPEN)
    stranger = make_staff(office=make_office(code="lain", ticket_prefix="LAIN"))
    inactive = make_staff(role="admin_ppe")
    inactive.active = False
    db.session.commit()
    people = {"verif": staff["verif"], "stranger": stranger, "inactive": inactive}
    kwargs = {key: people.get(value, value) if key == "officer" else value for key, value in target.items()}
    before = len(events_of(ticket))
    with pytest.raises(ValidationError):
        escalations.escalate_internal(ticket, actor=staff["rina"], reason="x", at=AT, **kwargs)
    assert ticket.status == Status.OPEN and count(Escalation) == 0 and len(events_of(ticket)) == before


def test_the_legacy_verb_still_escalates_to_a_role(make_ticket, staff):
    ticket = make_ticket(status=Status.PENDING)
    event = tickets.escalate(ticket, role="verifikator", actor=staff["rina"], reason="berkas", at=AT)
    db.session.commit()
    [escalation] = escalations.chain(ticket)
    assert event.kind == "escalated" and event.data["escalation_id"] == escalation.id
    assert ticket.holder_role == "verifikator"


def test_an_escalated_ticket_goes_further_up_and_the_one_below_waits(make_ticket, staff):
    ticket = make_ticket(status=Status.OPEN)
    first = escalations.escalate_internal(ticket, actor=staff["rina"], role="verifikator", reason="cek", at=AT)
    second = escalations.escalate_internal(ticket, actor=staff["verif"], role="admin_ppe", reason="perlu PPE",
                                           at=AT + timedelta(hours=1))
    db.session.commit()
    assert [e.id for e in escalations.chain(ticket)] == [first.id, second.id]
    assert ticket.status == Status.ESCALATED and ticket.holder_role == "admin_ppe"
    assert first.status == "open" and first.next_reminder_at is None  # waits for the tier above
    assert second.next_reminder_at is not None
    assert len(events_of(ticket, "escalated")) == 2
    assert len(events_of(ticket, "status_changed")) == 2  # new -> open, open -> escalated; not escalated again


def test_returning_gives_the_ticket_back_to_the_officer_who_escalated(make_ticket, staff):
    ticket = make_ticket(status=Status.OPEN)
    tickets.assign(ticket, staff["rina"], actor=staff["rina"], at=AT)
    escalation = escalations.escalate_internal(ticket, actor=staff["rina"], role="admin_ppe", reason="reset", at=AT)
    db.session.commit()
    with pytest.raises(ValidationError):
        escalations.return_escalation(escalation, actor=staff["ppe1"], note="  ", at=AT + timedelta(hours=2))
    event = escalations.return_escalation(escalation, actor=staff["ppe1"], at=AT + timedelta(hours=2),
                                          note="Bukan wewenang Admin PPE; minta pelapor mengirim surat.")
    db.session.commit()
    assert escalation.status == "returned" and escalation.next_reminder_at is None and escalation.closed_at
    assert ticket.status == Status.OPEN and ticket.holder_role is None and ticket.assignee_id == staff["rina"].id
    assert event.kind == "escalation_returned" and event.body.startswith("Bukan wewenang")
    assert event.data["to_officer"] == staff["rina"].id
    [notice] = mail_to(staff["rina"].email, "staff-escalation-returned")
    assert "Bukan wewenang Admin PPE" in notice.body
    with pytest.raises(ValidationError):  # off the chain now
        escalations.return_escalation(escalation, actor=staff["ppe1"], note="lagi")


def test_returning_the_top_of_the_chain_goes_back_to_the_tier_below(make_ticket, staff):
    ticket = make_ticket(status=Status.OPEN)
    below = escalations.escalate_internal(ticket, actor=staff["rina"], role="verifikator", reason="cek", at=AT)
    top = escalations.escalate_internal(ticket, actor=staff["verif"], role="admin_ppe", reason="PPE", at=AT)
    escalations.return_escalation(top, actor=staff["ppe1"], note="Silakan verifikator saja.",
                                  at=AT + timedelta(hours=1))
    db.session.commit()
    assert ticket.status == Status.ESCALATED and ticket.holder_role == "verifikator"
    assert below.status == "open" and below.next_reminder_at is not None
    assert len(mail_to(staff["verif"].email, "staff-escalation-returned")) == 1


# -- reminders ---------------------------------------------------------------------------------------------------

def test_holder_is_reminded_after_the_working_days_and_again_later(make_ticket, staff):
    ticket = make_ticket(status=Status.OPEN)
    escalation = escalations.escalate_internal(ticket, actor=staff["rina"], officer=staff["verif"], reason="cek",
                                               at=AT)
    db.session.commit()
    assert send_due_reminders(now=FIRST_REMINDER - timedelta(minutes=1)) == 0
    assert send_due_reminders(now=FIRST_REMINDER) == 1
    assert send_due_reminders(now=FIRST_REMINDER) == 0  # idempotent
    db.session.expire_all()
    assert escalation.reminders == 1 and escalation.last_reminder_at == FIRST_REMINDER
    assert escalation.next_reminder_at == SECOND_REMINDER
    [reminder] = events_of(ticket, "escalation_reminder")
    assert reminder.data["escalation_id"] == escalation.id and reminder.data["recipients"] == [staff["verif"].id]
    [notice] = mail_to(staff["verif"].email, "staff-escalation-reminder")
    assert "pengingat ke-1" in notice.body
    assert send_due_reminders(now=SECOND_REMINDER) == 1
    db.session.expire_all()
    assert escalation.reminders == 2


def test_role_holders_are_reminded_and_resolved_tickets_are_not(make_ticket, staff):
    ticket = make_ticket(status=Status.OPEN)
    escalations.escalate_internal(ticket, actor=staff["rina"], role="admin_ppe", reason="reset", at=AT)
    done = make_ticket(status=Status.OPEN)
    finished = escalations.escalate_internal(done, actor=staff["rina"], role="admin_ppe", reason="x", at=AT)
    tickets.resolve(done, actor=staff["ppe1"], solution="Sudah direset.", at=AT + timedelta(hours=1))
    db.session.commit()
    assert send_due_reminders(now=FIRST_REMINDER) == 1
    assert {m.recipient for m in db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "staff-escalation-reminder"))} == {staff["ppe1"].email, staff["ppe2"].email}
    db.session.expire_all()
    assert finished.reminders == 0 and finished.next_reminder_at is None  # no more nagging
    assert events_of(done, "escalation_reminder") == []


def test_two_reminder_runs_at_once_remind_once(app, make_ticket, staff):
    ticket = make_ticket(status=Status.OPEN)
    escalation = escalations.escalate_internal(ticket, actor=staff["rina"], officer=staff["verif"], reason="cek",
                                               at=AT)
    db.session.commit()
    results, barrier = [], threading.Barrier(2)

    def run() -> None:
        with app.app_context():
            barrier.wait()
            results.append(send_due_reminders(now=FIRST_REMINDER))
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [0, 1]
    db.session.expire_all()
    assert escalation.reminders == 1 and len(events_of(ticket, "escalation_reminder")) == 1
    assert len(mail_to(staff["verif"].email, "staff-escalation-reminder")) == 1
