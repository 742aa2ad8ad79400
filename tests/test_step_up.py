"""Step-up (issue 11, item 4): deciding, releasing a batch, exporting and changing roles need
an authentication of at most 15 minutes ago, or the code again, and nothing typed is lost."""

from __future__ import annotations

import datetime as dt

import pytest
from markupsafe import escape
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from housing.accounts.authentication import (
    ONE_TIME_CODE,
    PASSWORD,
    STEP_UP_MAX_AGE,
    Authentication,
)
from housing.accounts.models import User
from housing.audit.models import AuditEvent
from housing.claims.models import Claim, Decision
from housing.clock import today as amsterdam_today
from housing.payments.models import PaymentBatch
from housing.roles import Role
from tests.builders.api import bearer
from tests.builders.claims import World
from tests.builders.payments import Finance, record
from tests.builders.step_up import ASKED, age_authentication, confirm, hidden_fields, next_code
from tests.conftest import login
from tests.factories import UserFactory

REASON = 'Geen dreiging vastgesteld; zie het advies van 2 maart & de brief van de "politie"'


def confirm_and_follow(client, page: str, code: str):
    """Confirm, then do what a browser does with the answer: a 307 sends the same POST
    body to the act, a 303 fetches it (werkzeug's test client cannot resend a body it has
    read, so this does); the act's own redirect is followed as well."""
    back = confirm(client, page, code)
    assert back.status_code in (303, 307), back.text
    if back.status_code == 303:
        return client.get(back.headers["Location"], follow_redirects=True)
    fields = MultiDict([*hidden_fields(page), ("step_up_code", code)])
    return client.post(back.headers["Location"], data=fields, follow_redirects=True)


class TestTheRule:
    NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)

    def test_recent_means_multi_factor_and_at_most_fifteen_minutes_old(self):
        both = Authentication(1, frozenset({PASSWORD, ONE_TIME_CODE}), self.NOW)
        assert both.recent(self.NOW + STEP_UP_MAX_AGE)
        assert not both.recent(self.NOW + STEP_UP_MAX_AGE + dt.timedelta(seconds=1))
        assert not both.recent(self.NOW - dt.timedelta(seconds=1))  # from the future: no
        assert not Authentication(1, frozenset({PASSWORD}), self.NOW).recent(self.NOW)
        # A provider that says it checked several factors (OIDC amr) counts as such.
        assert Authentication(1, frozenset({PASSWORD, "mfa"}), self.NOW, "oidc").recent(self.NOW)

    def test_a_stored_record_reads_back_and_garbage_does_not(self):
        record_ = Authentication(7, frozenset({PASSWORD, ONE_TIME_CODE}), self.NOW)
        assert Authentication.from_stored(record_.stored()) == record_
        for garbage in (None, "x", {"user": "7"}, {"user": 7, "amr": "pwd", "at": 1}):
            assert Authentication.from_stored(garbage) is None


class TestDeciding:
    @pytest.fixture
    def decided_page(self, client, session):
        world = World(session)
        claim = world.proposed()
        csrf = login(client, world.decider.email)
        return world, claim, csrf

    def test_a_fresh_login_decides_without_being_asked(self, client, decided_page):
        world, claim, csrf = decided_page
        response = client.post(
            f"/claims/{claim.id}/events",
            data={"event": "grant", "reason": "Conform advies", "csrf_token": csrf},
        )
        assert response.status_code == 303
        assert world.session.get(Claim, claim.id).state == "granted"

    def test_an_old_login_is_asked_for_the_code_and_the_reasons_are_kept(
        self, client, session, decided_page
    ):
        world, claim, csrf = decided_page
        age_authentication(client, STEP_UP_MAX_AGE + dt.timedelta(minutes=1))
        path = f"/claims/{claim.id}/events"
        sent = {"event": "grant", "reason": REASON, "csrf_token": csrf, "once_token": "t" * 32}
        asked = client.post(path, data=sent)
        assert asked.status_code == 401
        assert ASKED in asked.text
        session.expire_all()
        assert session.get(Claim, claim.id).state == "decision_proposed"  # nothing done
        carried = dict(hidden_fields(asked.text))
        assert carried["reason"] == REASON and carried["event"] == "grant"
        assert carried["once_token"] == "t" * 32
        assert carried["step_up_return"] == path and carried["step_up_method"] == "POST"
        assert str(escape(REASON)) in asked.text

        wrong = confirm(client, asked.text, "000000")
        assert wrong.status_code == 422
        assert "Deze code is niet juist" in wrong.text and 'aria-invalid="true"' in wrong.text
        assert dict(hidden_fields(wrong.text))["reason"] == REASON  # still kept
        session.expire_all()
        assert session.get(Claim, claim.id).state == "decision_proposed"

        code = next_code(world.decider.email)
        back = confirm(client, wrong.text, code)
        assert back.status_code == 307 and back.headers["Location"] == path
        replayed = confirm(client, wrong.text, code)
        assert replayed.status_code == 422  # the code is used: it does not work twice
        # The browser repeats the POST, with the same fields, to the act.
        fields = MultiDict([*hidden_fields(wrong.text), ("step_up_code", code)])
        decided = client.post(path, data=fields)
        assert decided.status_code == 303, decided.text
        session.expire_all()
        stored = session.get(Claim, claim.id)
        assert stored.state == "granted" and stored.decided_by_id == world.decider.id
        decision = session.scalars(select(Decision).where(Decision.claim_id == claim.id)).one()
        assert decision.reasons == REASON
        # Now recent: the next act goes through without asking.
        age_authentication(client, dt.timedelta(minutes=14))
        assert client.get(f"/claims/{claim.id}").status_code == 200

    def test_the_step_up_page_follows_through_as_a_browser_does(
        self, client, session, decided_page
    ):
        world, claim, csrf = decided_page
        age_authentication(client, dt.timedelta(hours=2))
        asked = client.post(
            f"/claims/{claim.id}/events",
            data={"event": "grant", "reason": "Conform advies", "csrf_token": csrf},
        )
        assert asked.status_code == 401
        finished = confirm_and_follow(client, asked.text, next_code(world.decider.email))
        assert finished.status_code == 200, finished.text
        session.expire_all()
        assert session.get(Claim, claim.id).state == "granted"
        links = session.scalars(
            select(AuditEvent.reason).where(
                AuditEvent.claim_id == claim.id, AuditEvent.event == "grant"
            )
        ).all()
        assert links == ["Conform advies"]

    def test_acts_that_are_not_decisions_are_not_stepped_up(self, client, session):
        world = World(session)
        claim = world.draft()
        world.fire(world.applicant, claim, "submit")
        csrf = login(client, world.assessor.email)
        age_authentication(client, dt.timedelta(hours=1))
        started = client.post(
            f"/claims/{claim.id}/events", data={"event": "start_assessment", "csrf_token": csrf}
        )
        assert started.status_code == 303

    def test_the_api_keeps_deciding_with_its_token(self, client, session):
        world = World(session)
        claim = world.proposed()
        granted = client.post(
            f"/api/v1/claims/{claim.id}/events",
            headers=bearer(session, world.decider),
            json={"event": "grant"},
        )
        assert granted.status_code == 200, granted.text


class TestTamperedStepUp:
    @pytest.fixture
    def asked(self, client, session):
        world = World(session)
        claim = world.proposed()
        csrf = login(client, world.decider.email)
        age_authentication(client, dt.timedelta(hours=1))
        page = client.post(
            f"/claims/{claim.id}/events", data={"event": "grant", "csrf_token": csrf}
        ).text
        return world, claim, dict(hidden_fields(page))

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("step_up_return", "https://evil.example/claims"),
            ("step_up_return", "//evil.example/x"),
            ("step_up_method", "DELETE"),
        ],
    )
    def test_a_tampered_return_is_a_bad_request(self, client, session, asked, field, value):
        world, claim, fields = asked
        fields[field] = value
        fields["step_up_code"] = next_code(world.decider.email)
        response = client.post("/step-up", data=fields)
        assert response.status_code == 400
        assert session.get(Claim, claim.id).state == "decision_proposed"

    def test_no_code_is_asked_for_at_the_field(self, client, session, asked):
        _world, _claim, fields = asked
        response = client.post("/step-up", data=fields)
        assert response.status_code == 422 and "Vul de code in." in response.text

    def test_not_signed_in_no_step_up(self, app, session):
        anonymous = app.test_client()
        response = anonymous.post("/step-up", data={"step_up_code": "123456"})
        assert response.status_code in (302, 400)  # sent to log in, or no CSRF token


class TestFinance:
    def test_releasing_a_batch_needs_a_recent_login(self, client, session):
        fin = Finance(session)
        payout = record(fin, number="F-1", amount="400.00")
        fin.approve(payout, fin.f2)
        batch = fin.batches.build(fin.scope(fin.f1), fin.f1, execution_date=amsterdam_today())
        fin.batches.approve(fin.scope(fin.f1), fin.f1, batch.id)
        session.commit()
        csrf = login(client, fin.f2.email)
        age_authentication(client, dt.timedelta(minutes=16))
        path = f"/finance/batches/{batch.id}/events"
        asked = client.post(path, data={"event": "release", "confirm": "yes", "csrf_token": csrf})
        assert asked.status_code == 401
        session.expire_all()
        assert session.get(PaymentBatch, batch.id).state == "approved"
        released = confirm_and_follow(client, asked.text, next_code(fin.f2.email))
        assert "De betaalbatch is vrijgegeven" in released.text
        session.expire_all()
        assert session.get(PaymentBatch, batch.id).state == "released"

    def test_an_export_asks_for_the_code_and_then_downloads(self, client, session):
        fin = Finance(session)
        login(client, fin.f1.email)
        age_authentication(client, dt.timedelta(minutes=30))
        url = "/finance/payouts.csv?from=2026-01-01&to=2026-12-31"
        asked = client.get(url)
        assert asked.status_code == 401 and ASKED in asked.text
        fields = dict(hidden_fields(asked.text))
        assert fields["step_up_return"] == url and fields["step_up_method"] == "GET"
        back = confirm(client, asked.text, next_code(fin.f1.email))
        assert back.status_code == 303 and back.headers["Location"] == url
        csv = client.get(url)
        assert csv.status_code == 200 and csv.mimetype == "text/csv"


class TestRoles:
    def test_changing_roles_needs_a_recent_login_and_keeps_the_choice(self, client, session):
        admin = UserFactory(admin=True)
        colleague = UserFactory(assessor=True, organisation=admin.organisation)
        csrf = login(client, admin.email)
        age_authentication(client, dt.timedelta(minutes=20))
        path = f"/admin/users/{colleague.id}"
        form = {
            "full_name": colleague.full_name,
            "roles": ["assessor", "decider"],
            "language": "nl",
            "channel": "post",
            "active": "y",
            "csrf_token": csrf,
        }
        asked = client.post(path, data=form)
        assert asked.status_code == 401
        carried = hidden_fields(asked.text)
        assert ("roles", "assessor") in carried and ("roles", "decider") in carried
        session.expire_all()
        assert session.get(User, colleague.id).roles == {Role.ASSESSOR}
        saved = confirm_and_follow(client, asked.text, next_code(admin.email))
        assert saved.status_code == 200
        session.expire_all()
        assert session.get(User, colleague.id).roles == {Role.ASSESSOR, Role.DECIDER}
        # Looking at the form needs no code.
        age_authentication(client, dt.timedelta(hours=1))
        assert client.get(path).status_code == 200
