"""A real OpenID Provider for the sign-in tests, and a browser's way through it.

`OpenIdProvider` runs the certified npm package `oidc-provider` under node
(tests/oidc_provider/provider.js, installed by scripts/ensure-oidc-provider.sh) on a free
loopback port. A test configures its clients and accounts, and the settings that make it
issue what a test needs: a short ID-token lifetime, an ID token for another audience
(signed by the provider itself, with its own key), a new signing key.

`sso_login` drives a login as a browser would: the Flask test client posts the login
page's button for the provider, the redirect goes to the real provider (a requests
session follows it and completes the provider's login form with HTTP posts), and the
provider's redirect back comes to our callback through the test client.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import csrf_from

HERE = Path(__file__).resolve().parent / "oidc_provider"
CALLBACK = "http://localhost/login/sso/callback"
LOGGED_OUT = "http://localhost/login"
SECRET = "a-client-secret-for-tests-only-0123456789"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Account:
    """A person at the provider: the claims of their ID token, how they signed in."""

    email: str
    name: str = "Sam Single"
    groups: list[str] = field(default_factory=list)
    acr: str | None = "urn:etoegang:core:assurance-class:loa2"
    amr: list[str] = field(default_factory=lambda: ["pwd"])

    def stored(self) -> dict[str, Any]:
        return {
            "claims": {
                "email": self.email,
                "email_verified": True,
                "name": self.name,
                "groups": self.groups,
            },
            "acr": self.acr,
            "amr": self.amr,
        }


class OpenIdProvider:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port
        self.issuer = f"http://127.0.0.1:{port}"
        self.clients: list[str] = []
        self.accounts: dict[str, Account] = {}

    def configure(self, **settings: Any) -> None:
        response = requests.post(
            f"{self.issuer}/__test/config", data=json.dumps(settings), timeout=5
        )
        assert response.status_code == 204, response.text

    def reset(self) -> None:
        self.clients, self.accounts = [], {}
        self.configure(clients=[], accounts={}, id_token_ttl=600, id_token_audience=None)

    def add_client(self, client_id: str) -> None:
        self.clients.append(client_id)
        self._publish()

    def add_account(self, sub: str, account: Account) -> None:
        self.accounts[sub] = account
        self._publish()

    def _publish(self) -> None:
        self.configure(
            clients=[
                {
                    "client_id": c,
                    "client_secret": SECRET,
                    "redirect_uris": [CALLBACK],
                    "post_logout_redirect_uris": [LOGGED_OUT],
                }
                for c in self.clients
            ],
            accounts={sub: a.stored() for sub, a in self.accounts.items()},
        )

    def rotate_key(self) -> str:
        """A new signing key at the provider (the old one leaves its JWKS); its kid."""
        response = requests.post(f"{self.issuer}/__test/rotate", timeout=5)
        assert response.status_code == 200, response.text
        kid: str = response.json()["kid"]
        # The rotation builds a new provider: clients and accounts again, as they were.
        self._publish()
        return kid

    def key_ids(self) -> list[str]:
        return [k["kid"] for k in requests.get(f"{self.issuer}/jwks", timeout=5).json()["keys"]]


@pytest.fixture(scope="session")
def openid_provider() -> Iterator[OpenIdProvider]:
    """The provider process, once per run; each test configures it afresh (`op`)."""
    node = shutil.which("node")
    assert node, "node is needed: run scripts/ensure-oidc-provider.sh (make test does)"
    assert (HERE / "node_modules" / "oidc-provider").is_dir(), (
        "oidc-provider is not installed: run scripts/ensure-oidc-provider.sh (make test does)"
    )
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 (our own script, no shell)
        [node, str(HERE / "provider.js"), str(port)],
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    provider = OpenIdProvider(process, port)
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=1)
            break
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read() if process.stdout else ""
                process.kill()
                pytest.fail(f"the OpenID Provider did not start:\n{output}")
            time.sleep(0.1)
    yield provider
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout:
        process.stdout.close()


@pytest.fixture
def op(openid_provider: OpenIdProvider) -> OpenIdProvider:
    openid_provider.reset()
    return openid_provider


@dataclass
class Journey:
    """Where a login through the provider went."""

    start: TestResponse  # our answer to the login page's button
    callback_url: str | None = None  # where the provider sent the browser back
    callback: TestResponse | None = None  # our answer to that


def _follow_at_provider(http: requests.Session, response: requests.Response) -> requests.Response:
    """Follow the provider's redirects until it shows a page or sends the browser back."""
    while response.is_redirect:
        target = urljoin(response.url, response.headers["Location"])
        if target.startswith(CALLBACK):
            return response
        response = http.get(target, allow_redirects=False, timeout=10)
    return response


def sso_login(
    client: FlaskClient,
    provider_id: int,
    sub: str,
    *,
    tamper: Callable[[str], str] | None = None,
    before_callback: Callable[[], None] | None = None,
    follow_callback: bool = True,
) -> Journey:
    """Press the provider's button on our login page, log in as `sub` at the provider,
    come back to our callback. `tamper` changes the authorization URL on its way to the
    provider (what an attacker in the browser could do)."""
    page = client.get("/login")
    start = client.post(f"/login/sso/{provider_id}", data={"csrf_token": csrf_from(page.text)})
    journey = Journey(start)
    if start.status_code != 302:
        return journey
    url = start.headers["Location"]
    if tamper is not None:
        url = tamper(url)
    http = requests.Session()
    response = _follow_at_provider(http, http.get(url, allow_redirects=False, timeout=10))
    if not response.is_redirect:
        assert response.status_code == 200, response.text
        assert 'name="login"' in response.text, response.text
        action = urljoin(response.url, response.text.split('action="', 1)[1].split('"', 1)[0])
        response = http.post(action, data={"login": sub}, allow_redirects=False, timeout=10)
        response = _follow_at_provider(http, response)
    assert response.is_redirect, response.text
    journey.callback_url = urljoin(response.url, response.headers["Location"])
    assert journey.callback_url.startswith(CALLBACK), journey.callback_url
    if before_callback is not None:
        before_callback()
    if follow_callback:
        journey.callback = client.get(local(journey.callback_url))
    return journey


def local(url: str) -> str:
    """The path and query of one of our URLs, for the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path
