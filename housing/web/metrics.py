"""Prometheus metrics at /metrics: each request's latency by route, and the outbox, jobs and
workers' heartbeats read from the database when scraped (housing.ops.metrics).

The latency is measured around the whole app (a WSGI middleware outside every hook, the
unit of work's commit included; inside the proxy fix) and costs no SQL statement. Under
gunicorn each worker process writes its figures to PROMETHEUS_MULTIPROC_DIR
(prometheus-client's multiprocess mode; gunicorn.conf.py sets the folder up and clears
it), and a scrape of any worker adds up all of them. Without that folder (`housing run`),
the figures are this process's own.

Only the configured addresses (METRICS_ALLOWED_ADDRESSES) or a bearer token
(METRICS_TOKEN) may read them: a wrong token is 401, any other caller 403, both as
problem+json.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable, Iterable, Iterator
from time import perf_counter
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from housing.api.problems import problem_response
from housing.clock import utcnow
from housing.db import db
from housing.extensions import csrf
from housing.web.access import public

bp = Blueprint("metrics", __name__)

# This process's own metrics; in multiprocess mode their values live in the folder's files.
REGISTRY = CollectorRegistry(auto_describe=True)
REQUEST_LATENCY = Histogram(
    "housing_http_request_duration_seconds",
    "Time from a request's arrival to its response, by method, route and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
# A request no route matched (a 404 of any path) counts under one label, not its path.
UNMATCHED = "<unmatched>"
# Where the request leaves its route's rule for the middleware (Flask lets go of the
# request object itself before the middleware gets control back).
ROUTE = "housing.metrics.route"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class RequestLatency:
    """WSGI middleware: observe each request's duration under its route's rule."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = perf_counter()
        status = "500"  # if the app raises before it answers

        def answered(status_line: str, headers: list[Any], exc_info: Any = None) -> Any:
            nonlocal status
            status = status_line.split(" ", 1)[0]
            return start_response(status_line, headers, exc_info)

        try:
            return self.app(environ, answered)
        finally:
            route = environ.get(ROUTE, UNMATCHED)
            REQUEST_LATENCY.labels(environ.get("REQUEST_METHOD", ""), route, status).observe(
                perf_counter() - started
            )


def install(app: Flask) -> None:
    """Measure every request of the app and serve /metrics."""
    app.wsgi_app = RequestLatency(app.wsgi_app)  # type: ignore[method-assign]
    app.register_blueprint(bp)

    @app.teardown_request
    def name_the_route(error: BaseException | None) -> None:
        # The matched rule ("/claims/<int:claim_id>"), so the labels stay few whatever the
        # paths. Teardown runs for every request, refused or failed ones too.
        rule = request.url_rule
        request.environ[ROUTE] = rule.rule if rule is not None else UNMATCHED


class _Collected(Collector):
    """Another registry's metrics, as one collector of the scrape's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


def _scrape_registry() -> CollectorRegistry:
    from housing.ops.metrics import DatabaseMetrics  # loaded by a scrape, not by the app

    registry = CollectorRegistry(auto_describe=False)
    folder = current_app.config.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        from prometheus_client import multiprocess

        # Every worker's files, this one's included, added up.
        multiprocess.MultiProcessCollector(registry, path=folder)
    else:
        registry.register(_Collected(REGISTRY))
    registry.register(DatabaseMetrics(db.session, utcnow()))
    return registry


def _allowed_address(address: str | None) -> bool:
    if not address:
        return False
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(
        client in ipaddress.ip_network(allowed, strict=False)
        for allowed in current_app.config["METRICS_ALLOWED_ADDRESSES"]
    )


def _refusal() -> Response | None:
    """None if the caller may read the metrics; else the problem that says why not."""
    token: str | None = current_app.config.get("METRICS_TOKEN")
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _space, given = header.partition(" ")
        if (
            token
            and scheme.lower() == "bearer"
            and hmac.compare_digest(given.strip().encode(), token.encode())
        ):
            return None
        return problem_response(
            401,
            _("The metrics token is not valid."),
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    # ProxyFix has put the client's address here when TRUSTED_PROXIES says so.
    if _allowed_address(request.remote_addr):
        return None
    return problem_response(
        403, _("The metrics are read from the configured addresses or with the metrics token.")
    )


@bp.route("/metrics")
@csrf.exempt
@public
def metrics() -> ResponseReturnValue:
    """The metrics in Prometheus's text format, for the configured scrapers only."""
    refused = _refusal()
    if refused is not None:
        return refused
    return Response(generate_latest(_scrape_registry()), content_type=CONTENT_TYPE_LATEST)
