"""Retention (issue 8): identity documents and raw emails of long-closed tickets are deleted; the ticket stays.

``retention.months`` after a ticket was closed (calendar months in the office's zone; 0 turns the schedule off), its
attachments marked as identity documents (``retention.scope`` "identity"; "all": every attachment) and the raw
messages of its inbound emails are purged: each row gets its ``purged_at`` mark, and the blob file behind it is
deleted once nothing still needs it. The ticket, its text, its events and the email events' sanitised HTML stay: the
HTML is the message's text as the officer read it (no headers, no attachments, data: images removed at intake),
which the rule keeps, and the reports and the search read only the rows.

A blob is content-addressed, so one file may serve several rows. Its file is deleted only when no reference to it
is left that is not purged: attachments (of any ticket), inbound emails' raw messages, email events' HTML
(``html_sha256`` in the event data), files named directly by outbox messages (a report's CSV); attachments an
outbox message still waiting to go names are not purged until it has left. The blob row then gets ``purged_at``
(backups skip it), and its file is deleted after the commit, tolerating a file already gone.

Each purged ticket gets a ``retention_purged`` event and a ``retention.purged`` audit line (by "system", or by the
admin who ran the job by hand; file names and counts, never contents). ``purge`` works through the due tickets in
chunks, committing per chunk; running it again purges nothing more, and two runs at once share the work (rows are
claimed by UPDATE ... RETURNING).

Also here: marking an attachment as an identity document by hand (``mark_identity_document``).
"""
from __future__ import annotations

import calendar
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, and_, cast, exists, false, not_, or_, select, update

from . import audit, settings, tickets
from .blobs import blob_path, delete_purged_file
from .errors import HelpdeskError, PermissionDenied, ValidationError
from .extensions import db
from .models import Attachment, Blob, InboundEmail, Office, OutboxMessage, Staff, Ticket, TicketEvent
from .privacy import can_see_identity
from .states import Status
from .timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

CHUNK: Final = 200  # tickets per transaction
SCOPES: Final = ("identity", "all")
EVENT_KIND: Final = "retention_purged"
AUDIT_ACTION: Final = "retention.purged"
# The email events that may carry the sanitised HTML of a message (``html_sha256`` in their data).
HTML_EVENT_KINDS: Final = ("created", "message_received", "automatic_mail_received", "lkpp_answered")
# Outbox messages not yet gone: the attachments they name are not purged under them.
WAITING_OUTBOX: Final = ("queued", "sending")

_A = Attachment.__table__
_I = InboundEmail.__table__
_B = Blob.__table__


class RetentionError(HelpdeskError):
    """The retention settings cannot be applied (an unknown scope); nothing was purged."""


@dataclass(frozen=True)
class PurgedTicket:
    """What was (or, in a dry run, would be) purged of one ticket."""

    ref: str
    attachments: tuple[str, ...]
    raw_emails: int


@dataclass
class PurgeResult:
    """What ``purge`` did or, with ``dry_run``, would do."""

    months: int
    scope: str
    dry_run: bool
    tickets: list[PurgedTicket] = field(default_factory=list)
    attachments: int = 0
    raw_emails: int = 0
    files_deleted: int = 0  # blob files deleted (or that would be)
    bytes_freed: int = 0
    files_kept: int = 0  # blob files of purged rows kept because something else still uses them

    def line(self) -> str:
        """One line for the job page and the console."""
        if self.months <= 0:
            return "retention: off (retention.months is 0)"
        verb = "would purge" if self.dry_run else "purged"
        return (f"retention ({self.months} months, scope {self.scope}): {verb} {len(self.tickets)} ticket(s), "
                f"{self.attachments} attachment(s), {self.raw_emails} raw email(s); "
                f"{self.files_deleted} file(s) {'to delete' if self.dry_run else 'deleted'} "
                f"({self.bytes_freed:,} bytes), {self.files_kept} kept in use elsewhere")


def purge_summary(result: PurgeResult) -> list[str]:
    """The result as lines for the console: the summary, then one line per ticket."""
    lines = [result.line()]
    for item in result.tickets:
        parts = []
        if item.attachments:
            parts.append(f"{len(item.attachments)} attachment(s): {', '.join(item.attachments)}")
        if item.raw_emails:
            parts.append(f"{item.raw_emails} raw email(s)")
        lines.append(f"  {item.ref}: {'; '.join(parts)}")
    return lines


# -- the policy -------------------------------------------------------------------------------------------------

def policy() -> tuple[int, str]:
    """``(months, scope)`` from the settings; months below 1 mean off. RetentionError for an unknown scope."""
    try:
        months = int(settings.get_setting("retention.months") or 0)
    except (TypeError, ValueError):
        raise RetentionError(f"retention.months must be a whole number, not "
                             f"{settings.get_setting('retention.months')!r}") from None
    scope = settings.get_setting("retention.scope")
    if scope not in SCOPES:
        raise RetentionError(f"retention.scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    return max(months, 0), scope


def cutoff(office: Office, *, now: datetime, months: int) -> datetime:
    """The moment ``months`` calendar months before ``now`` on the office's clock (the 31st becomes the month's last
    day); tickets closed before it are due."""
    local = as_utc(now).astimezone(ZoneInfo(office.timezone))
    index = local.year * 12 + local.month - 1 - months
    year, month = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    return as_utc(local.replace(year=year, month=month + 1, day=day))


def _attachment_in_scope(scope: str, waiting: set[int]):
    condition = _A.c.purged_at.is_(None)
    if scope != "all":
        condition = and_(condition, _A.c.identity_document.is_(True))
    if waiting:
        condition = and_(condition, _A.c.id.not_in(sorted(waiting)))
    return condition


# -- purging ----------------------------------------------------------------------------------------------------

def purge(now: datetime | None = None, *, dry_run: bool = False, chunk: int = CHUNK) -> PurgeResult:
    """Purge the identity documents (or every attachment) and raw emails of tickets closed ``retention.months`` ago.

    Commits after each chunk of tickets and deletes that chunk's files after the commit. ``dry_run`` changes
    nothing and reports what would go. Raises RetentionError for unusable settings.
    """
    now = as_utc(now) if now is not None else utcnow()
    months, scope = policy()
    result = PurgeResult(months=months, scope=scope, dry_run=dry_run)
    if months <= 0:
        return result
    offices = list(db.session.scalars(select(Office).order_by(Office.id)))
    cutoffs = {office.id: cutoff(office, now=now, months=months) for office in offices}
    waiting = _waiting_attachment_ids()
    named = _outbox_named_blobs()
    candidates: set[str] = set()
    deleted: set[str] = set()
    if not dry_run:
        result.files_deleted += _delete_leftover_files()
    try:
        for office in offices:
            after = 0
            while ids := _due_ticket_ids(office.id, cutoffs[office.id], scope=scope, waiting=waiting, after=after,
                                         limit=chunk, lock=not dry_run):
                after = ids[-1]
                if dry_run:
                    _preview_chunk(ids, scope=scope, waiting=waiting, named=named, cutoffs=cutoffs, result=result,
                                   candidates=candidates, deleted=deleted)
                    continue
                doomed = _purge_chunk(ids, scope=scope, months=months, waiting=waiting, named=named, now=now,
                                      result=result, candidates=candidates, deleted=deleted)
                db.session.commit()
                for sha256 in doomed:
                    delete_purged_file(sha256)
    finally:
        if dry_run:
            db.session.rollback()
    result.files_kept = len(candidates - deleted)
    if result.tickets and not dry_run:
        log.info("%s", result.line())
    return result


def _due_ticket_ids(office_id: int, before: datetime, *, scope: str, waiting: set[int], after: int, limit: int,
                    lock: bool) -> list[int]:
    """The next ``limit`` closed tickets of the office, closed before ``before``, with something left to purge."""
    has_attachment = exists().where(_A.c.ticket_id == Ticket.id, _attachment_in_scope(scope, waiting))
    has_raw = exists().where(_I.c.ticket_id == Ticket.id, _I.c.raw_purged_at.is_(None))
    query = (select(Ticket.id).where(Ticket.office_id == office_id, Ticket.status == Status.CLOSED.value,
                                     Ticket.closed_at < before, Ticket.id > after, or_(has_attachment, has_raw))
             .order_by(Ticket.id).limit(limit))
    if lock:  # a second run at the same time takes other tickets (PostgreSQL; SQLite has one writer anyway)
        query = query.with_for_update(skip_locked=True, of=Ticket)
    return list(db.session.scalars(query))


def _purge_chunk(ids: list[int], *, scope: str, months: int, waiting: set[int], named: set[str], now: datetime,
                 result: PurgeResult, candidates: set[str], deleted: set[str]) -> set[str]:
    """Mark one chunk's rows purged, record the events and audit lines, mark the blobs nothing needs any more.

    Returns the blobs whose files go after the commit. Flushes, never commits.
    """
    files = db.session.execute(
        update(_A).where(_A.c.ticket_id.in_(ids), _attachment_in_scope(scope, waiting)).values(purged_at=now)
        .returning(_A.c.id, _A.c.ticket_id, _A.c.filename, _A.c.blob_sha256)).all()
    raws = db.session.execute(
        update(_I).where(_I.c.ticket_id.in_(ids), _I.c.raw_purged_at.is_(None)).values(raw_purged_at=now)
        .returning(_I.c.id, _I.c.ticket_id, _I.c.raw_sha256)).all()
    by_ticket: dict[int, dict[str, list]] = defaultdict(lambda: {"files": [], "raws": []})
    for row in sorted(files, key=lambda row: row.id):
        by_ticket[row.ticket_id]["files"].append(row)
    for row in sorted(raws, key=lambda row: row.id):
        by_ticket[row.ticket_id]["raws"].append(row)
    for ticket in db.session.scalars(select(Ticket).where(Ticket.id.in_(sorted(by_ticket))).order_by(Ticket.id)):
        _record_purge(ticket, by_ticket[ticket.id]["files"], by_ticket[ticket.id]["raws"], months=months, scope=scope,
                      now=now, result=result)
    shas = {row.blob_sha256 for row in files} | {row.raw_sha256 for row in raws}
    candidates |= shas
    doomed = shas - _blobs_in_use(shas, named=named)
    if doomed:
        freed = db.session.execute(
            update(_B).where(_B.c.sha256.in_(sorted(doomed)), _B.c.purged_at.is_(None)).values(purged_at=now)
            .returning(_B.c.sha256, _B.c.size)).all()
        result.files_deleted += len(freed)
        result.bytes_freed += sum(row.size for row in freed)
        deleted |= doomed
    return doomed


def _record_purge(ticket: Ticket, files: list, raws: list, *, months: int, scope: str, now: datetime,
                  result: PurgeResult) -> None:
    """The ticket's ``retention_purged`` event and its ``retention.purged`` audit line."""
    names = [row.filename for row in files]
    tickets.record_event(ticket, EVENT_KIND, at=now, data={
        "attachments": [{"id": row.id, "filename": row.filename} for row in files],
        "inbound_email_ids": [row.id for row in raws], "raw_emails": len(raws), "months": months, "scope": scope})
    audit.record(AUDIT_ACTION, target=ticket, ref=ticket.ref, attachments=len(files),
                 filenames=names, raw_emails=len(raws), months=months, scope=scope)
    result.tickets.append(PurgedTicket(ref=ticket.ref, attachments=tuple(names), raw_emails=len(raws)))
    result.attachments += len(files)
    result.raw_emails += len(raws)
    log.info("%s: retention purged %d attachment(s) and %d raw email(s)", ticket.ref, len(files), len(raws))


def _preview_chunk(ids: list[int], *, scope: str, waiting: set[int], named: set[str], cutoffs: dict[int, datetime],
                   result: PurgeResult, candidates: set[str], deleted: set[str]) -> None:
    """What ``_purge_chunk`` would do to these tickets, counting a blob as freed when every row using it is due."""
    files = db.session.execute(select(_A.c.id, _A.c.ticket_id, _A.c.filename, _A.c.blob_sha256).where(
        _A.c.ticket_id.in_(ids), _attachment_in_scope(scope, waiting)).order_by(_A.c.id)).all()
    raws = db.session.execute(select(_I.c.id, _I.c.ticket_id, _I.c.raw_sha256).where(
        _I.c.ticket_id.in_(ids), _I.c.raw_purged_at.is_(None)).order_by(_I.c.id)).all()
    refs = dict(db.session.execute(select(Ticket.id, Ticket.ref).where(Ticket.id.in_(ids))).all())
    for ticket_id in ids:
        names = tuple(row.filename for row in files if row.ticket_id == ticket_id)
        count = sum(row.ticket_id == ticket_id for row in raws)
        if names or count:
            result.tickets.append(PurgedTicket(ref=refs[ticket_id], attachments=names, raw_emails=count))
            result.attachments += len(names)
            result.raw_emails += count
    shas = ({row.blob_sha256 for row in files} | {row.raw_sha256 for row in raws}) - deleted
    candidates |= shas
    due = select(Ticket.id).where(Ticket.status == Status.CLOSED.value, or_(false(), *(
        and_(Ticket.office_id == office_id, Ticket.closed_at < moment) for office_id, moment in cutoffs.items())))
    doomed = shas - _blobs_in_use(shas, named=named, due_attachment=and_(
        _A.c.ticket_id.in_(due), _attachment_in_scope(scope, waiting)), due_raw=_I.c.ticket_id.in_(due))
    if doomed:
        rows = db.session.execute(select(_B.c.sha256, _B.c.size).where(
            _B.c.sha256.in_(sorted(doomed)), _B.c.purged_at.is_(None))).all()
        result.files_deleted += len(rows)
        result.bytes_freed += sum(row.size for row in rows)
        deleted |= doomed


def _blobs_in_use(shas: set[str], *, named: set[str], due_attachment=None, due_raw=None) -> set[str]:
    """Those of ``shas`` that something not purged still refers to.

    ``due_attachment`` / ``due_raw``: conditions of rows that count as purged already (a dry run's would-be purge).
    """
    if not shas:
        return set()
    used = shas & named
    rest = sorted(shas - used)
    if rest:
        live = _A.c.purged_at.is_(None)
        if due_attachment is not None:
            live = and_(live, not_(due_attachment))
        used |= set(db.session.scalars(select(_A.c.blob_sha256).where(_A.c.blob_sha256.in_(rest), live).distinct()))
    rest = sorted(shas - used)
    if rest:
        live = _I.c.raw_purged_at.is_(None)
        if due_raw is not None:
            live = and_(live, not_(due_raw))
        used |= set(db.session.scalars(select(_I.c.raw_sha256).where(_I.c.raw_sha256.in_(rest), live).distinct()))
    rest = sorted(shas - used)
    if rest:
        html = TicketEvent.data["html_sha256"].as_string()
        used |= set(db.session.scalars(select(html).where(TicketEvent.kind.in_(HTML_EVENT_KINDS), html.in_(rest))
                                       .distinct()))
    return used


def _waiting_attachment_ids() -> set[int]:
    """Attachments named by outbox messages still waiting to go (an LKPP escalation's files)."""
    ids: set[int] = set()
    rows = db.session.scalars(select(OutboxMessage.attachments).where(
        OutboxMessage.status.in_(WAITING_OUTBOX), OutboxMessage.ticket_id.is_not(None)))
    for items in rows:
        ids.update(int(item) for item in items or () if not isinstance(item, dict))
    return ids


def _outbox_named_blobs() -> set[str]:
    """Blobs outbox messages name directly (``{"blob": sha256}``: a report's CSV); read once per run."""
    named: set[str] = set()
    rows = db.session.scalars(select(OutboxMessage.attachments).where(
        cast(OutboxMessage.attachments, String).like('%"blob"%')))
    for items in rows:
        named.update(str(item["blob"]) for item in items or () if isinstance(item, dict) and item.get("blob"))
    return named


def _delete_leftover_files() -> int:
    """Delete the files of blobs marked purged whose file is still there (a run stopped between commit and delete)."""
    count = 0
    for sha256 in db.session.scalars(select(_B.c.sha256).where(_B.c.purged_at.is_not(None))).all():
        if blob_path(sha256).exists() and delete_purged_file(sha256):
            count += 1
    db.session.commit()
    return count


# -- identity documents -----------------------------------------------------------------------------------------

def mark_identity_document(attachment: Attachment, marked: bool, *, actor: Staff,
                           at: datetime | None = None) -> TicketEvent | None:
    """Mark (or unmark) an attachment as an identity document, so that retention purges it (or not).

    Records ``identity_document_marked`` / ``identity_document_unmarked`` on its ticket; None when it already
    was as asked. Refused for a purged attachment, and unmarking for an officer who may not open identity documents.
    Flushes, never commits.
    """
    if attachment.purged_at is not None:
        raise ValidationError(_l("This file was deleted under the retention schedule."))
    if attachment.identity_document and not marked and not can_see_identity(actor):
        # Taking the mark off would open the file to the very officer who may not open it.
        raise PermissionDenied(_l("Only an officer who may see identity numbers can take this mark off."))
    if bool(attachment.identity_document) == bool(marked):
        return None
    attachment.identity_document = bool(marked)
    ticket = db.session.get(Ticket, attachment.ticket_id)
    kind = "identity_document_marked" if marked else "identity_document_unmarked"
    log.info("%s: attachment %s %s", ticket.ref, attachment.id, kind.replace("_", " "))
    return tickets.record_event(ticket, kind, actor=actor, at=as_utc(at) if at else utcnow(),
                           data={"attachment_id": attachment.id, "filename": attachment.filename})

