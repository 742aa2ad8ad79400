"""Tasks stay thin: they take ids, call a domain service, and are idempotent.

Each runs as one unit of work (see `workers.celery_init_app`): it commits when the task
returns and rolls back when it raises. The outbox consumer and sweep commit each message's
step themselves (housing.outbox), so one message's failure never undoes another's.
"""

from __future__ import annotations

import datetime as dt

from celery import Task, shared_task
from flask import current_app

from housing.db import db
from housing.ops.services import record_heartbeat, system_health
from housing.outbox.handlers import default_handlers
from housing.outbox.services import OutboxConsumer, OutboxSweep


@shared_task(name="workers.tasks.health", ignore_result=False)
def health() -> dict[str, bool]:
    """Report what this worker can reach; used by health checks and tests."""
    return system_health()


@shared_task(name="workers.tasks.heartbeat", bind=True)
def heartbeat(self: Task) -> str:
    """Record that this worker is alive."""
    worker = self.request.hostname or "unknown"
    record_heartbeat(worker)
    return worker


@shared_task(name="workers.tasks.deliver_outbox_message", ignore_result=True)
def deliver_outbox_message(message_id: int) -> str:
    """Act on one outbox message, once, however often it is delivered."""
    config = current_app.config
    consumer = OutboxConsumer(
        db.session,
        default_handlers(),
        max_attempts=config["OUTBOX_MAX_ATTEMPTS"],
        lease=dt.timedelta(seconds=config["OUTBOX_LEASE_SECONDS"]),
    )
    return consumer.deliver(message_id).value


@shared_task(name="workers.tasks.sweep_outbox", ignore_result=False)
def sweep_outbox() -> int:
    """Hand over what is still pending: after a broker outage or a lost worker."""
    from workers import publish

    app = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy
    return OutboxSweep(db.session).dispatch_due(lambda message_id: publish(app, message_id))


@shared_task(name="workers.tasks.watch_deadlines", ignore_result=False)
def watch_deadlines(force: bool = False) -> dict[str, object]:
    """Each working day (beat, 07:00 Amsterdam): warn, flag, expire and close terms.

    Idempotent, so a redelivery or a second beat changes nothing; `force` acts on a day
    that is no working day (an operator catching up by hand).
    """
    from housing.claims.watch import DeadlineWatch

    watch = DeadlineWatch(
        db.session, warning_working_days=current_app.config["DEADLINE_WARNING_WORKING_DAYS"]
    )
    return watch.run(force=force).as_dict()


@shared_task(name="workers.tasks.create_recurring_payouts", ignore_result=False)
def create_recurring_payouts() -> int:
    """Ask for each recurring measure's payout of the period that began (issue 5 §4)."""
    from housing.payments.recurring import RecurringPayouts

    return RecurringPayouts(db.session).create_due()


@shared_task(name="workers.tasks.sweep_idempotency_keys", ignore_result=False)
def sweep_idempotency_keys() -> int:
    """Forget the idempotency keys and form tokens past IDEMPOTENCY_KEY_HOURS (beat, hourly)."""
    from housing.idempotency.services import IdempotencyKeys

    return IdempotencyKeys.from_config(db.session, current_app.config).sweep()
