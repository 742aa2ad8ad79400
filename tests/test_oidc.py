"""Signing in with OpenID Connect against a real OpenID Provider (npm's `oidc-provider`
under node, started by tests/oidc.py on loopback): good logins of staff and applicants,
and every way a login must fail, with a clear 4xx, an audit link and no account made."""

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import time_machine
from sqlalchemy import func, select

from housing.accounts.authentication import FEDERATED, ONE_TIME_CODE
from housing.accounts.models import TotpFactor, User, UserSession
from housing.audit.models import AuditEvent
from housing.claims.models import Claim
from housing.clock import utcnow
from housing.organisations.models import ExternalIdentity, ProviderAudience, SignInProvider
from housing.organisations.oidc import CLOCK_LEEWAY
from housing.roles import Role
from tests.builders.claims import World
from tests.conftest import PASSWORD, csrf_from, login
from tests.factories import OrganisationFactory, UserFactory
from tests.oidc import SECRET, Account, local, sso_login
from tests.second_factor import code_for, secret_on

MIDDEN = "urn:etoegang:core:assurance-class:loa3"  # DigiD "midden" through a broker


def make_provider(session, op, organisation, **settings) -> SignInProvider:
    client_id = settings.pop("client_id", f"vw-{organisation.id}-{len(op.clients)}")
    op.add_client(client_id)
    provider = SignInProvider(
        organisation_id=organisation.id,
        name=settings.pop("name", f"Provider {organisation.id}"),
        issuer=settings.pop("issuer", op.issuer),
        client_id=client_id,
        client_secret=SECRET,
        scopes="openid email profile groups",
        audience=settings.pop("audience", ProviderAudience.BOTH),
        groups_claim="groups",
        role_mapping=settings.pop(
            "role_mapping",
            "vw-beoordel* = assessor\nvw-besluit* = decider\naanvragers = applicant",
        ),
        sync_roles=settings.pop("sync_roles", True),
        trust_provider_mfa=settings.pop("trust_provider_mfa", True),
        **settings,
    )
    session.add(provider)
    session.flush()
    return provider


def events(session, organisation_id: int) -> list[tuple[str, str | None]]:
    return list(
        session.execute(
            select(AuditEvent.event, AuditEvent.reason)
            .where(AuditEvent.organisation_id == organisation_id)
            .where(AuditEvent.event.like("sso_%"))
            .order_by(AuditEvent.sequence)
        ).all()
    )


def user_count(session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def refused_with(journey, status: int, message: str) -> None:
    assert journey.callback is not None
    assert journey.callback.status_code == status, journey.callback.text
    assert message in journey.callback.text
    # The password login is still on the page.
    assert 'name="password"' in journey.callback.text


NOT_SUCCEEDED = "is niet gelukt. Probeer het opnieuw."


# --- good logins ---------------------------------------------------------------------


def test_a_staff_login_with_the_providers_mfa_lands_without_our_code(client, session, op):
    org = OrganisationFactory()
    provider = make_provider(session, op, org)
    op.add_account(
        "emp-1",
        Account("Beoordelaar@Gemeente.example", groups=["vw-beoordelaars"], acr=MIDDEN,
                amr=["pwd", "mfa"]),
    )  # fmt: skip
    journey = sso_login(client, provider.id, "emp-1")
    assert journey.callback is not None
    assert journey.callback.status_code == 302, journey.callback.text
    assert journey.callback.headers["Location"] == "/assessor"
    assert client.get("/assessor").status_code == 200

    user = session.scalars(select(User).where(User.email == "beoordelaar@gemeente.example")).one()
    assert user.organisation_id == org.id
    assert user.roles == {Role.ASSESSOR}
    assert session.scalar(select(func.count()).where(TotpFactor.user_id == user.id)) == 0
    identity = session.scalars(select(ExternalIdentity)).one()
    assert (identity.provider_id, identity.subject, identity.user_id) == (
        provider.id,
        "emp-1",
        user.id,
    )
    record = session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert (record.provider_id, record.acr) == (provider.id, MIDDEN)
    assert events(session, org.id) == [("sso_user_provisioned", None), ("sso_signed_in", None)]


def test_a_staff_login_without_the_providers_mfa_goes_through_our_second_factor(
    client, session, op
):
    org = OrganisationFactory()
    provider = make_provider(session, op, org)
    op.add_account("emp-2", Account("besluit@gemeente.example", groups=["vw-besluiters"]))
    journey = sso_login(client, provider.id, "emp-2")
    assert journey.callback is not None
    # A new staff account has no authenticator app yet: it sets one up first.
    assert journey.callback.headers["Location"] == "/login/enrol"
    assert client.get("/decider").status_code == 302  # not signed in yet
    page = client.get("/login/enrol")
    done = client.post(
        "/login/enrol",
        data={"code": code_for(secret_on(page.text)), "csrf_token": csrf_from(page.text)},
    )
    assert done.status_code == 200 and "herstelcodes" in done.text
    assert client.get("/decider").status_code == 200
    user = session.scalars(select(User).where(User.email == "besluit@gemeente.example")).one()
    record = session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert record.provider_id == provider.id
    with client.session_transaction() as cookie:
        # The provider said "pwd" only (and is trusted to say so): that and our code.
        assert sorted(cookie["authentication"]["amr"]) == [ONE_TIME_CODE, "pwd"]
        assert cookie["authentication"]["source"] == f"oidc:{provider.id}"


def test_a_provider_not_trusted_for_mfa_gets_our_second_factor_even_when_it_says_mfa(
    client, session, op
):
    org = OrganisationFactory()
    provider = make_provider(session, op, org, trust_provider_mfa=False)
    op.add_account(
        "emp-3", Account("fin@gemeente.example", groups=["vw-beoordelaars"], amr=["pwd", "mfa"])
    )
    journey = sso_login(client, provider.id, "emp-3")
    assert journey.callback is not None
    assert journey.callback.headers["Location"] == "/login/enrol"
    page = client.get("/login/enrol")
    client.post(
        "/login/enrol",
        data={"code": code_for(secret_on(page.text)), "csrf_token": csrf_from(page.text)},
    )
    with client.session_transaction() as cookie:
        # Its "mfa" is not taken at its word: one federated factor, and our code.
        assert sorted(cookie["authentication"]["amr"]) == [FEDERATED, ONE_TIME_CODE]


def test_an_applicant_login_records_the_acr_on_the_session_and_on_the_claim_submitted(
    client, session, op
):
    world = World(session)
    provider = make_provider(
        session, op, world.org, audience=ProviderAudience.APPLICANTS, role_mapping="* = applicant"
    )
    session.add(
        ExternalIdentity(provider_id=provider.id, subject="burger-1", user_id=world.applicant.id)
    )
    session.flush()
    op.add_account("burger-1", Account(world.applicant.email, groups=["burgers"], acr=MIDDEN))
    claim = world.draft()

    journey = sso_login(client, provider.id, "burger-1")
    assert journey.callback is not None
    assert journey.callback.headers["Location"] == "/applicant", journey.callback.text
    csrf = csrf_from(client.get("/profile").text)
    submitted = client.post(
        f"/claims/{claim.id}/events", data={"event": "submit", "csrf_token": csrf}
    )
    assert submitted.status_code in (302, 303), submitted.text
    session.expire_all()
    stored = session.get(Claim, claim.id)
    assert stored is not None and stored.state.value == "submitted"
    assert stored.submitted_acr == MIDDEN
    record = session.scalars(
        select(UserSession).where(UserSession.user_id == world.applicant.id)
    ).one()
    assert record.acr == MIDDEN


def test_a_password_login_records_no_acr_on_the_claim(client, session):
    world = World(session)
    claim = world.draft()
    csrf = login(client, world.applicant.email)
    client.post(f"/claims/{claim.id}/events", data={"event": "submit", "csrf_token": csrf})
    session.expire_all()
    stored = session.get(Claim, claim.id)
    assert stored is not None and stored.state.value == "submitted"
    assert stored.submitted_acr is None


def test_roles_follow_the_groups_at_each_login_and_each_change_is_audited(client, session, op):
    org = OrganisationFactory()
    provider = make_provider(session, op, org)
    op.add_account("emp-4", Account("wissel@gemeente.example", groups=["vw-beoordelaars"],
                                    amr=["pwd", "mfa"]))  # fmt: skip
    assert sso_login(client, provider.id, "emp-4").callback.headers["Location"] == "/assessor"
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/assessor").text)})
    op.add_account("emp-4", Account("wissel@gemeente.example", groups=["vw-besluiters"],
                                    amr=["pwd", "mfa"]))  # fmt: skip
    assert sso_login(client, provider.id, "emp-4").callback.headers["Location"] == "/decider"
    user = session.scalars(select(User).where(User.email == "wissel@gemeente.example")).one()
    assert user.roles == {Role.DECIDER}
    assert [e for e, _ in events(session, org.id)] == [
        "sso_user_provisioned",
        "sso_signed_in",
        "sso_roles_changed",
        "sso_signed_in",
    ]


def test_roles_stay_as_they_are_when_the_provider_does_not_sync_them(client, session, op):
    org = OrganisationFactory()
    provider = make_provider(session, op, org, sync_roles=False)
    op.add_account("emp-5", Account("vast@gemeente.example", groups=["vw-beoordelaars"],
                                    amr=["pwd", "mfa"]))  # fmt: skip
    sso_login(client, provider.id, "emp-5")
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/assessor").text)})
    op.add_account("emp-5", Account("vast@gemeente.example", groups=[], amr=["pwd", "mfa"]))
    assert sso_login(client, provider.id, "emp-5").callback.headers["Location"] == "/assessor"
    user = session.scalars(select(User).where(User.email == "vast@gemeente.example")).one()
    assert user.roles == {Role.ASSESSOR}


def test_logging_out_ends_the_session_at_the_provider_too(client, session, op):
    org = OrganisationFactory()
    provider = make_provider(session, op, org)
    op.add_account("emp-6", Account("uit@gemeente.example", groups=["vw-beoordelaars"],
                                    amr=["pwd", "mfa"]))  # fmt: skip
    journey = sso_login(client, provider.id, "emp-6")
    assert journey.callback.status_code == 302
    out = client.post("/logout", data={"csrf_token": csrf_from(client.get("/assessor").text)})
    assert out.status_code == 302
    target = urlsplit(out.headers["Location"])
    assert f"{target.scheme}://{target.netloc}" == op.issuer
    assert target.path == "/session/end"
    query = parse_qs(target.query)
    assert query["client_id"] == [provider.client_id]
    assert query["post_logout_redirect_uri"] == ["http://localhost/login"]
    assert query["id_token_hint"][0].count(".") == 2
    assert client.get("/assessor").status_code == 302  # our session has ended


# --- the cases that must fail ----------------------------------------------------------


def test_an_id_token_for_another_audience_is_refused(client, session, op):
    org = OrganisationFactory()
    provider = make_provider(session, op, org)
    op.add_account("emp-7", Account("aud@gemeente.example", groups=["vw-beoordelaars"]))
    # The provider itself signs, with its own key, an ID token naming another client.
    op.configure(id_token_audience="another-client")
    users = user_count(session)
    journey = sso_login(client, provider.id, "emp-7")
    refused_with(journey, 400, NOT_SUCCEEDED)
    assert user_count(session) == users
    assert events(session, org.id) == [("sso_sign_in_failed", "claims:invalid_claim")]


def test_an_expired_id_token_is_refused(client, session, op):
    org = OrganisationFactory()
    provider = make_provider(session, op, org)
    op.add_account("emp-8", Account("oud@gemeente.example", groups=["vw-beoordelaars"]))
    # The provider issues ID tokens valid for one second; the callback comes later than
    # that and our clock leeway together (our clock moved on, the provider's did not).
    op.configure(id_token_ttl=1)
    users = user_count(session)
    later = utcnow() + dt.timedelta(seconds=CLOCK_LEEWAY + 5)
    with time_machine.travel(later, tick=True):
        journey = sso_login(client, provider.id, "emp-8")
    refused_with(journey, 400, NOT_SUCCEEDED)
    assert user_count(session) == users
    assert events(session, org.id) == [("sso_sign_in_failed", "claims:expired_token")]


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_an_id_token_with_another_nonce_is_refused(client, session, op):
    org = OrganisationFactory()
    provider = make_provider(session, op, org)
    op.add_account("emp-9", Account("nonce@gemeente.example", groups=["vw-beoordelaars"]))
    users = user_count(session)
    # The authorization request is changed on its way: the provider puts that nonce in.
    journey = sso_login(
        client, provider.id, "emp-9", tamper=lambda url: _with_query(url, nonce="not-ours")
    )
    refused_with(journey, 400, NOT_SUCCEEDED)
    assert user_count(session) == users
    assert events(session, org.id) == [("sso_sign_in_failed", "claims:nonce")]


def test_a_replayed_callback_is_refused(client, session, op):
    org = OrganisationFactory()
    provider = make_provider(session, op, org)
    op.add_account("emp-10", Account("replay@gemeente.example", groups=["vw-beoordelaars"],
                                     amr=["pwd", "mfa"]))  # fmt: skip
    journey = sso_login(client, provider.id, "emp-10")
    assert journey.callback.status_code == 302
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/assessor").text)})
    # The same state and code again, in the same browser and in another one.
    again = client.get(local(journey.callback_url))
    assert again.status_code == 400
    assert "Inloggen duurde te lang, of was al klaar. Begin opnieuw." in again.text
    other = client.application.test_client().get(local(journey.callback_url))
    assert other.status_code == 400
    assert session.scalar(select(func.count()).select_from(UserSession)) == 1


def test_a_callback_with_a_state_of_its_own_is_refused(client, session, op):
    org = OrganisationFactory()
    provider = make_provider(session, op, org)
    op.add_account("emp-11", Account("state@gemeente.example", groups=["vw-beoordelaars"]))
    users = user_count(session)
    journey = sso_login(client, provider.id, "emp-11", follow_callback=False)
    tampered = _with_query(journey.callback_url, state="forged")
    answer = client.get(local(tampered))
    assert answer.status_code == 400
    assert NOT_SUCCEEDED in answer.text
    assert user_count(session) == users
    assert events(session, org.id) == [("sso_sign_in_failed", "state")]


def test_a_callback_with_a_code_of_its_own_is_refused(client, session, op):
    org = OrganisationFactory()
    provider = make_provider(session, op, org)
    op.add_account("emp-12", Account("code@gemeente.example", groups=["vw-beoordelaars"]))
    users = user_count(session)
    journey = sso_login(client, provider.id, "emp-12", follow_callback=False)
    answer = client.get(local(_with_query(journey.callback_url, code="forged-code")))
    assert answer.status_code == 400
    assert user_count(session) == users
    assert events(session, org.id) == [("sso_sign_in_failed", "token:invalid_grant")]


def test_a_key_rotated_at_the_provider_is_picked_up(client, session, op):
    org = OrganisationFactory()
    provider = make_provider(session, op, org)
    op.add_account("emp-13", Account("sleutel@gemeente.example", groups=["vw-beoordelaars"],
                                     amr=["pwd", "mfa"]))  # fmt: skip
    before = op.key_ids()
    assert sso_login(client, provider.id, "emp-13").callback.status_code == 302
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/assessor").text)})
    kid = op.rotate_key()
    assert op.key_ids() == [kid] and kid not in before
    # Our key set still holds only the old key: the token's new kid makes us fetch again.
    journey = sso_login(client, provider.id, "emp-13")
    assert journey.callback.status_code == 302, journey.callback.text
    assert journey.callback.headers["Location"] == "/assessor"


def test_unmapped_groups_give_an_account_without_roles(client, session, op):
    org = OrganisationFactory()
    provider = make_provider(session, op, org)
    op.add_account("emp-14", Account("geen@gemeente.example", groups=["kantine", "vw-x"]))
    journey = sso_login(client, provider.id, "emp-14")
    assert journey.callback.status_code == 302
    assert journey.callback.headers["Location"] == "/start"
    user = session.scalars(select(User).where(User.email == "geen@gemeente.example")).one()
    assert user.roles == frozenset()
    assert client.get("/assessor").status_code in (302, 403)


def test_a_staff_group_does_not_open_an_applicants_provider_to_staff_roles(client, session, op):
    org = OrganisationFactory()
    provider = make_provider(session, op, org, audience=ProviderAudience.APPLICANTS,
                             role_mapping="vw-* = assessor\n* = applicant")  # fmt: skip
    op.add_account("burger-2", Account("burger2@example.nl", groups=["vw-beoordelaars"]))
    journey = sso_login(client, provider.id, "burger-2")
    assert journey.callback.headers["Location"] == "/applicant"
    user = session.scalars(select(User).where(User.email == "burger2@example.nl")).one()
    assert user.roles == {Role.APPLICANT}


def test_a_person_of_another_organisations_provider_never_lands_in_this_one(client, session, op):
    ours, theirs = OrganisationFactory(), OrganisationFactory()
    our_provider = make_provider(session, op, ours)
    their_provider = make_provider(session, op, theirs)
    op.add_account("emp-15", Account("twee@gemeente.example", groups=["vw-beoordelaars"],
                                     amr=["pwd", "mfa"]))  # fmt: skip
    assert sso_login(client, their_provider.id, "emp-15").callback.status_code == 302
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/assessor").text)})
    user = session.scalars(select(User).where(User.email == "twee@gemeente.example")).one()
    assert user.organisation_id == theirs.id

    # The same person at our provider: not linked to their account, not made again here.
    users = user_count(session)
    journey = sso_login(client, our_provider.id, "emp-15")
    refused_with(journey, 403, "kan hier niet worden gebruikt")
    assert user_count(session) == users
    assert (
        session.scalar(select(func.count()).where(ExternalIdentity.provider_id == our_provider.id))
        == 0
    )
    assert events(session, ours.id) == [("sso_sign_in_failed", "email_taken")]
    session.expire_all()
    assert session.get(User, user.id).organisation_id == theirs.id


def test_an_identity_is_never_taken_into_another_organisation(client, session, op):
    """A link made by hand to an account of another organisation opens nothing."""
    ours, theirs = OrganisationFactory(), OrganisationFactory()
    provider = make_provider(session, op, ours)
    stranger = UserFactory(organisation=theirs, roles={Role.ASSESSOR})
    session.add(ExternalIdentity(provider_id=provider.id, subject="emp-16", user_id=stranger.id))
    session.flush()
    op.add_account("emp-16", Account(stranger.email, groups=["vw-beoordelaars"],
                                     amr=["pwd", "mfa"]))  # fmt: skip
    journey = sso_login(client, provider.id, "emp-16")
    refused_with(journey, 403, "kan hier niet worden gebruikt")
    assert client.get("/assessor").status_code == 302


def test_a_provider_that_is_down_says_so_and_the_password_login_still_works(client, session, op):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    org = OrganisationFactory()
    provider = make_provider(session, op, org, issuer=f"http://127.0.0.1:{dead}")
    journey = sso_login(client, provider.id, "anyone")
    assert journey.start.status_code == 503
    assert "is nu niet bereikbaar" in journey.start.text
    assert 'name="password"' in journey.start.text
    # The break-glass account of the organisation logs in with its password and code.
    admin = UserFactory(organisation=org, roles={Role.ADMIN})
    login(client, admin.email, PASSWORD)
    assert client.get("/admin").status_code == 200


def test_an_unknown_or_inactive_provider_is_a_404(client, session, op):
    org = OrganisationFactory()
    provider = make_provider(session, op, org, active=False)
    token = csrf_from(client.get("/login").text)
    for provider_id in (provider.id, 999999):
        answer = client.post(f"/login/sso/{provider_id}", data={"csrf_token": token})
        assert answer.status_code == 404
        assert "bestaat niet" in answer.text


def test_a_callback_nobody_waits_for_is_a_400(client):
    for query in ("", "?code=x&state=y", "?error=access_denied&state=y"):
        answer = client.get(f"/login/sso/callback{query}")
        assert answer.status_code == 400
        assert "Begin opnieuw" in answer.text


def test_the_provider_saying_no_is_a_400_with_nothing_made(client, session, op):
    org = OrganisationFactory()
    provider = make_provider(session, op, org)
    op.add_account("emp-17", Account("nee@gemeente.example"))
    users = user_count(session)
    journey = sso_login(client, provider.id, "emp-17", follow_callback=False)
    state = parse_qs(urlsplit(journey.callback_url).query)["state"][0]
    answer = client.get(f"/login/sso/callback?error=access_denied&state={state}")
    assert answer.status_code == 400
    assert user_count(session) == users
    assert events(session, org.id) == [("sso_sign_in_failed", "provider_error:access_denied")]


def test_the_login_page_offers_the_active_providers(client, session, op):
    org = OrganisationFactory()
    shown = make_provider(session, op, org, name="Entree Gemeente")
    make_provider(session, op, org, name="Uitgezet", active=False)
    page = client.get("/login").text
    assert "Entree Gemeente" in page and "Uitgezet" not in page
    assert re.search(rf'action="/login/sso/{shown.id}', page)


def test_a_siem_hears_of_single_sign_ons_their_failures_and_the_accounts_made(
    client, session, op, capsys
):
    org = OrganisationFactory()
    provider = make_provider(session, op, org)
    op.add_account("emp-18", Account("siem@gemeente.example", groups=["vw-beoordelaars"],
                                     amr=["pwd", "mfa"]))  # fmt: skip
    capsys.readouterr()
    sso_login(client, provider.id, "emp-18", tamper=lambda url: _with_query(url, nonce="x"))
    sso_login(client, provider.id, "emp-18")
    told = [json.loads(line) for line in capsys.readouterr().err.splitlines()
            if '"logger":"housing.security"' in line]  # fmt: skip
    said = [(e["action"], e["result"], e.get("reason"), e.get("source")) for e in told]
    assert ("sign_in", "failure", "claims:nonce", None) in said
    assert ("sso_user_provisioned", "success", None, None) in said
    assert ("sign_in", "success", None, f"oidc:{provider.id}") in said
    assert all(e["organisation"] == org.id for e in told)
    assert "siem@gemeente.example" not in json.dumps(told)
