"""The ticket service verbs (helpdesk/tickets.py): each changes the ticket and records its event together."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from helpdesk import tickets
from helpdesk.calendars import calendar_for
from helpdesk.errors import InvalidTransition, UnknownTicket, ValidationError
from helpdesk.extensions import db
from helpdesk.models import OutboxMessage, Office, Requester, Ticket, TicketEvent, count_rows
from helpdesk.staff import update_staff
from helpdesk.states import Status

from .conftest import RECEIVED_AT, WIB

DUE = datetime(2026, 11, 25, 10, 0, tzinfo=WIB)  # one working day after RECEIVED_AT (Tue -> Wed 10:00)
BEFORE_DUE = DUE - timedelta(hours=2)
AFTER_DUE = DUE + timedelta(minutes=1)


def events_of(ticket: Ticket, kind: str | None = None) -> list[TicketEvent]:
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    if kind is not None:
        query = query.where(TicketEvent.kind == kind)
    return list(db.session.scalars(query.order_by(TicketEvent.id)))


def outbox_of(ticket: Ticket) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id)))


# -- open_ticket ------------------------------------------------------------------------------------------

def test_open_ticket_numbers_refs_with_office_prefix_and_year(make_ticket):
    first, second = make_ticket(), make_ticket()
    assert first.ref == "TST-2026-000001"
    assert second.ref == "TST-2026-000002"
    assert first.status == Status.NEW


def test_ticket_numbers_run_per_office(make_ticket, make_office):
    other = make_office(code="lain", ticket_prefix="LAIN")
    make_ticket()
    make_ticket()
    assert make_ticket(office=other).ref == "LAIN-2026-000001"
    assert make_ticket().ref == "TST-2026-000003"


def test_ticket_year_is_the_year_of_receipt_in_the_office_zone(make_ticket):
    # 2027-01-01 00:10 WIB is still 2026-12-31 in UTC: the office's calendar year decides.
    last_of_2026 = make_ticket(received_at=datetime(2026, 12, 31, 23, 30, tzinfo=WIB))
    first_of_2027 = make_ticket(received_at=datetime(2027, 1, 1, 0, 10, tzinfo=WIB))
    second_of_2027 = make_ticket(received_at=datetime(2026, 12, 31, 17, 20, tzinfo=timezone.utc))
    assert last_of_2026.ref == "TST-2026-000001"
    assert first_of_2027.ref == "TST-2027-000001"
    assert second_of_2027.ref == "TST-2027-000002"
    assert make_ticket().ref == "TST-2026-000002"


def test_open_ticket_records_created_event_deadline_and_calendar_version(office, make_requester):
    requester = make_requester(name="Siti Rahma")
    ticket = tickets.open_ticket(office=office, requester=requester, channel="email", subject="  Lupa   kata sandi ",
                                 body="Saya lupa kata sandi akun SPSE.", received_at=RECEIVED_AT)
    db.session.commit()
    db.session.expire_all()

    assert ticket.subject == "Lupa kata sandi"
    assert ticket.received_at == RECEIVED_AT
    assert ticket.received_at.tzinfo is not None
    assert ticket.follow_up_due_at == DUE
    assert ticket.first_follow_up_at is None and ticket.follow_up_met is None
    assert ticket.calendar_version == calendar_for(office).version
    assert ticket.calendar_version.startswith("holidays-")
    [created] = events_of(ticket)
    assert created.kind == "created"
    assert created.created_at == RECEIVED_AT
    assert created.body == "Saya lupa kata sandi akun SPSE."
    assert created.data["channel"] == "email"
    assert datetime.fromisoformat(created.data["follow_up_due_at"]) == DUE
    assert tickets.get_by_ref(ticket.ref.lower()) == ticket
    assert "siti rahma" in ticket.search_text


def test_open_ticket_deadline_follows_the_calendar(make_ticket):
    # Friday 16:10 WIB: after Monday's 16:00 closing the deadline is kept inside Monday's hours.
    ticket = make_ticket(received_at=datetime(2026, 11, 27, 16, 10, tzinfo=WIB))
    assert ticket.follow_up_due_at == datetime(2026, 11, 30, 16, 0, tzinfo=WIB)


def test_open_ticket_takes_subject_from_body_when_blank(make_ticket):
    ticket = make_ticket(subject="  ", body="\n\nAkun terkunci setelah salah kata sandi\nmohon bantuan")
    assert ticket.subject == "Akun terkunci setelah salah kata sandi"


@pytest.mark.parametrize(("channel", "subject", "body"), [
    ("fax", "Subjek", "Isi"),
    ("phone", "", "   "),
])
def test_open_ticket_refuses_unknown_channel_and_empty_ticket(office, make_requester, channel, subject, body):
    requester = make_requester()
    with pytest.raises(ValidationError):
        tickets.open_ticket(office=office, requester=requester, channel=channel, subject=subject, body=body,
                            received_at=RECEIVED_AT)
    assert count_rows(Ticket) == 0


def test_open_ticket_refuses_naive_receipt_time(office, make_requester):
    requester = make_requester()
    with pytest.raises(ValueError):
        tickets.open_ticket(office=office, requester=requester, channel="phone", subject="s", body="b",
                            received_at=datetime(2026, 11, 24, 10, 0))


def test_get_by_ref_raises_unknown_ticket(app):
    with pytest.raises(UnknownTicket):
        tickets.get_by_ref("TST-2026-999999")


# -- add_message inbound --------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [Status.WAITING, Status.PENDING, Status.RESOLVED])
def test_requester_reply_reopens_waiting_pending_and_resolved_ticket(make_ticket, status):
    ticket = make_ticket(status=status)
    at = RECEIVED_AT + timedelta(hours=3)
    event = tickets.add_message(ticket, direction="inbound", body="Masih belum bisa, Pak.", at=at)
    db.session.commit()

    assert ticket.status == Status.OPEN
    assert event.kind == "message_received"
    assert event.actor_id is None and event.actor_label == ticket.requester.name
    reopened = events_of(ticket, "status_changed")[-1]
    assert reopened.data == {"from": status.value, "to": "open", "reason": "requester_replied"}
    assert reopened.created_at == at
    if status == Status.RESOLVED:
        assert ticket.resolved_at is None


@pytest.mark.parametrize("status", [Status.NEW, Status.OPEN, Status.ESCALATED])
def test_requester_reply_leaves_new_open_and_escalated_ticket_alone(make_ticket, status):
    ticket = make_ticket(status=status)
    changes = len(events_of(ticket, "status_changed"))
    tickets.add_message(ticket, direction="inbound", body="Tambahan: tangkapan layar terlampir.",
                        at=RECEIVED_AT + timedelta(hours=1))
    db.session.commit()
    assert ticket.status == status
    assert len(events_of(ticket, "status_changed")) == changes
    assert len(events_of(ticket, "message_received")) == 1
    assert "tangkapan layar" in ticket.search_text


def test_message_on_closed_ticket_is_refused(make_ticket, make_staff):
    ticket = make_ticket(status=Status.CLOSED)
    before = len(events_of(ticket))
    with pytest.raises(ValidationError):
        tickets.add_message(ticket, direction="inbound", body="Terima kasih", at=RECEIVED_AT + timedelta(days=1))
    with pytest.raises(ValidationError):
        tickets.add_message(ticket, direction="outbound", body="Sama-sama", actor=make_staff(), via="phone",
                            at=RECEIVED_AT + timedelta(days=1))
    assert ticket.status == Status.CLOSED
    assert len(events_of(ticket)) == before


def test_empty_message_is_refused(make_ticket):
    ticket = make_ticket()
    with pytest.raises(ValidationError):
        tickets.add_message(ticket, direction="inbound", body=" \n ", at=RECEIVED_AT)
    assert len(events_of(ticket)) == 1


# -- add_message outbound -------------------------------------------------------------------------------------

def test_reply_needs_the_officer_who_wrote_it(make_ticket):
    ticket = make_ticket()
    with pytest.raises(ValidationError):
        tickets.add_message(ticket, direction="outbound", body="Silakan coba lagi.", via="phone", at=BEFORE_DUE)
    assert ticket.first_follow_up_at is None
    assert len(events_of(ticket)) == 1


def test_email_reply_queues_one_outbox_message_to_the_requester(make_ticket, make_requester, make_staff):
    officer = make_staff(name="Andi Petugas")
    ticket = make_ticket(channel="email", requester=make_requester(email="Rina@CV-Maju.example.co.id"))
    event = tickets.add_message(ticket, direction="outbound", body="Silakan bersihkan cache peramban.",
                                actor=officer, via="email", at=BEFORE_DUE)
    db.session.commit()

    [message] = outbox_of(ticket)
    assert message.channel == "email"
    assert message.recipient == "rina@cv-maju.example.co.id"
    assert ticket.ref in message.subject
    assert "Silakan bersihkan cache peramban." in message.body
    assert message.status == "queued"
    assert message.event_id == event.id
    assert event.kind == "replied" and event.data["via"] == "email"
    assert event.data["outbox_id"] == message.id
    assert event.actor_id == officer.id


def test_phone_reply_queues_nothing(make_ticket, make_staff):
    ticket = make_ticket()
    event = tickets.add_message(ticket, direction="outbound", body="Sudah dijelaskan lewat telepon.",
                                actor=make_staff(), via="phone", at=BEFORE_DUE)
    db.session.commit()
    assert event.data == {"via": "phone"}
    assert count_rows(OutboxMessage) == 0


def test_email_reply_to_requester_without_email_is_refused(make_ticket, make_requester, make_staff):
    ticket = make_ticket(requester=make_requester(email=None, phone="0812-3456-7890"))
    with pytest.raises(ValidationError):
        tickets.add_message(ticket, direction="outbound", body="Jawaban", actor=make_staff(), via="email",
                            at=BEFORE_DUE)
    assert count_rows(OutboxMessage) == 0
    assert ticket.first_follow_up_at is None


def test_reply_without_via_goes_by_email_when_the_requester_has_one(make_ticket, make_staff):
    ticket = make_ticket(channel="phone")
    event = tickets.add_message(ticket, direction="outbound", body="Jawaban", actor=make_staff(), at=BEFORE_DUE)
    assert event.data["via"] == "email"
    assert len(outbox_of(ticket)) == 1


def test_reply_by_an_unknown_way_is_refused(make_ticket, make_staff):
    ticket = make_ticket()
    with pytest.raises(ValidationError):
        tickets.add_message(ticket, direction="outbound", body="Jawaban", actor=make_staff(), via="pigeon",
                            at=BEFORE_DUE)


def test_first_reply_before_deadline_is_the_follow_up_met(make_ticket, make_staff):
    officer = make_staff()
    ticket = make_ticket()
    tickets.add_message(ticket, direction="outbound", body="Jawaban pertama", actor=officer, via="phone",
                        at=BEFORE_DUE)
    db.session.commit()
    db.session.expire_all()

    assert ticket.status == Status.OPEN  # a reply to a new ticket means someone is working on it
    assert ticket.first_follow_up_at == BEFORE_DUE
    assert ticket.follow_up_met is True
    [followed] = events_of(ticket, "followed_up")
    assert followed.data["how"] == "reply" and followed.data["met"] is True
    assert followed.actor_id == officer.id


def test_exactly_at_the_deadline_is_still_met(make_ticket, make_staff):
    ticket = make_ticket()
    tickets.add_message(ticket, direction="outbound", body="Jawaban", actor=make_staff(), via="phone", at=DUE)
    assert ticket.follow_up_met is True


def test_first_reply_after_deadline_is_the_follow_up_missed(make_ticket, make_staff):
    ticket = make_ticket(status=Status.OPEN)
    tickets.add_message(ticket, direction="outbound", body="Maaf terlambat", actor=make_staff(), via="phone",
                        at=AFTER_DUE)
    db.session.commit()
    db.session.expire_all()
    assert ticket.first_follow_up_at == AFTER_DUE
    assert ticket.follow_up_met is False
    [followed] = events_of(ticket, "followed_up")
    assert followed.data["met"] is False


def test_second_reply_records_no_second_follow_up(make_ticket, make_staff):
    officer = make_staff()
    ticket = make_ticket()
    tickets.add_message(ticket, direction="outbound", body="Pertama", actor=officer, via="phone", at=BEFORE_DUE)
    tickets.add_message(ticket, direction="outbound", body="Kedua", actor=officer, via="phone", at=AFTER_DUE)
    db.session.commit()
    assert ticket.first_follow_up_at == BEFORE_DUE and ticket.follow_up_met is True
    assert len(events_of(ticket, "followed_up")) == 1
    assert len(events_of(ticket, "replied")) == 2


def test_requester_message_is_not_a_follow_up(make_ticket):
    ticket = make_ticket()
    tickets.add_message(ticket, direction="inbound", body="Halo?", at=BEFORE_DUE)
    assert ticket.first_follow_up_at is None
    assert events_of(ticket, "followed_up") == []


# -- add_note ---------------------------------------------------------------------------------------------

def test_note_is_recorded_and_is_not_a_follow_up(make_ticket, make_staff):
    officer = make_staff()
    ticket = make_ticket(channel="email")
    note = tickets.add_note(ticket, body="  Sudah dicek di server, log normal. ", actor=officer, at=BEFORE_DUE)
    db.session.commit()
    assert note.kind == "note_added" and note.body == "Sudah dicek di server, log normal."
    assert note.actor_id == officer.id and note.created_at == BEFORE_DUE
    assert ticket.status == Status.NEW
    assert ticket.first_follow_up_at is None
    assert count_rows(OutboxMessage) == 0


def test_empty_note_is_refused(make_ticket, make_staff):
    ticket = make_ticket()
    with pytest.raises(ValidationError):
        tickets.add_note(ticket, body="   ", actor=make_staff())
    assert len(events_of(ticket)) == 1


# -- change_status, resolve, reopen --------------------------------------------------------------------------

def test_change_status_to_escalated_is_refused_without_a_target(make_ticket):
    ticket = make_ticket(status=Status.OPEN)
    before = len(events_of(ticket))
    with pytest.raises(ValidationError):
        tickets.change_status(ticket, Status.ESCALATED, actor=None, at=BEFORE_DUE)
    assert ticket.status == Status.OPEN
    assert len(events_of(ticket)) == before


def test_change_status_records_actor_note_and_time(make_ticket, make_staff):
    officer = make_staff()
    ticket = make_ticket(status=Status.OPEN)
    event = tickets.change_status(ticket, Status.PENDING, actor=officer, note=" menunggu info LKPP ", at=BEFORE_DUE)
    db.session.commit()
    assert (event.kind, event.body, event.actor_id, event.created_at) == (
        "status_changed", "menunggu info LKPP", officer.id, BEFORE_DUE)
    assert event.data == {"from": "open", "to": "pending"}
    assert ticket.first_follow_up_at is None  # marking pending is not telling the requester


def test_resolve_needs_a_solution(make_ticket, make_staff):
    ticket = make_ticket(status=Status.OPEN)
    with pytest.raises(ValidationError):
        tickets.resolve(ticket, actor=make_staff(), solution="  ", at=BEFORE_DUE)
    assert ticket.status == Status.OPEN
    assert ticket.resolved_at is None


def test_resolve_records_solution_and_counts_as_follow_up(make_ticket, make_staff):
    officer = make_staff()
    ticket = make_ticket(status=Status.OPEN)
    event = tickets.resolve(ticket, actor=officer, solution="Akun sudah dibuka kembali.", at=AFTER_DUE)
    db.session.commit()
    db.session.expire_all()
    assert ticket.status == Status.RESOLVED
    assert ticket.resolved_at == AFTER_DUE
    assert event.body == "Akun sudah dibuka kembali."
    assert ticket.first_follow_up_at == AFTER_DUE and ticket.follow_up_met is False
    [followed] = events_of(ticket, "followed_up")
    assert followed.data["how"] == "resolution"


def test_resolving_after_a_reply_keeps_the_first_follow_up(make_ticket, make_staff):
    officer = make_staff()
    ticket = make_ticket()
    tickets.add_message(ticket, direction="outbound", body="Sedang dicek", actor=officer, via="phone", at=BEFORE_DUE)
    tickets.resolve(ticket, actor=officer, solution="Selesai", at=AFTER_DUE)
    assert ticket.first_follow_up_at == BEFORE_DUE and ticket.follow_up_met is True
    assert len(events_of(ticket, "followed_up")) == 1


def test_closing_records_closed_at(make_ticket):
    ticket = make_ticket(status=Status.RESOLVED)
    at = RECEIVED_AT + timedelta(days=3)
    tickets.change_status(ticket, Status.CLOSED, actor=None, at=at)
    db.session.commit()
    assert ticket.closed_at == at


def test_reopen_brings_resolved_ticket_back_to_open(make_ticket, make_staff):
    ticket = make_ticket(status=Status.RESOLVED)
    assert ticket.resolved_at is not None
    event = tickets.reopen(ticket, actor=make_staff(), reason="Pelapor: masih galat", at=AFTER_DUE)
    db.session.commit()
    assert ticket.status == Status.OPEN
    assert ticket.resolved_at is None
    assert event.body == "Pelapor: masih galat"
    assert event.data == {"from": "resolved", "to": "open"}


def test_reopen_refuses_a_closed_ticket(make_ticket):
    ticket = make_ticket(status=Status.CLOSED)
    with pytest.raises(InvalidTransition):
        tickets.reopen(ticket, actor=None, reason="coba", at=AFTER_DUE)
    assert ticket.status == Status.CLOSED


# -- assign -------------------------------------------------------------------------------------------------

def test_assign_and_unassign_record_events(make_ticket, make_staff):
    lead, officer = make_staff(role="kepala", name="Bu Kepala"), make_staff(name="Andi")
    ticket = make_ticket()
    given = tickets.assign(ticket, officer, actor=lead, at=BEFORE_DUE)
    db.session.commit()
    assert ticket.assignee_id == officer.id
    assert given.kind == "assigned" and given.actor_id == lead.id
    assert given.data == {"from": None, "from_name": None, "to": officer.id, "to_name": "Andi"}

    taken = tickets.assign(ticket, None, actor=lead, at=AFTER_DUE)
    db.session.commit()
    db.session.expire_all()
    assert ticket.assignee_id is None and ticket.assignee is None
    assert taken.data == {"from": officer.id, "from_name": "Andi", "to": None, "to_name": None}
    assert len(events_of(ticket, "assigned")) == 2


def test_assign_to_the_same_officer_records_nothing(make_ticket, make_staff):
    officer = make_staff()
    ticket = make_ticket()
    tickets.assign(ticket, officer, actor=None, at=BEFORE_DUE)
    assert tickets.assign(ticket, officer, actor=None, at=AFTER_DUE) is None
    assert tickets.assign(make_ticket(), None, actor=None) is None
    assert len(events_of(ticket, "assigned")) == 1


def test_assign_refuses_inactive_officer(make_ticket, make_staff):
    officer = make_staff()
    update_staff(officer, name=officer.name, role=officer.role, active=False, phone=None)
    ticket = make_ticket()
    with pytest.raises(ValidationError):
        tickets.assign(ticket, officer, actor=None)
    assert ticket.assignee_id is None
    assert events_of(ticket, "assigned") == []


def test_assign_refuses_officer_of_another_office(make_ticket, make_staff, make_office):
    stranger = make_staff(office=make_office(code="lain", ticket_prefix="LAIN"))
    ticket = make_ticket()
    with pytest.raises(ValidationError):
        tickets.assign(ticket, stranger, actor=None)
    assert ticket.assignee_id is None
    assert events_of(ticket, "assigned") == []


# -- escalate -----------------------------------------------------------------------------------------------

def test_escalation_with_requester_told_counts_as_follow_up(make_ticket, make_staff):
    officer = make_staff()
    ticket = make_ticket(status=Status.OPEN)
    event = tickets.escalate(ticket, role="admin_ppe", actor=officer, reason=" Perlu reset akun ",
                             requester_told=True, at=BEFORE_DUE)
    db.session.commit()
    assert ticket.status == Status.ESCALATED
    assert event.kind == "escalated" and event.body == "Perlu reset akun"
    assert event.data == {"tier": "internal", "role": "admin_ppe", "requester_told": True,
                          "escalation_id": event.data["escalation_id"]}
    assert ticket.first_follow_up_at == BEFORE_DUE and ticket.follow_up_met is True
    [followed] = events_of(ticket, "followed_up")
    assert followed.data["how"] == "escalation_notice"


def test_escalation_without_telling_requester_is_not_a_follow_up(make_ticket):
    ticket = make_ticket()
    tickets.escalate(ticket, role="verifikator", actor=None, reason="verifikasi berkas", at=BEFORE_DUE)
    assert ticket.status == Status.ESCALATED
    assert ticket.first_follow_up_at is None
    assert events_of(ticket, "followed_up") == []


def test_escalation_to_unknown_role_is_refused(make_ticket):
    ticket = make_ticket(status=Status.OPEN)
    before = len(events_of(ticket))
    with pytest.raises(ValidationError):
        tickets.escalate(ticket, role="presiden", actor=None, reason="?", requester_told=True, at=BEFORE_DUE)
    assert ticket.status == Status.OPEN
    assert ticket.first_follow_up_at is None
    assert len(events_of(ticket)) == before


# -- classify -----------------------------------------------------------------------------------------------

def test_classify_records_the_diff(make_ticket, make_staff):
    officer = make_staff()
    ticket = make_ticket(application="spse", urgency="not_urgent")
    event = tickets.classify(ticket, actor=officer, at=BEFORE_DUE, application="spse", urgency="urgent",
                             is_technical=True, tender_code=" 10023456 ", impact="")
    db.session.commit()
    assert event.kind == "classified"
    assert event.data == {"changes": {"urgency": ["not_urgent", "urgent"], "is_technical": [None, True],
                                      "tender_code": [None, "10023456"]}}
    assert (ticket.urgency, ticket.is_technical, ticket.tender_code) == ("urgent", True, "10023456")


def test_classify_with_nothing_changed_returns_none(make_ticket):
    ticket = make_ticket(application="spse", priority="high")
    before = len(events_of(ticket))
    assert tickets.classify(ticket, actor=None, application="spse", priority="high") is None
    assert tickets.classify(ticket, actor=None) is None
    assert len(events_of(ticket)) == before


@pytest.mark.parametrize("changes", [
    {"urgency": "sangat"}, {"application": "lpse"}, {"is_technical": "ya"}, {"status": "closed"},
    {"colour": "red"},
])
def test_classify_refuses_unknown_values_and_fields(make_ticket, changes):
    ticket = make_ticket()
    with pytest.raises(ValidationError):
        tickets.classify(ticket, actor=None, **changes)
    assert ticket.status == Status.NEW
    assert events_of(ticket, "classified") == []


def test_refused_classification_changes_no_field(make_ticket):
    ticket = make_ticket(urgency="not_urgent")
    with pytest.raises(ValidationError):
        tickets.classify(ticket, actor=None, urgency="urgent", application="lpse")
    assert ticket.urgency == "not_urgent"
    assert ticket.application is None
    assert not db.session.is_modified(ticket)


def test_open_ticket_refuses_unknown_classification(office, make_requester):
    requester = make_requester()
    with pytest.raises(ValidationError):
        tickets.open_ticket(office=office, requester=requester, channel="phone", subject="s", body="b",
                            received_at=RECEIVED_AT, priority="urgent")


# -- the event log ------------------------------------------------------------------------------------------

def test_events_cannot_be_updated(make_ticket):
    ticket = make_ticket()
    [created] = events_of(ticket)
    created.body = "diubah diam-diam"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    assert events_of(ticket)[0].body == "Saat unggah dokumen penawaran muncul pesan galat."


def test_events_cannot_be_deleted(make_ticket):
    ticket = make_ticket(status=Status.RESOLVED)
    count = len(events_of(ticket))
    db.session.delete(events_of(ticket)[0])
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    assert len(events_of(ticket)) == count


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_database_refuses_to_rewrite_events_even_in_bulk(make_ticket, statement):
    ticket = make_ticket()
    query = update(TicketEvent).values(body="ditimpa") if statement == "update" else delete(TicketEvent)
    with pytest.raises(IntegrityError, match="append-only"):
        db.session.execute(query)
    db.session.rollback()
    assert [e.body for e in events_of(ticket)] == [ticket.description]


# -- concurrency --------------------------------------------------------------------------------------------

def test_concurrent_opens_get_distinct_consecutive_refs(app, office, make_requester):
    requester = make_requester()
    office_id, requester_id = office.id, requester.id
    threads_count, per_thread = 8, 10
    start = threading.Barrier(threads_count)
    refs: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        try:
            with app.app_context():  # its own app context: its own session and connection
                office = db.session.get(Office, office_id)
                requester = db.session.get(Requester, requester_id)
                start.wait(timeout=30)
                for i in range(per_thread):
                    ticket = tickets.open_ticket(office=office, requester=requester, channel="phone",
                                                 subject=f"Utas {n} tiket {i}", body="uji serentak",
                                                 received_at=RECEIVED_AT)
                    ref = ticket.ref
                    db.session.commit()
                    with lock:
                        refs.append(ref)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads_count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, errors
    assert len(refs) == threads_count * per_thread
    numbers = sorted(int(ref.rsplit("-", 1)[1]) for ref in refs)
    assert numbers == list(range(1, threads_count * per_thread + 1))
    db.session.expire_all()
    stored = db.session.scalars(select(Ticket.ref)).all()
    assert sorted(stored) == sorted(refs)
    assert db.session.scalar(select(func.count()).select_from(TicketEvent)
                             .where(TicketEvent.kind == "created")) == threads_count * per_thread
