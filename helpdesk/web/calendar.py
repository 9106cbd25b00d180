"""(being written)"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin_calendar", __name__, url_prefix="/admin/kalender")
