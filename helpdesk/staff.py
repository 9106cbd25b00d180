"""Staff accounts: creation, changes and the login lockout."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from .errors import ValidationError
from .extensions import db
from .models import Office, Staff
from .requesters import normalise_email
from .timeutil import utcnow
from .vocab import StaffRole

MIN_PASSWORD_LENGTH = 8


def create_staff(*, office: Office, email: str, name: str, role: str, password: str,
                 phone: str | None = None) -> Staff:
    """Add an officer. Flushes, never commits."""
    email = normalise_email(email) or ""
    if "@" not in email:
        raise ValidationError(_l("A valid email address is required."))
    if role not in StaffRole.__members__.values():
        raise ValidationError(_l("Unknown role %(role)s.", role=repr(role)))
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(_l("The password needs at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))
    if db.session.scalar(select(Staff).where(Staff.email == email)) is not None:
        raise ValidationError(_l("%(email)s already has an account.", email=email))
    staff = Staff(office_id=office.id, office=office, email=email, name=name.strip(), role=role, phone=phone)
    staff.set_password(password)
    db.session.add(staff)
    db.session.flush()
    return staff


def update_staff(staff: Staff, *, name: str, role: str, active: bool, phone: str | None,
                 password: str | None = None) -> None:
    """Change an officer's details; a blank password keeps the current one. Flushes, never commits."""
    if role not in StaffRole.__members__.values():
        raise ValidationError(_l("Unknown role %(role)s.", role=repr(role)))
    if staff.role == StaffRole.ADMIN and (role != StaffRole.ADMIN or not active) and _active_admins() <= 1:
        raise ValidationError(_l("The last active administrator cannot be removed or demoted."))
    if password and len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(_l("The password needs at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))
    staff.name, staff.role, staff.active, staff.phone = name.strip(), role, active, phone
    if password:
        staff.set_password(password)
        staff.failed_logins, staff.locked_until = 0, None
    db.session.flush()


def authenticate(email: str, password: str) -> tuple[Staff | None, str | None]:
    """Check a login. Returns the officer, or None and the reason ("invalid" or "locked"). Flushes.

    After LOGIN_MAX_FAILURES wrong passwords in a row the account is locked for LOGIN_LOCKOUT_MINUTES; while
    locked even the right password is refused. Unknown emails and wrong passwords give the same answer.
    """
    staff = db.session.scalar(select(Staff).where(Staff.email == (normalise_email(email) or "")))
    now = utcnow()
    if staff is None or not staff.active:
        return None, "invalid"
    if staff.locked_until is not None and staff.locked_until > now:
        return None, "locked"
    if not staff.check_password(password):
        staff.failed_logins += 1
        if staff.failed_logins >= current_app.config["LOGIN_MAX_FAILURES"]:
            staff.locked_until = now + timedelta(minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"])
            staff.failed_logins = 0
        db.session.flush()
        return None, "locked" if staff.locked_until and staff.locked_until > now else "invalid"
    staff.failed_logins, staff.locked_until, staff.last_login_at = 0, None, now
    db.session.flush()
    return staff, None


def office_staff(office_id: int, *, active_only: bool = True) -> list[Staff]:
    """The officers of an office, by name."""
    query = select(Staff).where(Staff.office_id == office_id)
    if active_only:
        query = query.where(Staff.active.is_(True))
    return list(db.session.scalars(query.order_by(Staff.name)))


def _active_admins() -> int:
    return db.session.scalar(select(func.count()).where(
        Staff.role == StaffRole.ADMIN.value, Staff.active.is_(True))) or 0
