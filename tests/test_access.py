"""Least privilege for every route: roles get 403, other organisations' records 404.

The route audit makes a new route fail here until it declares who may use it.
"""

from __future__ import annotations

import pytest
from flask import Flask
from markupsafe import escape
from sqlalchemy import update

from housing.accounts.models import User
from housing.roles import Role
from tests.conftest import csrf_from, login
from tests.factories import (
    ApiTokenFactory,
    OfficeHolderFactory,
    OrganisationFactory,
    UserFactory,
)

UNGUARDED_ENDPOINTS = {"static", "api-docs.openapi_json"}


def view_functions(app: Flask):
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        if view_class is not None:
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                yield rule, method, getattr(view_class, method.lower())
        else:
            yield rule, None, view


def test_every_route_declares_who_may_use_it(app):
    undeclared = [
        f"{rule.rule} {method or ''}".strip()
        for rule, method, view in view_functions(app)
        if rule.endpoint not in UNGUARDED_ENDPOINTS and not hasattr(view, "required_roles")
    ]
    assert undeclared == []


def role_guarded_routes(app: Flask) -> list[tuple[str, str, frozenset[Role]]]:
    """(path, method, roles) for every parameterless HTML route limited to some roles."""
    found = []
    for rule, _method, view in view_functions(app):
        roles = getattr(view, "required_roles", None)
        if rule.arguments or rule.rule.startswith("/api/") or not roles or roles == frozenset(Role):
            continue
        method = "GET" if "GET" in rule.methods else "POST"
        found.append((rule.rule, method, roles))
    return sorted(found)


def test_the_role_matrix_covers_the_admin_pages(app):
    paths = {path for path, _, _ in role_guarded_routes(app)}
    assert {"/admin", "/admin/users", "/admin/users/new", "/admin/office-holders"} <= paths
    assert {"/applicant", "/assessor", "/decider", "/finance", "/auditor"} <= paths


@pytest.mark.parametrize("role", list(Role))
def test_each_role_is_let_in_or_refused_on_every_page(app, client, role):
    user = UserFactory(roles={role})
    token = login(client, user.email)
    for path, method, allowed in role_guarded_routes(app):
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data={"csrf_token": token})
        expected = 403 if role not in allowed else (200 if method == "GET" else None)
        if expected is not None:
            assert response.status_code == expected, f"{role} {method} {path}"


def test_pages_that_need_login_send_anonymous_visitors_to_login(app, client, session):
    for rule, _method, view in view_functions(app):
        roles = getattr(view, "required_roles", frozenset())
        if (
            not roles
            or rule.arguments
            or rule.rule.startswith("/api/")
            or "GET" not in rule.methods
        ):
            continue
        response = client.get(rule.rule)
        assert response.status_code == 302, rule.rule
        assert response.headers["Location"].startswith("/login"), rule.rule


class TestOtherOrganisationsAreInvisible:
    @pytest.fixture
    def admin_token(self, client):
        admin = UserFactory(admin=True)
        return login(client, admin.email)

    def test_user_pages(self, client, admin_token):
        stranger = UserFactory(organisation=OrganisationFactory()).id
        assert client.get(f"/admin/users/{stranger}").status_code == 404
        post = client.post(
            f"/admin/users/{stranger}",
            data={"full_name": "Hacked", "roles": ["admin"], "csrf_token": admin_token},
        )
        assert post.status_code == 404
        reset = client.post(
            f"/admin/users/{stranger}/password",
            data={"password": "a-long-enough-password", "csrf_token": admin_token},
        )
        assert reset.status_code == 404

    def test_organisation_pages(self, client, admin_token):
        other = OrganisationFactory()
        other_id, other_name = other.id, other.name
        assert client.get(f"/admin/organisations/{other_id}").status_code == 404
        post = client.post(
            f"/admin/organisations/{other_id}",
            data={"name": "X", "iban": "NL91ABNA0417164300", "csrf_token": admin_token},
        )
        assert post.status_code == 404
        listing = client.get("/admin/organisations")
        assert other_name not in listing.text

    def test_office_holder_pages(self, client, admin_token):
        other = OfficeHolderFactory()
        other_id, other_name = other.id, other.full_name
        assert client.get(f"/admin/office-holders/{other_id}").status_code == 404
        assert other_name not in client.get("/admin/office-holders").text

    def test_user_list_shows_only_the_own_organisation(self, client, session):
        admin = UserFactory(admin=True)
        colleague = UserFactory(organisation=admin.organisation)
        stranger = UserFactory()
        login(client, admin.email)
        page = client.get("/admin/users").text
        assert colleague.email in page and stranger.email not in page

    def test_another_users_token_cannot_be_revoked(self, client, session):
        user = UserFactory()
        colleague = UserFactory(organisation=user.organisation, admin=True)
        token_id = ApiTokenFactory(user=colleague).id
        csrf = login(client, user.email)
        response = client.post(f"/profile/tokens/{token_id}/revoke", data={"csrf_token": csrf})
        assert response.status_code == 404


def test_applicants_see_only_their_own_office(client, session):
    applicant = UserFactory()
    own = OfficeHolderFactory(organisation=applicant.organisation, user=applicant)
    colleague = OfficeHolderFactory(organisation=applicant.organisation)
    login(client, applicant.email)
    page = client.get("/applicant").text
    assert str(escape(own.full_name)) in page
    assert str(escape(colleague.full_name)) not in page


def test_a_deactivated_user_is_logged_out_at_the_next_request(client, session):
    admin = UserFactory(admin=True)
    login(client, admin.email)
    session.execute(update(User).where(User.id == admin.id).values(active=False))
    session.commit()
    assert client.get("/admin").status_code == 302


def test_every_page_sends_protective_headers(client, session):
    response = client.get("/login")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert csrf_from(response.text)
