"""The public status page: a requester checks a ticket with its reference and their contact, or a signed link.

No login. Rate-limited per client address (STATUS_RATE_LIMIT, one budget for the form and the links). An
unknown reference and a wrong contact get the very same answer, so the page never tells whether a reference
exists. What is shown is decided by ``helpdesk.status_links.public_status``.
"""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from ..extensions import db, limiter
from ..models import Office, Ticket
from ..status_links import CONTACT_MAX, find_for_requester, public_status, ticket_for_token

bp = Blueprint("status", __name__)

# No script at all, styles and images from this site only, forms post here only, never framed.
PUBLIC_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
              "frame-ancestors 'none'; base-uri 'none'")


def _text(value):
    """Trimmed text; anything else a JSON body can carry (a number, a list, null) counts as not given."""
    return value.strip() if isinstance(value, str) else ""


class StatusLookupForm(FlaskForm):
    reference = StringField(_l("Ticket reference"), filters=[_text],
                            validators=[DataRequired(), Length(max=64)],
                            render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"})
    contact = StringField(_l("Email or phone number on the ticket"), filters=[_text],
                          validators=[DataRequired(), Length(max=CONTACT_MAX)], render_kw={"autocomplete": "off"})
    submit = SubmitField(_l("Check status"))


def _rate_limit(**kwargs):
    """One budget per client address for the form's posts and the signed links together."""
    return limiter.shared_limit(lambda: current_app.config["STATUS_RATE_LIMIT"], scope="status-lookup", **kwargs)


def _public_office() -> Office | None:
    """The office named in the page header: the only office of this installation, else none (a shared page)."""
    offices = db.session.scalars(select(Office).order_by(Office.id).limit(2)).all()
    return offices[0] if len(offices) == 1 else None


def _lookup_page(form: StatusLookupForm, status_code: int = 200, **flags):
    return render_template("web/status/lookup.html", form=form, office=_public_office(), **flags), status_code


def _not_found():
    """The one answer for an unknown reference, a wrong contact and a bad link: an empty form and a message."""
    return _lookup_page(StatusLookupForm(formdata=None), 404, not_found=True)


def _result(ticket: Ticket):
    """The ticket's public status; the header names the ticket's own office."""
    return render_template("web/status/show.html", ticket=public_status(ticket), office=ticket.office)


@bp.route("/status", methods=["GET", "POST"])
@_rate_limit(methods=["POST"])
def lookup():
    """The form (reference and email or phone number) and its answer."""
    # The posted form only: Flask-WTF would read a JSON body too, and fail on one that is not an object.
    form = StatusLookupForm(formdata=request.form if request.method == "POST" else None)
    if not form.is_submitted():
        return _lookup_page(form)
    if not form.validate():
        return _lookup_page(form, 422)
    ticket = find_for_requester(form.reference.data, form.contact.data)
    if ticket is None:
        return _not_found()
    return _result(ticket)


@bp.get("/status/<token>")
@_rate_limit()
def by_token(token: str):
    """The same answer reached by a signed link from a receipt or an SMS."""
    ticket = ticket_for_token(token)
    if ticket is None:
        return _not_found()
    return _result(ticket)


@bp.errorhandler(429)
def too_many_requests(error):
    return render_template("web/status/limited.html", office=_public_office()), 429


@bp.errorhandler(CSRFError)
def form_expired(error):
    return _lookup_page(StatusLookupForm(formdata=None), 400, expired=True)


@bp.after_request
def public_headers(response):
    """Private answers: never cached, never indexed, no referrer (a signed link must not leak)."""
    response.headers["Content-Security-Policy"] = PUBLIC_CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
