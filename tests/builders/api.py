"""The JSON API as a client meets it: bearer tokens and problem+json answers."""

from __future__ import annotations

from housing.organisations.accounts import AccountAdministration

PROBLEM = "application/problem+json"


def bearer(session, user, **kwargs) -> dict[str, str]:
    _token, secret = AccountAdministration(session).issue_token(user, "test", **kwargs)
    session.commit()
    return {"Authorization": f"Bearer {secret}"}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["title"]
    return body
