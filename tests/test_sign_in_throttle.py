"""Throttling without lock-out, a spike of failures told to the administrators once (issue
11, item 7), and sign-in while the rate limiter's Redis is away (item 8)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import structlog
from flask import Flask
from sqlalchemy import select

from housing import create_app
from housing.accounts.models import SignInFailure, SignInSpike
from housing.audit.models import AuditEvent
from housing.claims.notices import NotificationKind
from housing.extensions import limiter
from housing.notifications.services import TOPIC, deliver_notification
from housing.outbox.models import OutboxMessage
from housing.outbox.services import OutboxConsumer, Outcome
from tests.conftest import PASSWORD, csrf_from, make_test_config
from tests.factories import UserFactory
from tests.smtp import SmtpServer

WRONG = "not-the-password-1"
FAILED = "Het e-mailadres of het wachtwoord is niet juist."
CONTROL_CHARACTER = "Het verzoek bevat een stuurteken (zoals NUL). Er is niets opgeslagen."


def browser(app: Flask, address: str):
    """A browser of its own at `address`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def try_login(client, email: str, password: str) -> int:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    if response.status_code == 200:
        assert FAILED in response.text
    return response.status_code


class TestNoLockOut:
    def test_the_owner_signs_in_from_their_address_while_an_attacker_fails_from_another(
        self, app, session
    ):
        mayor = UserFactory()
        attacker = browser(app, "203.0.113.9")
        for _ in range(5):
            assert try_login(attacker, mayor.email, WRONG) == 200
        # The attacker's address is stopped on this account, even with the right password...
        assert try_login(attacker, mayor.email, WRONG) == 429
        assert try_login(attacker, mayor.email, PASSWORD) == 429
        # ...and the owner, at their own desk, is not.
        assert try_login(browser(app, "198.51.100.7"), mayor.email, PASSWORD) == 302

    def test_an_account_under_attack_gives_each_address_one_try(self, app, session):
        mayor = UserFactory()
        first = browser(app, "203.0.113.1")
        assert try_login(first, mayor.email, WRONG) == 200
        # More addresses, two tries each (far from their own limit of 5)...
        for n in range(2, 6):
            bot = browser(app, f"203.0.113.{n}")
            assert try_login(bot, mayor.email, WRONG) == 200
            assert try_login(bot, mayor.email, WRONG) == 200
        last = browser(app, "203.0.113.6")
        assert try_login(last, mayor.email, WRONG) == 200
        # ...and the account has had its 10: it is under attack.
        assert try_login(last, mayor.email, WRONG) == 429
        # An address that failed here before gets no further try, not even the right one...
        assert try_login(first, mayor.email, PASSWORD) == 429
        # ...a new one gets one: a wrong guess, then nothing more;
        newcomer = browser(app, "203.0.113.50")
        assert try_login(newcomer, mayor.email, WRONG) == 200
        assert try_login(newcomer, mayor.email, WRONG) == 429
        # and the owner, from an address of their own, signs in with the right password.
        assert try_login(browser(app, "198.51.100.7"), mayor.email, PASSWORD) == 302

    def test_unknown_accounts_are_throttled_alike(self, app, session):
        # Otherwise a 429 would tell which e-mail addresses have an account.
        known, unknown = UserFactory(), "nobody-here@test.example"
        for email in (known.email, unknown):
            client = browser(app, "203.0.113.77")
            answers = [try_login(client, email, WRONG) for _ in range(6)]
            assert answers == [200] * 5 + [429], email
            limiter.reset()

    def test_failures_on_unknown_accounts_are_not_stored(self, client, session):
        try_login(client, "typed-a-password-here@test.example", WRONG)
        assert session.scalars(select(SignInFailure)).all() == []


@pytest.fixture
def spike_at_three(app, monkeypatch):
    monkeypatch.setitem(app.config, "SIGN_IN_SPIKE_FAILURES", 3)
    monkeypatch.setitem(app.config, "SIGN_IN_SPIKE_MINUTES", 15)


def spike_notices(session) -> list[OutboxMessage]:
    session.remove()
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.topic == TOPIC,
                OutboxMessage.payload["kind"].as_string()
                == NotificationKind.SIGN_IN_FAILURE_SPIKE.value,
            )
            .order_by(OutboxMessage.id)
        )
    )


class TestSpike:
    def test_the_administrators_hear_once_per_spike(self, app, session, spike_at_three):
        admin = UserFactory(admin=True)
        org = admin.organisation
        second_admin = UserFactory(admin=True, organisation=org)
        UserFactory(admin=True, organisation=org, inactive=True)  # not told
        staff = [UserFactory(organisation=org) for _ in range(3)]
        elsewhere = UserFactory()  # another organisation's account

        for n, user in enumerate(staff[:2]):
            assert try_login(browser(app, f"203.0.113.{n}"), user.email, WRONG) == 200
        assert try_login(browser(app, "203.0.113.9"), elsewhere.email, WRONG) == 200
        assert spike_notices(session) == []  # two of ours: no spike yet

        assert try_login(browser(app, "203.0.113.3"), staff[2].email, WRONG) == 200
        told = spike_notices(session)
        assert sorted(m.payload["user_id"] for m in told) == sorted([admin.id, second_admin.id])
        assert {m.organisation_id for m in told} == {org.id}

        # The spike goes on: more failures tell nobody again.
        for n in range(4, 10):
            try_login(browser(app, f"203.0.113.{n}"), staff[n % 3].email, WRONG)
        assert len(spike_notices(session)) == 2
        events = session.scalars(
            select(AuditEvent).where(
                AuditEvent.organisation_id == org.id, AuditEvent.event == "sign_in_failure_spike"
            )
        ).all()
        assert len(events) == 1 and events[0].actor_id is None

        # Quiet for longer than the window: the next spike is a new one, told again.
        for model, column in ((SignInFailure, "at"), (SignInSpike, "seen_at")):
            for row in session.scalars(select(model).where(model.organisation_id == org.id)):
                setattr(row, column, getattr(row, column) - dt.timedelta(minutes=16))
        session.commit()
        limiter.reset()
        for n in range(3):
            try_login(browser(app, f"198.51.100.{n}"), staff[n].email, WRONG)
        assert len(spike_notices(session)) == 4

    def test_the_notice_reaches_the_administrator_by_mail(self, app, session, spike_at_three):
        admin = UserFactory(admin=True)
        staff = UserFactory(organisation=admin.organisation)
        for n in range(3):
            try_login(browser(app, f"203.0.113.{n}"), staff.email, WRONG)
        (message,) = spike_notices(session)
        with SmtpServer() as server, app.app_context():
            app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port)
            try:
                consumer = OutboxConsumer(session, {TOPIC: deliver_notification})
                assert consumer.deliver(message.id) is Outcome.DONE
            finally:
                app.config.update(MAIL_BACKEND="file")
            (mail,) = server.handler.wait_for(1)
        assert mail["To"] == admin.email and mail["Subject"] == "Veel mislukte inlogpogingen"
        assert "probeert iemand wachtwoorden te raden" in mail.get_content()


@pytest.fixture
def redis_away(app: Flask, database_url: str, tmp_path) -> Iterator[Flask]:
    """An app whose rate limiter's storage is a closed port: Redis is away."""
    away = create_app(
        make_test_config(database_url, tmp_path, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1")
    )
    try:
        yield away
    finally:
        # The limiter is one object for every app of the process: back to this run's Redis.
        limiter.init_app(app)
        # Flask-Limiter has no public way to say its storage is back; it would find out
        # by itself within seconds, meanwhile counting in memory for the next tests.
        limiter._storage_dead = False


def test_sign_in_works_while_redis_is_away_and_health_says_degraded(redis_away, session):
    user = UserFactory()
    client = redis_away.test_client()
    with structlog.testing.capture_logs() as logs:
        assert try_login(client, user.email, WRONG) == 200
        assert try_login(client, user.email, PASSWORD) == 302
    assert client.get("/applicant").status_code == 200
    assert any("falling back to in-memory storage" in entry["event"] for entry in logs), logs
    # Counted in this process's memory meanwhile: guessing is still slowed down.
    guesser = redis_away.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "203.0.113.99"
    assert [try_login(guesser, user.email, WRONG) for _ in range(6)] == [200] * 5 + [429]

    report = client.get("/health").get_json()
    assert report["degraded"] == ["rate_limits"]
    assert report["rate_limits"] == {"ok": False, "storage": "in_memory_fallback"}


def test_health_says_nothing_is_degraded_with_redis_there(client, session):
    report = client.get("/health").get_json()
    assert report["degraded"] == []
    assert report["rate_limits"] == {"ok": True, "storage": "configured"}


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("a\x00b@test.example", "whatever-it-is"),
        ("user@test.example", "nul\x00in-the-password"),
        ("user@test.example", "x" * 10_000),
        ("ünïcødé@tëst.example", "whatever-it-is"),
        ("x" * 300 + "@test.example", "whatever-it-is"),
    ],
)
def test_odd_sign_in_input_is_answered_with_a_message_never_a_500(client, session, email, password):
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    if response.status_code == 400:  # refused at the door (housing.inputs)
        assert CONTROL_CHARACTER in response.text
    else:
        assert response.status_code == 200, response.text
        assert (
            'class="utrecht-form-field-error-message"' in response.text or FAILED in response.text
        )
