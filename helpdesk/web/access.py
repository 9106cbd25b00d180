"""Who may see what: every staff page needs a login; some need a role."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required


def admin_required(view):
    """Only system administrators."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def roles_required(*roles: str):
    """Only officers with one of ``roles`` (system administrators always)."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not (current_user.is_admin or current_user.role in roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate
