"""LPSE Helpdesk: ticketing and escalation for the helpdesks of Indonesia's LPSE offices."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, request, session
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .config import Config, read_text_settings, resolve_paths
from .extensions import babel, bootstrap, csrf, db, limiter, login_manager, migrate

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR.parent / "templates"
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"

log = logging.getLogger(__name__)


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: configuration, database, extensions, blueprints and CLI."""
    app = Flask(__name__, template_folder=str(TEMPLATES_DIR), static_folder="web/static",
                instance_relative_config=True)
    app.config.from_object(Config)
    app.config.from_pyfile("helpdesk.cfg", silent=True)
    app.config.from_prefixed_env("HELPDESK")
    read_text_settings(app.config)
    app.config.update(overrides or {})
    resolve_paths(app.config, app.instance_path)
    from . import logsafe

    logsafe.install(app)  # before anything logs: no secret or whole NIK/NPWP reaches a log line
    if app.config.get("SESSION_COOKIE_SECURE") is None:
        app.config["SESSION_COOKIE_SECURE"] = str(app.config.get("PUBLIC_BASE_URL") or "").startswith("https://")

    if int(app.config["TRUSTED_PROXIES"]) > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    csrf.init_app(app)
    bootstrap.init_app(app)
    babel.init_app(app, locale_selector=_select_locale, timezone_selector=lambda: "UTC")
    login_manager.init_app(app)
    limiter.init_app(app)

    from . import models, web  # noqa: F401  (models: the tables must be known to Alembic)
    web.init_app(app)
    return app


def _select_locale() -> str:
    """The language the officer chose, else Indonesian (the default for everything a user reads)."""
    from flask import current_app

    chosen = session.get("lang") if request else None
    return chosen if chosen in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """SQLite: WAL for concurrent readers, foreign keys enforced, a busy timeout instead of instant errors."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
