"""The audit log: admin actions, sign-ins and views of personal data, kept apart from the ticket events.

Ticket events say what happened to a ticket; the audit log says who did or saw what, for the accountability UU 27/2022
(Pelindungan Data Pribadi) asks of whoever holds personal data. ``record`` adds one line to the caller's transaction,
so an admin action and its audit line commit (or roll back) together; ``record_view`` commits its own line, for pages
that only read.
"""
from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from .extensions import db
from .models import AuditEntry, Staff

SYSTEM = "system"


def record(action: str, *, target: Any = None, target_type: str | None = None, target_id: Any = None,
           actor: Staff | None = None, actor_label: str | None = None, office_id: int | None = None,
           **detail: Any) -> AuditEntry:
    """Add an audit line for ``action`` (e.g. "login.failed", "settings.changed", "personal_data.viewed").

    ``target`` is a model instance (its table name and id are kept) or given as ``target_type``/``target_id``.
    The actor defaults to the signed-in officer, else "system"; ``detail`` is kept as JSON and must not hold
    secrets or the personal data itself (say which fields were seen, not their values).
    """
    if actor is None and has_request_context() and getattr(current_user, "is_authenticated", False):
        actor = current_user._get_current_object()
    if target is not None:
        target_type = target_type or getattr(target, "__tablename__", type(target).__name__.lower())
        target_id = getattr(target, "id", target_id)
    if office_id is None:
        office_id = getattr(target, "office_id", None) or (actor.office_id if actor is not None else None)
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        actor_label=(actor_label or (actor.email if actor is not None else SYSTEM))[:320],
        action=action, target_type=target_type, target_id=None if target_id is None else str(target_id)[:64],
        office_id=office_id, ip=_client_ip(), detail=detail)
    db.session.add(entry)
    return entry


def record_view(action: str, **kwargs: Any) -> AuditEntry:
    """Record a read (a page or file showing personal data) and commit it at once."""
    entry = record(action, **kwargs)
    db.session.commit()
    return entry


def _client_ip() -> str | None:
    if not has_request_context():
        return None
    return (request.remote_addr or "")[:45] or None
