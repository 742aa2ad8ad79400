"""The second factor of a password login: an authenticator app (TOTP) and recovery codes.

Services flush, never commit; what is audited (enrolling, a reset, a recovery code used) is
in `housing.organisations.accounts`, which builds on this.

- A code is accepted in its own 30-second step and one step either side (a phone's clock
  drifts, a person types slowly), and once: the step of the last accepted code is stored on
  the factor, under a row lock, and a code of that step or an earlier one is refused.
- The secret is encrypted at rest (`EncryptedText`, the field keys).
- Ten recovery codes, each used once, are kept as Argon2 hashes (the password hasher) and
  shown once, when they are made.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from collections.abc import Callable

import pyotp
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select

from housing.accounts.models import RecoveryCode, TotpFactor, User
from housing.accounts.passwords import hash_password, verify_password
from housing.clock import utcnow
from housing.db import DbSession
from housing.errors import Conflict, InvalidInput
from housing.roles import STAFF_ROLES
from housing.security_events import FAILURE, security_event

ISSUER = "Veilig Wonen"
INTERVAL = 30  # seconds per code (RFC 6238's default, what every app assumes)
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: a code read off paper is typed right.
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
RECOVERY_LENGTH = 10  # about 50 bits, hashed with Argon2 and throttled
_TOTP_CODE = re.compile(r"[0-9]{6}")

# The methods `check` answers with.
TOTP = "totp"
RECOVERY = "recovery"

WRONG_CODE = _l("This code is not correct, or it has been used already. Try the next code.")


def wrong_code(field: str = "code") -> InvalidInput:
    return InvalidInput(WRONG_CODE, field_errors={field: [WRONG_CODE]})


def new_secret() -> str:
    """A fresh secret: 160 random bits in Base32, as RFC 4226 recommends."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    """The `otpauth://` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, interval=INTERVAL).provisioning_uri(name=account, issuer_name=issuer)


def step_at(moment: dt.datetime) -> int:
    return int(moment.timestamp()) // INTERVAL


def code_at(secret: str, moment: dt.datetime) -> str:
    """The code an authenticator app shows at `moment` (the demo's `housing demo code`)."""
    return pyotp.TOTP(secret, interval=INTERVAL).generate_otp(step_at(moment))


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def matching_step(secret: str, code: str, now: dt.datetime, after: int | None) -> int | None:
    """The step within the drift window whose code is `code` and which is later than
    `after` (the last step used); None when there is none."""
    if not _TOTP_CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret, interval=INTERVAL)
    current = step_at(now)
    found = None
    # Every step is computed and compared, so the time taken does not say which one matched.
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and (after is None or step > after):
            found = step if found is None else found
    return found


def normalised(code: str) -> str:
    """A code as typed, without spaces and dashes, in lower case."""
    return re.sub(r"[\s-]+", "", code).lower()


def requires_second_factor(user: User) -> bool:
    """Whether every password login of `user` must pass a second factor: staff roles."""
    return bool(user.roles & STAFF_ROLES)


class SecondFactors:
    """Enrol, check and remove a user's second factor."""

    def __init__(self, session: DbSession, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.session = session
        self.clock = clock

    def factor_of(self, user_id: int, *, for_update: bool = False) -> TotpFactor | None:
        query = select(TotpFactor).where(TotpFactor.user_id == user_id)
        if for_update:
            # Two requests with the same code queue here; the second sees the first's step.
            query = query.with_for_update().execution_options(populate_existing=True)
        return self.session.scalars(query).one_or_none()

    def is_enrolled(self, user_id: int) -> bool:
        return bool(self.session.scalar(select(func.count()).where(TotpFactor.user_id == user_id)))

    def recovery_codes_left(self, user_id: int) -> int:
        return (
            self.session.scalar(
                select(func.count()).where(
                    RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
                )
            )
            or 0
        )

    def check(self, user: User, code: str) -> str | None:
        """Accept a code of the user's app (TOTP) or one of their recovery codes, once;
        which of the two it was, or None."""
        method = self._accepted(user, normalised(code))
        if method is None:
            security_event(
                "second_factor_check",
                result=FAILURE,
                actor_id=user.id,
                organisation_id=user.organisation_id,
                object=f"user:{user.id}",
            )
        return method

    def _accepted(self, user: User, typed: str) -> str | None:
        factor = self.factor_of(user.id, for_update=True)
        if factor is None or not typed:
            return None
        if _TOTP_CODE.fullmatch(typed):
            step = matching_step(factor.secret, typed, self.clock(), factor.last_used_step)
            if step is None:
                return None
            factor.last_used_step = step
            self.session.flush()
            return TOTP
        return RECOVERY if self._use_recovery_code(user.id, typed) else None

    def _use_recovery_code(self, user_id: int, typed: str) -> bool:
        if len(typed) != RECOVERY_LENGTH:
            return False
        unused = self.session.scalars(
            select(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
            .order_by(RecoveryCode.id)
            .with_for_update()
        ).all()
        for stored in unused:
            if verify_password(stored.code_hash, typed)[0]:
                stored.used_at = self.clock()
                self.session.flush()
                return True
        return False

    def enrol(self, user: User, secret: str, code: str) -> list[str]:
        """Make `secret` the user's factor once `code` shows their app has it; the new
        recovery codes, to be shown once. A wrong code changes nothing."""
        if self.is_enrolled(user.id):
            raise Conflict(_l("A second factor is set up already."))
        step = matching_step(secret, normalised(code), self.clock(), None)
        if step is None:
            raise wrong_code()
        self.install(user, secret, used_step=step)
        return self.new_recovery_codes(user)

    def install(self, user: User, secret: str, *, used_step: int | None = None) -> TotpFactor:
        """Set the factor without a code: only for the demo's fixed secrets and `enrol`."""
        pyotp.TOTP(secret).byte_secret()  # a secret that is not Base32 fails here, not later
        factor = TotpFactor(
            user_id=user.id, secret=secret, last_used_step=used_step, confirmed_at=self.clock()
        )
        self.session.add(factor)
        self.session.flush()
        return factor

    def replace(self, user: User, secret: str, code: str) -> list[str]:
        """Move the factor to a new app (the caller checked the old factor first)."""
        factor = self.factor_of(user.id, for_update=True)
        step = matching_step(secret, normalised(code), self.clock(), None)
        if step is None:
            raise wrong_code("new_code")
        if factor is None:
            self.install(user, secret, used_step=step)
        else:
            factor.secret = secret
            factor.last_used_step = step
            factor.confirmed_at = self.clock()
            self.session.flush()
        return self.new_recovery_codes(user)

    def new_recovery_codes(self, user: User) -> list[str]:
        """Ten new recovery codes in place of any earlier ones; shown once, kept hashed."""
        self.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        codes = [
            "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
            for _ in range(RECOVERY_CODE_COUNT)
        ]
        self.session.add_all(
            RecoveryCode(user_id=user.id, code_hash=hash_password(c)) for c in codes
        )
        self.session.flush()
        return [f"{c[:5]}-{c[5:]}" for c in codes]

    def remove(self, user: User) -> bool:
        """Remove the factor and the recovery codes; whether there was a factor."""
        self.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        removed = self.session.execute(delete(TotpFactor).where(TotpFactor.user_id == user.id))
        self.session.flush()
        return bool(getattr(removed, "rowcount", 0))
