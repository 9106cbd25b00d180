"""The FAQ: the public page (no login, public entries only) and the staff pages that write the knowledge base.

Every officer may read the staff list and any entry, internal ones included; only editors (faq.entries.EDITOR_ROLES:
admins and helpdesk officers) create, edit, publish and retire entries, and turn resolved tickets into drafts
("Jadikan FAQ"). Handlers are thin: one service call and one commit each.
"""
from __future__ import annotations

from datetime import datetime
from functools import wraps
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, or_, select
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from faq import entries
from faq.match import match

from ..errors import HelpdeskError
from ..extensions import db
from ..models import FaqEntry, Office, Ticket
from ..vocab import Application, choices
from .forms import options
from .status import PUBLIC_CSP
from .tickets import _ticket_or_404

bp = Blueprint("faq", __name__, url_prefix="/faq")

SEARCH_MAX = 500
ADMIN_LIST_MAX = 500
VISIBILITY_LABELS = {"public": _l("Public (everyone)"), "internal": _l("Internal (staff only)"), "draft": _l("Draft")}
SOURCE_LABELS = {"lpse": _l("LPSE"), "lkpp": _l("LKPP"), "ticket": _l("From a ticket")}
CHANGE_LABELS = {"created": _l("created"), "edited": _l("edited"), "published": _l("published"),
                 "retired": _l("retired"), "imported": _l("imported")}


def editor_required(view):
    """Only officers who may write the FAQ (admins and helpdesk officers)."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not entries.can_edit(current_user):
            abort(403)
        return view(*args, **kwargs)

    return wrapper


class EntryForm(FlaskForm):
    key = StringField(_l("Key"), validators=[Optional(), Length(max=entries.KEY_MAX)],
                      description=_l("Left empty, it is made from the question. It cannot change later."))
    question = TextAreaField(_l("Question"), validators=[DataRequired(), Length(max=entries.QUESTION_MAX)],
                             render_kw={"rows": 2})
    alternatives = TextAreaField(_l("Other phrasings of the question, one per line"), validators=[Optional()],
                                 render_kw={"rows": 3})
    answer = TextAreaField(_l("Answer (Markdown)"), validators=[Length(max=entries.ANSWER_MAX)],
                           render_kw={"rows": 10})
    topic = StringField(_l("Topic"), validators=[Optional(), Length(max=entries.TOPIC_MAX)],
                        render_kw={"list": "faq-topics"})
    application = SelectField(_l("Application"), choices=[], validators=[Optional()])
    spse_version = StringField(_l("SPSE version"), validators=[Optional(), Length(max=entries.SPSE_VERSION_MAX)])
    visibility = SelectField(_l("Visibility"), choices=options(VISIBILITY_LABELS.items()), default="draft")
    source = SelectField(_l("Source"), choices=options(SOURCE_LABELS.items()), default="lpse")
    review_by = DateField(_l("Review by"), validators=[Optional()])
    auto_answer = BooleanField(_l("May be sent automatically as an email answer"), default=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.application.choices = options(choices(Application, blank="—"))

    def values(self) -> dict:
        """The entry's fields as the service takes them."""
        return {"question": self.question.data, "alternatives": self.alternatives.data or "",
                "answer": self.answer.data or "", "topic": self.topic.data, "application": self.application.data,
                "spse_version": self.spse_version.data, "visibility": self.visibility.data,
                "source": self.source.data, "review_by": self.review_by.data,
                "auto_answer": bool(self.auto_answer.data)}


@bp.app_template_filter("faq_topic")
def topic_label(topic: str | None) -> str:
    """A topic key as a heading: "registrasi_penyedia" -> "Registrasi penyedia"."""
    if not topic:
        return _("Other questions")
    return topic.replace("_", " ").replace("-", " ").strip().capitalize()


@bp.app_template_global("faq_entry_for_ticket")
def entry_for_ticket(ticket: Ticket) -> FaqEntry | None:
    """The FAQ entry drafted from ``ticket``, for the ticket page's "Jadikan FAQ" block."""
    return entries.entry_from_ticket(ticket)


@bp.app_template_global("faq_can_edit")
def can_edit() -> bool:
    return entries.can_edit(current_user) if current_user.is_authenticated else False


# -- public -------------------------------------------------------------------------------------------------

@bp.get("")
def public_index():
    """The public FAQ: a search box (the matcher, public entries only) or every public entry by topic."""
    q = " ".join(request.args.get("q", "").split())[:SEARCH_MAX]
    results: list[FaqEntry] = []
    if q:
        found = match(q, top=10).matches
        by_id = {e.id: e for e in db.session.scalars(select(FaqEntry).where(
            FaqEntry.id.in_([m.entry_id for m in found])))} if found else {}
        results = [by_id[m.entry_id] for m in found if entries.is_public(by_id.get(m.entry_id))]
    groups: dict[str, list[FaqEntry]] = {}
    if not q:
        for entry in entries.public_entries():
            groups.setdefault(entry.topic or "", []).append(entry)
    return render_template("web/faq/public_index.html", q=q, results=results, groups=groups,
                           office=_public_office())


@bp.get("/<key>")
def public_entry(key: str):
    """One public entry; drafts, internal and retired entries are not found."""
    entry = entries.get_by_key(key)
    if not entries.is_public(entry):
        abort(404)
    return render_template("web/faq/public_entry.html", entry=entry, office=_public_office())


@bp.after_request
def public_headers(response):
    """The public pages run no script; the staff pages keep the site's defaults."""
    if request.endpoint in ("faq.public_index", "faq.public_entry"):
        response.headers["Content-Security-Policy"] = PUBLIC_CSP
    return response


def _public_office() -> Office | None:
    """The office named in the header: the only office of this installation, else none."""
    offices = db.session.scalars(select(Office).order_by(Office.id).limit(2)).all()
    return offices[0] if len(offices) == 1 else None


# -- staff --------------------------------------------------------------------------------------------------

@bp.get("/admin")
@login_required
def admin_list():
    """Every entry, with search and filters; the entries due for review on top."""
    q = " ".join(request.args.get("q", "").split())[:SEARCH_MAX]
    visibility = request.args.get("visibility", "")
    topic = request.args.get("topic", "")
    query = select(FaqEntry)
    if visibility == "retired":
        query = query.where(FaqEntry.retired_at.is_not(None))
    elif visibility in entries.VISIBILITIES:
        query = query.where(FaqEntry.visibility == visibility, FaqEntry.retired_at.is_(None))
    if topic:
        query = query.where(FaqEntry.topic == topic)
    if q:
        like = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(func.lower(FaqEntry.question).like(like, escape="\\"),
                                func.lower(FaqEntry.answer).like(like, escape="\\"),
                                func.lower(FaqEntry.key).like(like, escape="\\")))
    rows = db.session.scalars(query.order_by(FaqEntry.topic, FaqEntry.key).limit(ADMIN_LIST_MAX + 1)).all()
    return render_template("web/faq/admin_list.html", rows=rows[:ADMIN_LIST_MAX],
                           more=len(rows) > ADMIN_LIST_MAX, q=q, visibility=visibility, topic=topic,
                           topics=_topics(), due=entries.entries_due_for_review(_today()),
                           visibility_labels=VISIBILITY_LABELS)


@bp.route("/admin/new", methods=["GET", "POST"])
@editor_required
def admin_new():
    """Write a new entry (a draft unless another visibility is chosen)."""
    form = EntryForm()
    if form.validate_on_submit():
        try:
            entry = entries.create_entry(actor=current_user, key=(form.key.data or "").strip() or None,
                                         **form.values())
            db.session.commit()
        except HelpdeskError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            flash(_("FAQ entry saved."), "success")
            return redirect(url_for(".admin_edit", entry_id=entry.id))
    return _edit_page(form, None, 422 if form.is_submitted() else 200)


@bp.route("/admin/<int:entry_id>", methods=["GET", "POST"])
@login_required
def admin_edit(entry_id: int):
    """An entry: its edit form for editors (read-only for other officers), the rendered answer and the history."""
    entry = _entry_or_404(entry_id)
    if request.method == "POST" and not entries.can_edit(current_user):
        abort(403)
    form = EntryForm(obj=entry if request.method == "GET" else None)
    if request.method == "GET":
        form.alternatives.data = "\n".join(entry.alternatives or [])
        form.application.data = entry.application or ""
    if form.validate_on_submit():
        try:
            version = entries.update_entry(entry, form.values(), actor=current_user)
            db.session.commit()
        except HelpdeskError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            flash(_("FAQ entry saved.") if version else _("Nothing changed."), "success" if version else "info")
            return redirect(url_for(".admin_edit", entry_id=entry.id))
    return _edit_page(form, entry, 422 if form.is_submitted() else 200)


@bp.post("/admin/<int:entry_id>/publish")
@editor_required
def admin_publish(entry_id: int):
    """Publish the entry as public (the default) or internal."""
    entry = _entry_or_404(entry_id)
    try:
        entries.publish(entry, actor=current_user, visibility=request.form.get("visibility", "public"))
        db.session.commit()
    except HelpdeskError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
    else:
        flash(_("FAQ entry published."), "success")
    return redirect(url_for(".admin_edit", entry_id=entry.id))


@bp.post("/admin/<int:entry_id>/retire")
@editor_required
def admin_retire(entry_id: int):
    """Retire the entry: off the public page and out of matching, history kept."""
    entry = _entry_or_404(entry_id)
    entries.retire(entry, actor=current_user)
    db.session.commit()
    flash(_("FAQ entry retired."), "success")
    return redirect(url_for(".admin_edit", entry_id=entry.id))


@bp.post("/admin/dari-tiket/<ref>")
@editor_required
def from_ticket(ref: str):
    """"Jadikan FAQ": a draft from a resolved ticket (or the one already made from it), opened for editing."""
    ticket = _ticket_or_404(ref)
    try:
        entry = entries.draft_from_ticket(ticket, actor=current_user)
        db.session.commit()
    except HelpdeskError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("tickets.show", ref=ticket.ref))
    flash(_("Draft FAQ entry from %(ref)s: clean it up, then publish it.", ref=ticket.ref), "info")
    return redirect(url_for(".admin_edit", entry_id=entry.id))


# -- helpers ------------------------------------------------------------------------------------------------

def _edit_page(form: EntryForm, entry: FaqEntry | None, status: int):
    source_ticket = db.session.get(Ticket, entry.source_ticket_id) if entry and entry.source_ticket_id else None
    return render_template("web/faq/admin_edit.html", form=form, entry=entry, topics=_topics(),
                           history=entries.history(entry) if entry else [], source_ticket=source_ticket,
                           editable=entries.can_edit(current_user), visibility_labels=VISIBILITY_LABELS,
                           source_labels=SOURCE_LABELS, change_labels=CHANGE_LABELS), status


def _entry_or_404(entry_id: int) -> FaqEntry:
    entry = entries.get_entry(entry_id)
    if entry is None:
        abort(404)
    return entry


def _topics() -> list[str]:
    return list(db.session.scalars(select(FaqEntry.topic).where(FaqEntry.topic.is_not(None))
                                   .distinct().order_by(FaqEntry.topic)))


def _today():
    return datetime.now(ZoneInfo(current_user.office.timezone)).date()
