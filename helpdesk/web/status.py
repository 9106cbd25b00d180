"""The public status page: a requester checks a ticket with its reference and their contact."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("status", __name__)
