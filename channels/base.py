"""What every channel adapter shares: an outside thing becomes a service call."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Contact:
    """Who reported something, as the channel learnt it."""

    name: str
    email: str | None = None
    phone: str | None = None
    organization: str | None = None
    spse_role: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Inbound:
    """One inbound report: an email, a call, a form submission."""

    channel: str
    contact: Contact
    subject: str
    body: str
    received_at: datetime
    external_id: str | None = None  # Message-ID, Twilio SID: unique, so re-processing is a no-op
