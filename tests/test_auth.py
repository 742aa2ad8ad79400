"""Logging in and out, rate limits, CSRF, password change, language choice."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from housing.accounts.models import User
from housing.db import db
from housing.roles import STAFF_ROLES, Role
from tests.conftest import PASSWORD, csrf_from, login
from tests.factories import UserFactory
from tests.second_factor import unused_code

GENERIC_FAILURE = "Het e-mailadres of het wachtwoord is niet juist."
NAME = "Vera Visser"


def post_login(client, email, password):
    token = csrf_from(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.mark.parametrize(
    ("role", "start"),
    [
        (Role.APPLICANT, "/applicant"),
        (Role.ASSESSOR, "/assessor"),
        (Role.DECIDER, "/decider"),
        (Role.FINANCE, "/finance"),
        (Role.ADMIN, "/admin"),
        (Role.AUDITOR, "/auditor"),
    ],
)
def test_each_role_lands_on_its_own_start_page(client, role, start):
    user = UserFactory(roles={role})
    response = post_login(client, user.email, PASSWORD)
    assert response.status_code == 302
    if role in STAFF_ROLES:
        # Staff pass their second factor first (tests/test_second_factor.py), then land.
        assert response.headers["Location"] == "/login/code"
        response = post_code(client, unused_code(db.session, user.email))
    assert response.headers["Location"] == start
    assert client.get(start).status_code == 200


def post_code(client, code):
    token = csrf_from(client.get("/login/code").text)
    return client.post("/login/code", data={"code": code, "csrf_token": token})


def test_e_mail_is_matched_case_insensitively(client, session):
    user = UserFactory(email="mixed@test.example")
    assert post_login(client, "  MIXED@test.example ", PASSWORD).status_code == 302
    assert client.get("/").headers["Location"] == "/applicant"
    assert session.get(User, user.id).last_login_at is not None


@pytest.mark.parametrize("case", ["wrong password", "unknown account", "inactive account"])
def test_failed_logins_say_the_same_thing(client, case):
    user = UserFactory(inactive=(case == "inactive account"))
    email = "nobody@test.example" if case == "unknown account" else user.email
    password = "wrong-password-123" if case == "wrong password" else PASSWORD
    response = post_login(client, email, password)
    assert response.status_code == 200
    assert GENERIC_FAILURE in response.text
    assert client.get("/admin").status_code == 302  # still anonymous


def test_empty_login_form_shows_field_errors(client):
    response = post_login(client, "", "")
    assert response.status_code == 200
    assert "Dit veld is verplicht." in response.text
    assert 'aria-invalid="true"' in response.text


def test_a_post_without_csrf_token_is_refused(client):
    user = UserFactory()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "Het formulier is verlopen" in response.text


def test_login_is_rate_limited_per_account_and_address(app, client):
    user = UserFactory()
    for _ in range(5):
        assert post_login(client, user.email, "wrong-password-123").status_code == 200
    blocked = post_login(client, user.email, PASSWORD)
    assert blocked.status_code == 429
    assert "Te veel pogingen" in blocked.text
    # Another account from the same address is not blocked by that...
    other = UserFactory()
    assert post_login(client, other.email, PASSWORD).status_code == 302
    # ...nor is the owner from another address: no lock-out (tests/test_sign_in_throttle.py).
    owner = app.test_client()
    owner.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert post_login(owner, user.email, PASSWORD).status_code == 302


def test_login_is_rate_limited_per_address(client):
    for n in range(20):
        assert post_login(client, f"guess{n}@test.example", "wrong-password-123").status_code == 200
    user = UserFactory()
    assert post_login(client, user.email, PASSWORD).status_code == 429


def test_successful_logins_do_not_use_up_the_limit(client):
    user = UserFactory()
    for _ in range(7):
        assert post_login(client, user.email, PASSWORD).status_code == 302
        token = csrf_from(client.get("/profile").text)
        client.post("/logout", data={"csrf_token": token})


def test_next_is_followed_only_to_a_local_path(client):
    user = UserFactory(admin=True)
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login?next=https://evil.example/x",
        data={"email": user.email, "password": PASSWORD, "csrf_token": token},
    )
    # An administrator's second step comes between; `next` is kept through it.
    assert response.headers["Location"] == "/login/code"
    response = post_code(client, unused_code(db.session, user.email))
    assert response.headers["Location"] == "/admin"
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/profile").text)})
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login?next=/admin/users",
        data={"email": user.email, "password": PASSWORD, "csrf_token": token},
    )
    response = post_code(client, unused_code(db.session, user.email))
    assert response.headers["Location"] == "/admin/users"


def test_logout_needs_a_post_with_csrf(client):
    user = UserFactory()
    token = login(client, user.email)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/applicant").status_code == 302


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


class TestPasswordChange:
    # A fixed name: the policy refuses a password holding one's name, and a random one
    # might be a word of the passwords below.
    def change(self, client, token, current, new, confirm=None):
        return client.post(
            "/account/password",
            data={
                "current_password": current,
                "new_password": new,
                "confirm": new if confirm is None else confirm,
                "csrf_token": token,
            },
        )

    def test_wrong_current_password(self, client):
        token = login(client, UserFactory(full_name=NAME).email)
        response = self.change(client, token, "not-my-password", "a-brand-new-password")
        assert response.status_code == 200
        assert "Het huidige wachtwoord is niet juist." in response.text

    def test_too_short(self, client):
        token = login(client, UserFactory(full_name=NAME).email)
        response = self.change(client, token, PASSWORD, "short")
        assert "Gebruik minstens 12 tekens." in response.text

    def test_repeat_differs(self, client):
        token = login(client, UserFactory(full_name=NAME).email)
        response = self.change(client, token, PASSWORD, "a-brand-new-password", "another-one-123")
        assert "De wachtwoorden verschillen." in response.text

    def test_success_ends_other_sessions(self, app, client, session):
        user = UserFactory(full_name=NAME)
        other_device = app.test_client()
        login(other_device, user.email)
        token = login(client, user.email)
        response = self.change(client, token, PASSWORD, "a-brand-new-password")
        assert response.status_code == 302
        assert client.get("/applicant").status_code == 200  # this session goes on
        assert other_device.get("/applicant").status_code == 302  # the other one ended
        fresh = app.test_client()
        assert post_login(fresh, user.email, PASSWORD).status_code == 200
        assert post_login(fresh, user.email, "a-brand-new-password").status_code == 302


def test_dutch_by_default_and_english_on_request(client, session):
    page = client.get("/login")
    assert '<html lang="nl"' in page.text and "Inloggen" in page.text
    token = csrf_from(page.text)
    response = client.post(
        "/language", data={"language": "en", "next": "/login", "csrf_token": token}
    )
    assert response.headers["Location"] == "/login"
    page = client.get("/login")
    assert '<html lang="en"' in page.text and "Log in" in page.text


def test_a_logged_in_users_language_choice_is_saved(client, session):
    user = UserFactory()
    token = login(client, user.email)
    client.post("/language", data={"language": "en", "csrf_token": token})
    stored = session.scalars(select(User).where(User.id == user.id)).one()
    assert stored.language == "en"
    assert "My profile" in client.get("/profile").text


def test_an_unknown_language_is_refused_with_a_message(client, session):
    token = csrf_from(client.get("/login").text)
    response = client.post("/language", data={"language": "fr", "csrf_token": token})
    assert response.status_code == 302
    assert "Kies Nederlands of English." in client.get("/login").text
