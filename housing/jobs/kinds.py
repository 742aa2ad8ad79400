"""The kinds of job there are.

To add one (a payment batch, a statement import):

1. In your area, write a runner: `def build(context: JobContext) -> Mapping[str, Any]`.
   It reads `context.params` (the ids and dates given to `JobService.start`), does its
   work on `context.session` without committing, calls `context.progress(done, total)`
   after each batch, and returns the result: figures and ids only, never case data. Raise
   `JobFailed(_("..."))` to fail with a message the user may read; any other exception
   fails the job with a generic one. Either way the job is not retried.
2. Describe it with a `JobKind`: its name, the runner, the roles that may start it and see
   every job of its kind in their organisation, a title and, if you like, a template that
   shows the result (see housing/audit/jobs.py).
3. Add it to `default_kinds()` below, and start it from a view with
   `JobService(db.session).start(scope, user, "your_kind", params)`, then commit.
"""

from __future__ import annotations

from collections.abc import Mapping

from housing.jobs.services import JobKind, kinds_by_name


def default_kinds() -> Mapping[str, JobKind]:
    # Imported here, not at the top: each area's module imports housing.jobs itself.
    from housing.audit.jobs import AUDIT_VERIFY_KIND
    from housing.payments.jobs import PAYMENT_BATCH_BUILD_KIND
    from housing.payments.statements import STATEMENT_IMPORT_KIND

    return kinds_by_name(AUDIT_VERIFY_KIND, PAYMENT_BATCH_BUILD_KIND, STATEMENT_IMPORT_KIND)
