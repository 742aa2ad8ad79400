"""Administrators manage users, the organisation and office holders; bad input gets a
clear form message and writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from housing.accounts.models import User
from housing.organisations.models import OfficeHolder, Organisation
from tests.conftest import PASSWORD, login
from tests.factories import OfficeHolderFactory, UserFactory


@pytest.fixture
def admin(session):
    return UserFactory(admin=True)


@pytest.fixture
def csrf(client, admin):
    return login(client, admin.email)


def user_count(session) -> int:
    return session.scalar(select(func.count()).select_from(User))


NEW_USER = {
    "email": "nieuw@test.example",
    "full_name": "Nieuwe Collega",
    "roles": ["assessor"],
    "language": "nl",
    "channel": "post",
    "password": "a-long-enough-password",
}


class TestNewUser:
    def test_added_with_roles(self, client, csrf, session, admin):
        response = client.post("/admin/users/new", data={**NEW_USER, "csrf_token": csrf})
        assert response.status_code == 302
        created = session.scalars(select(User).where(User.email == "nieuw@test.example")).one()
        assert created.roles == {"assessor"}
        assert created.organisation_id == admin.organisation_id
        assert created.password_hash.startswith("$argon2id$")

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"email": "not-an-address"}, "Vul een geldig e-mailadres in."),
            ({"email": ""}, "Dit veld is verplicht."),
            ({"password": "short"}, "Gebruik minstens 12 tekens."),
            ({"password": "nieuw-wachtwoord-123"}, "Gebruik uw e-mailadres niet"),
            ({"roles": []}, "Kies minstens één rol."),
            ({"roles": ["emperor"]}, "is een ongeldige keuze"),
            ({"full_name": ""}, "Dit veld is verplicht."),
        ],
    )
    def test_bad_input_is_explained_and_nothing_saved(self, client, csrf, session, change, message):
        before = user_count(session)
        response = client.post("/admin/users/new", data={**NEW_USER, **change, "csrf_token": csrf})
        assert response.status_code == 200
        assert message in response.text
        assert user_count(session) == before

    def test_duplicate_e_mail(self, client, csrf, session):
        UserFactory(email="nieuw@test.example")
        response = client.post("/admin/users/new", data={**NEW_USER, "csrf_token": csrf})
        assert "Er bestaat al een account met dit e-mailadres." in response.text


class TestEditUser:
    def test_roles_and_deactivation(self, client, csrf, session, admin):
        colleague = UserFactory(organisation=admin.organisation)
        response = client.post(
            f"/admin/users/{colleague.id}",
            data={
                "full_name": "Andere Naam",
                "roles": ["decider", "assessor"],
                "language": "en",
                "channel": "electronic",
                "csrf_token": csrf,
            },
        )
        assert response.status_code == 302
        stored = session.get(User, colleague.id)
        session.refresh(stored)
        assert stored.roles == {"decider", "assessor"}
        assert stored.active is False  # unchecked box
        assert stored.full_name == "Andere Naam"

    def test_an_admin_cannot_lock_themselves_out(self, client, csrf, session, admin):
        response = client.post(
            f"/admin/users/{admin.id}",
            data={
                "full_name": admin.full_name,
                "roles": ["assessor"],
                "language": "nl",
                "channel": "post",
                "active": "y",
                "csrf_token": csrf,
            },
        )
        assert response.status_code == 200
        assert "U kunt uw eigen beheerdersrol niet afnemen." in response.text
        assert session.get(User, admin.id).roles == {"admin"}

    def test_password_reset_ends_the_users_sessions(self, app, client, csrf, session, admin):
        # A fixed name: a random one might be a word of the new password, which is refused.
        colleague = UserFactory(organisation=admin.organisation, full_name="Vera Visser")
        their_browser = app.test_client()
        login(their_browser, colleague.email)
        too_short = client.post(
            f"/admin/users/{colleague.id}/password", data={"password": "x", "csrf_token": csrf}
        )
        assert "Gebruik minstens 12 tekens." in too_short.text
        done = client.post(
            f"/admin/users/{colleague.id}/password",
            data={"password": "temporary-password-1", "csrf_token": csrf},
        )
        assert done.status_code == 302
        assert their_browser.get("/applicant").status_code == 302
        login(their_browser, colleague.email, "temporary-password-1")
        assert PASSWORD != "temporary-password-1"


class TestOrganisation:
    def test_iban_with_bad_check_digits_is_refused_at_entry(self, client, csrf, session, admin):
        org = admin.organisation
        response = client.post(
            f"/admin/organisations/{org.id}",
            data={"name": org.name, "iban": "NL91ABNA0417164301", "csrf_token": csrf},
        )
        assert response.status_code == 200
        assert "De controlecijfers van dit IBAN kloppen niet" in response.text
        assert session.get(Organisation, org.id).iban != "NL91ABNA0417164301"

    def test_valid_iban_is_stored_compact_with_derived_bic(self, client, csrf, session, admin):
        org_id = admin.organisation.id
        response = client.post(
            f"/admin/organisations/{org_id}",
            data={"name": "Gemeente Nieuw", "iban": "nl91 abna 0417 1643 00", "csrf_token": csrf},
        )
        assert response.status_code == 302
        stored = session.get(Organisation, org_id)
        session.refresh(stored)
        assert (stored.iban, stored.bic, stored.name) == (
            "NL91ABNA0417164300",
            "ABNANL2A",
            "Gemeente Nieuw",
        )

    def test_a_bad_bic_and_a_taken_name(self, client, csrf, session, admin):
        other = UserFactory().organisation
        response = client.post(
            f"/admin/organisations/{admin.organisation.id}",
            data={
                "name": other.name,
                "iban": "NL91ABNA0417164300",
                "bic": "NOPE",
                "csrf_token": csrf,
            },
        )
        assert "Een andere organisatie heeft al deze naam." in response.text


HOLDER = {
    "full_name": "Mr. T. Tester",
    "office_type": "burgemeester",
    "term_start": "2024-01-01",
    "term_end": "",
    "appointment_certain_on": "",
    "user_id": "0",
}


class TestOfficeHolders:
    def test_added(self, client, csrf, session, admin):
        response = client.post("/admin/office-holders/new", data={**HOLDER, "csrf_token": csrf})
        assert response.status_code == 302
        holder = session.scalars(
            select(OfficeHolder).where(OfficeHolder.full_name == "Mr. T. Tester")
        ).one()
        assert holder.organisation_id == admin.organisation_id
        assert holder.user_id is None

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"term_start": "31-12-24"}, "Vul een datum in als jjjj-mm-dd."),  # which century?
            ({"term_end": "2023-01-01"}, "De ambtstermijn kan niet eindigen voordat hij begint."),
            ({"appointment_certain_on": "2024-02-01"}, "op of vóór het begin"),
            ({"office_type": "keizer"}, "Ongeldige keuze."),
            ({"user_id": "abc"}, "Ongeldige keuze: kon niet omgezet worden."),
        ],
    )
    def test_bad_input(self, client, csrf, session, change, message):
        before = session.scalar(select(func.count()).select_from(OfficeHolder))
        response = client.post(
            "/admin/office-holders/new", data={**HOLDER, **change, "csrf_token": csrf}
        )
        assert response.status_code == 200
        assert message in response.text
        assert session.scalar(select(func.count()).select_from(OfficeHolder)) == before

    def test_linking_a_user_of_another_organisation_is_refused(self, client, csrf, session):
        stranger = UserFactory()
        response = client.post(
            "/admin/office-holders/new",
            data={**HOLDER, "user_id": str(stranger.id), "csrf_token": csrf},
        )
        assert response.status_code == 200
        assert "Ongeldige keuze." in response.text

    def test_a_user_is_linked_to_one_office_holder_at_most(self, client, csrf, session, admin):
        applicant = UserFactory(organisation=admin.organisation)
        OfficeHolderFactory(organisation=admin.organisation, user=applicant)
        response = client.post(
            "/admin/office-holders/new",
            data={**HOLDER, "user_id": str(applicant.id), "csrf_token": csrf},
        )
        assert "Deze gebruiker is al aan een ambtsdrager gekoppeld." in response.text

    def test_edit(self, client, csrf, session, admin):
        holder = OfficeHolderFactory(organisation=admin.organisation)
        response = client.post(
            f"/admin/office-holders/{holder.id}",
            data={**HOLDER, "term_end": "2028-01-01", "csrf_token": csrf},
        )
        assert response.status_code == 302
        stored = session.get(OfficeHolder, holder.id)
        session.refresh(stored)
        assert str(stored.term_end) == "2028-01-01"
        assert client.get(f"/admin/office-holders/{holder.id}").status_code == 200
