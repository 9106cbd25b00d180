"""The staff web application: one blueprint per area."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register blueprints, template helpers and error pages."""
