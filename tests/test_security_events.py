"""Security events for a SIEM (issue 14, item 5; BIO2 8.15): one JSON line per sign-in,
failure, factor or role change, export, download and refusal, read here from the real
output of the process, with its fields and without any secret, address or content."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from flask import Flask

from housing.accounts.models import Language
from housing.organisations.accounts import AccountAdministration
from housing.roles import Role
from housing.security_events import LOGGER_NAME, security_event
from tests.builders.claims import World
from tests.conftest import PASSWORD, csrf_from, login
from tests.factories import UserFactory
from tests.second_factor import factor_secret

FIELDS = {"time", "logger", "action", "result", "actor", "organisation", "object", "origin"}
WRONG_PASSWORD = "Tr0mbone-Verkeerd-2026"


def events(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    """The security lines the process wrote to its output since the last call."""
    lines = capsys.readouterr().err.splitlines()
    found = []
    for line in lines:
        if f'"logger":"{LOGGER_NAME}"' in line:
            event = json.loads(line)
            assert event.keys() >= FIELDS, event
            assert dt.datetime.fromisoformat(event["time"]).utcoffset() == dt.timedelta(0)
            found.append(event)
    return found


def raw(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err


def test_sign_ins_and_their_failures_are_told_without_what_was_typed(app, client, capsys):
    user = UserFactory(auditor=True)
    page = client.get("/login")
    capsys.readouterr()
    wrong = client.post(
        "/login",
        data={"email": user.email, "password": WRONG_PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    unknown = client.post(
        "/login",
        data={
            "email": "nobody@nowhere.example",
            "password": WRONG_PASSWORD,
            "csrf_token": csrf_from(page.text),
        },
    )
    assert wrong.status_code == unknown.status_code == 200
    # The second step with a wrong code, then the real sign-in.
    first = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    code_page = client.get(first.headers["Location"])
    client.post("/login/code", data={"code": "000000", "csrf_token": csrf_from(code_page.text)})
    output = raw(capsys)
    login(client, user.email)
    output += raw(capsys)
    lines = [json.loads(line) for line in output.splitlines() if LOGGER_NAME in line]

    failures = [e for e in lines if e["action"] == "sign_in" and e["result"] == "failure"]
    assert [(e["object"], e["reason"]) for e in failures] == [
        (f"user:{user.id}", "wrong_password"),
        (None, "unknown_account"),
    ]
    assert failures[0]["organisation"] == user.organisation_id
    assert all(e["actor"] is None and e["origin"] == "127.0.0.1" for e in failures)
    wrong_code = [e for e in lines if e["action"] == "second_factor_check"]
    assert wrong_code and wrong_code[0]["result"] == "failure"
    assert wrong_code[0]["actor"] == user.id
    signed_in = [e for e in lines if e["action"] == "sign_in" and e["result"] == "success"]
    assert len(signed_in) >= 1
    assert signed_in[-1]["actor"] == user.id and signed_in[-1]["methods"] == ["otp", "pwd"]
    assert signed_in[-1]["request_id"]
    # Never what was typed: no password, no code, no e-mail address nobody owns, no secret.
    for secret in (WRONG_PASSWORD, PASSWORD, "000000", "nobody@nowhere.example"):
        assert secret not in output
    assert factor_secret(user.email) not in output


def test_role_and_factor_changes_are_told_once_they_are_saved(app, session, capsys):
    admin = UserFactory(admin=True)
    colleague = UserFactory(assessor=True, organisation=admin.organisation)
    session.commit()
    capsys.readouterr()
    accounts = AccountAdministration(session)
    with app.test_request_context():
        accounts.update_user(
            admin,
            colleague,
            full_name=colleague.full_name,
            roles={Role.ASSESSOR, Role.DECIDER},
            active=True,
            language=Language.NL,
            channel=colleague.channel_preference,
        )
        # Not saved yet: nothing told.
        assert events(capsys) == []
        session.commit()
        accounts.reset_second_factor(admin, colleague)
        session.rollback()  # undone: never told
        accounts.reset_second_factor(admin, colleague)
        session.commit()
    told = events(capsys)
    assert [(e["action"], e["result"], e["actor"], e["object"]) for e in told] == [
        ("user_updated", "success", admin.id, f"user:{colleague.id}"),
        ("second_factor_reset", "success", admin.id, f"user:{colleague.id}"),
    ]
    assert told[0]["roles_added"] == ["decider"] and told[0]["roles_removed"] == []
    assert told[0]["organisation"] == admin.organisation_id


def test_a_download_is_told_without_the_address_or_the_file(app, client, session, capsys):
    world = World(session)
    claim = world.draft()
    contents = b"%PDF-1.4\n% offerte alarm voor de voordeur\n%%EOF\n"
    document = world.drafting.upload(
        world.scope(world.applicant),
        world.applicant,
        claim.id,
        kind="quote",
        filename=f"offerte-{world.home.street}.pdf",
        data=contents,
    )
    world.fire(world.applicant, claim, "submit")
    login(client, world.assessor.email)
    capsys.readouterr()
    response = client.get(f"/claims/{claim.id}/documents/{document.id}")
    assert response.status_code == 200 and response.data == contents
    output = raw(capsys)
    told = [json.loads(line) for line in output.splitlines() if LOGGER_NAME in line]
    assert [(e["action"], e["actor"], e["object"]) for e in told] == [
        ("download", world.assessor.id, f"document:{document.id}")
    ]
    assert world.home.street not in output and "offerte alarm" not in output


def test_refusals_are_told_for_pages_and_the_api(app, client, session, capsys):
    assessor = UserFactory(assessor=True)
    login(client, assessor.email)
    capsys.readouterr()
    assert client.get("/audit/trail").status_code == 403
    assert client.get("/api/v1/audit/events").status_code == 401
    told = events(capsys)
    assert [(e["action"], e["result"], e["status"], e["object"], e["actor"]) for e in told] == [
        ("request_refused", "refused", 403, "GET /audit/trail", assessor.id),
        ("request_refused", "refused", 401, "GET /api/v1/audit/events", None),
    ]


def test_an_export_is_told_with_its_list_and_rows(app, client, session, capsys):
    auditor = UserFactory(auditor=True)
    login(client, auditor.email)
    capsys.readouterr()
    response = client.get("/audit/access.json?from=2026-01-01")
    assert response.status_code == 200
    (told,) = [e for e in events(capsys) if e["action"] == "audit_exported"]
    assert (told["actor"], told["organisation"], told["result"]) == (
        auditor.id,
        auditor.organisation_id,
        "success",
    )
    assert (told["list"], told["format"], told["rows"], told["from"]) == (
        "access_log",
        "json",
        0,
        "2026-01-01",
    )


@pytest.mark.parametrize(
    "detail",
    [
        {"password": "x"},
        {"totp_code": "123456"},
        {"token": "vw_abc"},
        {"home_address": "Dorpsstraat 1"},
        {"note": "a long text " * 20},
        {"note": "two\nlines"},
        {"note": {"nested": 1}},
    ],
)
def test_a_secret_or_free_text_cannot_be_put_in_an_event(app: Flask, detail):
    with pytest.raises(ValueError):
        security_event("probe", result="success", actor_id=None, **detail)


def test_a_result_is_one_of_three(app: Flask):
    with pytest.raises(ValueError):
        security_event("probe", result="maybe", actor_id=None)


def test_tokens_are_told_of_but_never_shown(app, client, session, capsys):
    user = UserFactory(assessor=True)
    session.commit()
    capsys.readouterr()
    with app.test_request_context():
        _token, secret = AccountAdministration(session).issue_token(user, "zaaksysteem")
        session.commit()
    wrong = "vw_" + "x" * 40
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    )
    output = raw(capsys)
    told = [json.loads(line) for line in output.splitlines() if LOGGER_NAME in line]
    assert [(e["action"], e["result"], e["object"]) for e in told] == [
        ("api_token_issued", "success", f"user:{user.id}"),
        ("request_refused", "refused", "GET /api/v1/me"),
    ]
    assert secret not in output and wrong not in output and secret[:12] not in output
