"""The server-rendered web UI: blueprints, security headers and error pages."""

from __future__ import annotations

from flask import Flask, Response, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from housing.api.problems import (
    problem_from_http_exception,
    problem_response,
    server_error_detail,
)
from housing.dates import EVIDENCE_FROM
from housing.errors import DomainError
from housing.inputs import sendable_bytes
from housing.logging import get_logger
from housing.roles import ROLE_PRECEDENCE, START_ENDPOINTS
from housing.unit_of_work import work_may_be_saved
from housing.web.forms import (
    AUDIENCE_LABELS,
    CLOCK_LABELS,
    DOCUMENT_LABELS,
    EVENT_LABELS,
    KIND_LABELS,
    OFFICE_LABELS,
    ROLE_LABELS,
    STATE_LABELS,
    TIMELINE_LABELS,
)
from housing.web.formtools import refusal_page, refused_fields, typed

log = get_logger(__name__)

# Everything is served from this origin: no CDN, no inline script, no framing.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "style-src": "'self'",
    "script-src": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "object-src": "'none'",
}


def _wants_problem_json() -> bool:
    return request.path.startswith("/api/")


def register_web(app: Flask) -> None:
    from housing.web import (
        admin,
        audit,
        claims,
        dashboard,
        drafts,
        finance,
        handling,
        jobs,
        notifications,
        objections,
        once,
        ops,
        outbox,
        own_factor,
        payouts,
        profile,
        search,
        second_factor,
        sso,
        start,
        step_up,
    )

    # The second-factor guard first: a staff session without one does nothing else.
    second_factor.install(app)
    step_up.install(app)
    sso.install(app)
    once.install(app)
    app.register_blueprint(start.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(claims.bp)
    app.register_blueprint(drafts.bp)
    app.register_blueprint(objections.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(profile.bp)
    app.register_blueprint(own_factor.bp)
    app.register_blueprint(notifications.bp)
    app.register_blueprint(notifications.print_bp)
    app.register_blueprint(outbox.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(payouts.bp)
    app.register_blueprint(finance.bp)
    app.register_blueprint(finance.limits_bp)
    app.register_blueprint(search.bp)
    app.register_blueprint(handling.bp)
    app.register_blueprint(audit.bp)
    app.jinja_env.globals.update(
        typed=typed,
        refused_fields=refused_fields,
        EVIDENCE_FROM=EVIDENCE_FROM,
        ROLE_PRECEDENCE=ROLE_PRECEDENCE,
        START_ENDPOINTS=START_ENDPOINTS,
        DASHBOARD_ROLES=dashboard.DASHBOARD_ROLES,
        ROLE_LABELS=ROLE_LABELS,
        AUDIENCE_LABELS=AUDIENCE_LABELS,
        OFFICE_LABELS=OFFICE_LABELS,
        KIND_LABELS=KIND_LABELS,
        STATE_LABELS=STATE_LABELS,
        TIMELINE_LABELS=TIMELINE_LABELS,
        CLOCK_LABELS=CLOCK_LABELS,
        EVENT_LABELS=EVENT_LABELS,
        DOCUMENT_LABELS=DOCUMENT_LABELS,
    )

    Talisman(
        app,
        # TLS ends at the reverse proxy; it sets HSTS and redirects to https.
        force_https=False,
        strict_transport_security=app.config["HOUSING_ENV"] == "production",
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        content_security_policy=CONTENT_SECURITY_POLICY,
        referrer_policy="same-origin",
        frame_options="DENY",
    )

    @app.after_request
    def no_caching_of_personal_pages(response: Response) -> Response:
        # Pages show sensitive data; a shared computer's cache must not keep them.
        if not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> ResponseReturnValue:
        if _wants_problem_json():
            return problem_response(400, str(error.description))
        return (
            render_template(
                "errors/error.html",
                code=400,
                title=_("The form has expired"),
                message=_("Reload the page and try again. Your input was not saved."),
            ),
            400,
        )

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge) -> ResponseReturnValue:
        # Refused before the body was read: nothing of it reached a view.
        message = _(
            "Nothing was saved: at most %(mb)s MB can be sent here.",
            mb=f"{sendable_bytes() / 2**20:.3g}",
        )
        if _wants_problem_json():
            return problem_response(413, message)
        return (
            render_template(
                "errors/error.html",
                code=413,
                title=_("What was sent is too large"),
                message=message,
            ),
            413,
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        if _wants_problem_json():
            return problem_from_http_exception(error)
        titles = {
            400: _("The request could not be understood"),
            403: _("You do not have access to this page"),
            404: _("Page not found"),
            405: _("This action is not possible here"),
            429: _("Too many attempts"),
        }
        messages = {
            403: _("Your role does not allow this. Ask your administrator if you need access."),
            404: _("The page does not exist, or you have no access to it."),
            429: _("Wait a few minutes before trying again."),
        }
        code = error.code or 500
        response = error.get_response()
        # A description of our own (refused at the door, housing.inputs) says what was
        # wrong; werkzeug's default one is English and says nothing more than the title.
        own = error.description if error.description != type(error).description else None
        body = render_template(
            "errors/error.html",
            code=code,
            title=titles.get(code, _("Something went wrong")),
            message=messages.get(code) or own or "",
        )
        response.set_data(body)
        response.content_type = "text/html; charset=utf-8"
        return response

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> ResponseReturnValue:
        # The request's unit of work is undone already (housing.unit_of_work).
        if _wants_problem_json():
            return problem_response(error.status, str(error.message), errors=error.field_errors)
        chosen = refusal_page(error)
        if chosen is not None:
            return chosen
        return (
            render_template("errors/error.html", code=error.status, title=str(error.message)),
            error.status,
        )

    # Two requests at the same moment: a unique constraint or the optimistic version check
    # stopped the second one. That is a conflict to retry, not a server error.
    @app.errorhandler(IntegrityError)
    @app.errorhandler(StaleDataError)
    def concurrent_change(error: Exception) -> ResponseReturnValue:
        message = _("Someone else changed this at the same moment. Nothing was saved; try again.")
        if _wants_problem_json():
            return problem_response(409, message)
        return (
            render_template(
                "errors/error.html",
                code=409,
                title=_("Changed at the same moment"),
                message=message,
            ),
            409,
        )

    # A value the database refused as data (a number out of range, text it cannot hold)
    # that no check of ours stopped: the request was wrong, so 400 and nothing saved; but
    # the check belongs at the door, so it is logged as a defect to fix there.
    @app.errorhandler(DataError)
    def refused_as_data(error: DataError) -> ResponseReturnValue:
        log.error("defect.unchecked_input", error=str(error.orig).splitlines()[0])
        message = _("A value in the request is out of range or not valid. Nothing was saved.")
        if _wants_problem_json():
            return problem_response(400, message)
        return (
            render_template(
                "errors/error.html",
                code=400,
                title=_("The request could not be understood"),
                message=message,
            ),
            400,
        )

    @app.errorhandler(500)
    def server_error(error: Exception) -> ResponseReturnValue:
        if _wants_problem_json():
            return problem_response(500, server_error_detail())
        if work_may_be_saved():
            # The connection broke off during the COMMIT (or something failed after it):
            # the database may have saved the work. Saying "nothing was saved" would invite
            # doing it twice.
            title = _("Saved or not?")
            message = _(
                "The connection broke off while saving. It may or may not have been saved:"
                " check the page before you try again."
            )
        else:
            title = _("Something went wrong")
            message = _("The error has been logged. Nothing was saved; please try again.")
        return (
            render_template("errors/error.html", code=500, title=title, message=message),
            500,
        )
