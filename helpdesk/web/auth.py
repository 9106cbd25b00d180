"""Login, logout and the language switch."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import db
from ..staff import authenticate
from .forms import LoginForm

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Check the officer's email and password; lock the account after repeated failures."""
    if current_user.is_authenticated:
        return redirect(url_for("queue.index"))
    form = LoginForm()
    if form.validate_on_submit():
        staff, problem = authenticate(form.email.data, form.password.data)
        db.session.commit()  # failed attempts and lockouts are recorded too
        if staff is not None:
            login_user(staff)
            return redirect(_safe_next(request.args.get("next")) or url_for("queue.index"))
        if problem == "locked":
            flash(_("Too many failed attempts: this account is locked for %(minutes)d minutes.",
                    minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"]), "danger")
        else:
            flash(_("Wrong email or password."), "danger")
    return render_template("web/auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    """End the session."""
    logout_user()
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def set_language(code: str):
    """Switch the interface language (Indonesian or English) for this session."""
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")) or url_for("queue.index"))


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths, so a crafted link cannot send an officer elsewhere."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
