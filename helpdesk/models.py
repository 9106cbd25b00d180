"""The ticket store's tables. Rows change only through the service modules (tickets.py, requesters.py, ...)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db
from .states import Status
from .timeutil import UTCDateTime, utcnow

DEFAULT_OFFICE_HOURS: dict[str, list[str] | None] = {
    # ISO weekday (1 = Monday) -> [opening, closing] local time, or None when closed. Perpres 21/2023 hours.
    "1": ["07:30", "16:00"], "2": ["07:30", "16:00"], "3": ["07:30", "16:00"], "4": ["07:30", "16:00"],
    "5": ["07:30", "16:30"], "6": None, "7": None,
}


class Office(db.Model):
    """One LPSE: its name, ticket prefix, time zone and office hours."""

    __tablename__ = "office"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    ticket_prefix: Mapped[str] = mapped_column(String(12), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Jakarta")
    hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=lambda: dict(DEFAULT_OFFICE_HOURS))
    # SKB cuti bersama lets units serving the public roster staff; such an office counts those days as working.
    staffed_on_cuti_bersama: Mapped[bool] = mapped_column(Boolean, default=False)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(Text)
    # Office hours during Ramadan (same shape as ``hours``), used on the dates of the office's Ramadan periods.
    ramadan_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Staff(UserMixin, db.Model):
    """An officer who logs in. Passwords are stored only as salted hashes."""

    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    phone: Mapped[str | None] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    office: Mapped[Office] = relationship()

    def set_password(self, password: str) -> None:
        """Store a salted hash of ``password``."""
        self.password_hash = generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])

    def check_password(self, password: str) -> bool:
        """Whether ``password`` matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class Requester(db.Model):
    """The person who reported a ticket, found again by email or phone."""

    __tablename__ = "requester"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    organization: Mapped[str | None] = mapped_column(String(200))  # agency (instansi) or company (perusahaan)
    spse_role: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254), unique=True)  # stored lower-case
    phone: Mapped[str | None] = mapped_column(String(32), index=True)  # E.164 when it parsed, else as typed
    phone_valid: Mapped[bool] = mapped_column(Boolean, default=True)
    address: Mapped[str | None] = mapped_column(Text)
    npwp: Mapped[str | None] = mapped_column(String(32))
    nik: Mapped[str | None] = mapped_column(String(16))  # Nomor Induk Kependudukan (KTP number)
    spse_user_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Ticket(db.Model):
    """One reported question or problem, from any channel."""

    __tablename__ = "ticket"
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"))
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=Status.NEW.value)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requester.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    follow_up_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    follow_up_met: Mapped[bool | None] = mapped_column(Boolean)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    calendar_version: Mapped[str] = mapped_column(String(80))
    # LPSE Support (LKPP) fields
    application: Mapped[str | None] = mapped_column(String(20))
    spse_version: Mapped[str | None] = mapped_column(String(40))
    error_code: Mapped[str | None] = mapped_column(String(200))
    tender_code: Mapped[str | None] = mapped_column(String(100))
    ticket_type: Mapped[str | None] = mapped_column(String(20))
    # Standar LPSE classification
    is_technical: Mapped[bool | None] = mapped_column(Boolean)
    kind: Mapped[str | None] = mapped_column(String(20))
    urgency: Mapped[str | None] = mapped_column(String(20))
    impact: Mapped[str | None] = mapped_column(String(20))
    priority: Mapped[str | None] = mapped_column(String(20))
    # Lower-case subject, description, reference and requester identity, for the queue's text search.
    search_text: Mapped[str] = mapped_column(Text, default="")
    # A flag asks an officer to look again (a bounced reply, a requester who wants an officer); None when clear.
    flag: Mapped[str | None] = mapped_column(String(40))
    # Another ticket this one is linked to, and why: possible_duplicate (an untrusted [#REF] subject tag) or
    # follow_up_of (a reply to a closed ticket).
    linked_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    link_kind: Mapped[str | None] = mapped_column(String(30))
    # Why automatic mail must not go to this requester for this ticket (the report came from an autoresponder,
    # a list, a bounce ...); None when automatic replies are allowed.
    auto_reply_block: Mapped[str | None] = mapped_column(String(200))
    # The staff role holding the ticket after an internal escalation to a role (None: the helpdesk desk).
    holder_role: Mapped[str | None] = mapped_column(String(20))
    # The SLA sweep's marks (escalation/sweep.py): when the follow-up warning falls due (a share of the clock),
    # and when the warning and the breach were recorded (each exactly once).
    follow_up_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The resolution clock: a target in working days by type and priority, pushed back by the working time the
    # ticket spent paused (waiting on the requester, and on LKPP unless the setting counts LKPP time).
    resolution_target_days: Mapped[int | None] = mapped_column(Integer)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clock_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clock_paused_for: Mapped[str | None] = mapped_column(String(20))  # requester, lkpp
    # Working seconds spent waiting on the requester and on LKPP, over finished waits (reports add a running one).
    requester_seconds: Mapped[int] = mapped_column(Integer, default=0)
    lkpp_seconds: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    office: Mapped[Office] = relationship()
    requester: Mapped[Requester] = relationship()
    assignee: Mapped[Staff | None] = relationship()
    linked_ticket: Mapped["Ticket | None"] = relationship(remote_side="Ticket.id")
    events: Mapped[list["TicketEvent"]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", viewonly=True)

    __table_args__ = (
        # The queue's order: tickets still awaiting their follow-up first, each group by deadline.
        Index("ix_ticket_queue", "office_id", text("(first_follow_up_at IS NOT NULL)"), "follow_up_due_at", "id"),
        Index("ix_ticket_office_status", "office_id", "status"),
        # The SLA sweep's three set-based selections.
        Index("ix_ticket_sla_warn", "sla_warned_at", "follow_up_warn_at"),
        Index("ix_ticket_sla_breach", "sla_breached_at", "follow_up_due_at"),
        Index("ix_ticket_resolution_breach", "resolution_breached_at", "resolution_due_at"),
        # Reports: the follow-ups due in a period.
        Index("ix_ticket_office_due", "office_id", "follow_up_due_at"),
    )

    @property
    def awaiting_follow_up(self) -> bool:
        return self.first_follow_up_at is None


class TicketEvent(db.Model):
    """An append-only record of something that happened to a ticket; the ticket page renders these."""

    __tablename__ = "ticket_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    actor_label: Mapped[str] = mapped_column(String(200), default="")  # "sistem", the requester's name, ...
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="events")
    actor: Mapped[Staff | None] = relationship()

    # Reports read events of one kind over a period (helpdesk/reports.py).
    __table_args__ = (Index("ix_ticket_event_kind_created", "kind", "created_at"),)


@event.listens_for(TicketEvent, "before_update")
@event.listens_for(TicketEvent, "before_delete")
def _events_are_append_only(mapper, connection, target: TicketEvent) -> None:
    raise RuntimeError(f"ticket events are append-only (event {target.id})")


class Blob(db.Model):
    """A content-addressed file in the blob store (DATA_DIR/blobs/ab/cd/<sha256>)."""

    __tablename__ = "blob"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the file was deleted under retention


class Attachment(db.Model):
    """A file attached to a ticket (and to the event that brought it), with its original name."""

    __tablename__ = "attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_event.id"))
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    content_id: Mapped[str | None] = mapped_column(String(250))  # an email part's Content-ID, without <>
    inline: Mapped[bool] = mapped_column(Boolean, default=False)  # shown inside the HTML body (cid:), not listed
    # A scan of an identity document (KTP, NPWP card, deed): purged under the retention schedule.
    identity_document: Mapped[bool] = mapped_column(Boolean, default=False)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # its file was deleted under retention
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    blob: Mapped[Blob] = relationship()


class OutboxMessage(db.Model):
    """An outbound message written in the same transaction as its cause; a job delivers it later."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))  # email, sms, voice, webhook
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # RFC 5322 Message-ID (with angle brackets) fixed when queued, so a retried delivery is the same message.
    message_id: Mapped[str | None] = mapped_column(String(250), index=True)
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)  # an automatic reply, not an officer's
    template: Mapped[str | None] = mapped_column(String(100))
    # Ids of ticket attachments sent with an email (an LKPP escalation's chosen files).
    attachments: Mapped[list[int]] = mapped_column(JSON, default=list)
    # The provider's id for a delivered SMS or WhatsApp message (Twilio's Message SID).
    external_id: Mapped[str | None] = mapped_column(String(64), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_event.id"))
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued, sending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_recipient_created", "recipient", "created_at"),
    )


class Mailbox(db.Model):
    """Where an IMAP poller is in one mailbox folder: UIDVALIDITY, the last UID taken, and its health."""

    __tablename__ = "mailbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)  # the configured mailbox's name
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive failed polls
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboundEmail(db.Model):
    """One inbound email as taken: its raw bytes, what became of it, and where it is filed on the server.

    ``dedupe_key`` is sha256 of Message-ID and content hash: the same message fetched twice (a crash before it
    was filed, a second mailbox) is recognised, while a different message reusing a Message-ID is not.
    """

    __tablename__ = "inbound_email"
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"))
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(250), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))
    size: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(120))  # "imap:<mailbox>" or "import"
    uid: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    from_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300), default="")
    # processed (became or joined a ticket), ignored (recorded, no ticket), quarantined (waiting for a retry)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)  # why ignored, or the quarantine error
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_event.id"))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    filed_folder: Mapped[str | None] = mapped_column(String(200))  # where it was last filed on the server
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    raw_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the raw message was deleted (retention)

    ticket: Mapped[Ticket | None] = relationship()

    __table_args__ = (Index("ix_inbound_email_status", "status", "created_at"),)


class WalkinVisit(db.Model):
    """A walk-in visitor's place in the day's queue: the guest-book line behind a walk-in ticket.

    ``queue_letter`` + ``queue_number`` is what the visitor is called by ("A-007"); numbers restart every day
    (``service_day``, the office's local date) for each office and letter.
    """

    __tablename__ = "walkin_visit"
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), unique=True)
    service_type: Mapped[str] = mapped_column(String(30))  # consultation, bidding_room, document_verification
    service_day: Mapped[date] = mapped_column(Date)
    queue_letter: Mapped[str] = mapped_column(String(2))
    queue_number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="waiting")  # waiting, called, done, left
    source: Mapped[str] = mapped_column(String(20), default="kiosk")  # kiosk, or desk (filled by an officer)
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    called_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    calls: Mapped[int] = mapped_column(Integer, default=0)  # how many times the number was called
    desk: Mapped[str | None] = mapped_column(String(40))  # where the visitor is called to ("Meja 1")
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    ticket: Mapped[Ticket] = relationship()
    called_by: Mapped[Staff | None] = relationship()

    __table_args__ = (
        UniqueConstraint("office_id", "service_day", "queue_letter", "queue_number", name="uq_walkin_visit_number"),
        Index("ix_walkin_visit_day", "office_id", "service_day", "status"),
    )

    @property
    def queue_label(self) -> str:
        return f"{self.queue_letter}-{self.queue_number:03d}"


class CallLog(db.Model):
    """One phone call through Twilio: who called, when, for how long, and whether anyone answered."""

    __tablename__ = "call_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"))
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(10), default="inbound")
    from_number: Mapped[str] = mapped_column(String(40))  # E.164 when it parsed, else as Twilio sent it
    to_number: Mapped[str] = mapped_column(String(40), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    # ringing (in progress), answered, missed (nobody answered, no message), voicemail (a message was left)
    outcome: Mapped[str] = mapped_column(String(20), default="ringing")
    answered_by: Mapped[str | None] = mapped_column(String(40))  # the desk number that took the call
    recording_url: Mapped[str | None] = mapped_column(Text)
    recording_sid: Mapped[str | None] = mapped_column(String(64))
    recording_seconds: Mapped[int | None] = mapped_column(Integer)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    # An answered call waits as a draft until an officer completes its phone log (or dismisses it).
    logged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    logged_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    ticket: Mapped[Ticket | None] = relationship()

    __table_args__ = (Index("ix_call_log_office_started", "office_id", "started_at"),)


class WebhookReceipt(db.Model):
    """A signed webhook request already taken: the same request again is a replay and is refused."""

    __tablename__ = "webhook_receipt"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))  # twilio
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of URL, parameters and signature
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FaqEntry(db.Model):
    """One FAQ entry: a question with its other phrasings and the answer (Markdown, and the sanitised HTML of it).

    ``key`` names the entry across offices (an imported pack's ``id`` is kept). ``visibility``: public (on the
    public FAQ page and in automatic answers), internal (staff suggestions only), draft (being written).
    A retired entry keeps its row and history but is never matched. Its search tokens live in ``faq_search``
    (an FTS5 table on SQLite, a tsvector table on PostgreSQL), written by faq/index.py.
    """

    __tablename__ = "faq_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    question: Mapped[str] = mapped_column(Text)
    alternatives: Mapped[list[str]] = mapped_column(JSON, default=list)  # other phrasings of the question
    answer: Mapped[str] = mapped_column(Text)  # Markdown
    answer_html: Mapped[str] = mapped_column(Text, default="")  # rendered and sanitised
    topic: Mapped[str | None] = mapped_column(String(60))
    application: Mapped[str | None] = mapped_column(String(20))
    spse_version: Mapped[str | None] = mapped_column(String(40))
    visibility: Mapped[str] = mapped_column(String(20), default="draft")  # public, internal, draft
    source: Mapped[str] = mapped_column(String(20), default="lpse")  # lpse, lkpp, ticket
    source_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    review_by: Mapped[date | None] = mapped_column(Date)
    auto_answer: Mapped[bool] = mapped_column(Boolean, default=True)  # may be sent automatically by email
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_faq_entry_visibility", "visibility", "retired_at"),)


class FaqVersion(db.Model):
    """An entry as it was after each change, with who changed it: the entry's history."""

    __tablename__ = "faq_version"
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("faq_entry.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # the entry's fields after the change
    change: Mapped[str] = mapped_column(String(20))  # created, edited, published, retired, imported ...
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("entry_id", "version", name="uq_faq_version_entry_version"),)


class FaqAnswer(db.Model):
    """An FAQ answer sent automatically to a requester, and what they said of it through its signed links."""

    __tablename__ = "faq_answer"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("faq_entry.id"))
    entry_version: Mapped[int] = mapped_column(Integer)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    score: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # None until the requester answers: confirmed ("Sudah terjawab"), rejected ("Belum ..."), or replied by email.
    outcome: Mapped[str | None] = mapped_column(String(20))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Escalation(db.Model):
    """One escalation of a ticket (DESIGN.md §6): inside the office (to a role or an officer) or to LKPP.

    ``status``: open (waiting for the holder or for LKPP's answer), answered (LKPP answered; staff review it
    before it goes to the requester), closed (finished), returned (given back down the chain).
    """

    __tablename__ = "escalation"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    tier: Mapped[str] = mapped_column(String(20))  # internal, lkpp
    target_role: Mapped[str | None] = mapped_column(String(20))  # internal: the role it went to
    target_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # internal: the officer
    target: Mapped[str | None] = mapped_column(String(40))  # lkpp: helpdesk_lkpp, teknis_lkpp
    channel: Mapped[str] = mapped_column(String(20))  # internal, email, tts, phone
    status: Mapped[str] = mapped_column(String(20), default="open")
    reason: Mapped[str] = mapped_column(Text, default="")
    # What was sent: subject, body and the LPSE Support fields, as rendered when it was sent.
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    external_ref: Mapped[str | None] = mapped_column(String(100), index=True)  # LKPP's ticket number
    message_id: Mapped[str | None] = mapped_column(String(250), index=True)  # our email's Message-ID
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    last_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    ticket: Mapped[Ticket] = relationship()
    target_staff: Mapped[Staff | None] = relationship(foreign_keys=[target_staff_id])
    created_by: Mapped[Staff | None] = relationship(foreign_keys=[created_by_id])
    calls: Mapped[list["EscalationCall"]] = relationship(order_by="EscalationCall.id", viewonly=True)

    __table_args__ = (Index("ix_escalation_reminder", "status", "next_reminder_at"),)


class EscalationCall(db.Model):
    """A phone call confirming an escalation with LKPP (call centre 144): who called, when, and what came of it."""

    __tablename__ = "escalation_call"
    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalation.id"), index=True)
    called_at: Mapped[datetime] = mapped_column(UTCDateTime)
    officer_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    number: Mapped[str] = mapped_column(String(40), default="")  # the number called (144, 021-29935577 ...)
    reference_given: Mapped[str] = mapped_column(String(100), default="")  # the reference told to LKPP
    outcome: Mapped[str] = mapped_column(String(30))  # confirmed, no_answer, more_info_needed, other
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    officer: Mapped[Staff] = relationship()


class JobRun(db.Model):
    """One scheduled job's lock and last run: which process holds it, until when, and how its last run ended."""

    __tablename__ = "job_run"
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(120))  # host:pid of the process running it now
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(20))  # ok, failed
    last_error: Mapped[str | None] = mapped_column(Text)
    last_summary: Mapped[str | None] = mapped_column(Text)
    runs: Mapped[int] = mapped_column(Integer, default=0)


class HoursPeriod(db.Model):
    """Dates on which an office keeps another hours profile (Ramadan), with the announcement they come from."""

    __tablename__ = "hours_period"
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"), index=True)
    profile: Mapped[str] = mapped_column(String(20), default="ramadan")
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)  # inclusive
    source_ref: Mapped[str] = mapped_column(String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarReview(db.Model):
    """An admin checked a year's holidays and cuti bersama against the decrees (for one office, or nationally)."""

    __tablename__ = "calendar_review"
    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("year", "office_id", name="uq_calendar_review_year_office"),)


class ReportArchive(db.Model):
    """A report as it was produced (its figures as JSON), so any past day or quarter can be opened again."""

    __tablename__ = "report_archive"
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"))
    kind: Mapped[str] = mapped_column(String(20))  # daily, quarterly
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # inclusive
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("office_id", "kind", "period_start", name="uq_report_archive_period"),)


class ReportDelivery(db.Model):
    """One recipient of a report sent by email, and the outbox message that carries it."""

    __tablename__ = "report_delivery"
    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report_archive.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    outbox: Mapped[OutboxMessage | None] = relationship()


class HolidayOverride(db.Model):
    """A correction on top of the `holidays` library: a day added as non-working, or given back as working."""

    __tablename__ = "holiday_override"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    # libur_nasional, cuti_bersama, libur_daerah (local holiday or office closure), kerja (a working day)
    kind: Mapped[str] = mapped_column(String(20))
    office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"))  # None: applies nationally
    name: Mapped[str] = mapped_column(String(200))
    source_ref: Mapped[str] = mapped_column(String(300), default="")  # decree (SKB, Keppres, Perbup) or URL
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("day", "office_id", name="uq_holiday_override_day_office"),)


class AuditEntry(db.Model):
    """One line of the audit log: who did or saw what, when, from where (UU 27/2022 accountability).

    Written by helpdesk/audit.py only; never updated. ``actor_label`` keeps the name as given (the email typed at a
    failed login, "system" for a job) so the line stays meaningful if the account is later removed.
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    actor_label: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64))
    office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"))
    ip: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[Staff | None] = relationship()

    __table_args__ = (
        Index("ix_audit_log_created_at", "created_at"),
        Index("ix_audit_log_action", "action", "created_at"),
        Index("ix_audit_log_target", "target_type", "target_id"),
        Index("ix_audit_log_actor", "actor_id", "created_at"),
    )


class Setting(db.Model):
    """An operational setting an admin may change; defaults live in settings.py."""

    __tablename__ = "setting"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class Sequence(db.Model):
    """Named counters (ticket numbers per office and year, queue numbers per day), incremented atomically."""

    __tablename__ = "sequence"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


# Schema objects the migrations create outside the SQLAlchemy metadata: the text-search index (FTS5 table and its
# shadow tables on SQLite, a pg_trgm index on PostgreSQL). Autogenerate and schema comparisons skip them.
UNMODELLED_OBJECTS = ("ticket_search", "ix_ticket_search_trgm", "faq_search", "ix_faq_search_vector")


def is_modelled(obj, name: str | None, type_: str, reflected: bool, compare_to) -> bool:
    """Alembic ``include_object`` hook: False for the objects in UNMODELLED_OBJECTS."""
    return not (name or "").startswith(UNMODELLED_OBJECTS)


def count_rows(model: type[db.Model]) -> int:
    """Number of rows in a table."""
    return db.session.scalar(db.select(func.count()).select_from(model)) or 0
