"""The consultation form as a printable page and as a PDF stored with the ticket."""
from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, send_file, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import audit
from ..blobs import blob_path
from ..copies import PDF_CONTENT_TYPE, archive_pdf, consultation_copy, current_archive
from ..extensions import db
from ..models import Attachment
from .tickets import _ticket_or_404

bp = Blueprint("copies", __name__, url_prefix="/tickets")


@bp.get("/<ref>/formulir")
@login_required
def form(ref: str):
    """The filled consultation form, laid out for A4, with a print button (the visitor's copy)."""
    ticket = _ticket_or_404(ref)
    if ref != ticket.ref:
        return redirect(url_for(".form", ref=ticket.ref))
    copy = consultation_copy(ticket, viewer=current_user)
    archive = current_archive(ticket)
    with force_locale(copy.locale):  # a document for the visitor: in the office's language, like the PDF
        page = render_template("web/copies/form.html", copy=copy, ticket=ticket, archive=archive)
    if copy.identity_whole:
        audit.record_view("personal_data.viewed", target=ticket, fields=list(copy.identity_whole),
                          requester_id=ticket.requester_id, page=request.endpoint)
    response = make_response(page)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Content-Language"] = copy.locale
    return response


@bp.get("/<ref>/formulir.pdf")
@login_required
def pdf(ref: str):
    """The form as a PDF: the stored one while it is current, else a fresh one, stored with the ticket first.

    The stored PDF shows NPWP and NIK masked: every officer of the office can open it. Each download is in the
    audit log, as for any attachment.
    """
    ticket = _ticket_or_404(ref)
    item = current_archive(ticket)
    if item is None or not blob_path(item.blob_sha256).is_file():
        item = archive_pdf(ticket)
        db.session.commit()
    audit.record_view("attachment.downloaded", target=ticket, attachment_id=item.id, identity_document=False)
    return _send(item)


@bp.post("/<ref>/formulir/arsip")
@login_required
def archive(ref: str):
    """Store a fresh PDF of the form with the ticket, whatever is stored already."""
    ticket = _ticket_or_404(ref)
    item = archive_pdf(ticket)
    db.session.commit()
    flash(_("The consultation form is stored with the ticket as %(name)s.", name=item.filename), "success")
    return redirect(url_for("tickets.show", ref=ticket.ref))


def _send(item: Attachment):
    response = send_file(blob_path(item.blob_sha256), mimetype=PDF_CONTENT_TYPE, as_attachment=False,
                         download_name=item.filename, max_age=0)
    response.headers["Cache-Control"] = "private, no-cache"
    return response

