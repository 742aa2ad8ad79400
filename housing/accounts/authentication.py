"""How the current session was authenticated: with which methods, and when.

One record per session (kept by `housing.web.signin`), read by every rule that asks
whether a login was strong enough or recent enough: the second-factor guard on staff
sessions and the step-up of the acts that matter. Methods are named as OpenID Connect's
`amr` claim names them (RFC 8176), so a single sign-on can record what its provider said
(for example `["pwd", "mfa"]`) and count as multi-factor without a second code here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# RFC 8176 method references.
PASSWORD = "pwd"  # noqa: S105 (a method name, not a secret)
ONE_TIME_CODE = "otp"  # a TOTP code, or one of the user's recovery codes
MULTI_FACTOR = "mfa"  # a provider's word that it checked more than one factor
# A sign-in at a provider whose own account of its methods (`amr`) is not trusted here: one
# factor, whatever the provider says it checked.
FEDERATED = "fed"
# Methods that are a factor each (what you know, what you have, what you are).
FACTORS = frozenset(
    {PASSWORD, ONE_TIME_CODE, FEDERATED, "hwk", "swk", "sc", "pop", "face", "fpt", "iris"}
)

# The acts that matter (deciding, releasing a batch, exports, changing roles) need the user
# to have proved who they are at most this long ago.
STEP_UP_MAX_AGE = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Authentication:
    """`at` is the last moment the user proved who they are: at login, or a step-up since."""

    user_id: int
    methods: frozenset[str]
    at: dt.datetime
    # Where the proof came from: "password", or "oidc:<provider id>" for a single sign-on.
    source: str = "password"
    # The authentication context a provider reported (`acr`), e.g. DigiD "midden".
    acr: str | None = None

    @property
    def multi_factor(self) -> bool:
        return MULTI_FACTOR in self.methods or len(self.methods & FACTORS) >= 2

    def recent(self, now: dt.datetime, max_age: dt.timedelta = STEP_UP_MAX_AGE) -> bool:
        """Whether this authentication is multi-factor and at most `max_age` old."""
        age = now - self.at
        return self.multi_factor and dt.timedelta(0) <= age <= max_age

    def renewed(self, method: str, now: dt.datetime) -> Authentication:
        """The same session, proved again now with `method` (a step-up)."""
        return Authentication(self.user_id, self.methods | {method}, now, self.source, self.acr)

    def stored(self) -> dict[str, Any]:
        """As the session keeps it (JSON)."""
        return {
            "user": self.user_id,
            "amr": sorted(self.methods),
            "at": int(self.at.timestamp()),
            "source": self.source,
            "acr": self.acr,
        }

    @classmethod
    def from_stored(cls, data: object) -> Authentication | None:
        """Read `stored()` back; anything else (an old session, a damaged one) is None."""
        if not isinstance(data, Mapping):
            return None
        user, amr, at, source = (data.get(k) for k in ("user", "amr", "at", "source"))
        if not (isinstance(user, int) and isinstance(at, int) and isinstance(source, str)):
            return None
        if not isinstance(amr, list) or not all(isinstance(m, str) for m in amr):
            return None
        acr = data.get("acr")
        return cls(
            user,
            frozenset(amr),
            dt.datetime.fromtimestamp(at, dt.UTC),
            source,
            acr if isinstance(acr, str) else None,
        )


def authenticated(
    user_id: int,
    methods: Iterable[str],
    now: dt.datetime,
    *,
    source: str = "password",
    acr: str | None = None,
) -> Authentication:
    return Authentication(user_id, frozenset(methods), now, source, acr)
