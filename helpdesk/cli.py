"""The ``helpdesk`` command (DESIGN.md §7): a Flask CLI group around the app factory."""
from __future__ import annotations

import os
import sys
from datetime import datetime

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import upgrade
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from . import MIGRATIONS_DIR, create_app
from .extensions import db
from .models import DEFAULT_OFFICE_HOURS, Office, Staff
from .staff import create_staff
from .vocab import StaffRole


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False, add_default_commands=False,
             load_dotenv=False)
def cli() -> None:
    """LPSE Helpdesk: tickets, SLA clock and escalation for an LPSE helpdesk."""


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="helpdesk")


@cli.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the database and make sure an office and an admin exist."""
    upgrade(directory=str(MIGRATIONS_DIR))
    office = ensure_default_office()
    click.echo(f"Database ready: {current_app.config['SQLALCHEMY_DATABASE_URI'].split('@')[-1]}")
    if db.session.scalar(select(Staff).where(Staff.role == StaffRole.ADMIN.value).limit(1)) is not None:
        return
    email = os.environ.get("HELPDESK_ADMIN_EMAIL")
    password = os.environ.get("HELPDESK_ADMIN_PASSWORD")
    if not (email and password) and sys.stdin.isatty():
        email = click.prompt("Admin email")
        password = click.prompt("Admin password", hide_input=True, confirmation_prompt=True)
    if not (email and password):
        click.echo("No admin yet. Set HELPDESK_ADMIN_EMAIL and HELPDESK_ADMIN_PASSWORD and run `helpdesk init` "
                   "again, or run it at a terminal to be asked (`helpdesk demo` creates a demo admin).")
        return
    create_staff(office=office, email=email, name="Administrator", role=StaffRole.ADMIN.value, password=password)
    db.session.commit()
    click.echo(f"Admin {email} created.")


def ensure_default_office() -> Office:
    """The first office, created from the DEFAULT_OFFICE_* settings when the database has none."""
    office = db.session.scalar(select(Office).order_by(Office.id).limit(1))
    if office is None:
        config = current_app.config
        office = Office(code=config["DEFAULT_OFFICE_PREFIX"].lower(), name=config["DEFAULT_OFFICE_NAME"],
                        ticket_prefix=config["DEFAULT_OFFICE_PREFIX"].upper(),
                        timezone=config["DEFAULT_OFFICE_TIMEZONE"], hours=dict(DEFAULT_OFFICE_HOURS))
        db.session.add(office)
        db.session.commit()
        click.echo(f"Office {office.name} ({office.ticket_prefix}) created.")
    return office


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@with_appcontext
def serve_command(host: str, port: int, threads: int) -> None:
    """Serve the web application with waitress (a production WSGI server)."""
    from waitress import serve

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    click.echo(f"LPSE Helpdesk on http://{host}:{port}/")
    serve(app, host=host, port=port, threads=threads, ident="lpse-helpdesk")


@cli.command("demo")
@with_appcontext
def demo_command() -> None:
    """Fill an empty database with a realistic office, staff, requesters and tickets."""
    from .demo import DemoNotEmpty, fill_demo

    try:
        summary = fill_demo()
    except DemoNotEmpty as exc:
        click.echo(f"Demo data not loaded: {exc}")
        return
    db.session.commit()
    click.echo(summary)


@cli.group("sla")
def sla_group() -> None:
    """The follow-up clock."""


@sla_group.command("due")
@click.argument("received")
@click.option("--office", "office_code", help="office code (default: the first office)")
@click.option("--tz", "zone", help="apply the office's calendar in this IANA time zone")
@with_appcontext
def sla_due_command(received: str, office_code: str | None, zone: str | None) -> None:
    """Print the follow-up deadline for RECEIVED (YYYY-MM-DDTHH:MM, the office's local time)."""
    from escalation.calendar import CalendarError, WorkingCalendar

    from .calendars import calendar_for
    from .settings import DEFAULTS, get_setting

    try:
        naive = datetime.fromisoformat(received)
    except ValueError:
        raise click.BadParameter("expected YYYY-MM-DDTHH:MM", param_hint="RECEIVED") from None
    if naive.tzinfo is not None:
        raise click.BadParameter("give the local time without an offset", param_hint="RECEIVED")
    days = DEFAULTS["sla.follow_up_working_days"]
    try:
        query = select(Office).order_by(Office.id).limit(1)
        if office_code:
            query = select(Office).where(Office.code == office_code)
        office = db.session.scalar(query)
        if office_code and office is None:
            raise click.ClickException(f"no office with code {office_code!r}")
        days = get_setting("sla.follow_up_working_days")
    except (OperationalError, ProgrammingError):
        db.session.rollback()
        if office_code:
            raise click.ClickException("the database is not initialised; run `helpdesk init`") from None
        office = None  # no database yet: the default office's calendar
    try:
        if office is None:
            calendar = WorkingCalendar(tz=zone or current_app.config["DEFAULT_OFFICE_TIMEZONE"],
                                       hours=DEFAULT_OFFICE_HOURS)
        else:
            base = calendar_for(office)
            calendar = base if not zone else WorkingCalendar(
                tz=zone, hours=office.hours, overrides=base.overrides.values(),
                staffed_on_cuti_bersama=office.staffed_on_cuti_bersama)
        due = calendar.follow_up_due(naive.replace(tzinfo=calendar.tz), working_days=int(days))
    except CalendarError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(due.isoformat(timespec="seconds"))


@cli.group("staff")
def staff_group() -> None:
    """Staff accounts."""


@staff_group.command("add")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in StaffRole]), default=StaffRole.HELPDESK.value)
@click.password_option()
@with_appcontext
def staff_add_command(email: str, name: str, role: str, password: str) -> None:
    """Add an officer to the first office."""
    create_staff(office=ensure_default_office(), email=email, name=name, role=role, password=password)
    db.session.commit()
    click.echo(f"{email} added as {role}.")
