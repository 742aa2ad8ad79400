"""Building a payment batch as a job: thousands of payouts take a while, so finance
watches its progress on the job page instead of waiting on a request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from housing.accounts.models import User
from housing.errors import DomainError
from housing.jobs.kinds import job_kind
from housing.jobs.services import JobContext, JobFailed
from housing.payments.batches import BatchService
from housing.roles import Role
from housing.scoping import Scope

PAYMENT_BATCH_BUILD = "payment_batch_build"


@job_kind(
    PAYMENT_BATCH_BUILD,
    roles=frozenset({Role.FINANCE}),
    title=_l("Building a payment batch"),
    unit=_l("payouts"),
    result_template="jobs/results/payment_batch_build.html",
)
def build_batch(context: JobContext) -> Mapping[str, Any]:
    """Build one open batch of every approved payout, as the user who started the job."""
    user = context.session.get(User, context.created_by_id)
    if user is None:  # pragma: no cover - users are deactivated, never deleted
        raise JobFailed(str(_l("Your role does not allow this step.")))
    try:
        execution_date = dt.date.fromisoformat(str(context.params["execution_date"]))
    except (KeyError, ValueError):
        raise JobFailed(str(_l("Enter a date as yyyy-mm-dd."))) from None
    # The starter's scope as it is now: deactivated or no longer finance, the build is
    # refused the same way a request of theirs would be.
    try:
        batch = BatchService(context.session, context.clock).build(
            Scope.for_user(user), user, execution_date=execution_date, progress=context.progress
        )
    except DomainError as exc:
        raise JobFailed(str(exc.message)) from None
    # Figures and ids only (the job's result is shown to colleagues and kept).
    return {"batch_id": batch.id, "count": batch.item_count, "total": f"{batch.total:.2f}"}
