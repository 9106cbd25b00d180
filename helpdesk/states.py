"""The ticket lifecycle (DESIGN.md §4): one transition table for the service check and the page's choices."""
from __future__ import annotations

import enum
from typing import Final, Mapping

from flask_babel import lazy_gettext as _l

from .errors import InvalidTransition


class Status(enum.StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ESCALATED = "escalated"
    WAITING = "waiting"
    RESOLVED = "resolved"
    CLOSED = "closed"


TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = {
    # new -> closed is for spam and duplicates; everything else is closed only after it was resolved.
    Status.NEW: frozenset({Status.OPEN, Status.PENDING, Status.ESCALATED, Status.WAITING, Status.RESOLVED,
                           Status.CLOSED}),
    Status.OPEN: frozenset({Status.PENDING, Status.ESCALATED, Status.WAITING, Status.RESOLVED}),
    Status.PENDING: frozenset({Status.OPEN, Status.ESCALATED, Status.WAITING, Status.RESOLVED}),
    Status.ESCALATED: frozenset({Status.OPEN, Status.PENDING, Status.WAITING, Status.RESOLVED}),
    Status.WAITING: frozenset({Status.OPEN, Status.PENDING, Status.ESCALATED, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    # Closed is final: a later message opens a new ticket linked to this one.
    Status.CLOSED: frozenset(),
}

# Moves that need more than a status: escalation needs a target, so it has its own verb and form.
NEEDS_OWN_VERB: Final[frozenset[Status]] = frozenset({Status.ESCALATED})

ACTIVE: Final[frozenset[Status]] = frozenset(
    {Status.NEW, Status.OPEN, Status.PENDING, Status.ESCALATED, Status.WAITING})

# A requester's message brings these back to open (DESIGN.md §4).
REOPENED_BY_REQUESTER: Final[frozenset[Status]] = frozenset({Status.WAITING, Status.PENDING, Status.RESOLVED})

STATUS_LABELS: Final[Mapping[Status, object]] = {
    Status.NEW: _l("New"),
    Status.OPEN: _l("In progress"),
    Status.PENDING: _l("Pending"),
    Status.ESCALATED: _l("Escalated"),
    Status.WAITING: _l("Waiting for requester"),
    Status.RESOLVED: _l("Resolved"),
    Status.CLOSED: _l("Closed"),
}


def check_transition(old: str, new: str) -> None:
    """Raise InvalidTransition unless TRANSITIONS allows old -> new."""
    if Status(new) not in TRANSITIONS[Status(old)]:
        raise InvalidTransition(old, new)


def allowed_moves(old: str) -> list[Status]:
    """The statuses a ticket in ``old`` may move to through a plain status change, in lifecycle order."""
    allowed = TRANSITIONS[Status(old)] - NEEDS_OWN_VERB
    return [status for status in Status if status in allowed]
