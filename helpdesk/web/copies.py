"""The consultation form as a printable page and as a PDF stored with the ticket."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("copies", __name__)
