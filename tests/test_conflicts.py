"""Two requests at the same moment: the loser gets a conflict to retry, never a 500."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from housing.roles import Role
from tests.conftest import csrf_from, login
from tests.factories import UserFactory
from tests.test_api import assert_problem, bearer
from tests.test_claim_service import World


def test_a_unique_constraint_lost_in_a_race_is_a_conflict_page(client, session, monkeypatch):
    admin = UserFactory(roles={Role.ADMIN})

    def raced(*args, **kwargs):
        raise IntegrityError("INSERT INTO budget", {}, Exception("duplicate key"))

    monkeypatch.setattr("housing.organisations.services.RulesService.set_budget", raced)
    login(client, admin.email)
    page = client.get("/admin/budgets")
    response = client.post(
        "/admin/budgets",
        data={"year": "2027", "amount": "1000.00", "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 409
    assert "op hetzelfde moment gewijzigd" in response.text


def test_a_stale_version_over_the_api_is_a_conflict_problem(client, session, monkeypatch):
    world = World(session)

    def raced(*args, **kwargs):
        raise StaleDataError("claim version changed")

    monkeypatch.setattr("housing.claims.drafting.DraftingService.create_draft", raced)
    response = client.post(
        "/api/v1/claims", json={"home_id": world.home.id}, headers=bearer(session, world.applicant)
    )
    body = assert_problem(response, 409)
    assert "op hetzelfde moment" in body["detail"]
