"""The second factor of a staff password login (issue 11, item 3): TOTP set up at the first
login, a code accepted once, recovery codes used once, a reset by an administrator
(audited), and no way for a user to drop their own factor without it."""

from __future__ import annotations

import re

import pyotp
import pytest
from markupsafe import escape
from sqlalchemy import func, select, text

from housing.accounts.factors import INTERVAL, step_at
from housing.accounts.models import RecoveryCode, TotpFactor, User
from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail, payload_digest
from housing.clock import utcnow
from housing.db import db
from housing.roles import Role
from tests.conftest import PASSWORD, csrf_from, login
from tests.factories import OrganisationFactory, UserFactory
from tests.second_factor import code_for, factor_secret, secret_on

WRONG = "Deze code is niet juist, of al gebruikt. Probeer de volgende code."
RECOVERY_CODE = re.compile(r'<code class="utrecht-code">([a-z0-9]{5}-[a-z0-9]{5})</code>')


def password_step(client, email, password=PASSWORD, next_path=""):
    token = csrf_from(client.get("/login").text)
    return client.post(
        f"/login{next_path}", data={"email": email, "password": password, "csrf_token": token}
    )


def post_code(client, code, path="/login/code"):
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return client.post(path, data={"code": code, "csrf_token": csrf_from(page.text)})


def log_out(client):
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/profile").text)})


def factor_of(user_id):
    return db.session.scalars(select(TotpFactor).where(TotpFactor.user_id == user_id)).first()


def links(organisation_id, event):
    return db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.organisation_id == organisation_id, AuditEvent.event == event
        )
    ).all()


def enrolled_through_the_page(client, user):
    """Log in as a staff user without a factor and set one up; the recovery codes shown."""
    assert password_step(client, user.email).headers["Location"] == "/login/enrol"
    page = client.get("/login/enrol")
    secret = secret_on(page.text)
    done = client.post(
        "/login/enrol", data={"code": code_for(secret), "csrf_token": csrf_from(page.text)}
    )
    assert done.status_code == 200, done.text
    return secret, RECOVERY_CODE.findall(done.text)


class TestEnrolmentAtTheFirstLogin:
    def test_a_staff_user_without_a_factor_must_set_one_up_before_anything(self, client, session):
        user = UserFactory(assessor=True, second_factor=False)
        response = password_step(client, user.email)
        assert response.headers["Location"] == "/login/enrol"
        # Not signed in yet: no page opens, and the code step has nothing to check.
        assert client.get("/assessor").headers["Location"].startswith("/login")
        assert client.get("/login/code").status_code == 302  # sent to enrolment, not in

        page = client.get("/login/enrol")
        assert page.status_code == 200
        assert 'src="data:image/svg+xml' in page.text  # the QR code, drawn here
        secret = secret_on(page.text)
        assert len(secret) == 32 and pyotp.TOTP(secret).now()
        # The page is drawn again with the same secret (the app may have it already).
        assert secret_on(client.get("/login/enrol").text) == secret

        wrong = client.post(
            "/login/enrol", data={"code": "000000", "csrf_token": csrf_from(page.text)}
        )
        assert wrong.status_code == 422
        assert WRONG in wrong.text and 'aria-invalid="true"' in wrong.text
        assert factor_of(user.id) is None  # never half enrolled
        assert client.get("/assessor").status_code == 302

        done = client.post(
            "/login/enrol", data={"code": code_for(secret), "csrf_token": csrf_from(page.text)}
        )
        assert done.status_code == 200 and "Uw herstelcodes" in done.text
        codes = RECOVERY_CODE.findall(done.text)
        assert len(codes) == 10 and len(set(codes)) == 10
        assert client.get("/assessor").status_code == 200  # signed in

        factor = factor_of(user.id)
        assert factor.secret == secret and factor.last_used_step is not None
        raw = session.execute(
            text("SELECT secret FROM totp_factor WHERE user_id = :u"), {"u": user.id}
        ).scalar_one()
        assert secret not in raw  # encrypted at rest
        hashes = session.scalars(
            select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)
        ).all()
        assert len(hashes) == 10 and all(h.startswith("$argon2id$") for h in hashes)
        assert not any(c.replace("-", "") in h for c in codes for h in hashes)
        (link,) = links(user.organisation_id, "second_factor_enrolled")
        assert link.actor_id == user.id and link.payload_hash == payload_digest(
            {"user_id": user.id}
        )
        assert AuditTrail(session).verify(user.organisation_id).intact

    def test_the_code_that_confirmed_the_app_does_not_log_in_again(self, client, session):
        user = UserFactory(decider=True, second_factor=False)
        secret, _codes = enrolled_through_the_page(client, user)
        # The very code that confirmed the app (its time step as stored), not the code of
        # "now": on a slow run the clock may have moved on to the next step.
        step = session.scalar(
            select(TotpFactor.last_used_step).where(TotpFactor.user_id == user.id)
        )
        confirming = pyotp.TOTP(secret, interval=INTERVAL).at(step * INTERVAL)
        log_out(client)
        password_step(client, user.email)
        assert post_code(client, confirming).status_code == 422


class TestLoginWithTheCode:
    def test_a_right_code_signs_in_and_keeps_next(self, client, session):
        user = UserFactory(finance=True)
        response = password_step(client, user.email, next_path="?next=/finance/batches")
        assert response.headers["Location"] == "/login/code"
        assert client.get("/finance").status_code == 302  # not yet
        done = post_code(client, code_for(factor_secret(user.email)))
        assert done.status_code == 302 and done.headers["Location"] == "/finance/batches"
        assert client.get("/finance").status_code == 200

    def test_a_wrong_code_is_refused_at_the_field(self, client, session):
        user = UserFactory(auditor=True)
        password_step(client, user.email)
        refused = post_code(client, "123456")
        assert refused.status_code == 422
        assert WRONG in refused.text and 'id="code-error"' in refused.text
        assert client.get("/auditor").status_code == 302
        empty = post_code(client, "")
        assert empty.status_code == 422 and "Vul de code in." in empty.text

    def test_a_code_is_accepted_once(self, app, client, session):
        user = UserFactory(admin=True)
        code = code_for(factor_secret(user.email))
        password_step(client, user.email)
        assert post_code(client, code).status_code == 302
        # The same code again, in its own window, from another browser: refused.
        other = app.test_client()
        password_step(other, user.email)
        replayed = post_code(other, code)
        assert replayed.status_code == 422 and WRONG in replayed.text
        assert other.get("/admin").status_code == 302
        # An earlier code of the window too: only later steps are accepted.
        earlier = code_for(factor_secret(user.email), step_at(utcnow()) - 1)
        assert post_code(other, earlier).status_code == 422

    def test_an_expired_step_starts_again_with_the_password(self, client, session):
        user = UserFactory(assessor=True)
        password_step(client, user.email)
        with client.session_transaction() as cookie:
            pending = cookie["pending_login"]
            pending["since"] -= 11 * 60
            cookie["pending_login"] = pending
        page = client.get("/login/code")
        assert page.status_code == 302 and page.headers["Location"] == "/login"
        late = client.post(
            "/login/code",
            data={
                "code": code_for(factor_secret(user.email)),
                "csrf_token": csrf_from(client.get("/login").text),
            },
        )
        assert late.status_code == 400
        assert "Het inloggen duurde te lang." in late.text
        assert client.get("/assessor").status_code == 302

    def test_a_code_step_without_a_password_step_is_refused(self, client, session):
        token = csrf_from(client.get("/login").text)
        forged = client.post("/login/code", data={"code": "123456", "csrf_token": token})
        assert forged.status_code == 400
        assert client.post("/login/enrol", data={"csrf_token": token}).status_code == 400
        assert client.post("/login/code", data={"code": "123456"}).status_code == 400  # no CSRF

    def test_guessing_codes_is_throttled(self, client, session):
        user = UserFactory(decider=True)
        password_step(client, user.email)
        for _ in range(10):
            assert post_code(client, "000000").status_code == 422
        blocked = post_code(client, code_for(factor_secret(user.email)))
        assert blocked.status_code == 429
        assert client.get("/decider").status_code == 302


class TestRecoveryCodes:
    def test_a_recovery_code_works_once(self, client, session):
        user = UserFactory(assessor=True, second_factor=False)
        _secret, codes = enrolled_through_the_page(client, user)
        log_out(client)

        password_step(client, user.email)
        used = post_code(client, codes[3].upper().replace("-", " "))  # as typed off paper
        assert used.status_code == 302
        assert client.get("/assessor").status_code == 200
        (link,) = links(user.organisation_id, "recovery_code_used")
        assert link.actor_id == user.id
        left = session.scalar(
            select(func.count()).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        )
        assert left == 9
        log_out(client)

        password_step(client, user.email)
        again = post_code(client, codes[3])
        assert again.status_code == 422 and WRONG in again.text
        assert post_code(client, codes[4]).status_code == 302  # another one still works


class TestResetByAnAdministrator:
    def test_a_reset_is_audited_ends_the_sessions_and_forces_enrolment(self, app, session):
        admin = UserFactory(admin=True)
        user = UserFactory(assessor=True, organisation=admin.organisation)
        users_browser = app.test_client()
        login(users_browser, user.email)
        admins_browser = app.test_client()
        csrf = login(admins_browser, admin.email)
        page = admins_browser.get(f"/admin/users/{user.id}")
        assert "Tweede factor resetten" in page.text

        reset = admins_browser.post(
            f"/admin/users/{user.id}/second-factor/reset", data={"csrf_token": csrf}
        )
        assert reset.status_code == 303
        assert factor_of(user.id) is None
        (link,) = links(admin.organisation_id, "second_factor_reset")
        assert link.actor_id == admin.id
        assert link.payload_hash == payload_digest({"user_id": user.id})
        assert AuditTrail(session).verify(admin.organisation_id).intact
        assert users_browser.get("/assessor").status_code == 302  # their session ended

        fresh = app.test_client()
        assert password_step(fresh, user.email).headers["Location"] == "/login/enrol"

    def test_not_their_own_nor_another_organisations_user(self, client, session):
        admin = UserFactory(admin=True)
        stranger = UserFactory(assessor=True, organisation=OrganisationFactory())
        csrf = login(client, admin.email)
        own = client.post(
            f"/admin/users/{admin.id}/second-factor/reset",
            data={"csrf_token": csrf},
            follow_redirects=True,
        )
        assert "U kunt uw eigen tweede factor niet resetten" in own.text
        assert factor_of(admin.id) is not None
        assert "Tweede factor resetten" not in client.get(f"/admin/users/{admin.id}").text
        other = client.post(
            f"/admin/users/{stranger.id}/second-factor/reset", data={"csrf_token": csrf}
        )
        assert other.status_code == 404
        assert factor_of(stranger.id) is not None
        assert links(admin.organisation_id, "second_factor_reset") == []

    def test_only_an_administrator_resets(self, client, session):
        assessor = UserFactory(assessor=True)
        colleague = UserFactory(decider=True, organisation=assessor.organisation)
        csrf = login(client, assessor.email)
        response = client.post(
            f"/admin/users/{colleague.id}/second-factor/reset", data={"csrf_token": csrf}
        )
        assert response.status_code == 403
        assert factor_of(colleague.id) is not None


class TestOwnFactor:
    def test_staff_replace_their_factor_only_with_a_code_of_it(self, client, session):
        user = UserFactory(finance=True)
        login(client, user.email)
        page = client.get("/profile/second-factor")
        assert page.status_code == 200 and "Uitzetten" not in page.text
        new_secret = secret_on(page.text)
        token = csrf_from(page.text)
        refused = client.post(
            "/profile/second-factor/replace",
            data={
                "replace-current_code": "000000",
                "replace-new_code": code_for(new_secret),
                "csrf_token": token,
            },
        )
        assert refused.status_code == 422 and WRONG in refused.text
        assert factor_of(user.id).secret == factor_secret(user.email)  # unchanged

        removed = client.post(
            "/profile/second-factor/remove",
            data={"remove-current_code": "000000", "csrf_token": token},
        )
        assert removed.status_code in (403, 422)
        assert factor_of(user.id) is not None

        moved = client.post(
            "/profile/second-factor/replace",
            data={
                "replace-current_code": code_for(factor_secret(user.email), step_at(utcnow()) + 1),
                "replace-new_code": code_for(new_secret),
                "csrf_token": token,
            },
        )
        assert moved.status_code == 200 and len(RECOVERY_CODE.findall(moved.text)) == 10
        assert factor_of(user.id).secret == new_secret
        assert [
            link.actor_id for link in links(user.organisation_id, "second_factor_replaced")
        ] == [user.id]

    def test_an_applicant_may_add_a_factor_and_turn_it_off_with_it(self, client, session):
        applicant = UserFactory()
        login(client, applicant.email)
        page = client.get("/profile/second-factor")
        secret = secret_on(page.text)
        done = client.post(
            "/profile/second-factor",
            data={"code": code_for(secret), "csrf_token": csrf_from(page.text)},
        )
        assert done.status_code == 200 and len(RECOVERY_CODE.findall(done.text)) == 10
        assert factor_of(applicant.id).secret == secret
        log_out(client)
        # From now on their login asks for the code too.
        assert password_step(client, applicant.email).headers["Location"] == "/login/code"
        assert post_code(client, code_for(secret, step_at(utcnow()) + 1)).status_code == 302

        page = client.get("/profile/second-factor")
        assert "Uitzetten" in page.text
        refused = client.post(
            "/profile/second-factor/remove",
            data={"remove-current_code": "", "csrf_token": csrf_from(page.text)},
        )
        assert refused.status_code == 422 and factor_of(applicant.id) is not None
        kept = session.scalars(
            select(RecoveryCode).where(RecoveryCode.user_id == applicant.id)
        ).all()
        assert len(kept) == 10


class TestApplicants:
    def test_an_applicants_login_has_no_second_step(self, client, session):
        applicant = UserFactory()
        response = password_step(client, applicant.email)
        assert response.status_code == 302 and response.headers["Location"] == "/applicant"
        assert client.get("/applicant").status_code == 200
        assert factor_of(applicant.id) is None


class TestStaffSessionsAreMultiFactor:
    def test_a_session_without_the_second_factor_is_ended(self, client, session):
        user = UserFactory(assessor=True)
        login(client, user.email)
        assert client.get("/assessor").status_code == 200
        with client.session_transaction() as cookie:
            del cookie["authentication"]  # as a session signed in before this step existed
        response = client.get("/assessor")
        assert response.status_code == 302 and response.headers["Location"] == "/login"
        assert client.get("/assessor").status_code == 302  # logged out, not let back in

    def test_an_applicant_given_a_staff_role_logs_in_again_with_a_factor(self, client, session):
        user = UserFactory()
        login(client, user.email)
        assert client.get("/applicant").status_code == 200
        stored = session.get(User, user.id)
        stored.roles = {Role.APPLICANT, Role.ASSESSOR}
        session.commit()
        response = client.get("/applicant")
        assert response.status_code == 302 and response.headers["Location"] == "/login"
        page = client.get("/login", follow_redirects=True)
        assert str(escape("Log opnieuw in: uw rol vraagt een tweede factor.")) in page.text
        assert password_step(client, user.email).headers["Location"] == "/login/enrol"


@pytest.mark.parametrize("typed", ["12345", "1234567", "abcdef", "x" * 41])
def test_malformed_codes_are_refused_as_input(client, session, typed):
    user = UserFactory(assessor=True)
    password_step(client, user.email)
    response = post_code(client, typed)
    assert response.status_code == 422
    assert client.get("/assessor").status_code == 302


def test_the_login_helper_logs_one_user_in_again_and_again(app, session):
    """The suite's `login` passes the real code step each time: past the three codes of a
    window it waits for the next code as a user would (moving the stored step back)."""
    user = UserFactory(assessor=True)
    for _ in range(4):
        browser = app.test_client()
        login(browser, user.email)
        assert browser.get("/assessor").status_code == 200
    assert factor_of(user.id).last_used_step <= step_at(utcnow()) + 1
