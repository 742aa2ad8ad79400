"""Faults with the real parts: the database connection of a request killed mid-request or
at its COMMIT. The client gets a clear answer, and a retry with its key does the work once."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from flask import has_request_context
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from housing.accounts.models import ApiToken
from housing.claims.models import MeasureLine
from housing.db import db
from housing.idempotency.models import IdempotencyKey
from housing.organisations.accounts import AccountAdministration
from tests.conftest import csrf_from, login

LINE = {
    "catalogue_code": "cameras",
    "description": "Camera bij de voordeur",
    "requested_amount": "1200.00",
    "vat_amount": "208.26",
}


@pytest.fixture
def engine(app):
    with app.app_context():
        return db.engine


@pytest.fixture
def drafted(app, committed_worlds, engine, monkeypatch) -> Iterator[dict[str, Any]]:
    """A committed draft without lines, its applicant's token, and an app whose server
    errors are answered as in production (not raised into the test)."""
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    world = committed_worlds("Gemeente Sleutel")
    claim_id = world.draft(lines=()).id
    _token, secret = AccountAdministration(world.session).issue_token(world.applicant, "fault")
    world.session.commit()
    yield {
        "claim_id": claim_id,
        "user_id": world.applicant.id,
        "headers": {"Authorization": f"Bearer {secret}"},
    }
    with Session(engine) as s:  # the tokens go before their users do
        s.execute(ApiToken.__table__.delete().where(ApiToken.user_id == world.applicant.id))
        s.commit()


def lines_of(engine, claim_id: int) -> int:
    with Session(engine) as s:
        return s.scalar(
            select(func.count()).select_from(MeasureLine).where(MeasureLine.claim_id == claim_id)
        )


def post_line(app, drafted, key: str):
    return app.test_client().post(
        f"/api/v1/claims/{drafted['claim_id']}/lines",
        headers={**drafted["headers"], "Idempotency-Key": key},
        json=LINE,
    )


def post_line_into(answers: dict[str, Any], name: str, app, drafted, key: str):
    """A POST for a thread of its own: its answer lands in `answers[name]`."""
    return lambda: answers.update({name: post_line(app, drafted, key)})


def admin_connection(engine) -> psycopg.Connection:
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(url, autocommit=True)


def blocked_by(connection: psycopg.Connection, pid: int) -> int | None:
    """The backend waiting on a lock `pid` holds, once one does (None after 10 s)."""
    for _ in range(200):
        row = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", (pid,)
        ).fetchone()
        if row:
            return int(row[0])
        time.sleep(0.05)
    return None


def test_a_request_whose_connection_is_killed_mid_request_saved_nothing_and_its_retry_adds_one(
    app, engine, drafted
):
    claim_id = drafted["claim_id"]
    answers: list[Any] = []
    with admin_connection(engine) as killer, admin_connection(engine) as locker:
        # Hold the claim's row, so the request waits on it in the middle of its work.
        locker.execute("BEGIN")
        locker.execute("SELECT id FROM claim WHERE id = %s FOR UPDATE", (claim_id,))
        locker_pid = locker.info.backend_pid
        request = threading.Thread(target=lambda: answers.append(post_line(app, drafted, "k1")))
        request.start()
        waiting = blocked_by(killer, locker_pid)
        assert waiting is not None, "the request never waited on the claim's lock"
        killer.execute("SELECT pg_terminate_backend(%s)", (waiting,))
        request.join(timeout=30)
        locker.execute("ROLLBACK")

    (killed,) = answers
    assert killed.status_code == 500
    assert killed.mimetype == "application/problem+json"
    assert "Er is niets opgeslagen" in killed.get_json()["detail"]
    assert "Traceback" not in killed.text
    assert lines_of(engine, claim_id) == 0
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyKey)) == 0

    retried = post_line(app, drafted, "k1")

    assert retried.status_code == 201, retried.text
    assert lines_of(engine, claim_id) == 1


def test_a_connection_killed_at_the_commit_says_it_may_be_saved_and_the_retry_adds_one(
    app, engine, drafted
):
    killed_pids: list[int] = []

    def kill_at_commit(connection: Any) -> None:
        if not has_request_context() or killed_pids:
            return
        pid = connection.connection.dbapi_connection.info.backend_pid
        with admin_connection(engine) as killer:
            killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
        killed_pids.append(pid)

    event.listen(engine, "commit", kill_at_commit)
    try:
        killed = post_line(app, drafted, "k2")
    finally:
        event.remove(engine, "commit", kill_at_commit)

    assert killed_pids, "the request never reached its COMMIT"
    assert killed.status_code == 500
    detail = killed.get_json()["detail"]
    assert "misschien wel, misschien niet uitgevoerd" in detail
    assert "Idempotency-Key" in detail
    assert "niets opgeslagen" not in detail

    retried = post_line(app, drafted, "k2")
    again = post_line(app, drafted, "k2")

    assert retried.status_code == 201, retried.text
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert lines_of(engine, drafted["claim_id"]) == 1


def test_a_failure_after_the_commit_says_it_may_be_saved_and_the_retry_answers_the_first(
    app, engine, drafted
):
    failed: list[bool] = []

    def fail_after_commit(session: Any) -> None:
        if has_request_context() and not failed:
            failed.append(True)
            raise RuntimeError("the connection broke after the commit")

    event.listen(Session, "after_commit", fail_after_commit)
    try:
        broken = post_line(app, drafted, "k3")
    finally:
        event.remove(Session, "after_commit", fail_after_commit)

    assert failed
    assert broken.status_code == 500
    assert "misschien wel, misschien niet uitgevoerd" in broken.get_json()["detail"]
    assert lines_of(engine, drafted["claim_id"]) == 1  # it was saved

    retried = post_line(app, drafted, "k3")

    assert retried.status_code == 201
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert lines_of(engine, drafted["claim_id"]) == 1


def test_a_retry_sent_while_the_first_still_runs_waits_and_answers_the_first(app, engine, drafted):
    claim_id = drafted["claim_id"]
    answers: dict[str, Any] = {}
    with admin_connection(engine) as watcher, admin_connection(engine) as locker:
        locker.execute("BEGIN")
        locker.execute("SELECT id FROM claim WHERE id = %s FOR UPDATE", (claim_id,))
        locker_pid = locker.info.backend_pid
        first = threading.Thread(target=post_line_into(answers, "first", app, drafted, "k4"))
        first.start()
        first_pid = blocked_by(watcher, locker_pid)
        assert first_pid is not None, "the first request never reached the claim"
        retry = post_line_into(answers, "retry", app, drafted, "k4")
        second = threading.Thread(target=retry)
        second.start()
        # The retry waits for the first request's transaction, on the key's unique index.
        assert blocked_by(watcher, first_pid) is not None, "the retry did not wait"
        locker.execute("ROLLBACK")
        first.join(timeout=30)
        second.join(timeout=30)

    assert answers["first"].status_code == answers["retry"].status_code == 201
    assert "Idempotent-Replayed" not in answers["first"].headers
    assert answers["retry"].headers["Idempotent-Replayed"] == "true"
    assert answers["retry"].get_json() == answers["first"].get_json()
    assert lines_of(engine, claim_id) == 1
    with Session(engine) as s:
        assert s.scalar(text("SELECT count(*) FROM idempotency_key WHERE key = 'k4'")) == 1


def test_a_form_whose_commit_broke_off_says_so_and_its_resubmission_adds_one(
    app, engine, committed_worlds, monkeypatch
):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    world = committed_worlds("Gemeente Formulier")
    claim_id = world.draft(lines=()).id
    browser = app.test_client()
    login(browser, world.applicant.email)
    page = browser.get(f"/claims/{claim_id}/wizard/measures").text
    form = {
        "csrf_token": csrf_from(page),
        "once_token": re.search(r'name="once_token" value="([^"]+)"', page).group(1),
        "catalogue_code": "cameras",
        "description": "Camera bij de voordeur",
        "requested_amount": "1200,00",
        "vat_amount": "208,26",
    }
    killed_pids: list[int] = []

    def kill_at_commit(connection: Any) -> None:
        if has_request_context() and not killed_pids:
            pid = connection.connection.dbapi_connection.info.backend_pid
            with admin_connection(engine) as killer:
                killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
            killed_pids.append(pid)

    event.listen(engine, "commit", kill_at_commit)
    try:
        broken = browser.post(f"/claims/{claim_id}/lines", data=form)
    finally:
        event.remove(engine, "commit", kill_at_commit)

    assert killed_pids
    assert broken.status_code == 500
    assert "Opgeslagen of niet?" in broken.text
    assert "misschien wel, misschien niet opgeslagen" in broken.text
    assert "Er is niets opgeslagen" not in broken.text

    again = browser.post(f"/claims/{claim_id}/lines", data=form)
    twice = browser.post(f"/claims/{claim_id}/lines", data=form)

    assert again.status_code == twice.status_code == 303
    assert lines_of(engine, claim_id) == 1


def test_a_double_click_while_the_first_still_runs_waits_and_adds_one(
    app, engine, committed_worlds
):
    world = committed_worlds("Gemeente Dubbelklik")
    claim_id = world.draft(lines=()).id
    browsers = [app.test_client(), app.test_client()]
    for browser in browsers:
        login(browser, world.applicant.email)
    page = browsers[0].get(f"/claims/{claim_id}/wizard/measures").text
    form = {
        "once_token": re.search(r'name="once_token" value="([^"]+)"', page).group(1),
        "wizard_step": "measures",
        "catalogue_code": "cameras",
        "description": "Camera bij de voordeur",
        "requested_amount": "1200,00",
        "vat_amount": "208,26",
    }
    tokens = [csrf_from(page), csrf_from(browsers[1].get("/profile").text)]
    answers: dict[int, Any] = {}

    def click(number: int) -> None:
        data = {**form, "csrf_token": tokens[number]}
        answers[number] = browsers[number].post(f"/claims/{claim_id}/lines", data=data)

    with admin_connection(engine) as watcher, admin_connection(engine) as locker:
        locker.execute("BEGIN")
        locker.execute("SELECT id FROM claim WHERE id = %s FOR UPDATE", (claim_id,))
        first = threading.Thread(target=click, args=(0,))
        first.start()
        first_pid = blocked_by(watcher, locker.info.backend_pid)
        assert first_pid is not None, "the first click never reached the claim"
        second = threading.Thread(target=click, args=(1,))
        second.start()
        assert blocked_by(watcher, first_pid) is not None, "the second click did not wait"
        locker.execute("ROLLBACK")
        first.join(timeout=30)
        second.join(timeout=30)

    assert answers[0].status_code == answers[1].status_code == 303
    assert answers[1].headers["Location"] == answers[0].headers["Location"]
    assert "Dit formulier was al verstuurd" in browsers[1].get(answers[1].headers["Location"]).text
    assert lines_of(engine, claim_id) == 1
