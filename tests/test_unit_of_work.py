"""One unit of work per request, task and command: a request commits once at its end when
its answer is below 400 and is undone otherwise; refusals reach the user through the
registered handlers only; no view or API resource commits, rolls back or catches a
DomainError itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Blueprint, Flask, flash, redirect, render_template_string
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import StringField

from housing import create_app
from housing.accounts.models import ApiToken, User
from housing.audit.models import AccessLog, AuditEvent
from housing.config import PROJECT_ROOT
from housing.db import db
from housing.errors import InvalidInput
from housing.organisations.accounts import AccountAdministration
from housing.unit_of_work import unit_of_work
from housing.web.formtools import refusal_back_to, refusal_on_form
from tests.conftest import login, make_test_config
from tests.factories import ClaimFactory, OrganisationFactory, UserFactory

TAKEN = "taken@test.example"
WRITTEN = "written@test.example"


def users_named(email: str) -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(User.email == email))


def audit_links(organisation_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.organisation_id == organisation_id)
    )


class NameForm(FlaskForm):
    class Meta:
        csrf = False

    name = StringField()


def _write_a_user(organisation_id: int, email: str) -> None:
    db.session.add(
        User(email=email, full_name="Probe", password_hash="x", organisation_id=organisation_id)
    )
    db.session.flush()


def _probe_blueprint() -> Blueprint:
    """Views that write and are then refused, or whose commit fails."""
    bp = Blueprint("uow_probe", __name__)

    @bp.route("/probe/<int:org>/refused-form", methods=["POST"])
    def refused_form(org: int):  # type: ignore[no-untyped-def]
        form = NameForm()
        refusal_on_form(form, lambda: render_template_string("{{ form.name.errors }}", form=form))
        _write_a_user(org, WRITTEN)
        raise InvalidInput("Refused", field_errors={"name": ["Not this name"]})

    @bp.route("/probe/<int:org>/refused-back", methods=["POST"])
    def refused_back(org: int):  # type: ignore[no-untyped-def]
        refusal_back_to("/probe/back")
        _write_a_user(org, WRITTEN)
        flash("Saved", "success")
        raise InvalidInput("Refused here")

    @bp.route("/probe/<int:org>/failing-commit", methods=["POST"])
    @bp.route("/api/v1/probe/<int:org>/failing-commit", methods=["POST"])
    def failing_commit(org: int):  # type: ignore[no-untyped-def]
        # Not flushed: the unique e-mail address fails only at the request's COMMIT.
        db.session.add(User(email=TAKEN, full_name="Twin", password_hash="x", organisation_id=org))
        flash("Saved", "success")
        return redirect("/probe/back", code=303)

    @bp.route("/probe/<int:org>/bad-answer", methods=["POST"])
    def bad_answer(org: int):  # type: ignore[no-untyped-def]
        _write_a_user(org, WRITTEN)
        return "no", 400

    @bp.route("/probe/<int:org>/written", methods=["POST"])
    def written(org: int):  # type: ignore[no-untyped-def]
        _write_a_user(org, WRITTEN)
        return "ok"

    return bp


@pytest.fixture(scope="module")
def probe_app(app: Flask, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """A second app of the same factory, with the probe views registered before any request."""
    config = make_test_config(database_url, tmp_path_factory.mktemp("probe"))
    probe = create_app({**config, "WTF_CSRF_ENABLED": False})
    probe.register_blueprint(_probe_blueprint())
    return probe


@pytest.fixture
def probe(probe_app: Flask, session):  # type: ignore[no-untyped-def]
    return probe_app.test_client()


@pytest.fixture
def org(session) -> int:
    organisation = OrganisationFactory()
    UserFactory(organisation=organisation, email=TAKEN)
    return organisation.id


def flashes_of(client) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with client.session_transaction() as cookie:
        return list(cookie.get("_flashes", []))


class TestRequestTransaction:
    def test_a_successful_request_commits_once_at_its_end(self, probe, org):
        assert probe.post(f"/probe/{org}/written").status_code == 200
        assert users_named(WRITTEN) == 1

    def test_an_answer_of_400_or_more_rolls_back(self, probe, org):
        assert probe.post(f"/probe/{org}/bad-answer").status_code == 400
        assert users_named(WRITTEN) == 0

    def test_a_refusal_on_a_form_shows_the_field_error_and_writes_nothing(self, probe, org):
        response = probe.post(f"/probe/{org}/refused-form", data={"name": "x"})
        assert response.status_code == 200
        assert "Not this name" in response.text
        assert users_named(WRITTEN) == 0

    def test_a_refusal_goes_back_with_the_reason_and_takes_back_the_success(self, probe, org):
        response = probe.post(f"/probe/{org}/refused-back")
        assert (response.status_code, response.location) == (303, "/probe/back")
        assert flashes_of(probe) == [("error", "Refused here")]
        assert users_named(WRITTEN) == 0

    def test_a_failing_commit_is_a_conflict_not_a_server_error(self, probe, org):
        response = probe.post(f"/probe/{org}/failing-commit")
        assert response.status_code == 409
        assert "Saved" not in response.text
        # What the view flashed did not happen: it is not shown on the next page either.
        assert flashes_of(probe) == []
        assert users_named(TAKEN) == 1

    def test_a_failing_commit_in_the_api_is_a_409_problem(self, probe, org):
        response = probe.post(f"/api/v1/probe/{org}/failing-commit")
        assert response.status_code == 409
        assert response.content_type == "application/problem+json"
        assert response.get_json()["status"] == 409


class TestRealViews:
    def test_a_refused_ui_form_post_leaves_nothing_written(self, client, session):
        admin = UserFactory(admin=True)
        csrf = login(client, admin.email)
        organisation_id = admin.organisation_id
        links, users = (
            audit_links(organisation_id),
            session.scalar(select(func.count()).select_from(User)),
        )
        response = client.post(
            "/admin/users/new",
            data={
                "email": admin.email,  # taken: the service refuses
                "full_name": "Dubbel",
                "roles": ["assessor"],
                "language": "nl",
                "channel": "post",
                "password": "a-long-enough-password",
                "csrf_token": csrf,
            },
        )
        assert response.status_code == 200
        assert "Er bestaat al een account met dit e-mailadres." in response.text
        assert audit_links(organisation_id) == links
        assert session.scalar(select(func.count()).select_from(User)) == users

    def test_a_refused_api_call_leaves_nothing_written_not_even_the_tokens_use(
        self, client, session
    ):
        applicant = UserFactory()
        token, secret = AccountAdministration(session).issue_token(applicant, "probe")
        session.commit()
        token_id, organisation_id = token.id, applicant.organisation_id
        links = audit_links(organisation_id)
        response = client.post(
            "/api/v1/claims",
            headers={"Authorization": f"Bearer {secret}"},
            json={"home_id": 999999},
        )
        assert response.status_code == 404  # no such home: the service refuses
        assert response.content_type == "application/problem+json"
        assert audit_links(organisation_id) == links
        # One transaction: the token's last use, flushed before the refusal, is undone with
        # it; it is saved with a request that succeeds.
        assert session.get(ApiToken, token_id).last_used_at is None
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        assert me.status_code == 200
        assert session.get(ApiToken, token_id).last_used_at is not None

    def test_a_get_that_logs_access_commits_it(self, client, session):
        claim = ClaimFactory(state="submitted")
        assessor = UserFactory(assessor=True, organisation_id=claim.organisation_id)
        claim_id = claim.id
        login(client, assessor.email)
        assert client.get(f"/claims/{claim_id}").status_code == 200
        _token, secret = AccountAdministration(session).issue_token(assessor, "probe")
        session.commit()
        api = client.get(
            f"/api/v1/claims/{claim_id}", headers={"Authorization": f"Bearer {secret}"}
        )
        assert api.status_code == 200
        # The request's session is gone; only what it committed is there to count.
        logged = session.scalar(
            select(func.count()).select_from(AccessLog).where(AccessLog.claim_id == claim_id)
        )
        assert logged == 2


class TestUnitOfWork:
    def test_commits_on_success(self, session):
        organisation = OrganisationFactory()
        with unit_of_work(session):
            _write_a_user(organisation.id, WRITTEN)
        session.rollback()  # nothing left to undo: it was committed
        assert users_named(WRITTEN) == 1

    def test_rolls_back_on_error(self, session):
        organisation = OrganisationFactory()
        with pytest.raises(InvalidInput), unit_of_work(session):
            _write_a_user(organisation.id, WRITTEN)
            raise InvalidInput("no")
        assert users_named(WRITTEN) == 0


HAND_MADE = re.compile(r"commit\(\)|rollback\(\)|except DomainError|abort_with_problem")


def test_no_view_or_api_resource_commits_rolls_back_or_catches_domain_errors():
    offenders = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"
        for package in ("housing/web", "housing/api")
        for path in sorted((PROJECT_ROOT / package).rglob("*.py"))
        for number, line in enumerate(Path(path).read_text().splitlines(), start=1)
        if HAND_MADE.search(line)
    ]
    assert offenders == []
