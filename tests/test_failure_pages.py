"""What a browser gets when the server itself fails: no traceback, nothing that needs the database."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

pytestmark = pytest.mark.usefixtures("english")


def _failing(app, exc: Exception):
    def view():
        raise exc

    app.add_url_rule("/_uji/gagal", "uji_gagal", view)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production
    return app.test_client()


def test_an_unreachable_database_is_a_503_that_says_nothing_was_saved(app, caplog):
    client = _failing(app, OperationalError("SELECT 1", {}, Exception("server closed the connection")))
    response = client.get("/_uji/gagal")
    page = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "cannot reach its database right now. Nothing was saved." in page and "Traceback" not in page
    assert response.headers["Cache-Control"] == "no-store"
    assert "database unreachable: server closed the connection" in caplog.text


def test_another_database_error_is_a_500_page_and_its_traceback_is_logged(app, caplog):
    client = _failing(app, IntegrityError("INSERT", {}, Exception("duplicate key value")))
    with caplog.at_level(logging.ERROR):
        response = client.get("/_uji/gagal")
    assert response.status_code == 500
    assert "Something went wrong on the server. Nothing was saved." in response.get_data(as_text=True)
    record = next(record for record in caplog.records if record.name == "helpdesk.web.failures")
    assert record.exc_info is not None and "duplicate key value" in caplog.text


def test_any_other_error_is_the_same_500_page(app, caplog):
    client = _failing(app, ZeroDivisionError("bagi nol"))
    response = client.get("/_uji/gagal")
    page = response.get_data(as_text=True)
    assert response.status_code == 500 and "Something went wrong on the server" in page
    assert "ZeroDivisionError" not in page and "ZeroDivisionError" in caplog.text  # logged by Flask, not shown
