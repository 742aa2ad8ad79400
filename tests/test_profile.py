"""A user's own profile: preferences and personal API tokens, with their refusals."""

from __future__ import annotations

import re

from sqlalchemy import select

from housing.accounts.models import ApiToken, User
from tests.conftest import login
from tests.factories import UserFactory


def test_preferences_are_saved(client, session):
    user = UserFactory(channel_preference="electronic")
    csrf = login(client, user.email)
    response = client.post(
        "/profile", data={"language": "nl", "channel": "post", "csrf_token": csrf}
    )
    assert response.status_code == 302
    assert session.get(User, user.id).channel_preference == "post"


def test_bad_preferences_are_explained_and_not_saved(client, session):
    user = UserFactory(channel_preference="electronic")
    csrf = login(client, user.email)
    response = client.post(
        "/profile", data={"language": "nl", "channel": "pigeon", "csrf_token": csrf}
    )
    assert response.status_code == 200
    assert "Ongeldige keuze." in response.text
    missing = client.post("/profile", data={"language": "nl", "csrf_token": csrf})
    assert "Dit veld is verplicht." in missing.text
    assert session.get(User, user.id).channel_preference == "electronic"


def test_a_token_is_shown_once_and_works(client, session):
    user = UserFactory()
    csrf = login(client, user.email)
    page = client.post("/profile/tokens", data={"name": "zaaksysteem", "csrf_token": csrf})
    assert page.status_code == 200
    secret = re.search(r"(vw_[A-Za-z0-9_-]{20,})", page.text).group(1)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    assert secret not in client.get("/profile").text  # never shown again
    token = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    revoked = client.post(f"/profile/tokens/{token.id}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 302
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    )


def test_a_token_needs_a_sensible_name(client, session):
    user = UserFactory()
    csrf = login(client, user.email)
    for name, message in (("", "Dit veld is verplicht."), ("x" * 101, "100")):
        page = client.post("/profile/tokens", data={"name": name, "csrf_token": csrf})
        assert page.status_code == 200
        assert message in page.text
    assert session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all() == []
