"""Pages for when the server itself fails: the database out of reach (503) or an unexpected error (500).

They must not need the database: rendered from a standalone template straight from the Jinja environment, so no
context processor (navigation counts, mailbox health, the signed-in officer) runs. Staff and the public get a
plain statement of what happened and that nothing was saved, never a traceback.
"""
from __future__ import annotations

import logging

from flask import Flask, current_app
from flask_babel import get_locale
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import InternalServerError

from ..extensions import db

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30


def init_app(app: Flask) -> None:
    app.register_error_handler(OperationalError, _database_unreachable)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(InternalServerError, _internal_error)


def _database_error(error: DBAPIError):
    if error.connection_invalidated:
        return _database_unreachable(error)
    # A handled exception class is not logged by Flask: keep the traceback of what is likely a bug.
    log.error("database error", exc_info=error)
    return _internal_error(error)


def _database_unreachable(error: Exception):
    _rollback()
    log.error("database unreachable: %s", " ".join(str(getattr(error, "orig", error)).split())[:300])
    response = _page(503)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _internal_error(error: Exception):
    _rollback()  # Flask has logged the exception with its traceback already
    return _page(500)


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # the connection is gone; the session is discarded at the end of the request anyway
        log.debug("rollback after a failure failed too", exc_info=True)


def _page(code: int):
    try:
        body = current_app.jinja_env.get_template("web/failure.html").render(code=code, lang=str(get_locale() or "id"))
    except Exception:  # even the template failed: the bare statement, in both languages
        log.exception("the failure page could not be rendered")
        body = (f"<!doctype html><title>{code}</title><h1>{code}</h1><p>Layanan sedang terganggu; tidak ada yang "
                "tersimpan. Coba lagi sebentar lagi.</p><p lang=en>The service is disrupted; nothing was saved. "
                "Try again shortly.</p>")
    response = current_app.response_class(body, status=code, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
