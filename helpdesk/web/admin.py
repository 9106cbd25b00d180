"""Staff management, for system administrators only."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..errors import HelpdeskError
from ..extensions import db
from ..models import Staff
from ..staff import create_staff, office_staff, update_staff
from .access import admin_required
from .forms import StaffForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/staff")
@admin_required
def staff_list():
    """The office's officers with their roles."""
    return render_template("web/admin/staff_list.html",
                           staff=office_staff(current_user.office_id, active_only=False))


@bp.route("/staff/new", methods=["GET", "POST"])
@admin_required
def staff_new():
    """Add an officer."""
    form = StaffForm()
    if form.validate_on_submit():
        if not form.password.data:
            form.password.errors.append(_("A new account needs a password."))
        else:
            try:
                create_staff(office=current_user.office, email=form.email.data, name=form.name.data,
                             role=form.role.data, password=form.password.data, phone=form.phone.data or None)
                db.session.commit()
            except HelpdeskError as exc:
                db.session.rollback()
                form.email.errors.append(str(exc))
            else:
                flash(_("Account created."), "success")
                return redirect(url_for(".staff_list"))
    status = 422 if form.errors else 200
    return render_template("web/admin/staff_form.html", form=form, staff=None), status


@bp.route("/staff/<int:staff_id>", methods=["GET", "POST"])
@admin_required
def staff_edit(staff_id: int):
    """Change an officer's name, role, phone, active flag or password."""
    staff = db.session.get(Staff, staff_id)
    if staff is None or staff.office_id != current_user.office_id:
        abort(404)
    form = StaffForm(obj=staff)
    form.email.render_kw = {"readonly": True}
    if form.validate_on_submit():
        try:
            update_staff(staff, name=form.name.data, role=form.role.data, active=form.active.data,
                         phone=form.phone.data or None, password=form.password.data or None)
            db.session.commit()
        except HelpdeskError as exc:
            db.session.rollback()
            form.role.errors.append(str(exc))
        else:
            flash(_("Account saved."), "success")
            return redirect(url_for(".staff_list"))
    status = 422 if form.errors else 200
    return render_template("web/admin/staff_form.html", form=form, staff=staff), status
