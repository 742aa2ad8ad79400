"""Tasks stay thin: they take ids, call a domain service, and are idempotent."""

from __future__ import annotations

from celery import shared_task

from housing.ops.services import record_heartbeat, system_health


@shared_task(name="workers.tasks.health", ignore_result=False)
def health() -> dict[str, bool]:
    """Report what this worker can reach; used by health checks and tests."""
    return system_health()


@shared_task(name="workers.tasks.heartbeat", bind=True)
def heartbeat(self) -> str:  # type: ignore[no-untyped-def]
    """Record that this worker is alive."""
    worker = self.request.hostname or "unknown"
    record_heartbeat(worker)
    return worker
