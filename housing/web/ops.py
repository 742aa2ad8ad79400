"""The health probe for load balancers and monitoring: no login, no case data."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from housing.extensions import csrf, extension
from housing.ops.services import health_report
from housing.web.access import public

bp = Blueprint("ops", __name__)


@bp.route("/health")
@csrf.exempt
@public
def health() -> ResponseReturnValue:
    """Database and broker decide the status code; workers and outbox are for monitoring."""
    # The Celery app comes from the workers plugin; housing never imports workers.
    report = health_report(extension(current_app, "celery"))
    return jsonify(report), 200 if report["ok"] else 503
