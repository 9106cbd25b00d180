"""Automatic FAQ answers seen from outside, and FAQ suggestions for staff forms (issue 5).

- ``/faq/jawaban/<token>``: the page the two links of an automatic FAQ answer lead to. No login: the signed
  token is the key. GET only shows the question and two buttons (mail scanners and link previewers fetch every
  link; a GET never changes anything); the posted choice confirms (ticket resolved) or rejects (ticket back to
  the queue, flagged). A tampered, expired or reused link, or a ticket since closed, gets a clear page.
- ``/faq/saran?q=``: FAQ suggestions as JSON for the staff forms (the phone log), internal entries included.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request
from flask_login import login_required
from flask_wtf.csrf import CSRFError

from faq.autoanswer import answer_for_token, answer_text
from faq.suggestions import staff_suggestions

from .. import tickets
from ..errors import HelpdeskError
from ..extensions import db, limiter
from ..models import FaqAnswer, FaqEntry, Ticket
from ..states import Status

bp = Blueprint("faq_answers", __name__)

# Like the status page: no script at all, styles and images from this site only, forms post here only.
PUBLIC_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
              "frame-ancestors 'none'; base-uri 'none'")
CHOICES = {"yes": "confirmed", "no": "rejected"}
HINTS = {"ya": "yes", "tidak": "no", "yes": "yes", "no": "no"}
SUGGEST_MIN_CHARS = 8
SUGGEST_MAX_CHARS = 4000


def _page(state: str, status_code: int = 200, *, answer: FaqAnswer | None = None, **context):
    ticket = db.session.get(Ticket, answer.ticket_id) if answer is not None else None
    entry = db.session.get(FaqEntry, answer.entry_id) if answer is not None else None
    return render_template("web/faq_answers/answer.html", state=state, answer=answer, ticket=ticket, entry=entry,
                           answer_text=answer_text(entry) if entry is not None else "",
                           office=ticket.office if ticket is not None else None,
                           max_age_days=current_app.config.get("FAQ_LINK_MAX_AGE_DAYS", 30), **context), status_code


@bp.route("/faq/jawaban/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute")
def answer(token: str):
    """The requester's answer to an automatic FAQ answer: "Sudah terjawab" or "Belum, saya perlu bantuan petugas"."""
    found, problem = answer_for_token(token)
    if problem == "expired":
        return _page("expired", 410)
    if found is None:
        return _page("invalid", 404)
    ticket = db.session.get(Ticket, found.ticket_id)
    if found.outcome in CHOICES.values():
        return _page("decided", 200 if request.method == "GET" else 409, answer=found)
    if ticket.status == Status.CLOSED:
        return _page("closed", 200 if request.method == "GET" else 409, answer=found)
    if request.method == "GET":
        return _page("ask", answer=found, hint=HINTS.get(request.args.get("pilihan", "")))
    choice = request.form.get("choice", "")
    if choice not in CHOICES:
        return _page("ask", 422, answer=found, missing_choice=True)
    try:
        if choice == "yes":
            tickets.confirm_faq_answer(found)
        else:
            tickets.reject_faq_answer(found)
        db.session.commit()
    except HelpdeskError:
        db.session.rollback()
        found = db.session.get(FaqAnswer, found.id)
        return _page("decided" if found.outcome in CHOICES.values() else "closed", 409, answer=found)
    return _page("done", answer=found)


@bp.get("/faq/saran")
@login_required
def suggestions():
    """FAQ entries (public and internal) that may answer the text typed so far, for the staff forms."""
    text = request.args.get("q", "")[:SUGGEST_MAX_CHARS]
    found = staff_suggestions(text, limit=3) if len(text.strip()) >= SUGGEST_MIN_CHARS else []
    return jsonify({"suggestions": [suggestion.as_json() for suggestion in found]})


@bp.errorhandler(CSRFError)
def form_expired(error):
    """A post without a valid CSRF token (a form left open too long, or a forged post): ask again."""
    token = (request.view_args or {}).get("token", "")
    found, problem = answer_for_token(token)
    if found is None:
        return _page(problem or "invalid", 404 if problem != "expired" else 410)
    return _page("ask", 400, answer=found, form_expired=True)


@bp.after_request
def public_headers(response):
    """The confirmation page is private: never cached, never indexed, no referrer (the link must not leak)."""
    if request.endpoint == "faq_answers.answer":
        response.headers["Content-Security-Policy"] = PUBLIC_CSP
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Robots-Tag"] = "noindex"
    return response
