"""Sessions that end: on the server at logout, after the idle timeout and the absolute
lifetime, and everywhere at once; a new session at every login (issue 11, item 5)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from housing.accounts.models import SessionEnd, UserSession
from housing.accounts.sessions import session_digest
from housing.audit.models import AuditEvent
from housing.clock import utcnow
from housing.organisations.accounts import AccountAdministration
from housing.roles import Role
from housing.web.sessions import SESSION_KEY
from tests.conftest import PASSWORD, csrf_from, login
from tests.factories import UserFactory

ENDED = "Uw sessie is beëindigd. Log opnieuw in."


def cookie_of(client) -> str:
    found = client.get_cookie("session", domain="localhost")
    assert found is not None, "no session cookie"
    return found.value


def copy_of(app, client):
    """Another browser holding a copy of `client`'s session cookie, as a thief would."""
    thief = app.test_client()
    thief.set_cookie("session", cookie_of(client), domain="localhost")
    return thief


def secret_of(client) -> str | None:
    with client.session_transaction() as cookie:
        return cookie.get(SESSION_KEY)


def records_of(session, user) -> list[UserSession]:
    session.remove()  # as a new request would: read what is stored, not what was loaded
    return list(
        session.scalars(
            select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)
        )
    )


def move_back(session, user, **columns: dt.timedelta) -> None:
    """Let time pass for the user's sessions by moving their stored moments back."""
    for record in records_of(session, user):
        for column, delta in columns.items():
            setattr(record, column, getattr(record, column) - delta)
    session.commit()  # the test's SAVEPOINT: the outer transaction is still rolled back
    session.remove()


class TestLogout:
    def test_a_copy_of_the_cookie_taken_before_logout_answers_as_logged_out(self, app, client):
        assessor = UserFactory(roles={Role.ASSESSOR})
        csrf = login(client, assessor.email)
        thief = copy_of(app, client)
        assert thief.get("/claims/inbox").status_code == 200  # the copy worked until now

        assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302

        page = thief.get("/claims/inbox")
        assert page.status_code == 302
        assert page.headers["Location"].startswith("/login?next=")
        assert ENDED in thief.get(page.headers["Location"]).text
        fragment = copy_of(app, client).get("/claims/inbox", headers={"HX-Request": "true"})
        assert fragment.status_code == 401
        assert fragment.headers["HX-Redirect"].startswith("/login?next=")

    def test_logout_ends_the_record_on_the_server(self, client, session):
        user = UserFactory()
        csrf = login(client, user.email)
        client.post("/logout", data={"csrf_token": csrf})
        (record,) = records_of(session, user)
        assert record.ended_at is not None and record.end_reason == SessionEnd.LOGOUT
        assert secret_of(client) is None

    def test_a_cookie_of_before_server_side_sessions_is_logged_out(self, client, session):
        user = UserFactory()
        login(client, user.email)
        with client.session_transaction() as cookie:
            del cookie[SESSION_KEY]  # Flask-Login's user id alone, as cookies were
        assert client.get("/applicant").status_code == 302


class TestNewSessionAtLogin:
    def test_every_login_begins_a_new_session_and_keeps_nothing_planted(self, client, session):
        user = UserFactory()
        client.get("/login")
        with client.session_transaction() as cookie:
            cookie[SESSION_KEY] = "planted-by-an-attacker"  # session fixation
            cookie["planted"] = "yes"
        first = login(client, user.email) and secret_of(client)
        assert first and first != "planted-by-an-attacker"
        with client.session_transaction() as cookie:
            assert "planted" not in cookie
        client.post("/logout", data={"csrf_token": csrf_from(client.get("/profile").text)})
        login(client, user.email)
        second = secret_of(client)
        assert second and second != first
        records = records_of(session, user)
        assert [r.token_hash for r in records] == [session_digest(first), session_digest(second)]
        assert records[0].ended_at is not None and records[1].ended_at is None
        # Only the digest is stored: the table opens no session.
        assert first not in {r.token_hash for r in records}

    def test_the_chosen_language_survives_the_new_session(self, client, session):
        user = UserFactory()
        token = csrf_from(client.get("/login").text)
        client.post("/language", data={"language": "en", "csrf_token": token})
        login(client, user.email)
        with client.session_transaction() as cookie:
            assert cookie["language"] == "en"  # for the login page after a logout, say


class TestTimeouts:
    def test_idle_for_longer_than_the_timeout_ends_the_session(self, client, session):
        user = UserFactory()
        login(client, user.email)
        move_back(session, user, last_seen_at=dt.timedelta(minutes=29))
        assert client.get("/applicant").status_code == 200  # 29 minutes: still there
        (record,) = records_of(session, user)
        assert utcnow() - record.last_seen_at < dt.timedelta(minutes=1)  # and seen again

        move_back(session, user, last_seen_at=dt.timedelta(minutes=31))
        page = client.get("/applicant")
        assert page.status_code == 302 and page.headers["Location"].startswith("/login")
        (record,) = records_of(session, user)
        assert record.end_reason == SessionEnd.IDLE
        assert ENDED in client.get(page.headers["Location"]).text

    def test_the_absolute_lifetime_ends_even_a_busy_session(self, client, session):
        user = UserFactory()
        login(client, user.email)
        move_back(session, user, created_at=dt.timedelta(hours=11, minutes=59))
        assert client.get("/applicant").status_code == 200
        move_back(session, user, created_at=dt.timedelta(minutes=2))  # 12 h 1 min
        assert client.get("/applicant").status_code == 302
        (record,) = records_of(session, user)
        assert record.end_reason == SessionEnd.LIFETIME

    def test_the_timeouts_are_settings(self, app, client, session, monkeypatch):
        monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 5)
        user = UserFactory()
        login(client, user.email)
        move_back(session, user, last_seen_at=dt.timedelta(minutes=6))
        assert client.get("/applicant").status_code == 302

    def test_the_last_use_is_written_once_a_minute_at_most(self, client, session, count_queries):
        user = UserFactory()
        login(client, user.email)

        def writes_to_sessions() -> list[str]:
            session.remove()
            with count_queries() as statements:
                assert client.get("/applicant").status_code == 200
            reads = [s for s in statements if "FROM user_session" in s]
            # The session, its user and the user's roles: one statement.
            assert len(reads) == 1 and "JOIN user_account" in reads[0]
            return [s for s in statements if s.startswith("UPDATE user_session")]

        assert writes_to_sessions() == []  # just logged in
        assert writes_to_sessions() == []
        move_back(session, user, last_seen_at=dt.timedelta(minutes=2))
        assert len(writes_to_sessions()) == 1
        assert writes_to_sessions() == []


class TestSignOutEverywhere:
    def test_every_session_of_the_user_ends_and_api_tokens_keep_working(self, app, client, session):
        user = UserFactory()
        colleague = UserFactory(organisation=user.organisation)
        phone, colleagues_browser = app.test_client(), app.test_client()
        login(phone, user.email)
        login(colleagues_browser, colleague.email)
        csrf = login(client, user.email)
        _token, secret = AccountAdministration(session).issue_token(user, "zaaksysteem")
        assert "U bent ingelogd op 2 apparaten of browsers." in client.get("/profile").text

        done = client.post("/profile/sessions/end", data={"csrf_token": csrf})
        assert done.status_code == 302 and done.headers["Location"] == "/login"
        assert "U bent overal uitgelogd" in client.get("/login").text
        assert client.get("/profile").status_code == 302
        assert phone.get("/profile").status_code == 302
        assert colleagues_browser.get("/profile").status_code == 200  # not theirs
        api = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        assert api.status_code == 200
        assert {r.end_reason for r in records_of(session, user)} == {SessionEnd.EVERYWHERE}
        (event,) = session.scalars(
            select(AuditEvent).where(AuditEvent.event == "signed_out_everywhere")
        )
        assert event.actor_id == user.id and event.organisation_id == user.organisation_id

    def test_it_needs_a_post_with_csrf(self, client, session):
        user = UserFactory()
        login(client, user.email)
        assert client.get("/profile/sessions/end").status_code == 405
        assert client.post("/profile/sessions/end").status_code == 400
        assert client.get("/profile").status_code == 200
        assert all(r.ended_at is None for r in records_of(session, user))

    def test_anonymous_cannot(self, client, session):
        response = client.post("/profile/sessions/end")
        assert response.status_code in (302, 400)
        assert (
            session.scalars(
                select(AuditEvent).where(AuditEvent.event == "signed_out_everywhere")
            ).all()
            == []
        )


@pytest.mark.parametrize("how", ["own change", "reset by an administrator", "deactivated"])
def test_a_new_password_or_deactivation_ends_the_other_sessions(app, client, session, how):
    user = UserFactory(full_name="Vera Visser")
    admin = UserFactory(admin=True, organisation=user.organisation)
    other_device = app.test_client()
    login(other_device, user.email)
    if how == "own change":
        csrf = login(client, user.email)
        response = client.post(
            "/account/password",
            data={
                "current_password": PASSWORD,
                "new_password": "a-brand-new-passphrase",
                "confirm": "a-brand-new-passphrase",
                "csrf_token": csrf,
            },
        )
        assert response.status_code == 302
        assert client.get("/applicant").status_code == 200  # this session goes on
        expected = {SessionEnd.PASSWORD, None}
    elif how == "reset by an administrator":
        AccountAdministration(session).reset_password(user, "a-temporary-passphrase")
        expected = {SessionEnd.PASSWORD}
    else:
        AccountAdministration(session).update_user(
            admin,
            user,
            full_name=user.full_name,
            roles=user.roles,
            active=False,
            language=user.language,
            channel=user.channel_preference,
        )
        expected = {SessionEnd.DEACTIVATED}
    assert other_device.get("/applicant").status_code == 302
    assert {r.end_reason for r in records_of(session, user)} == expected
