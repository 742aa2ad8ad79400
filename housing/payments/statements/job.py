"""The statement import as a background job: the upload's bytes in, the report's figures out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from housing.jobs.kinds import job_kind
from housing.jobs.services import JobContext, JobFailed
from housing.payments.statements.importer import ImportRefused, StatementImport
from housing.payments.statements.uploads import UploadStore
from housing.roles import Role

STATEMENT_IMPORT = "statement_import"


@job_kind(
    STATEMENT_IMPORT,
    roles=frozenset({Role.FINANCE}),
    title=_l("Import of a bank statement"),
    unit=_l("entries read"),
    result_template="jobs/results/statement_import.html",
)
def run_statement_import(context: JobContext) -> Mapping[str, Any]:
    """The job: import the upload named in the params; the result is the report's figures."""
    key = str(context.params.get("upload_key", ""))
    # A worker runs jobs inside the app's context: its settings name the folder and limits.
    uploads = UploadStore.from_config(current_app.config)
    try:
        data = uploads.load(key)
    except FileNotFoundError:
        raise JobFailed(
            _("The uploaded file is no longer there. Please upload it again.")
        ) from None
    service = StatementImport.from_config(context.session, context.clock, current_app.config)
    try:
        report = service.import_file(
            context.organisation_id,
            context.created_by_id,
            data,
            progress=context.progress,
        )
    except ImportRefused as exc:
        uploads.discard(key)  # refused for good: the same bytes would be refused again
        raise JobFailed(str(exc.message)) from None
    # Removed before the commit: if that fails, the retried job asks for a new upload,
    # which imports the same (the import is idempotent); the bank's data is not kept.
    uploads.discard(key)
    return report.as_dict()
