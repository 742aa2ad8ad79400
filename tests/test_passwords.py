"""The password policy (issue 11, item 6): at least 12 characters, not easily guessed, not
made of the user's or the organisation's name; refused at its field wherever a password is
set: an administrator's new user and reset, one's own change, the command line."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from housing.accounts.models import User
from housing.accounts.passwords import policy_problems
from housing.demo import DEMO_PASSWORD
from tests.conftest import PASSWORD, login
from tests.factories import OrganisationFactory, UserFactory

TOO_SHORT = "Gebruik minstens 12 tekens."
GUESSABLE = "Dit wachtwoord is te makkelijk te raden"
OWN_EMAIL = "Gebruik uw e-mailadres niet in uw wachtwoord."
OWN_NAME = "Gebruik uw naam niet in uw wachtwoord."
ORGANISATION = "Gebruik de naam van uw organisatie niet in uw wachtwoord."


@pytest.fixture
def problems(app):
    def check(password: str, **context: str) -> list[str]:
        with app.test_request_context():  # in Dutch, the default
            return [str(p) for p in policy_problems(password, **context)]

    return check


@pytest.mark.parametrize(
    ("password", "context", "problem"),
    [
        ("aaaaaaaaaaaa", {}, "te makkelijk te raden"),
        ("password1234", {}, "te makkelijk te raden"),
        ("qwertyuiop12", {}, "te makkelijk te raden"),
        ("Wachtwoord2026!", {}, "te makkelijk te raden"),  # Dutch, which zxcvbn alone lacks
        ("Burgemeester01", {}, "te makkelijk te raden"),
        ("duinwijk2026", {"organisation": "Gemeente Duinwijk"}, "naam van uw organisatie"),
        ("rivierstad-is-prachtig", {"organisation": "Gemeente Rivierstad"}, "organisatie"),
        ("vera-visser-wachtwoord", {"full_name": "Vera Visser"}, "uw naam"),
        ("x-bakker-x-bakker", {"email": "j.bakker@duinwijk.example"}, "uw e-mailadres"),
        ("short", {}, "minstens 12"),
        ("a" * 129, {}, "hoogstens 128"),
    ],
)
def test_each_weak_password_is_refused_with_its_reason(problems, password, context, problem):
    found = problems(password, **context)
    assert found and problem in found[0], found


@pytest.mark.parametrize(
    "password",
    [
        "correct-horse-battery-staple",
        "fietsen langs de dijk in mei",
        "Mijn kat slaapt op het dak!",
        # The demo's, for each demo user (README): it must keep passing.
        DEMO_PASSWORD,
    ],
)
def test_good_passphrases_pass(problems, password):
    assert (
        problems(
            password,
            email="beheerder@duinwijk.example",
            full_name="Beheerder Duinwijk",
            organisation="Gemeente Duinwijk",
        )
        == []
    )


def test_short_name_parts_are_not_held_against_a_password(problems):
    # "Li" or "de" in a password says nothing about the person.
    assert problems("de kat van li slaapt", full_name="Li de Wit") == []


def field_error(html: str, field_id: str) -> str:
    found = re.search(
        rf'<div class="utrecht-form-field-error-message" id="{field_id}-error">([^<]*)</div>', html
    )
    assert found, f"no error at field {field_id}"
    return found.group(1)


@pytest.fixture
def duinwijk(session):
    return OrganisationFactory(name="Gemeente Duinwijk")


class TestWhereAPasswordIsSet:
    def test_an_administrators_new_user(self, client, session, duinwijk):
        admin = UserFactory(admin=True, organisation=duinwijk)
        csrf = login(client, admin.email)
        before = session.scalar(select(func.count()).select_from(User))
        for password, message in (
            ("duinwijk2026", ORGANISATION),
            ("aaaaaaaaaaaa", GUESSABLE),
            ("jan-de-boer-2026", OWN_NAME),
        ):
            response = client.post(
                "/admin/users/new",
                data={
                    "email": "nieuw@duinwijk.example",
                    "full_name": "Jan de Boer",
                    "roles": ["assessor"],
                    "language": "nl",
                    "channel": "post",
                    "password": password,
                    "csrf_token": csrf,
                },
            )
            assert response.status_code == 200
            assert str(escape(message)) in field_error(response.text, "password")
        assert session.scalar(select(func.count()).select_from(User)) == before

    def test_an_administrators_reset(self, client, session, duinwijk):
        admin = UserFactory(admin=True, organisation=duinwijk)
        colleague = UserFactory(organisation=duinwijk, full_name="Piet Jansen")
        csrf = login(client, admin.email)
        for password, message in (("Duinwijk-2026!", ORGANISATION), ("pietje-jansen!", OWN_NAME)):
            response = client.post(
                f"/admin/users/{colleague.id}/password",
                data={"password": password, "csrf_token": csrf},
            )
            assert response.status_code == 200
            assert str(escape(message)) in field_error(response.text, "password")
        session.remove()
        assert session.get(User, colleague.id).password_changed_at is None

    def test_ones_own_change(self, client, session, duinwijk):
        user = UserFactory(organisation=duinwijk, email="m.devries@duinwijk.example")
        csrf = login(client, user.email)
        for password, message in (
            ("welkom123456", GUESSABLE),
            ("devries-devries-devries", OWN_EMAIL),
            ("short", TOO_SHORT),
        ):
            response = client.post(
                "/account/password",
                data={
                    "current_password": PASSWORD,
                    "new_password": password,
                    "confirm": password,
                    "csrf_token": csrf,
                },
            )
            assert response.status_code == 200
            assert str(escape(message)) in field_error(response.text, "new_password")
        session.remove()
        assert session.get(User, user.id).password_changed_at is None

    def test_the_command_line(self, app, session, duinwijk):
        runner = app.test_cli_runner()
        result = runner.invoke(
            args=[
                "users",
                "add",
                "cli@duinwijk.example",
                "--name",
                "Cli Gebruiker",
                "--organisation",
                "Gemeente Duinwijk",
                "--role",
                "admin",
            ],
            input="duinwijk2026\nduinwijk2026\n",
        )
        assert result.exit_code == 1
        assert "password: Gebruik de naam van uw organisatie niet" in result.output
        assert session.scalars(select(User).where(User.email == "cli@duinwijk.example")).all() == []


def test_nothing_asks_for_a_periodic_change(client, session):
    # No expiry: a password set long ago still signs in, and no page asks to change it.
    user = UserFactory()
    response = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": login_token(client)},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/applicant"


def login_token(client) -> str:
    from tests.conftest import csrf_from

    return csrf_from(client.get("/login").text)


@pytest.mark.parametrize("password", ["nul\x00in-a-long-password", "x" * 10_000, "   " * 5])
def test_odd_new_passwords_are_answered_with_a_message_never_a_500(client, session, password):
    user = UserFactory(full_name="Vera Visser")
    csrf = login(client, user.email)
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": password,
            "confirm": password,
            "csrf_token": csrf,
        },
    )
    if response.status_code == 400:  # refused at the door (housing.inputs)
        assert "Het verzoek bevat een stuurteken (zoals NUL)." in response.text
    else:
        assert response.status_code == 200, response.text
        assert 'id="new_password-error"' in response.text
