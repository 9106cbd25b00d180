"""Shared fixtures: the app on every database backend, and factories that build data through the services.

Backends: SQLite always; PostgreSQL too when ``HELPDESK_TEST_DATABASE_URL`` is set (CI sets it). Every test
that uses ``app`` runs once per backend (ids ``sqlite`` and ``postgresql``). A PostgreSQL server that cannot
be reached is a skip with the reason locally and a failure when ``CI=true``.

Speed: the schema is migrated once per session per backend. SQLite: a migrated template file is copied into
each test's ``tmp_path``. PostgreSQL: schema ``public`` is dropped and migrated at session start, and every
table but ``alembic_version`` is truncated before each test.
"""
from __future__ import annotations

import itertools
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

import helpdesk
from helpdesk import create_app, tickets
from helpdesk.config import normalise_database_url
from helpdesk.extensions import db
from helpdesk.models import DEFAULT_OFFICE_HOURS, Office, Requester, Staff, Ticket
from helpdesk.requesters import find_or_create_requester
from helpdesk.staff import create_staff
from helpdesk.states import Status

from .servers.dovecot import DovecotServer, session_server
from .servers.smtp import SmtpServer, smtp_server

PG_URL_ENV = "HELPDESK_TEST_DATABASE_URL"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get(PG_URL_ENV) else [])

WIB = ZoneInfo("Asia/Jakarta")
# Tuesday 24 November 2026, 10:00 WIB: an ordinary working morning (DESIGN.md §5, first reference row).
RECEIVED_AT = datetime(2026, 11, 24, 10, 0, tzinfo=WIB)
PASSWORD = "rahasia123"

# Every status reached from `new` through the service verbs, in the order make_ticket walks them.
PATH_TO: dict[str, list[str]] = {
    Status.NEW: [],
    Status.OPEN: [Status.OPEN],
    Status.PENDING: [Status.PENDING],
    Status.ESCALATED: [Status.ESCALATED],
    Status.WAITING: [Status.WAITING],
    Status.RESOLVED: [Status.RESOLVED],
    Status.CLOSED: [Status.RESOLVED, Status.CLOSED],
}


def _config(url: str, data_dir: Path) -> dict[str, Any]:
    return {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": str(data_dir),
            "WTF_CSRF_ENABLED": False,
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}


def _dispose_engines(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def _migrate(url: str, data_dir: Path) -> None:
    """Run every Alembic migration against ``url`` in a throwaway app, then close its connections."""
    app = create_app(_config(url, data_dir))
    try:
        with app.app_context():
            upgrade(directory=str(helpdesk.MIGRATIONS_DIR))
    finally:
        _dispose_engines(app)


# -- databases -------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied by each test (closing the engine checkpoints the WAL into it)."""
    directory = tmp_path_factory.mktemp("sqlite-template")
    path = directory / "template.sqlite3"
    _migrate(f"sqlite:///{path}", directory / "data")
    return path


@pytest.fixture(scope="session")
def postgresql_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    """The PostgreSQL test database, with a freshly migrated schema ``public``; skips when unreachable."""
    url = os.environ[PG_URL_ENV]
    engine = sa.create_engine(normalise_database_url(url), poolclass=sa.NullPool,
                              connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        reason = f"PostgreSQL at {PG_URL_ENV} cannot be reached: {' '.join(str(exc.orig).split())}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    _migrate(url, tmp_path_factory.mktemp("pg-migrate"))
    yield engine
    engine.dispose()


def _truncate_all(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text("SET LOCAL lock_timeout = '10s'"))  # a leaked connection fails, not hangs
        names = [name for name in sa.inspect(connection).get_table_names() if name != "alembic_version"]
        quoted = ", ".join(f'"{name}"' for name in names)
        connection.execute(sa.text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends(*names): run the test only on these database backends")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the parametrizations a ``backends`` mark excludes (a PostgreSQL-only test has no SQLite run)."""
    kept, dropped = [], []
    for item in items:
        mark = item.get_closest_marker("backends")
        param = getattr(item, "callspec", None) and item.callspec.params.get("database_url")
        (dropped if mark is not None and param is not None and param not in mark.args else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database for this test, on the backend of this parametrization."""
    if request.param == "sqlite":
        path = tmp_path / "helpdesk.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    engine = request.getfixturevalue("postgresql_engine")
    _truncate_all(engine)
    return os.environ[PG_URL_ENV]


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The application on a fresh database, with an app context pushed for the test."""
    application = create_app(_config(database_url, tmp_path / "data"))
    context = application.app_context()
    context.push()
    try:
        yield application
    finally:
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
        context.pop()


@pytest.fixture
def english(app: Flask) -> Iterator[None]:
    """Messages in their English source wording, for tests that read them (the catalogue translates them):
    pages requested during the test, and service messages built in it."""
    from flask_babel import force_locale

    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    with force_locale("en"):
        yield


@pytest.fixture
def backend(app: Flask) -> str:
    """The database dialect the test runs on: ``sqlite`` or ``postgresql``."""
    return db.engine.dialect.name


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def login() -> Callable[..., Any]:
    """``login(client, staff, password=...)``: post the login form; returns the response."""
    def _login(client: FlaskClient, staff: Staff, password: str = PASSWORD):
        return client.post("/login", data={"email": staff.email, "password": password})
    return _login


# -- factories -------------------------------------------------------------------------------------------

@pytest.fixture
def make_office(app: Flask) -> Callable[..., Office]:
    """``make_office(**fields)``: an office with unique code and prefix unless given."""
    counter = itertools.count(1)

    def _make_office(**kw: Any) -> Office:
        n = next(counter)
        values: dict[str, Any] = {
            "code": f"office{n}", "name": f"LPSE Kantor {n}", "ticket_prefix": f"OF{n}",
            "timezone": "Asia/Jakarta", "hours": dict(DEFAULT_OFFICE_HOURS),
        }
        values.update(kw)
        office = Office(**values)
        db.session.add(office)
        db.session.commit()
        return office
    return _make_office


@pytest.fixture
def office(make_office: Callable[..., Office]) -> Office:
    """The default office of the tests: LPSE Kabupaten Uji, prefix TST, WIB, default hours."""
    return make_office(code="tst", name="LPSE Kabupaten Uji", ticket_prefix="TST", timezone="Asia/Jakarta")


@pytest.fixture
def make_staff(office: Office) -> Callable[..., Staff]:
    """``make_staff(role=, email=, name=, password=, office=)`` through helpdesk.staff.create_staff."""
    counter = itertools.count(1)
    default_office = office

    def _make_staff(role: str = "helpdesk", email: str | None = None, name: str | None = None,
                    password: str = PASSWORD, office: Office | None = None) -> Staff:
        n = next(counter)
        staff = create_staff(office=office or default_office, email=email or f"petugas{n}@lpse.example.go.id",
                             name=name or f"Petugas {n}", role=role, password=password)
        db.session.commit()
        return staff
    return _make_staff


@pytest.fixture
def make_requester(app: Flask) -> Callable[..., Requester]:
    """``make_requester(**kw)`` through find_or_create_requester, with a unique email unless given."""
    counter = itertools.count(1)

    def _make_requester(**kw: Any) -> Requester:
        n = next(counter)
        values: dict[str, Any] = {"name": f"Pelapor {n}", "email": f"pelapor{n}@penyedia.example.co.id",
                                  "organization": f"CV Uji {n}"}
        values.update(kw)
        requester = find_or_create_requester(**values)
        db.session.commit()
        return requester
    return _make_requester


@pytest.fixture
def make_ticket(office: Office, make_requester: Callable[..., Requester]) -> Callable[..., Ticket]:
    """``make_ticket(status=, channel=, received_at=, requester=, office=, subject=, body=, **classification)``.

    Opens the ticket with tickets.open_ticket, walks the transition table with the service verbs to reach
    ``status`` (each step a minute after the last, as the system actor), and commits.
    """
    default_office = office

    def _make_ticket(status: str = Status.NEW, channel: str = "phone", received_at: datetime | None = None,
                     requester: Requester | None = None, office: Office | None = None,
                     subject: str = "Tidak bisa unggah dokumen penawaran",
                     body: str = "Saat unggah dokumen penawaran muncul pesan galat.",
                     **classification: Any) -> Ticket:
        received_at = received_at or RECEIVED_AT
        ticket = tickets.open_ticket(
            office=office or default_office, requester=requester or make_requester(), channel=channel,
            subject=subject, body=body, received_at=received_at, **classification)
        for step, target in enumerate(PATH_TO[Status(status)], start=1):
            at = received_at + timedelta(minutes=step)
            if target == Status.ESCALATED:
                tickets.escalate(ticket, role="verifikator", actor=None, reason="perlu verifikator", at=at)
            elif target == Status.RESOLVED:
                tickets.resolve(ticket, actor=None, solution="Gunakan peramban terbaru.", at=at)
            else:
                tickets.change_status(ticket, target, actor=None, at=at)
        db.session.commit()
        return ticket
    return _make_ticket


# -- mail servers ----------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[DovecotServer]:
    """A private Dovecot on a free loopback port for the whole run (skip locally / fail in CI if it can't start)."""
    yield from session_server()


@pytest.fixture
def dovecot(dovecot_server: DovecotServer) -> DovecotServer:
    """The Dovecot with a fresh, empty mailbox as its current user."""
    return dovecot_server.fresh_mailbox()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a loopback port, recording what it accepts."""
    with smtp_server() as server:
        yield server


@pytest.fixture
def mail_app(app: Flask, office: Office, dovecot: DovecotServer, smtp: SmtpServer) -> Flask:
    """The app wired to the Dovecot mailbox and the SMTP server, as an office would configure it."""
    office.email = "helpdesk@lpse-uji.example.go.id"
    db.session.commit()
    app.config.update(
        IMAP_HOST=dovecot.host, IMAP_PORT=dovecot.port, IMAP_USER=dovecot.user, IMAP_PASSWORD=dovecot.password,
        IMAP_SECURITY="plain", IMAP_OFFICE=office.code, MAIL_FROM="Helpdesk LPSE Uji <helpdesk@lpse-uji.example.go.id>",
        **smtp.config(MAIL_TIMEOUT_SECONDS=10))
    return app


# -- browser ---------------------------------------------------------------------------------------------

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium_path() -> str | None:
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the session; missing Chromium is a skip locally and a failure in CI."""
    path = _chromium_path()
    if path is None:
        message = "Debian's chromium is not installed (make test installs it: scripts/ensure-chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def site(app):
    """The app served on a loopback port, with CSRF protection on as in production; yields its base URL."""
    from .servers.live import live_server

    app.config["WTF_CSRF_ENABLED"] = True
    with live_server(app) as url:
        yield url


@pytest.fixture
def page(browser, site):
    """A fresh browser tab (Indonesian locale) for the test."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="id-ID")
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()
