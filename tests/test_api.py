"""The JSON API: bearer tokens, problem+json errors, scoping, OpenAPI 3.1."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select, update

from housing.accounts.models import ApiToken
from housing.accounts.services import TOKEN_USE_RESOLUTION
from housing.organisations.accounts import AccountAdministration
from housing.organisations.models import OfficeHolder, Organisation
from housing.roles import Role
from tests.builders.api import assert_problem, bearer
from tests.factories import OfficeHolderFactory, UserFactory


@pytest.fixture
def admin(session):
    return UserFactory(admin=True)


@pytest.fixture
def admin_auth(session, admin):
    return bearer(session, admin)


class TestAuthentication:
    def test_me(self, client, session):
        user = UserFactory(roles={Role.ASSESSOR, Role.DECIDER})
        response = client.get("/api/v1/me", headers=bearer(session, user))
        assert response.status_code == 200
        body = response.get_json()
        assert body["email"] == user.email
        assert body["roles"] == ["assessor", "decider"]
        assert body["organisation"]["id"] == user.organisation_id

    @pytest.mark.parametrize(
        "header",
        [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer vw_not-a-real-token", "Bearer nonsense"],
    )
    def test_missing_or_unknown_token_is_401(self, client, session, header):
        headers = {"Authorization": header} if header else {}
        body = assert_problem(client.get("/api/v1/me", headers=headers), 401)
        assert "token" in body["detail"].lower()

    def test_the_challenge_header_is_sent(self, client, session):
        response = client.get("/api/v1/me")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    def test_revoked_expired_and_inactive(self, client, session):
        user = UserFactory()
        token, secret = AccountAdministration(session).issue_token(user, "to revoke")
        token.revoked_at = dt.datetime.now(dt.UTC)
        session.commit()
        assert_problem(client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}), 401)
        expired = bearer(session, user, valid_for=dt.timedelta(seconds=-1))
        assert_problem(client.get("/api/v1/me", headers=expired), 401)
        inactive = UserFactory(inactive=True)
        assert_problem(client.get("/api/v1/me", headers=bearer(session, inactive)), 401)

    def test_tokens_are_stored_hashed_and_record_use(self, client, session):
        user = UserFactory()
        token, secret = AccountAdministration(session).issue_token(user, "hashed")
        session.commit()
        assert secret not in (token.token_hash, token.prefix)
        assert len(token.token_hash) == 64
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        assert session.get(ApiToken, token.id).last_used_at is not None

    def test_the_token_its_user_and_roles_are_one_statement(self, client, session, count_queries):
        user = UserFactory(roles={Role.ASSESSOR, Role.DECIDER, Role.FINANCE})
        headers = bearer(session, user)
        assert client.get("/api/v1/me", headers=headers).status_code == 200  # its first use
        session.remove()

        with count_queries() as statements:
            response = client.get("/api/v1/me", headers=headers)

        assert response.status_code == 200
        assert response.get_json()["roles"] == ["assessor", "decider", "finance"]
        reads = [s for s in statements if re.search(r"\b(api_token|user_account|user_role)\b", s)]
        assert len(reads) == 1, statements
        assert reads[0].startswith("SELECT")
        assert all(table in reads[0] for table in ("api_token", "user_account", "user_role"))
        # The rest is the answer (the organisation and its offices) and the request's one
        # transaction (a SAVEPOINT here, in the test's transaction): nothing of its own.
        assert len(statements) == 5, statements
        assert statements[0].startswith("SAVEPOINT") and statements[-1].startswith("RELEASE")

    def test_a_user_without_roles_authenticates_and_is_refused_by_role(self, client, session):
        headers = bearer(session, UserFactory(roles=set()))
        me = client.get("/api/v1/me", headers=headers)
        assert me.status_code == 200
        assert me.get_json()["roles"] == []
        assert_problem(client.get("/api/v1/organisations", headers=headers), 403)

    def test_the_last_use_is_written_once_within_minutes(self, client, session, count_queries):
        user = UserFactory()
        token, secret = AccountAdministration(session).issue_token(user, "used")
        session.commit()
        token_id, headers = token.id, {"Authorization": f"Bearer {secret}"}

        def token_updates(statements: list[str]) -> int:
            return sum(s.startswith("UPDATE api_token") for s in statements)

        def last_use() -> dt.datetime | None:
            session.remove()
            return session.get(ApiToken, token_id).last_used_at

        def move_last_use(to: dt.datetime) -> None:
            session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=to))
            session.commit()
            session.remove()

        session.remove()
        with count_queries() as statements:
            for _ in range(2):
                assert client.get("/api/v1/me", headers=headers).status_code == 200
        assert token_updates(statements) == 1
        first = last_use()
        assert first is not None

        inside = first - TOKEN_USE_RESOLUTION + dt.timedelta(seconds=30)
        move_last_use(inside)
        with count_queries() as statements:
            assert client.get("/api/v1/me", headers=headers).status_code == 200
        assert token_updates(statements) == 0
        assert last_use() == inside

        move_last_use(first - TOKEN_USE_RESOLUTION - dt.timedelta(seconds=1))
        with count_queries() as statements:
            assert client.get("/api/v1/me", headers=headers).status_code == 200
        assert token_updates(statements) == 1
        latest = last_use()
        assert latest is not None and latest >= first

    def test_a_refused_request_records_no_use(self, client, session, count_queries):
        user = UserFactory(roles={Role.APPLICANT})
        token, secret = AccountAdministration(session).issue_token(user, "refused")
        revoked, revoked_secret = AccountAdministration(session).issue_token(user, "revoked")
        revoked.revoked_at = dt.datetime.now(dt.UTC)
        session.commit()
        token_id, revoked_id = token.id, revoked.id
        session.remove()

        with count_queries() as statements:
            forbidden = client.get(
                "/api/v1/organisations", headers={"Authorization": f"Bearer {secret}"}
            )
            unknown = client.get(
                "/api/v1/me", headers={"Authorization": f"Bearer {revoked_secret}"}
            )

        assert_problem(forbidden, 403)
        assert_problem(unknown, 401)
        assert not [s for s in statements if s.startswith("UPDATE")], statements
        session.remove()
        assert session.get(ApiToken, token_id).last_used_at is None
        assert session.get(ApiToken, revoked_id).last_used_at is None

    def test_session_cookies_do_not_authenticate_the_api(self, client, session):
        from tests.conftest import login

        login(client, UserFactory(admin=True).email)
        assert_problem(client.get("/api/v1/me"), 401)


class TestRolesAndScope:
    @pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("get", "/api/v1/organisations"),
            ("get", "/api/v1/office-holders"),
            ("post", "/api/v1/office-holders"),
            ("get", "/api/v1/office-holders/1"),
            ("patch", "/api/v1/office-holders/1"),
            ("get", "/api/v1/organisations/1"),
            ("patch", "/api/v1/organisations/1"),
        ],
    )
    def test_other_roles_get_403(self, client, session, role, method, path):
        auth = bearer(session, UserFactory(roles={role}))
        response = getattr(client, method)(path, headers=auth, json={})
        assert_problem(response, 403)

    def test_other_organisation_is_404(self, client, session, admin_auth):
        holder = OfficeHolderFactory()
        holder_id, other_org = holder.id, holder.organisation_id
        assert_problem(client.get(f"/api/v1/office-holders/{holder_id}", headers=admin_auth), 404)
        patch = client.patch(
            f"/api/v1/office-holders/{holder_id}", headers=admin_auth, json={"full_name": "X"}
        )
        assert_problem(patch, 404)
        assert_problem(client.get(f"/api/v1/organisations/{other_org}", headers=admin_auth), 404)
        patch = client.patch(
            f"/api/v1/organisations/{other_org}", headers=admin_auth, json={"name": "Mine now"}
        )
        assert_problem(patch, 404)
        assert session.get(Organisation, other_org).name != "Mine now"

    def test_lists_are_scoped(self, client, session, admin, admin_auth):
        own = OfficeHolderFactory(organisation=admin.organisation)
        OfficeHolderFactory()
        listing = client.get("/api/v1/office-holders", headers=admin_auth)
        assert [h["id"] for h in listing.get_json()] == [own.id]
        orgs = client.get("/api/v1/organisations", headers=admin_auth).get_json()
        assert [o["id"] for o in orgs] == [admin.organisation_id]


class TestOfficeHolders:
    VALID = {"full_name": "J. Janssen", "office_type": "wethouder", "term_start": "2024-05-01"}

    def test_create_read_update(self, client, session, admin, admin_auth):
        created = client.post("/api/v1/office-holders", headers=admin_auth, json=self.VALID)
        assert created.status_code == 201, created.text
        body = created.get_json()
        assert body["organisation_id"] == admin.organisation_id
        assert body["eligible_by_default"] is True
        got = client.get(f"/api/v1/office-holders/{body['id']}", headers=admin_auth).get_json()
        assert got["full_name"] == "J. Janssen"
        patched = client.patch(
            f"/api/v1/office-holders/{body['id']}",
            headers=admin_auth,
            json={"office_type": "raadslid", "term_end": "2026-03-31"},
        )
        assert patched.status_code == 200
        assert patched.get_json()["eligible_by_default"] is False
        assert patched.get_json()["term_end"] == "2026-03-31"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "full_name"),
            ({"office_type": "keizer"}, "office_type"),
            ({"term_start": "31-12-2024"}, "term_start"),
            ({"term_end": "2020-01-01"}, "term_end"),
            ({"full_name": ""}, "full_name"),
            ({"colour": "red"}, "colour"),
            ({"user_id": "7"}, "user_id"),
        ],
    )
    def test_bad_input_is_422_and_writes_nothing(self, client, session, admin_auth, body, field):
        before = session.scalar(select(func.count()).select_from(OfficeHolder))
        payload = {**self.VALID, **body} if body else {}
        response = client.post("/api/v1/office-holders", headers=admin_auth, json=payload)
        problem = assert_problem(response, 422)
        assert field in str(problem["errors"])
        assert session.scalar(select(func.count()).select_from(OfficeHolder)) == before

    def test_a_rule_of_the_service_is_422_with_the_field(self, client, session, admin_auth):
        stranger = UserFactory()
        response = client.post(
            "/api/v1/office-holders",
            headers=admin_auth,
            json={**self.VALID, "user_id": stranger.id},
        )
        problem = assert_problem(response, 422)
        assert "user_id" in problem["errors"]

    def test_malformed_json_is_400(self, client, session, admin_auth):
        response = client.post(
            "/api/v1/office-holders",
            headers={**admin_auth, "Content-Type": "application/json"},
            data="{not json",
        )
        assert_problem(response, 400)

    def test_pagination(self, client, session, admin, admin_auth):
        for _ in range(3):
            OfficeHolderFactory(organisation=admin.organisation)
        page = client.get("/api/v1/office-holders?page=2&page_size=2", headers=admin_auth)
        assert page.status_code == 200
        assert len(page.get_json()) == 1
        assert '"total": 3' in page.headers["X-Pagination"]
        assert_problem(client.get("/api/v1/office-holders?page=0", headers=admin_auth), 422)


class TestOrganisation:
    def test_patch_validates_the_iban(self, client, session, admin, admin_auth):
        path = f"/api/v1/organisations/{admin.organisation_id}"
        problem = assert_problem(
            client.patch(path, headers=admin_auth, json={"iban": "NL91ABNA0417164301"}), 422
        )
        assert "iban" in problem["errors"]
        ok = client.patch(path, headers=admin_auth, json={"iban": "NL91 ABNA 0417 1643 00"})
        assert ok.status_code == 200
        assert ok.get_json()["iban"] == "NL91ABNA0417164300"


def test_unknown_api_paths_and_methods_answer_problems(client, session, admin_auth):
    assert_problem(client.get("/api/v1/nothing-here", headers=admin_auth), 404)
    assert_problem(client.delete("/api/v1/me", headers=admin_auth), 405)


def test_openapi_document(client, session):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.1")
    assert {
        "/api/v1/me",
        "/api/v1/office-holders",
        "/api/v1/organisations/{organisation_id}",
    } <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
