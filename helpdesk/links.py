"""Absolute links for people outside the office: in SMS, emails and receipts."""
from __future__ import annotations

from typing import Any

from flask import current_app, url_for


def absolute_url(endpoint: str, **values: Any) -> str:
    """The public address of ``endpoint``: ``PUBLIC_BASE_URL`` + its path when configured (works outside a
    request, e.g. in the mail poller or a job), else the request's own address (``url_for(..., _external=True)``,
    which outside a request needs ``SERVER_NAME``)."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base.rstrip("/") + current_app.url_map.bind("localhost").build(endpoint, values)
    return url_for(endpoint, _external=True, **values)
