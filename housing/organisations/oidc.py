"""OpenID Connect with one provider: the authorization request and the callback's checks
(Authlib's OAuth 2 client, joserfc for the ID token). No database: what the person may do
here is `housing.organisations.sso`'s question.

- `begin` makes the authorization request: code flow with PKCE (S256), a fresh `state`
  and `nonce`; what the callback needs is returned for the browser's session to keep.
- `finish` checks the callback against it (the `state`, the `iss` of RFC 9207, an error
  the provider sent), trades the code for tokens with the code verifier, and validates the
  ID token: its signature with a key of the provider's JWKS (fetched again once when the
  token names a key not seen before, so a key rotated at the provider is picked up), the
  issuer, the audience (our client id), the expiry and the nonce.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2 import OAuth2Error
from flask_babel import lazy_gettext as _l
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from housing.clock import Clock, utcnow
from housing.errors import DomainError
from housing.organisations.models import (
    SignInProvider,
)

DISCOVERY_PATH = "/.well-known/openid-configuration"
HTTP_TIMEOUT = 5  # seconds for each call to a provider
METADATA_MAX_AGE = 3600  # seconds a discovery document is kept
# A provider's clock and ours may differ this much.
CLOCK_LEEWAY = 30
# An authorization request waits at most this long for its callback.
PENDING_MAX_AGE = dt.timedelta(minutes=10)
SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
# An account made by a provider has no password: this is no Argon2 hash, so none matches.


class ProviderUnavailable(DomainError):
    """The provider did not answer, or not as a provider does: try again later."""

    status = 503


class SignInRefused(DomainError):
    """The callback or its tokens are not right; `reason` names why, for the audit."""

    status = 400

    def __init__(self, message: str, reason: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


STEP_EXPIRED = _l("Signing in took too long, or was already finished. Start again.")


def refused(provider: SignInProvider, reason: str, *, status: int = 400) -> SignInRefused:
    """The callback or its token is wrong."""
    message = _l("Signing in with %(provider)s did not succeed. Try again.", provider=provider.name)
    return SignInRefused(str(message), reason, status=status)


# --- talking to the provider -------------------------------------------------------------


def discovery_url(issuer: str) -> str:
    """The discovery document's URL: given as such, or the issuer's well-known one."""
    issuer = issuer.strip()
    return issuer if issuer.endswith(DISCOVERY_PATH) else issuer.rstrip("/") + DISCOVERY_PATH


class ProviderDirectory:
    """Discovery documents and JWKS, kept in this process; a key set is fetched again when
    a token names a key it does not have (the provider rotated its keys)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._metadata: dict[str, tuple[float, dict[str, Any]]] = {}
        self._keys: dict[str, KeySet] = {}

    def _get(self, url: str) -> dict[str, Any]:
        try:
            response = requests.get(url, timeout=HTTP_TIMEOUT)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as error:
            raise ProviderUnavailable(str(error)) from error
        if not isinstance(document, dict):
            raise ProviderUnavailable(f"{url} did not answer with a JSON object")
        return document

    def metadata(self, provider: SignInProvider) -> dict[str, Any]:
        url = discovery_url(provider.issuer)
        with self._lock:
            kept = self._metadata.get(url)
        if kept is not None and self.clock() - kept[0] < METADATA_MAX_AGE:
            return kept[1]
        document = self._get(url)
        needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        if not all(isinstance(document.get(k), str) for k in needed):
            raise ProviderUnavailable(f"{url} is not an OpenID Provider's discovery document")
        if not provider.issuer.strip().endswith(DISCOVERY_PATH) and document[
            "issuer"
        ] != provider.issuer.strip().rstrip("/"):
            raise ProviderUnavailable(f"{url} names issuer {document['issuer']!r}")
        with self._lock:
            self._metadata[url] = (self.clock(), document)
        return document

    def keys(self, jwks_uri: str, *, refresh: bool = False) -> KeySet:
        with self._lock:
            kept = self._keys.get(jwks_uri)
        if kept is not None and not refresh:
            return kept
        try:
            keys = KeySet.import_key_set(self._get(jwks_uri))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as error:
            raise ProviderUnavailable(f"{jwks_uri}: {error}") from error
        with self._lock:
            self._keys[jwks_uri] = keys
        return keys


DIRECTORY = ProviderDirectory()


@dataclass(frozen=True)
class Verified:
    """What a validated ID token says of the person and how they signed in."""

    subject: str
    claims: dict[str, Any]
    acr: str | None
    amr: tuple[str, ...]
    id_token: str


class OpenIdConnect:
    """The exchange with one provider (no database)."""

    def __init__(
        self,
        provider: SignInProvider,
        redirect_uri: str,
        directory: ProviderDirectory = DIRECTORY,
        clock: Clock = utcnow,
    ) -> None:
        self.provider = provider
        self.redirect_uri = redirect_uri
        self.directory = directory
        self.clock = clock

    def _client(self) -> OAuth2Session:
        return OAuth2Session(
            client_id=self.provider.client_id,
            client_secret=self.provider.client_secret,
            scope=self.provider.scopes,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 (a method name)
        )

    def begin(self) -> tuple[str, dict[str, Any]]:
        """The provider's authorization URL, and what the callback must be checked with
        (for the browser's session: state, nonce, code verifier, when)."""
        metadata = self.directory.metadata(self.provider)
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        with self._client() as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=state,
                nonce=nonce,
                code_verifier=verifier,
            )
        pending = {
            "provider": self.provider.id,
            "state": state,
            "nonce": nonce,
            "verifier": verifier,
            "since": int(self.clock().timestamp()),
        }
        return url, pending

    def finish(self, pending: Mapping[str, Any], arguments: Mapping[str, str]) -> Verified:
        """Check the callback's `arguments` against `pending`, trade the code, validate the
        ID token. Raises SignInRefused (the callback or the token is wrong) or
        ProviderUnavailable."""
        provider = self.provider
        since = pending.get("since")
        if not isinstance(since, int) or (
            self.clock().timestamp() - since > PENDING_MAX_AGE.total_seconds()
        ):
            raise SignInRefused(str(STEP_EXPIRED), "expired")
        state = arguments.get("state", "")
        if not isinstance(pending.get("state"), str) or not secrets.compare_digest(
            state, pending["state"]
        ):
            raise refused(provider, "state")
        if arguments.get("error"):
            raise refused(provider, f"provider_error:{arguments['error'][:60]}")
        metadata = self.directory.metadata(provider)
        issuer = arguments.get("iss")
        if issuer is not None and issuer != metadata["issuer"]:
            raise refused(provider, "callback_issuer")  # RFC 9207: a mix-up
        code = arguments.get("code")
        if not code:
            raise refused(provider, "no_code")
        try:
            with self._client() as client:
                token = client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending.get("verifier"),
                    timeout=HTTP_TIMEOUT,
                )
        except (OAuth2Error, OAuthError) as error:
            raise refused(provider, f"token:{error.error}") from error
        except (ValueError, KeyError, TypeError) as error:
            # Not a token response (not JSON, not an object): the provider is not well.
            raise refused(provider, "token:malformed") from error
        except requests.RequestException as error:
            raise ProviderUnavailable(str(error)) from error
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise refused(provider, "no_id_token")
        claims = self._validated(id_token, metadata, str(pending.get("nonce", "")))
        acr = claims.get("acr")
        amr = claims.get("amr")
        return Verified(
            subject=str(claims["sub"]),
            claims=claims,
            acr=acr if isinstance(acr, str) else None,
            amr=tuple(m for m in amr if isinstance(m, str)) if isinstance(amr, list) else (),
            id_token=id_token,
        )

    def _validated(self, id_token: str, metadata: Mapping[str, Any], nonce: str) -> dict[str, Any]:
        provider = self.provider
        jwks_uri = metadata["jwks_uri"]
        try:
            try:
                decoded = jwt.decode(
                    id_token, self.directory.keys(jwks_uri), algorithms=SIGNING_ALGORITHMS
                )
            except (JoseError, ValueError):
                # A key we have not seen (rotated at the provider): once more, fetched anew.
                decoded = jwt.decode(
                    id_token,
                    self.directory.keys(jwks_uri, refresh=True),
                    algorithms=SIGNING_ALGORITHMS,
                )
        except (JoseError, ValueError) as error:
            raise refused(provider, f"signature:{type(error).__name__}") from error
        claims = dict(decoded.claims)
        registry = jwt.JWTClaimsRegistry(
            now=int(self.clock().timestamp()),
            leeway=CLOCK_LEEWAY,
            iss={"essential": True, "value": metadata["issuer"]},
            aud={"essential": True, "value": provider.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as error:
            raise refused(provider, f"claims:{error.error}") from error
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != provider.client_id:
            raise refused(provider, "claims:azp")
        if not nonce or not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise refused(provider, "claims:nonce")
        return claims

    def logout_url(self, id_token: str | None, post_logout_redirect_uri: str) -> str | None:
        """Where to end the session at the provider too (RP-initiated logout); None when
        it offers no such endpoint or cannot be reached."""
        try:
            endpoint = self.directory.metadata(self.provider).get("end_session_endpoint")
        except ProviderUnavailable:
            return None
        if not isinstance(endpoint, str):
            return None
        params = {
            "client_id": self.provider.client_id,
            "post_logout_redirect_uri": post_logout_redirect_uri,
        }
        if id_token:
            params["id_token_hint"] = id_token
        return requests.Request("GET", endpoint, params=params).prepare().url
