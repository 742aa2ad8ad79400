"""API v1: the auditor's exports of the audit trail, the access log and the access review.

The same files as the auditor's pages export (housing.oversight.exports), each export a
link in the audit chain. Not stepped up: a bearer token is its own credential
(housing.web.step_up).
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import fields, validate

from housing.api.auth import api_scope, api_user, token_required
from housing.api.blueprint import Blueprint
from housing.api.dumping import Schema
from housing.audit.models import AuditEvent
from housing.claims.models import Claim
from housing.dates import Day
from housing.db import db
from housing.downloads import attachment
from housing.ids import id_field
from housing.inputs import text_field
from housing.oversight import exports
from housing.oversight.queries import ACCESS_ACTIONS, LogFilter
from housing.roles import Role

blp = Blueprint("api_audit", __name__, url_prefix="/api/v1", description="Audit")
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]
FILE = "The export as a file: CSV (text/csv) or JSON (application/json); audited."


class ExportFormatSchema(Schema):
    format = fields.Str(
        load_default="json",
        validate=validate.OneOf(exports.FORMATS),
        metadata={"description": "csv or json (the default)."},
    )


class LogFilterSchema(ExportFormatSchema):
    number = text_field(Claim.number, metadata={"description": "A claim number or its start."})
    actor = id_field(strict=False, metadata={"description": "A user's id."})
    start = Day(data_key="from", metadata={"description": "The first day (Amsterdam)."})
    end = Day(data_key="to", metadata={"description": "The last day (Amsterdam)."})


class TrailFilterSchema(LogFilterSchema):
    event = text_field(AuditEvent.event, metadata={"description": "An event's name."})


class AccessFilterSchema(LogFilterSchema):
    action = fields.Str(validate=validate.OneOf(ACCESS_ACTIONS))


class ReviewSchema(ExportFormatSchema):
    list = fields.Str(
        load_default="all",
        validate=validate.OneOf(("all", exports.PRIVILEGED)),
        metadata={"description": "all accounts (yearly), or the privileged (quarterly)."},
    )


def _filter(args: dict[str, Any], what: str) -> LogFilter:
    number = (args.get("number") or "").strip().upper() or None
    return LogFilter(
        number=number,
        actor=args.get("actor"),
        what=args.get(what) or None,
        start=args.get("start"),
        end=args.get("end"),
    ).checked()


def _send(which: str, fmt: str, wanted: LogFilter | None) -> Response:
    made = exports.export(db.session, api_scope(), api_user(), which, fmt, wanted)
    return attachment(made.body.encode(), mimetype=made.mimetype, filename=made.filename)


@blp.route("/audit/events")
class AuditTrailExport(MethodView):
    @token_required(Role.AUDITOR)
    @blp.doc(security=SECURITY)
    @blp.arguments(TrailFilterSchema, location="query")
    @blp.response(200, description=FILE)
    def get(self, args: dict[str, Any]) -> Response:
        """The organisation's audit trail with each link's hash and its predecessor's."""
        return _send(exports.TRAIL, args["format"], _filter(args, "event"))


@blp.route("/audit/access-log")
class AccessLogExport(MethodView):
    @token_required(Role.AUDITOR)
    @blp.doc(security=SECURITY)
    @blp.arguments(AccessFilterSchema, location="query")
    @blp.response(200, description=FILE)
    def get(self, args: dict[str, Any]) -> Response:
        """Who read or downloaded which claim or document, when, in which role."""
        return _send(exports.ACCESS, args["format"], _filter(args, "action"))


@blp.route("/audit/access-review")
class AccessReviewExport(MethodView):
    @token_required(Role.AUDITOR, Role.ADMIN)
    @blp.doc(security=SECURITY)
    @blp.arguments(ReviewSchema, location="query")
    @blp.response(200, description=FILE)
    def get(self, args: dict[str, Any]) -> Response:
        """Every account with roles, last sign-in and second factor; or the privileged."""
        which = exports.PRIVILEGED if args["list"] == exports.PRIVILEGED else exports.REVIEW
        return _send(which, args["format"], None)
