"""The staff web application: one blueprint per area, thin handlers over the services."""
from __future__ import annotations

import time

from flask import Flask, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFError

from .. import formatting
from ..checklists import CHECKLISTS, RESULT_LABELS
from ..extensions import db, login_manager
from ..models import Staff
from ..requesters import format_phone
from ..states import STATUS_LABELS, Status
from ..vocab import (
    Application,
    Channel,
    Level,
    ProblemKind,
    ServiceType,
    SpseRole,
    StaffRole,
    TicketType,
    Urgency,
    choices,
    label,
)

CONSULTATION_OUTCOME_LABELS = {"solved": _l("Solved"), "pending": _l("Pending: follow up later"),
                               "escalate": _l("Escalate")}


STAFF_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
             "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")

PAUSE_LABELS = {"requester": _l("Paused: waiting on the requester"), "lkpp": _l("Paused: waiting on LKPP"),
                "resolved": _l("Paused: resolved")}


def _ticket_clocks(ticket) -> dict[str, object]:
    """The ticket's waiting times so far (office-hours seconds) and the label of a running pause."""
    from ..clocks import waiting_seconds
    from ..timeutil import utcnow

    waits = waiting_seconds(ticket, now=utcnow())
    return {**waits, "paused_label": PAUSE_LABELS.get(ticket.clock_paused_for, "")}


def init_app(app: Flask) -> None:
    """Register blueprints, template helpers and error pages."""
    from . import (
        admin,
        audit,
        auth,
        calendar,
        copies,
        dashboard,
        escalations,
        faq,
        faq_answers,
        health,
        jobs,
        mail,
        phone,
        queue,
        register,
        reports,
        status,
        tickets,
        twilio,
        walkin,
    )

    for module in (auth, queue, tickets, phone, admin, mail, walkin, copies, status, twilio, faq_answers, faq,
                   calendar, escalations, jobs, reports, register, dashboard, health, audit):
        app.register_blueprint(module.bp)

    login_manager.login_view = "auth.login"
    login_manager.login_message = None  # the login page explains itself
    login_manager.user_loader(lambda staff_id: db.session.get(Staff, int(staff_id)))

    app.jinja_env.filters.update(
        local_datetime=formatting.local_datetime, deadline=formatting.deadline,
        short_datetime=formatting.short_datetime,
        working_duration=formatting.working_duration, phone=format_phone,
    )
    app.jinja_env.globals.update(
        status_label=lambda value: STATUS_LABELS.get(Status(value), value),
        channel_label=lambda value: label(Channel, value), role_label=lambda value: label(StaffRole, value),
        spse_role_label=lambda value: label(SpseRole, value),
        application_label=lambda value: label(Application, value),
        ticket_type_label=lambda value: label(TicketType, value), kind_label=lambda value: label(ProblemKind, value),
        urgency_label=lambda value: label(Urgency, value), level_label=lambda value: label(Level, value),
        current_locale=lambda: str(get_locale() or "id"), zone_abbreviation=formatting.zone_abbreviation,
        service_type_label=lambda value: label(ServiceType, value),
        service_type_choices=lambda: choices(ServiceType),
        walkin_visit=_walkin_visit, ticket_checklist=_ticket_checklist, checklist_label=_checklist_label,
        ticket_clocks=_ticket_clocks, pause_label=lambda value: PAUSE_LABELS.get(value, value or ""),
        checklist_result_label=lambda value: RESULT_LABELS.get(value, "—") if value else "—",
        consultation_outcome_label=lambda value: CONSULTATION_OUTCOME_LABELS.get(value, value),
    )

    from . import failures

    failures.init_app(app)  # database unreachable (503) and unexpected errors (500), without the database

    @app.errorhandler(404)
    def not_found(error):
        return render_template("web/error.html", code=404), 404

    @app.errorhandler(403)
    def forbidden(error):
        return render_template("web/error.html", code=403), 403

    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        return render_template("web/error.html", code=400, csrf=True), 400

    @app.before_request
    def sign_out_when_idle():
        """An officer idle for SESSION_IDLE_MINUTES is signed out; the next page asks for the password again."""
        minutes = int(app.config.get("SESSION_IDLE_MINUTES") or 0)
        if not minutes or not current_user.is_authenticated:
            return None
        now = int(time.time())
        last = session.get("seen_at")
        if isinstance(last, int) and now - last > minutes * 60:
            from ..audit import record

            record("session.expired", target=current_user._get_current_object(), idle_minutes=(now - last) // 60)
            db.session.commit()
            logout_user()
            session.clear()
            flash(_l("You were signed out after %(n)d minutes without activity.", n=minutes), "warning")
            return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
        session["seen_at"] = now
        return None

    @app.before_request
    def refuse_json_bodies():
        """Every form here posts form data (Twilio too); a JSON body is refused before a form reads it (a JSON
        string or list would otherwise break Flask-WTF's form wrapping)."""
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.is_json:
            return render_template("web/error.html", code=415), 415
        return None

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # No inline script or style anywhere; pages that need less (an email's HTML, public pages) set their own.
        response.headers.setdefault("Content-Security-Policy", STAFF_CSP)
        return response


def _walkin_visit(ticket):
    from channels.walkin import visit_for

    return visit_for(ticket) if ticket.channel == Channel.WALKIN else None


def _ticket_checklist(ticket):
    from ..tickets import latest_checklist

    return latest_checklist(ticket)


def _checklist_label(service_type: str, key: str):
    items = CHECKLISTS.get(service_type, ())
    return next((item.label for item in items if item.key == key), key)
