"""Login, logout and the language switch."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from .. import audit
from ..extensions import db, limiter
from ..models import Staff
from ..requesters import normalise_email
from ..staff import authenticate
from .forms import LoginForm

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    """Check the officer's email and password; lock the account after repeated failures."""
    if current_user.is_authenticated:
        return redirect(url_for("queue.index"))
    form = LoginForm()
    if form.validate_on_submit():
        staff, problem = authenticate(form.email.data, form.password.data)
        _audit_login(form.email.data, staff, problem)
        db.session.commit()  # failed attempts, lockouts and the audit line are recorded too
        if staff is not None:
            login_user(staff)
            return redirect(_safe_next(request.args.get("next")) or url_for("queue.index"))
        if problem == "locked":
            flash(_("Too many failed attempts: this account is locked for %(minutes)d minutes.",
                    minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"]), "danger")
        else:
            flash(_("Wrong email or password."), "danger")
    return render_template("web/auth/login.html", form=form)


@bp.errorhandler(429)
def too_many_attempts(error):
    """Too many sign-in attempts from one address: a plain page, the attempt not even checked."""
    log.warning("sign-in attempts refused for %s: %s", request.remote_addr, error.description)
    audit.record_view("login.throttled", actor_label=(request.form.get("email") or "")[:100] or "-")
    return render_template("web/error.html", code=429), 429


@bp.post("/logout")
@login_required
def logout():
    """End the session."""
    audit.record("logout", target=current_user._get_current_object())
    db.session.commit()
    logout_user()
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def set_language(code: str):
    """Switch the interface language (Indonesian or English) for this session."""
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")) or url_for("queue.index"))


def _audit_login(email: str, staff, problem: str | None) -> None:
    """The sign-in's audit line: the account when the email names one, and for a failure the email as typed
    (cut short); never the password."""
    if staff is not None:
        audit.record("login.succeeded", target=staff, actor=staff)
        return
    log.warning("sign-in refused (%s) for %r from %s", problem, audit.typed_label(email), request.remote_addr)
    account = db.session.scalar(select(Staff).where(Staff.email == (normalise_email(email) or "")))
    audit.record("login.locked" if problem == "locked" else "login.failed", target=account,
                 target_type="staff" if account is not None else None, actor_label=audit.typed_label(email),
                 office_id=account.office_id if account is not None else None,
                 known_account=account is not None,
                 **({"locked_until": account.locked_until.isoformat(timespec="seconds")}
                    if problem == "locked" and account is not None and account.locked_until else {}))


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths, so a crafted link cannot send an officer elsewhere."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
