"""Monitoring endpoints: ``/healthz`` (200 or 503 with each check) and ``/metrics`` (Prometheus text format).

Both need no login, so that a load balancer and Prometheus can reach them; neither shows personal data or secrets.
``/metrics`` asks for ``Authorization: Bearer <METRICS_TOKEN>`` when that setting is set (401 otherwise).
"""
from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from ..health import check_health, metric_families

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The health checks as JSON: 200 when every one passes, 503 naming the failing ones otherwise."""
    health = check_health()
    response = jsonify(health.as_dict())
    response.status_code = 200 if health.ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def metrics():
    """The Prometheus metrics, gathered afresh for each scrape; 503 when the database cannot answer."""
    token = current_app.config.get("METRICS_TOKEN")
    if token and not _bearer_matches(token):
        return _plain("authorization required\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"'})
    try:
        families = metric_families()
    except Exception as exc:  # the scrape fails visibly (Prometheus records up == 0), never with an error page
        log.exception("metrics could not be gathered")
        return _plain(f"metrics unavailable: {type(exc).__name__}\n", 503)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    response = Response(generate_latest(registry), status=200, headers={"Content-Type": CONTENT_TYPE_LATEST})
    response.headers["Cache-Control"] = "no-store"
    return response


class _Families:
    """A one-scrape collector over metric families already gathered."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def _bearer_matches(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), str(token).encode())


def _plain(body: str, status: int, headers: dict[str, str] | None = None) -> Response:
    response = Response(body, status=status, mimetype="text/plain")
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response
