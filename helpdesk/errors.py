"""Domain errors. Services raise these; the web layer and the CLI turn them into messages and status codes."""
from __future__ import annotations


class HelpdeskError(Exception):
    """Base class of every error a service raises on purpose."""


class InvalidTransition(HelpdeskError):
    """A status change the transition table does not allow."""

    def __init__(self, old: str, new: str) -> None:
        super().__init__(f"cannot move a ticket from {old!r} to {new!r}")
        self.old = old
        self.new = new


class UnknownTicket(HelpdeskError):
    """No ticket has the given reference."""


class ValidationError(HelpdeskError):
    """Input a service refuses, with a message meant for the officer."""


class PermissionDenied(HelpdeskError):
    """The acting staff member may not do this."""
