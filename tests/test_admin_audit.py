"""What administrators and operators do to accounts is audited: one link in the
organisation's chain per action, in the action's own transaction, whose payload names ids
and roles but never a password, a token's secret or its hash."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from housing.accounts.models import ApiToken, User
from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail, payload_digest
from housing.db import db
from tests.conftest import login
from tests.factories import UserFactory

NEW_PASSWORD = "a-long-enough-password"


def links_of(organisation_id: int) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.organisation_id == organisation_id)
            .order_by(AuditEvent.sequence)
        )
    )


class Chain:
    """The links an action added to one organisation's chain."""

    def __init__(self, organisation_id: int) -> None:
        self.organisation_id = organisation_id
        self.before = len(links_of(organisation_id))

    def added(self) -> list[AuditEvent]:
        return links_of(self.organisation_id)[self.before :]

    def one(self, event: str, actor_id: int | None, payload: dict[str, object]) -> AuditEvent:
        """Exactly one link was added, this one, with exactly this payload."""
        added = self.added()
        assert [(link.event, link.actor_id) for link in added] == [(event, actor_id)]
        # Only the payload's hash is stored: equal hashes mean this payload and no more.
        assert added[0].payload_hash == payload_digest(payload)
        assert AuditTrail(db.session).verify(self.organisation_id).intact
        return added[0]


@pytest.fixture
def admin(session):
    return UserFactory(admin=True)


@pytest.fixture
def csrf(client, admin):
    return login(client, admin.email)


@pytest.fixture
def runner(app, session):
    return app.test_cli_runner()


class TestFromTheUI:
    def test_creating_a_user(self, client, csrf, admin, session):
        chain = Chain(admin.organisation_id)
        response = client.post(
            "/admin/users/new",
            data={
                "email": "nieuw@test.example",
                "full_name": "Nieuwe Collega",
                "roles": ["assessor", "decider"],
                "language": "nl",
                "channel": "post",
                "password": NEW_PASSWORD,
                "csrf_token": csrf,
            },
        )
        assert response.status_code == 302
        created = session.scalars(select(User).where(User.email == "nieuw@test.example")).one()
        chain.one(
            "user_created",
            admin.id,
            {"user_id": created.id, "roles": ["assessor", "decider"], "active": True},
        )

    def test_changing_roles_and_access(self, client, csrf, admin, session):
        colleague = UserFactory(organisation_id=admin.organisation_id, assessor=True)
        chain = Chain(admin.organisation_id)
        response = client.post(
            f"/admin/users/{colleague.id}",
            data={
                "full_name": colleague.full_name,
                "roles": ["decider"],
                "language": "nl",
                "channel": "post",
                "csrf_token": csrf,
            },
        )
        assert response.status_code == 302
        chain.one(
            "user_updated",
            admin.id,
            {
                "user_id": colleague.id,
                "roles": {"added": ["decider"], "removed": ["assessor"]},
                "active": False,
            },
        )

    def test_a_change_of_name_only_is_not_an_admin_action_to_audit(self, client, csrf, admin):
        colleague = UserFactory(organisation_id=admin.organisation_id, assessor=True)
        chain = Chain(admin.organisation_id)
        response = client.post(
            f"/admin/users/{colleague.id}",
            data={
                "full_name": "Andere Naam",
                "roles": ["assessor"],
                "active": "y",
                "language": "nl",
                "channel": "post",
                "csrf_token": csrf,
            },
        )
        assert response.status_code == 302
        assert chain.added() == []

    def test_resetting_a_password(self, client, csrf, admin):
        colleague = UserFactory(organisation_id=admin.organisation_id)
        chain = Chain(admin.organisation_id)
        response = client.post(
            f"/admin/users/{colleague.id}/password",
            data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf},
        )
        assert response.status_code == 302, response.text
        chain.one("password_reset", admin.id, {"user_id": colleague.id})

    def test_a_refused_reset_writes_no_link(self, client, csrf, admin):
        colleague = UserFactory(organisation_id=admin.organisation_id)
        chain = Chain(admin.organisation_id)
        client.post(
            f"/admin/users/{colleague.id}/password",
            data={"password": "kort", "confirm": "kort", "csrf_token": csrf},
        )
        assert chain.added() == []

    def test_issuing_and_revoking_ones_own_token(self, client, session):
        user = UserFactory()
        csrf = login(client, user.email)
        chain = Chain(user.organisation_id)
        page = client.post("/profile/tokens", data={"name": "zaaksysteem", "csrf_token": csrf})
        secret = re.search(r"(vw_[A-Za-z0-9_-]{20,})", page.text).group(1)
        token = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
        chain.one(
            "api_token_issued",
            user.id,
            {"token_id": token.id, "user_id": user.id, "name": "zaaksysteem", "expires_at": None},
        )
        assert secret.startswith("vw_")
        chain = Chain(user.organisation_id)
        revoked = client.post(f"/profile/tokens/{token.id}/revoke", data={"csrf_token": csrf})
        assert revoked.status_code == 302
        chain.one("api_token_revoked", user.id, {"token_id": token.id, "user_id": user.id})
        # Revoking it again changes nothing, so writes nothing.
        chain = Chain(user.organisation_id)
        client.post(f"/profile/tokens/{token.id}/revoke", data={"csrf_token": csrf})
        assert chain.added() == []


class TestFromTheCommandLine:
    def test_users_add(self, runner, session, admin):
        chain = Chain(admin.organisation_id)
        result = runner.invoke(
            args=[
                "users",
                "add",
                "cli@test.example",
                "--name",
                "Cli Gebruiker",
                "--organisation",
                admin.organisation.name,
                "--role",
                "finance",
            ],
            input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
        )
        assert result.exit_code == 0, result.output
        created = session.scalars(select(User).where(User.email == "cli@test.example")).one()
        chain.one(
            "user_created", None, {"user_id": created.id, "roles": ["finance"], "active": True}
        )

    def test_a_refused_users_add_writes_nothing(self, runner, admin):
        chain = Chain(admin.organisation_id)
        result = runner.invoke(
            args=[
                "users",
                "add",
                admin.email,  # taken
                "--name",
                "Dubbel",
                "--organisation",
                admin.organisation.name,
                "--role",
                "finance",
            ],
            input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
        )
        assert result.exit_code == 1
        assert chain.added() == []

    def test_tokens_issue_and_revoke(self, runner, session):
        user = UserFactory(email="api@test.example")
        chain = Chain(user.organisation_id)
        issued = runner.invoke(args=["tokens", "issue", user.email, "--name", "koppeling"])
        assert issued.exit_code == 0, issued.output
        secret = issued.output.strip()
        token = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
        chain.one(
            "api_token_issued",
            None,
            {"token_id": token.id, "user_id": user.id, "name": "koppeling", "expires_at": None},
        )
        chain = Chain(user.organisation_id)
        revoked = runner.invoke(args=["tokens", "revoke", secret[:12]])
        assert revoked.exit_code == 0, revoked.output
        chain.one("api_token_revoked", None, {"token_id": token.id, "user_id": user.id})
