"""The walk-in desk: the kiosk, the staff desk, the now-serving display and the consultation page."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("walkin", __name__)
