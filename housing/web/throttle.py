"""Slowing down password guessing without locking the rightful owner out.

A lock-out per account lets anyone keep a named official out by typing wrong passwords
for them. Instead, wrong passwords are counted three ways, all in the rate limiter's
storage (Redis, or each process's memory while Redis is away):

- per client address, across accounts (`PER_ADDRESS`, a Flask-Limiter limit on the view):
  one address cannot try many accounts;
- per account and address (`PER_PAIR`): one address gets a few tries on one account;
- per account, from anywhere (`PER_ACCOUNT`): past it the account is under attack, and an
  address that has already given a wrong password for it in the pair's window gets no more
  tries on it until that window ends. An address that has not - the owner at their desk, on
  their phone - still gets its tries, so the right password still signs them in.

So an attacker with one address gets `PER_PAIR` guesses per window on an account, and one
with many addresses one guess per address once the account is under attack; the owner is
never refused for what others did from elsewhere. Unknown e-mail addresses are counted
alike, so the answers do not tell which accounts exist. A refusal is a 429 before the
password is checked.
"""

from __future__ import annotations

from flask import current_app
from limits import RateLimitItem, parse
from limits.strategies import RateLimiter

from housing.accounts.services import normalise_email
from housing.extensions import limiter
from housing.logging import get_logger

log = get_logger(__name__)

PER_ADDRESS = "20 per 15 minutes"
PER_PAIR: RateLimitItem = parse("5 per 15 minutes")
PER_ACCOUNT: RateLimitItem = parse("10 per hour")


def refused(email: str, address: str) -> bool:
    """Whether a sign-in for `email` from `address` is refused now, unchecked."""
    strategy = _strategy()
    if strategy is None:
        return False
    pair, account = _keys(email, address)
    try:
        if not strategy.test(PER_PAIR, *pair):
            return True
        if strategy.test(PER_ACCOUNT, *account):
            return False
        # Under attack: only an address that has not failed on this account yet may try.
        return strategy.get_window_stats(PER_PAIR, *pair).remaining < PER_PAIR.amount
    except Exception as exc:  # the storage went away since the view's own limit was checked
        log.warning("sign_in_throttle.storage_failed", error=type(exc).__name__)
        return False


def failed(email: str, address: str) -> None:
    """Count a wrong password for `email` from `address`."""
    strategy = _strategy()
    if strategy is None:
        return
    pair, account = _keys(email, address)
    try:
        strategy.hit(PER_PAIR, *pair)
        strategy.hit(PER_ACCOUNT, *account)
    except Exception as exc:
        log.warning("sign_in_throttle.storage_failed", error=type(exc).__name__)


def _strategy() -> RateLimiter | None:
    if not (limiter.enabled and limiter.initialized):
        return None
    # Flask-Limiter's own: its in-memory fallback while the storage is unreachable.
    return limiter.limiter


def _keys(email: str, address: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "housing"
    account = normalise_email(email)
    return (prefix, "sign-in-pair", account, address), (prefix, "sign-in-account", account)
