"""The transition table (DESIGN.md §4), walked through the ticket service: what it allows works, the rest raises."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from helpdesk import tickets
from helpdesk.errors import InvalidTransition
from helpdesk.extensions import db
from helpdesk.models import TicketEvent
from helpdesk.states import NEEDS_OWN_VERB, TRANSITIONS, Status, allowed_moves, check_transition

from .conftest import RECEIVED_AT

PAIRS = [(old, new) for old in Status for new in Status]
ALLOWED = [(old, new) for old, new in PAIRS if new in TRANSITIONS[old]]
REFUSED = [(old, new) for old, new in PAIRS if new not in TRANSITIONS[old]]


def _ids(pair: tuple[Status, Status]) -> str:
    return f"{pair[0]}->{pair[1]}"


def _event_count(ticket) -> int:
    return db.session.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket.id))


def _move(ticket, new: Status):
    at = RECEIVED_AT + timedelta(hours=1)
    if new == Status.ESCALATED:
        return tickets.escalate(ticket, role="admin_ppe", actor=None, reason="butuh admin PPE", at=at)
    return tickets.change_status(ticket, new, actor=None, note="uji", at=at)


def test_table_covers_every_status_and_closed_is_final():
    assert set(TRANSITIONS) == set(Status)
    assert TRANSITIONS[Status.CLOSED] == frozenset()
    assert all(old not in targets for old, targets in TRANSITIONS.items())


@pytest.mark.parametrize(("old", "new"), ALLOWED, ids=[_ids(p) for p in ALLOWED])
def test_allowed_move_succeeds_through_the_service(make_ticket, old, new):
    ticket = make_ticket(status=old)
    assert ticket.status == old
    before = _event_count(ticket)

    _move(ticket, new)
    db.session.commit()
    db.session.expire_all()

    assert ticket.status == new
    changes = db.session.scalars(select(TicketEvent).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "status_changed").order_by(TicketEvent.id)).all()
    assert changes[-1].data == {"from": old.value, "to": new.value}
    assert _event_count(ticket) > before


@pytest.mark.parametrize(("old", "new"), REFUSED, ids=[_ids(p) for p in REFUSED])
def test_refused_move_raises_and_changes_nothing(make_ticket, old, new):
    ticket = make_ticket(status=old)
    before = _event_count(ticket)
    follow_up = ticket.first_follow_up_at

    with pytest.raises(InvalidTransition) as info:
        _move(ticket, new)
    assert (info.value.old, info.value.new) == (old, new)

    assert ticket.status == old
    assert _event_count(ticket) == before  # counted in the open transaction: nothing was even flushed
    db.session.commit()
    db.session.expire_all()
    assert ticket.status == old
    assert ticket.first_follow_up_at == follow_up
    assert _event_count(ticket) == before


@pytest.mark.parametrize("old", list(Status))
def test_allowed_moves_offers_only_plain_moves_the_check_accepts(old):
    offered = allowed_moves(old)
    assert Status.ESCALATED not in offered
    assert set(offered) == TRANSITIONS[old] - NEEDS_OWN_VERB
    assert offered == [status for status in Status if status in offered]  # lifecycle order
    for new in offered:
        check_transition(old, new)  # raises if the page offered a move the service refuses


@pytest.mark.parametrize("old", list(Status))
def test_check_transition_refuses_everything_outside_the_table(old):
    for new in set(Status) - TRANSITIONS[old]:
        with pytest.raises(InvalidTransition):
            check_transition(old, new)
