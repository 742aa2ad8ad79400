"""Structured logs (structlog) that carry the request id of the work they describe."""

from __future__ import annotations

import logging
import uuid

import structlog
from flask import Flask, Response, g, request

from housing import security_events

REQUEST_ID_HEADER = "X-Request-ID"


def configure(app: Flask) -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if app.config["HOUSING_ENV"] == "production"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )
    forward_extension_warnings()
    # Security events have a logger of their own, for a SIEM (housing.security_events).
    security_events.install(app)

    @app.before_request
    def bind_request_id() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        # Accept a caller's id only if it looks like one, so logs cannot be injected into.
        request_id = (
            incoming if 8 <= len(incoming) <= 64 and incoming.isalnum() else uuid.uuid4().hex
        )
        g.request_id = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers[REQUEST_ID_HEADER] = g.request_id
        return response


class ToStructlog(logging.Handler):
    """Hands an extension's standard-library log records to structlog, so that what it
    warns about lands in our logs with the request id (Flask-Limiter says so when its
    storage is unreachable and it counts in memory instead)."""

    def emit(self, record: logging.LogRecord) -> None:
        get_logger(record.name).log(record.levelno, record.getMessage())


# Extensions whose warnings matter to an operator; their loggers have no handler of ours.
FORWARDED_LOGGERS = ("flask-limiter",)


def forward_extension_warnings() -> None:
    for name in FORWARDED_LOGGERS:
        logger = logging.getLogger(name)
        # Its own level: a process whose root logger says ERROR (a Celery worker's, say)
        # must not silence these warnings.
        logger.setLevel(logging.WARNING)
        if not any(isinstance(handler, ToStructlog) for handler in logger.handlers):
            logger.addHandler(ToStructlog(logging.WARNING))


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
