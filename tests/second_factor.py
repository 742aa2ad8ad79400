"""Passing the second step of a login in tests, as a user with their app would: the code
is computed with pyotp from the user's own secret (the factories give each staff user one,
`factor_secret`), never by switching the rule off."""

from __future__ import annotations

import base64
import hashlib
import re

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from housing.accounts.factors import DRIFT_STEPS, INTERVAL, step_at
from housing.accounts.models import TotpFactor, User
from housing.clock import utcnow

SECRET_ON_PAGE = re.compile(r'id="factor-secret">([A-Z2-7 ]+)</code>')


def factor_secret(email: str) -> str:
    """The TOTP secret the factories give the user with this e-mail address."""
    return base64.b32encode(hashlib.sha256(email.encode()).digest()[:20]).decode()


def code_for(secret: str, step: int | None = None) -> str:
    """The code of `secret` in time step `step` (default: now)."""
    return pyotp.TOTP(secret, interval=INTERVAL).generate_otp(
        step if step is not None else step_at(utcnow())
    )


def secret_on(page: str) -> str:
    """The secret an enrolment page shows as text."""
    found = SECRET_ON_PAGE.search(page)
    assert found, "no secret on the enrolment page"
    return found.group(1).replace(" ", "")


def unused_code(session: Session, email: str, *, commit: bool = False) -> str:
    """A code of the user's app that the server accepts now: of the current step, or the
    next when the current one was used.

    When a test has used all three steps of the window (three logins of one user within
    a minute), the stored last step is moved back, as if the user had waited for the next
    code: the rule is the same, the test does not sleep for it. `commit` for data that
    other connections read (the browser tests' server).
    """
    factor = session.scalars(
        select(TotpFactor).join(User, User.id == TotpFactor.user_id).where(User.email == email)
    ).one()
    now = step_at(utcnow())
    # Not earlier than the current step: a request that reaches the server after the next
    # 30-second step began still finds it inside the drift window (a slow run did not).
    step = max(now, (factor.last_used_step or 0) + 1)
    if step > now + DRIFT_STEPS:
        factor.last_used_step = now - 1
        step = now
        session.flush()
        if commit:
            session.commit()
    return code_for(factor.secret, step)
