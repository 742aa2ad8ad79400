"""The pages of single sign-on: the login page with a provider's button, and the
administrator's provider pages, pass axe and fit a phone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from housing.db import db
from housing.organisations.models import ProviderAudience, SignInProvider
from housing.roles import Role
from tests.browser.conftest import DESKTOP, look
from tests.builders.claims import remove_organisation
from tests.conftest import RUN_ID, factories_on
from tests.factories import OrganisationFactory, UserFactory


@pytest.fixture
def with_provider(app: Flask) -> Iterator[tuple[str, int]]:
    """Committed: an organisation with an administrator and an active provider."""
    with app.app_context():
        engine = db.engine
    setup = Session(engine, expire_on_commit=False)
    with factories_on(setup):
        org = OrganisationFactory(name=f"Gemeente Eenmalig Inloggen {RUN_ID}")
        admin = UserFactory(organisation=org, roles={Role.ADMIN})
        provider = SignInProvider(
            organisation_id=org.id,
            name="Entree",
            issuer="https://login.example.nl",
            client_id="veilig-wonen",
            client_secret="not-used-in-this-test-0123456789",
            audience=ProviderAudience.STAFF,
            role_mapping="vw-beoordel* = assessor",
        )
        setup.add(provider)
        setup.commit()
    try:
        yield admin.email, provider.id
    finally:
        setup.close()
        remove_organisation(engine, org.id)


def test_the_login_page_with_a_provider_passes_axe(browser, server, with_provider):
    context = browser.new_context(base_url=server, viewport=DESKTOP, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto("/login")
        assert page.get_by_role("button", name="Entree").first.is_visible()
        assert look(page, "anonymous/login-with-provider").problems == []
    finally:
        context.close()


def test_the_provider_pages_pass_axe_and_fit_a_phone(log_in, with_provider):
    email, provider_id = with_provider
    page = log_in(email)
    problems = []
    for path, name in (
        ("/admin/sign-in-providers", "admin/sign-in-providers"),
        ("/admin/sign-in-providers/new", "admin/sign-in-providers/new"),
        (f"/admin/sign-in-providers/{provider_id}", "admin/sign-in-providers/edit"),
    ):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        problems += look(page, name).problems
    assert not problems, "\n".join(problems)
