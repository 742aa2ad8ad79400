"""Messages per second through outbox → Celery → SMTP, beside a bare Celery no-op task.

Run by hand (not in the suite):  .venv/bin/python bench/notifications.py [--messages 2000]
Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379. It creates and drops a
database of its own, runs a real SMTP server (aiosmtpd) in this process and one Celery
worker process (prefork, --concurrency 2: this machine's cores) on a queue of its own, and
sends the same number of no-op tasks through the same worker, so both figures share the
broker, the worker and the machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from aiosmtpd.controller import Controller

ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BROKER = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
DATABASE = f"housing_bench_mail_{os.getpid()}"
QUEUE = f"bench-{os.getpid()}"


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        with self.changed:
            self.count += 1
            self.changed.notify_all()
        return "250 OK"

    def wait_for(self, target: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.count < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
        return True


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    smtp_port = free_port()
    instance = tempfile.mkdtemp(prefix="housing-bench-mail-")
    os.environ.update(
        {
            "DATABASE_URL": f"{base}/{DATABASE}",
            "CELERY_BROKER_URL": BROKER,
            "CELERY_RESULT_BACKEND": BROKER,
            "MAIL_BACKEND": "smtp",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(smtp_port),
            "HOUSING_INSTANCE_PATH": instance,
        }
    )
    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    worker = None
    try:
        app = prepare(args.messages)
        celery = Path(sys.executable).with_name("celery")
        command = [str(celery), "-A", "workers.app", "worker", "--pool", "prefork"]
        command += ["--concurrency", "2", "-Q", QUEUE, "-I", "celery.contrib.testing.tasks"]
        command += ["--without-mingle", "--without-gossip", "--loglevel", "ERROR"]
        worker = subprocess.Popen(command, env=os.environ.copy())  # noqa: S603 (our own)
        celery_app = app.extensions["celery"]
        celery_app.conf.task_default_queue = QUEUE
        # Warm up: the worker is up once it answers.
        celery_app.send_task("celery.ping", queue=QUEUE).get(timeout=120)
        outbox_rate = run_outbox(app, counter, args.messages)
        noop_rate = run_noop(celery_app, args.messages)
        print(f"outbox → Celery → SMTP: {args.messages:,} messages, {outbox_rate:,.0f} msg/s")
        print(f"bare Celery no-op task: {args.messages:,} tasks,    {noop_rate:,.0f} tasks/s")
        print(f"ratio (no-op / outbox): {noop_rate / outbox_rate:.1f}×")
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
        controller.stop()
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def prepare(count: int):  # type: ignore[no-untyped-def]
    """Migrate, and queue `count` notifications in the outbox (committed, not yet sent)."""
    from flask_migrate import upgrade

    from housing import create_app
    from housing.accounts.services import AccountService
    from housing.claims.notices import NotificationKind, Notifier
    from housing.db import db
    from housing.organisations.models import OrganisationKind
    from housing.organisations.services import OrganisationService
    from housing.roles import Role

    app = create_app({"OUTBOX_RELAY_ON_COMMIT": False, "RATELIMIT_STORAGE_URI": "memory://"})
    with app.app_context():
        upgrade()
        org = OrganisationService(db.session).create_organisation(
            kind=OrganisationKind.GEMEENTE, name="Gemeente Bench", iban="NL91ABNA0417164300"
        )
        assessor = AccountService(db.session).create_user(
            organisation=org,
            email="assessor@bench.example",
            full_name="Bench",
            password="mail-timing-pass-9",
            roles={Role.ASSESSOR},
        )
        notifier = Notifier(db.session)
        for n in range(count):
            notifier.notify(
                NotificationKind.CLAIM_OVERDUE,
                recipients=[assessor],
                organisation_id=org.id,
                event_key=f"bench:{n}",
            )
        db.session.commit()
    return app


def run_outbox(app, counter: Counter, count: int) -> float:  # type: ignore[no-untyped-def]
    """From handing the first message to the broker until the last mail is received."""
    from housing.db import db
    from housing.outbox.models import OutboxMessage
    from workers import publish

    with app.app_context():
        ids = db.session.scalars(db.select(OutboxMessage.id).order_by(OutboxMessage.id)).all()
    started = time.perf_counter()
    for message_id in ids:
        publish(app, message_id)
    if not counter.wait_for(count, timeout=600):
        raise SystemExit(f"only {counter.count} of {count} mails arrived")
    return count / (time.perf_counter() - started)


def run_noop(celery_app, count: int) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    results = [celery_app.send_task("celery.ping", queue=QUEUE) for _ in range(count)]
    for result in results:
        result.get(timeout=600)
    return count / (time.perf_counter() - started)


if __name__ == "__main__":
    main()
