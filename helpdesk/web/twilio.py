"""Twilio webhooks: voice calls, SMS and WhatsApp, each request's signature checked."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("twilio", __name__, url_prefix="/twilio")
