"""Single sign-on with OpenID Connect: the providers an organisation set up, the login at
one of them, and the account the person lands in.

The exchange (Authlib's OAuth 2 client, joserfc for the ID token):

- `begin` makes the authorization request: code flow with PKCE (S256), a fresh `state`
  and `nonce`; what the callback needs is returned for the browser's session to keep.
- `finish` checks the callback against it (the `state`, the `iss` of RFC 9207, an error
  the provider sent), trades the code for tokens with the code verifier, and validates the
  ID token: its signature with a key of the provider's JWKS (fetched again once when the
  token names a key not seen before, so a key rotated at the provider is picked up), the
  issuer, the audience (our client id), the expiry and the nonce.
- `SingleSignOn.admit` finds the person's account by (provider, `sub`), or creates it in
  the provider's organisation with the roles the group mapping gives (none otherwise). An
  account of another organisation is never reached: identities are per provider, and an
  e-mail address that already has an account is refused rather than linked.

Every sign-in, refusal, account created and role changed is appended to the provider's
organisation's audit chain. Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2 import OAuth2Error
from flask_babel import lazy_gettext as _l
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from housing.accounts.authentication import FACTORS, FEDERATED, MULTI_FACTOR
from housing.accounts.models import User
from housing.accounts.services import normalise_email
from housing.audit.services import AuditTrail
from housing.clock import Clock, utcnow
from housing.db import DbSession
from housing.errors import DomainError, InvalidInput, NotFound
from housing.organisations.models import (
    ExternalIdentity,
    ProviderAudience,
    SignInProvider,
)
from housing.roles import STAFF_ROLES, Role

DISCOVERY_PATH = "/.well-known/openid-configuration"
HTTP_TIMEOUT = 5  # seconds for each call to a provider
METADATA_MAX_AGE = 3600  # seconds a discovery document is kept
# A provider's clock and ours may differ this much.
CLOCK_LEEWAY = 30
# An authorization request waits at most this long for its callback.
PENDING_MAX_AGE = dt.timedelta(minutes=10)
SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
# An account made by a provider has no password: this is no Argon2 hash, so none matches.
NO_PASSWORD = "!sso"  # noqa: S105 (no hash: no password matches it)

ROLES_FOR_AUDIENCE: dict[ProviderAudience, frozenset[Role]] = {
    ProviderAudience.STAFF: STAFF_ROLES,
    ProviderAudience.APPLICANTS: frozenset({Role.APPLICANT}),
    ProviderAudience.BOTH: frozenset(Role),
}


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


def not_here(provider: SignInProvider, reason: str) -> SignInRefused:
    """The person is who the provider says, but may not sign in here (403)."""
    message = _l(
        "Your account at %(provider)s cannot be used here. Ask your administrator for access.",
        provider=provider.name,
    )
    return SignInRefused(str(message), reason, status=403)


# --- the group mapping -----------------------------------------------------------------


def parse_role_mapping(text: str) -> list[tuple[str, Role]]:
    """The rules of a mapping: one per line, "group pattern = role" (glob patterns: *, ?,
    [..]); empty lines and lines starting with # are skipped. Raises InvalidInput naming
    the first line that is not a rule."""
    rules: list[tuple[str, Role]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, equals, role = line.rpartition("=")
        pattern, role = pattern.strip(), role.strip().lower()
        if not equals or not pattern or role not in {r.value for r in Role}:
            message = _l(
                'Line %(line)d is not "group = role" with one of the roles %(roles)s.',
                line=number,
                roles=", ".join(r.value for r in Role),
            )
            raise InvalidInput(message, field_errors={"role_mapping": [message]})
        rules.append((pattern, Role(role)))
    return rules


def mapped_roles(rules: Iterable[tuple[str, Role]], groups: Iterable[str]) -> frozenset[Role]:
    """The roles whose pattern matches one of the person's groups (case-sensitive)."""
    groups = list(groups)
    return frozenset(
        role for pattern, role in rules if any(fnmatch.fnmatchcase(g, pattern) for g in groups)
    )


def groups_of(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The person's groups from the named claim: a list of names, or one name."""
    value = claims.get(claim)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


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


# --- the account ---------------------------------------------------------------------


def session_methods(provider: SignInProvider, amr: Iterable[str]) -> frozenset[str]:
    """The methods the session records: the provider's `amr` when this provider's word is
    trusted (so "mfa" counts as multi-factor), otherwise one federated factor."""
    methods = frozenset(amr)
    if provider.trust_provider_mfa and methods & (FACTORS | {MULTI_FACTOR}):
        return methods
    return frozenset({FEDERATED})


class SingleSignOn:
    """Admit a person a provider vouched for into its organisation; audited."""

    def __init__(
        self, session: DbSession, clock: Clock = utcnow, audit: AuditTrail | None = None
    ) -> None:
        self.session = session
        self.clock = clock
        self.audit = audit or AuditTrail(session, clock=clock)

    def provider(self, provider_id: int) -> SignInProvider | None:
        """An active provider by id (a callback or a login button names it)."""
        found = self.session.get(SignInProvider, provider_id)
        return found if found is not None and found.active else None

    def active_providers(self) -> list[SignInProvider]:
        return list(
            self.session.scalars(
                select(SignInProvider)
                .options(joinedload(SignInProvider.organisation))
                .where(SignInProvider.active.is_(True))
                .order_by(SignInProvider.name, SignInProvider.id)
            )
        )

    def failed(self, provider: SignInProvider, reason: str, subject: str | None = None) -> None:
        """A sign-in at `provider` that did not succeed."""
        self.audit.append(
            provider.organisation_id,
            event="sso_sign_in_failed",
            actor_id=None,
            reason=reason,
            payload={"provider_id": provider.id, "reason": reason, "subject": subject},
        )

    def admit(self, provider: SignInProvider, verified: Verified) -> User:
        """The account of the person `verified` names: found by (provider, sub), or made
        in the provider's organisation. Raises SignInRefused (audited by the caller) when
        the person may not sign in here; writes nothing then."""
        rules = parse_role_mapping(provider.role_mapping)
        allowed = ROLES_FOR_AUDIENCE[provider.audience]
        groups = groups_of(verified.claims, provider.groups_claim)
        wanted = mapped_roles(rules, groups) & allowed
        identity = self.session.scalars(
            select(ExternalIdentity).where(
                ExternalIdentity.provider_id == provider.id,
                ExternalIdentity.subject == verified.subject,
            )
        ).one_or_none()
        now = self.clock()
        if identity is None:
            user = self._provision(provider, verified, wanted, groups)
            identity = ExternalIdentity(
                provider_id=provider.id, subject=verified.subject, user_id=user.id
            )
            self.session.add(identity)
        else:
            user = self.session.get_one(User, identity.user_id)
            if user.organisation_id != provider.organisation_id or not user.active:
                raise not_here(provider, "inactive")
            if provider.sync_roles:
                self._sync_roles(provider, user, wanted, groups)
        if user.roles - allowed:
            # A staff account may not come in through an applicants' provider, nor the
            # reverse: the provider serves only its audience.
            raise not_here(provider, "audience")
        identity.last_login_at = now
        user.last_login_at = now
        self.session.flush()
        self.audit.append(
            provider.organisation_id,
            event="sso_signed_in",
            actor_id=user.id,
            payload={
                "provider_id": provider.id,
                "user_id": user.id,
                "acr": verified.acr,
                "amr": sorted(verified.amr),
            },
        )
        return user

    def _provision(
        self,
        provider: SignInProvider,
        verified: Verified,
        roles: frozenset[Role],
        groups: list[str],
    ) -> User:
        email = verified.claims.get("email")
        if not isinstance(email, str) or "@" not in email or len(email) > 254:
            raise not_here(provider, "no_email")
        if verified.claims.get("email_verified") is False:
            raise not_here(provider, "email_not_verified")
        email = normalise_email(email)
        if self.session.scalar(select(func.count()).where(User.email == email)):
            # Never linked by e-mail address: that would let a provider (perhaps another
            # organisation's) open an account it did not make.
            raise not_here(provider, "email_taken")
        name = verified.claims.get("name")
        user = User(
            email=email,
            full_name=(name if isinstance(name, str) and name.strip() else email)[:200],
            password_hash=NO_PASSWORD,
            organisation_id=provider.organisation_id,
        )
        user.roles = roles
        self.session.add(user)
        self.session.flush()
        self.audit.append(
            provider.organisation_id,
            event="sso_user_provisioned",
            actor_id=None,
            payload={
                "provider_id": provider.id,
                "user_id": user.id,
                "roles": sorted(roles),
                "groups": sorted(groups),
            },
        )
        return user

    def _sync_roles(
        self, provider: SignInProvider, user: User, wanted: frozenset[Role], groups: list[str]
    ) -> None:
        if wanted == user.roles:
            return
        added, removed = sorted(wanted - user.roles), sorted(user.roles - wanted)
        user.roles = wanted
        self.session.flush()
        self.audit.append(
            provider.organisation_id,
            event="sso_roles_changed",
            actor_id=None,
            payload={
                "provider_id": provider.id,
                "user_id": user.id,
                "added": added,
                "removed": removed,
                "groups": sorted(groups),
            },
        )


# --- administering providers ------------------------------------------------------------


@dataclass(frozen=True)
class ProviderData:
    """What an administrator sets for a provider; `client_secret` None keeps the one
    stored (it is never shown again)."""

    name: str
    issuer: str
    client_id: str
    client_secret: str | None
    scopes: str = "openid email profile"
    audience: ProviderAudience = ProviderAudience.BOTH
    groups_claim: str = "groups"
    role_mapping: str = ""
    sync_roles: bool = True
    trust_provider_mfa: bool = False
    active: bool = True


# The fields an audit link names when they change (the secret only as "changed").
_AUDITED_FIELDS = (
    "name",
    "issuer",
    "client_id",
    "scopes",
    "audience",
    "groups_claim",
    "role_mapping",
    "sync_roles",
    "trust_provider_mfa",
    "active",
)


def _problem(field: str, message: Any) -> InvalidInput:
    return InvalidInput(message, field_errors={field: [message]})


def checked(data: ProviderData, *, new: bool) -> ProviderData:
    """`data` stripped and checked; InvalidInput at the first field that is wrong."""
    name, issuer, client_id = data.name.strip(), data.issuer.strip(), data.client_id.strip()
    scopes = " ".join(data.scopes.split())
    groups_claim = data.groups_claim.strip()
    if not name:
        raise _problem("name", _l("Give the provider a name."))
    if len(name) > 80:
        raise _problem("name", _l("At most %(n)d characters.", n=80))
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.netloc or len(issuer) > 500:
        raise _problem(
            "issuer", _l("Give the issuer or its discovery URL, starting with https://.")
        )
    if not client_id or len(client_id) > 200:
        raise _problem("client_id", _l("Give the client id the provider gave (at most 200)."))
    secret = data.client_secret.strip() if data.client_secret else None
    if new and not secret:
        raise _problem("client_secret", _l("Give the client secret the provider gave."))
    if secret is not None and len(secret) > 500:
        raise _problem("client_secret", _l("At most %(n)d characters.", n=500))
    if "openid" not in scopes.split() or len(scopes) > 500:
        raise _problem("scopes", _l('The scopes must include "openid".'))
    if not groups_claim or len(groups_claim) > 100:
        raise _problem("groups_claim", _l("Name the claim that carries the groups or roles."))
    if len(data.role_mapping) > 4000:
        raise _problem("role_mapping", _l("At most %(n)d characters.", n=4000))
    parse_role_mapping(data.role_mapping)
    return ProviderData(
        name=name,
        issuer=issuer,
        client_id=client_id,
        client_secret=secret,
        scopes=scopes,
        audience=ProviderAudience(data.audience),
        groups_claim=groups_claim,
        role_mapping=data.role_mapping.strip(),
        sync_roles=bool(data.sync_roles),
        trust_provider_mfa=bool(data.trust_provider_mfa),
        active=bool(data.active),
    )


class ProviderAdministration:
    """An administrator adds and changes their organisation's providers; audited (never
    the secret). Changing who may sign in how needs step-up in the UI (the views)."""

    def __init__(
        self, session: DbSession, clock: Clock = utcnow, audit: AuditTrail | None = None
    ) -> None:
        self.session = session
        self.clock = clock
        self.audit = audit or AuditTrail(session, clock=clock)

    def _name_taken(self, organisation_id: int, name: str, but: int | None = None) -> None:
        query = select(func.count()).where(
            SignInProvider.organisation_id == organisation_id, SignInProvider.name == name
        )
        if but is not None:
            query = query.where(SignInProvider.id != but)
        if self.session.scalar(query):
            raise _problem("name", _l("Another provider has this name."))

    def create(self, actor: User, data: ProviderData) -> SignInProvider:
        data = checked(data, new=True)
        self._name_taken(actor.organisation_id, data.name)
        assert data.client_secret is not None  # checked: required when new
        provider = SignInProvider(
            organisation_id=actor.organisation_id,
            name=data.name,
            issuer=data.issuer,
            client_id=data.client_id,
            client_secret=data.client_secret,
            scopes=data.scopes,
            audience=data.audience,
            groups_claim=data.groups_claim,
            role_mapping=data.role_mapping,
            sync_roles=data.sync_roles,
            trust_provider_mfa=data.trust_provider_mfa,
            active=data.active,
        )
        self.session.add(provider)
        self.session.flush()
        self.audit.append(
            provider.organisation_id,
            event="sign_in_provider_added",
            actor_id=actor.id,
            payload={
                "provider_id": provider.id,
                **{f: getattr(provider, f) for f in _AUDITED_FIELDS},
            },
        )
        return provider

    def update(self, actor: User, provider: SignInProvider, data: ProviderData) -> None:
        if provider.organisation_id != actor.organisation_id:
            raise NotFound(_l("No such provider."))
        data = checked(data, new=False)
        self._name_taken(actor.organisation_id, data.name, but=provider.id)
        changes: dict[str, Any] = {}
        for name in _AUDITED_FIELDS:
            if getattr(provider, name) != getattr(data, name):
                changes[name] = getattr(data, name)
                setattr(provider, name, getattr(data, name))
        if data.client_secret is not None and data.client_secret != provider.client_secret:
            provider.client_secret = data.client_secret
            changes["client_secret"] = "changed"  # noqa: S105 (never the secret itself)
        if not changes:
            return
        self.session.flush()
        self.audit.append(
            provider.organisation_id,
            event="sign_in_provider_changed",
            actor_id=actor.id,
            payload={"provider_id": provider.id, **changes},
        )
