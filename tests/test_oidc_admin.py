"""Administrators set up their organisation's sign-in providers, in the UI (with step-up)
and the API: the secret encrypted at rest and never shown, the mapping checked, every
change audited, another organisation's providers out of reach."""

from __future__ import annotations

import datetime as dt

import time_machine
from sqlalchemy import select, text

from housing.audit.models import AuditEvent
from housing.clock import utcnow
from housing.organisations.models import ProviderAudience, SignInProvider
from housing.organisations.sso import mapped_roles, parse_role_mapping
from housing.roles import Role
from tests.builders.api import assert_problem, bearer
from tests.conftest import login
from tests.factories import OrganisationFactory, UserFactory

SECRET = "s3cr3t-of-the-provider-0123456789"


def form(csrf: str, **changes: str) -> dict[str, str]:
    data = {
        "csrf_token": csrf,
        "name": "Entree",
        "issuer": "https://login.example.nl",
        "client_id": "veilig-wonen",
        "client_secret": SECRET,
        "scopes": "openid email profile groups",
        "audience": "staff",
        "groups_claim": "groups",
        "role_mapping": "vw-beoordel* = assessor\nvw-admins = admin",
        "sync_roles": "y",
        "trust_provider_mfa": "y",
        "active": "y",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def sign_in_events(session, organisation_id: int) -> list[str]:
    return list(
        session.scalars(
            select(AuditEvent.event)
            .where(
                AuditEvent.organisation_id == organisation_id,
                AuditEvent.event.like("sign_in_provider_%"),
            )
            .order_by(AuditEvent.sequence)
        )
    )


def test_the_mapping_reads_glob_patterns_onto_roles():
    rules = parse_role_mapping("# staff\nvw-beoordel* = assessor\n\nteam-? = decider\n")
    assert mapped_roles(rules, ["vw-beoordelaars"]) == {Role.ASSESSOR}
    assert mapped_roles(rules, ["team-a", "kantine"]) == {Role.DECIDER}
    assert mapped_roles(rules, ["team-ab", "VW-beoordelaars"]) == frozenset()


def test_an_admin_adds_a_provider_whose_secret_is_encrypted_and_never_shown(client, session):
    admin = UserFactory(admin=True)
    csrf = login(client, admin.email)
    assert "Inlogdiensten" in client.get("/admin").text
    answer = client.post("/admin/sign-in-providers/new", data=form(csrf))
    assert answer.status_code == 302, answer.text
    provider = session.scalars(select(SignInProvider)).one()
    assert provider.organisation_id == admin.organisation_id
    assert provider.client_secret == SECRET
    assert provider.audience is ProviderAudience.STAFF and provider.trust_provider_mfa
    stored = session.execute(
        text("SELECT client_secret FROM sign_in_provider WHERE id = :id"), {"id": provider.id}
    ).scalar_one()
    assert SECRET not in stored
    page = client.get(f"/admin/sign-in-providers/{provider.id}").text
    assert SECRET not in page and "Entree" in page
    assert SECRET not in client.get("/admin/sign-in-providers").text
    assert sign_in_events(session, admin.organisation_id) == ["sign_in_provider_added"]


def test_an_empty_secret_on_edit_keeps_the_stored_one(client, session):
    admin = UserFactory(admin=True)
    csrf = login(client, admin.email)
    client.post("/admin/sign-in-providers/new", data=form(csrf))
    provider = session.scalars(select(SignInProvider)).one()
    answer = client.post(
        f"/admin/sign-in-providers/{provider.id}",
        data=form(csrf, client_secret="", role_mapping="* = applicant", audience="applicants"),
    )
    assert answer.status_code == 302, answer.text
    session.expire_all()
    provider = session.get(SignInProvider, provider.id)
    assert provider.client_secret == SECRET
    assert provider.role_mapping == "* = applicant"
    assert sign_in_events(session, admin.organisation_id) == [
        "sign_in_provider_added",
        "sign_in_provider_changed",
    ]


def test_a_wrong_mapping_or_issuer_is_a_message_at_its_field_and_nothing_is_saved(client, session):
    admin = UserFactory(admin=True)
    csrf = login(client, admin.email)
    bad_mapping = client.post(
        "/admin/sign-in-providers/new", data=form(csrf, role_mapping="vw-* = koning")
    )
    assert bad_mapping.status_code == 422
    assert "Regel 1 is niet" in bad_mapping.text
    bad_issuer = client.post("/admin/sign-in-providers/new", data=form(csrf, issuer="login"))
    assert bad_issuer.status_code == 422
    no_secret = client.post("/admin/sign-in-providers/new", data=form(csrf, client_secret=""))
    assert no_secret.status_code == 422
    no_openid = client.post("/admin/sign-in-providers/new", data=form(csrf, scopes="email"))
    assert no_openid.status_code == 422
    assert session.scalars(select(SignInProvider)).all() == []


def test_changing_a_provider_needs_a_recent_authentication(client, session):
    admin = UserFactory(admin=True)
    csrf = login(client, admin.email)
    # Twenty minutes on (the session itself lasts, idle for less than 30).
    with time_machine.travel(utcnow() + dt.timedelta(minutes=20), tick=True):
        answer = client.post("/admin/sign-in-providers/new", data=form(csrf))
    assert answer.status_code == 401
    assert "Bevestig met uw code" in answer.text
    assert session.scalars(select(SignInProvider)).all() == []


def test_only_administrators_of_the_organisation_reach_its_providers(client, session):
    admin = UserFactory(admin=True)
    other = OrganisationFactory()
    theirs = SignInProvider(
        organisation_id=other.id,
        name="Hun dienst",
        issuer="https://login.example.org",
        client_id="x",
        client_secret=SECRET,
    )
    session.add(theirs)
    session.flush()
    theirs_id = theirs.id
    csrf = login(client, admin.email)
    assert client.get(f"/admin/sign-in-providers/{theirs_id}").status_code == 404
    changed = client.post(f"/admin/sign-in-providers/{theirs_id}", data=form(csrf))
    assert changed.status_code == 404
    assert "Hun dienst" not in client.get("/admin/sign-in-providers").text

    assessor = UserFactory(assessor=True, organisation_id=admin.organisation_id)
    other_client = client.application.test_client()
    login(other_client, assessor.email)
    assert other_client.get("/admin/sign-in-providers").status_code == 403


def test_the_api_adds_lists_and_changes_providers_without_showing_the_secret(client, session):
    admin = UserFactory(admin=True)
    headers = bearer(session, admin)
    body = {
        "name": "Entree",
        "issuer": "https://login.example.nl",
        "client": "veilig-wonen",
        "client_secret": SECRET,
        "audience": "staff",
        "role_mapping": "vw-* = assessor",
    }
    made = client.post("/api/v1/sign-in-providers", json=body, headers=headers)
    assert made.status_code == 201, made.text
    assert "client_secret" not in made.get_json()
    assert made.get_json()["client"] == "veilig-wonen"
    provider_id = made.get_json()["id"]
    listed = client.get("/api/v1/sign-in-providers", headers=headers).get_json()
    assert [p["name"] for p in listed] == ["Entree"]
    changed = client.patch(
        f"/api/v1/sign-in-providers/{provider_id}",
        json={"sync_roles": False, "client_secret": "a-new-secret-0123456789"},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.get_json()["sync_roles"] is False
    provider = session.get(SignInProvider, provider_id)
    assert provider is not None and provider.client_secret == "a-new-secret-0123456789"
    assert sign_in_events(session, admin.organisation_id) == [
        "sign_in_provider_added",
        "sign_in_provider_changed",
    ]

    bad = client.post(
        "/api/v1/sign-in-providers", json={**body, "role_mapping": "x"}, headers=headers
    )
    assert_problem(bad, 422)


def test_the_api_refuses_other_roles_and_other_organisations(client, session):
    admin = UserFactory(admin=True)
    assessor = UserFactory(assessor=True, organisation_id=admin.organisation_id)
    other = OrganisationFactory()
    theirs = SignInProvider(
        organisation_id=other.id,
        name="Hun dienst",
        issuer="https://login.example.org",
        client_id="x",
        client_secret=SECRET,
    )
    session.add(theirs)
    session.flush()
    theirs_id = theirs.id
    headers = bearer(session, admin)
    assert_problem(client.get(f"/api/v1/sign-in-providers/{theirs_id}", headers=headers), 404)
    assert_problem(
        client.patch(
            f"/api/v1/sign-in-providers/{theirs_id}", json={"active": False}, headers=headers
        ),
        404,
    )
    assert_problem(client.get("/api/v1/sign-in-providers", headers=bearer(session, assessor)), 403)
