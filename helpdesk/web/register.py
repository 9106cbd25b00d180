"""(being written)"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("register", __name__, url_prefix="/register")
