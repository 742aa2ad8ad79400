"""Operator commands and the demo data."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import func, select, text

from housing.accounts.models import ApiToken, TotpFactor, User
from housing.demo import DEMO_FACTOR_SECRETS, DEMO_PASSWORD, STAFF, seed
from housing.organisations.letterhead import check_logo
from housing.organisations.models import Home, OfficeHolder, Organisation
from housing.roles import STAFF_ROLES, START_ENDPOINTS, Role
from tests.conftest import csrf_from
from tests.factories import OrganisationFactory, UserFactory


@pytest.fixture
def runner(app, session):
    return app.test_cli_runner()


def test_tokens_issue_prints_a_working_token(runner, client, session):
    user = UserFactory(email="api@test.example")
    result = runner.invoke(args=["tokens", "issue", "API@test.example", "--name", "zaaksysteem"])
    assert result.exit_code == 0, result.output
    # Standard output is the token alone (the security event goes to standard error).
    secret = result.stdout.strip()
    assert secret.startswith("vw_")
    stored = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    assert stored.name == "zaaksysteem" and secret not in stored.token_hash
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.get_json()["email"] == "api@test.example"

    revoked = runner.invoke(args=["tokens", "revoke", secret[:12]])
    assert revoked.exit_code == 0 and "Revoked 1" in revoked.output
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    )


def test_tokens_issue_for_an_unknown_user_fails_clearly(runner):
    result = runner.invoke(args=["tokens", "issue", "nobody@test.example"])
    assert result.exit_code == 1
    assert "No active user" in result.output


def test_users_add_and_its_refusals(runner, session):
    org = OrganisationFactory()
    ok = runner.invoke(
        args=[
            "users",
            "add",
            "cli@test.example",
            "--name",
            "Cli Gebruiker",
            "--organisation",
            org.name,
            "--role",
            "finance",
            "--role",
            "auditor",
        ],
        input="a-long-enough-password\na-long-enough-password\n",
    )
    assert ok.exit_code == 0, ok.output
    user = session.scalars(select(User).where(User.email == "cli@test.example")).one()
    assert user.roles == {"finance", "auditor"}
    short = runner.invoke(
        args=[
            "users",
            "add",
            "x@test.example",
            "--name",
            "X",
            "--organisation",
            org.name,
            "--role",
            "finance",
        ],
        input="short\nshort\n",
    )
    assert short.exit_code == 1 and "Gebruik minstens 12 tekens." in short.output
    unknown = runner.invoke(
        args=[
            "users",
            "add",
            "y@test.example",
            "--name",
            "Y",
            "--organisation",
            "Nowhere",
            "--role",
            "finance",
        ],
        input="a-long-enough-password\na-long-enough-password\n",
    )
    assert unknown.exit_code == 1 and "No organisation" in unknown.output


def test_orgs_add_refuses_a_bad_iban(runner, session):
    def add(iban: str):
        return runner.invoke(
            args=["orgs", "add", "Waterschap Test", "--kind", "waterschap", "--iban", iban]
        )

    bad = add("NL91ABNA0417164301")
    assert bad.exit_code == 1 and "controlecijfers" in bad.output
    good = add("NL91ABNA0417164300")
    assert good.exit_code == 0, good.output
    org = session.scalars(select(Organisation).where(Organisation.name == "Waterschap Test")).one()
    assert org.bic == "ABNANL2A"


def test_keys_generate_prints_a_fernet_key(runner):
    from housing.crypto import FieldCipher

    key = runner.invoke(args=["keys", "generate"]).output.strip()
    assert FieldCipher([key]).decrypt(FieldCipher([key]).encrypt("x")) == "x"


def test_demo_seed_twice_changes_nothing(session):
    seed(session)
    session.commit()
    counts = [
        session.scalar(select(func.count()).select_from(m)) for m in (User, OfficeHolder, Home)
    ]
    again = seed(session)
    session.commit()
    assert again.created == 0
    assert [
        session.scalar(select(func.count()).select_from(m)) for m in (User, OfficeHolder, Home)
    ] == counts


def test_demo_has_the_offices_the_issue_asks_for(session):
    seed(session)
    session.commit()
    offices = sorted(h.office_type.value for h in session.scalars(select(OfficeHolder)))
    assert offices == ["burgemeester", "gedeputeerde", "raadslid", "wethouder", "wethouder"]
    kinds = sorted(o.kind.value for o in session.scalars(select(Organisation)))
    assert kinds == ["gemeente", "gemeente", "provincie"]
    councillor = session.scalars(
        select(OfficeHolder).where(OfficeHolder.office_type == "raadslid")
    ).one()
    assert not councillor.eligible_by_default


def test_every_demo_organisation_has_a_whole_letterhead_with_a_logo(session):
    seed(session)
    session.commit()
    letterheads = [o.letterhead for o in session.scalars(select(Organisation))]
    assert len(letterheads) == 3
    for letterhead in letterheads:
        assert letterhead.has_address and letterhead.signatory_name
        assert letterhead.logo_content_type == "image/png"
        assert check_logo(letterhead.logo).content_type == "image/png"


def test_every_demo_user_logs_in_to_their_start_page(app, session):
    seed(session)
    session.commit()
    with app.test_request_context():
        from flask import url_for

        starts = {role: url_for(START_ENDPOINTS[role]) for role in Role}
    for local, role, _label in STAFF:
        client = app.test_client()
        page = client.get("/login")
        response = client.post(
            "/login",
            data={
                "email": f"{local}@duinwijk.example",
                "password": DEMO_PASSWORD,
                "csrf_token": csrf_from(page.text),
            },
        )
        assert response.status_code == 302, local
        if role in STAFF_ROLES:
            # Staff enter the code of their demo secret (the README lists them).
            assert response.headers["Location"] == "/login/code", local
            page = client.get("/login/code")
            response = client.post(
                "/login/code",
                data={
                    "code": pyotp.TOTP(DEMO_FACTOR_SECRETS[local]).now(),
                    "csrf_token": csrf_from(page.text),
                },
            )
        assert response.headers["Location"] == starts[role], local
        assert client.get(starts[role]).status_code == 200, local


def test_demo_seed_prints_the_staff_secrets_and_demo_code_their_current_code(runner, session):
    seeded = runner.invoke(args=["demo", "seed"])
    assert seeded.exit_code == 0, seeded.output
    for local, secret in DEMO_FACTOR_SECRETS.items():
        assert f"{local}@rivierstad.example" in seeded.output and secret in seeded.output
    assert "aanvrager@rivierstad.example" in seeded.output  # listed with its role, no secret
    user = session.scalars(select(User).where(User.email == "beslisser@noordland.example")).one()
    stored = session.scalars(select(TotpFactor).where(TotpFactor.user_id == user.id)).one()
    assert stored.secret == DEMO_FACTOR_SECRETS["beslisser"]
    # Encrypted at rest: the column holds ciphertext, not the secret.
    raw = session.execute(
        text("SELECT secret FROM totp_factor WHERE user_id = :u"), {"u": user.id}
    ).scalar_one()
    assert DEMO_FACTOR_SECRETS["beslisser"] not in raw

    code = runner.invoke(args=["demo", "code", "Beslisser@noordland.example"])
    assert code.exit_code == 0, code.output
    totp = pyotp.TOTP(DEMO_FACTOR_SECRETS["beslisser"])
    assert totp.verify(code.output.strip(), valid_window=1)
    # No code for anyone else: not an applicant, not a user outside the demo.
    for email in ("aanvrager@noordland.example", "beslisser@elders.example"):
        refused = runner.invoke(args=["demo", "code", email])
        assert refused.exit_code == 1 and "not a demo staff user" in refused.output


def test_check_reports_an_up_to_date_schema(runner):
    result = runner.invoke(args=["check"])
    assert result.exit_code == 0, result.output
    assert "schema: up to date" in result.output


def test_demo_claims_are_submitted_and_the_audit_chain_verifies(app, session):
    from housing.claims.models import Claim
    from housing.payments.models import Payout

    seed(session)
    session.commit()
    states = session.scalars(select(Claim.state).order_by(Claim.id)).all()
    # One claim waits for an assessor, one is granted with its invoices approved, in two
    # municipalities: ready for the finance pair to batch and pay.
    assert sorted(states) == ["granted", "granted", "submitted", "submitted"]
    assert set(session.scalars(select(Payout.state))) == {"approved"}
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    # 11 events of its claims and payouts, the creation of its 7 demo users and the second
    # factor set up for each of its 6 staff users.
    assert "Gemeente Rivierstad: intact (24 events)" in result.output


def test_the_demo_bank_writes_the_statement_of_a_released_batch(app, session, tmp_path):
    import datetime as dt

    from housing.accounts.models import User
    from housing.payments.batches import BatchService
    from housing.payments.camt import parse_statement
    from housing.scoping import Scope

    seed(session)
    session.commit()
    first = session.scalars(select(User).where(User.email == "financien@rivierstad.example")).one()
    second = session.scalars(
        select(User).where(User.email == "financien2@rivierstad.example")
    ).one()
    batches = BatchService(session)
    batch = batches.build(Scope.for_user(first), first, execution_date=dt.date(2026, 12, 2))
    batches.approve(Scope.for_user(first), first, batch.id)
    batches.release(Scope.for_user(second), second, batch.id)
    session.commit()
    out = tmp_path / "statement.xml"
    result = app.test_cli_runner().invoke(
        args=["demo", "statement", batch.msg_id, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    (statement,) = parse_statement(out.read_bytes()).statements
    (entry,) = statement.entries
    assert entry.batch.payment_information_id == batch.pmt_inf_id
    assert [d.end_to_end_id for d in entry.details] == [i.end_to_end_id for i in batch.items]
    unknown = app.test_cli_runner().invoke(args=["demo", "statement", "NOPE"])
    assert unknown.exit_code != 0 and "No released batch NOPE" in unknown.output
    stranger = app.test_cli_runner().invoke(
        args=["demo", "statement", batch.msg_id, "--return", "VW-NOT-OURS"]
    )
    assert stranger.exit_code != 0 and "Not in batch" in stranger.output

    # Booked, then sent back days later: a statement of the return alone, following on.
    from housing.payments.statements import StatementImport

    StatementImport(session).import_file(batch.organisation_id, first.id, out.read_bytes())
    session.commit()
    e2e = batch.items[0].end_to_end_id
    late = tmp_path / "return.xml"
    result = app.test_cli_runner().invoke(
        args=["demo", "statement", batch.msg_id, "--return", e2e, "--later", "--out", str(late)]
    )
    assert result.exit_code == 0, result.output
    (returned,) = parse_statement(late.read_bytes()).statements
    (credit,) = returned.entries
    assert credit.signed_amount > 0 and [d.end_to_end_id for d in credit.details] == [e2e]
    assert returned.opening_balance.signed_amount == statement.closing_balance.signed_amount
    report = StatementImport(session).import_file(
        batch.organisation_id, first.id, late.read_bytes()
    )
    assert (report.returns, report.balance_gaps) == (1, 0)
