"""(being written)"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("jobs", __name__, url_prefix="/admin/jobs")
