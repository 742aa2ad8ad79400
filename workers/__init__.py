"""Celery: the app bound to Flask, its tasks, the beat schedule and the outbox relay.

Arrows point one way: workers import housing, housing never imports workers. The web app
finds `init_app` through the `housing.plugins` entry point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask

from housing.extensions import extension, on_first_use
from housing.logging import get_logger
from housing.outbox.services import outbox_committed
from housing.unit_of_work import unit_of_work

if TYPE_CHECKING:
    from celery import Celery

log = get_logger(__name__)

DELIVER_TASK = "workers.tasks.deliver_outbox_message"


def init_app(app: Flask) -> None:
    """The plugin entry point: the relay, and a Celery app for this Flask app.

    The Celery app is built on first use (`housing.extensions.on_first_use`): at start by a
    served app and by `celery -A workers.app`, by the `housing` command only when a command
    hands a message to the broker. Celery is not imported before then.
    """
    on_first_use(app, "celery", lambda: celery_init_app(app))
    if not app.extensions.get("workers.relay_installed"):
        outbox_committed.connect(_relay, sender=app, weak=False)
        app.extensions["workers.relay_installed"] = True


def celery_init_app(app: Flask) -> Celery:
    """The Flask–Celery integration of pallets' examples/celery: tasks run in an app context,
    each as one unit of work (committed when it returns, rolled back when it raises)."""
    from celery import Celery, Task

    from workers.logging import install as install_task_logging

    install_task_logging()

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            # Leaving the app context removes the session: the next task starts afresh.
            with app.app_context(), unit_of_work():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.conf.beat_schedule = beat_schedule(app.config["OUTBOX_SWEEP_SECONDS"])
    celery_app.set_default()
    celery_app.autodiscover_tasks(["workers"], related_name="tasks", force=True)
    app.extensions["celery"] = celery_app
    return celery_app


def publish(app: Flask, message_id: int) -> None:
    """Hand one outbox message to the broker; raises when the broker cannot take it."""
    celery_app: Celery = extension(app, "celery")
    # No publish retries: the request that committed must not hang on a broker that is
    # down. The message is safe in the database, and the sweep sends it later.
    # No result either: the outbox row records the outcome, and a result backend that is
    # down as well would otherwise be waited on before the message is even published.
    celery_app.send_task(DELIVER_TASK, args=(message_id,), retry=False, ignore_result=True)


def _relay(app: Flask, ids: tuple[int, ...] = (), **_: Any) -> None:
    """Right after a commit that wrote outbox messages: hand them to the broker."""
    if not app.config.get("OUTBOX_RELAY_ON_COMMIT", True):
        return
    for message_id in ids:
        try:
            publish(app, message_id)
        except Exception as exc:  # any broker failure: the sweep will hand it over
            log.warning("outbox.relay_failed", message_id=message_id, error=type(exc).__name__)
            return  # the broker is down for the rest too; do not wait on each


def beat_schedule(sweep_seconds: float = 15.0) -> dict[str, dict[str, Any]]:
    from celery.schedules import crontab

    return {
        # Each worker that picks this up records that it is alive (health endpoint).
        "heartbeat": {"task": "workers.tasks.heartbeat", "schedule": 60.0},
        # Whatever the relay could not hand over (broker down, worker killed): again.
        "outbox-sweep": {"task": "workers.tasks.sweep_outbox", "schedule": float(sweep_seconds)},
        # Idempotency keys past their lifetime (a key met again is deleted then, too).
        "idempotency-key-sweep": {
            "task": "workers.tasks.sweep_idempotency_keys",
            "schedule": crontab(minute="17"),
        },
        # Deadlines, information and objection terms: once each working day, before the
        # case handlers start (Celery's timezone is Europe/Amsterdam). Holidays are
        # skipped by the watch itself, which knows the Atw calendar.
        # Recurring costs (alarm monitoring): each period's payout request, early each day.
        "recurring-payouts": {
            "task": "workers.tasks.create_recurring_payouts",
            "schedule": crontab(hour="6", minute="30"),
        },
        "deadline-watch": {
            "task": "workers.tasks.watch_deadlines",
            "schedule": crontab(hour="7", minute="0", day_of_week="mon-fri"),
        },
    }
