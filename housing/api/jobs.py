"""API v1: a job's status, progress and result, for integrations that start long work."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields

from housing.api.auth import api_scope, token_required
from housing.api.blueprint import Blueprint
from housing.api.dumping import Schema
from housing.db import db
from housing.jobs.models import JobStatus
from housing.jobs.services import JobService

blp = Blueprint("api_jobs", __name__, url_prefix="/api/v1", description="Jobs")
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


class JobSchema(Schema):
    id = fields.Int()
    kind = fields.Str()
    status = fields.Enum(JobStatus, by_value=True)
    progress_done = fields.Int()
    progress_total = fields.Int()
    message = fields.Str(allow_none=True)
    result = fields.Dict(allow_none=True, metadata={"description": "Figures and ids only."})
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


@blp.route("/jobs/<int:job_id>")
class JobItem(MethodView):
    @token_required()
    @blp.doc(security=SECURITY)
    @blp.response(200, JobSchema)
    def get(self, job_id: int) -> dict[str, Any]:
        """One job: poll it until `status` is succeeded or failed."""
        service = JobService(db.session)
        job = service.get(api_scope(), job_id)
        # The figures as the job page shows them (while it runs on SQLite, kept apart).
        progress = service.progress(job)
        fields_of_row = (
            "id",
            "kind",
            "status",
            "result",
            "created_at",
            "started_at",
            "finished_at",
        )
        return {
            **{name: getattr(job, name) for name in fields_of_row},
            "progress_done": progress.done,
            "progress_total": progress.total,
            "message": progress.message,
        }
