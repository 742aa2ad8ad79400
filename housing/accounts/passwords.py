"""Argon2id password hashing and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l

_hasher = PasswordHasher()
# Verified against when the account does not exist, so both paths take as long. Written out,
# not hashed at import (a tenth of a second or more for every process, each command line call
# too); a test keeps its parameters those of `_hasher`, so it costs what a real one does.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$gfm5+DVqZmGHLotnRPBnOA"
    "$1aA21Rt05Vug5NYKosyljm16ZguVMK294JY3YfqQl5U"
)

MIN_LENGTH = 12
MAX_LENGTH = 128


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> tuple[bool, bool]:
    """Return (matches, needs_rehash); an absent hash still costs one verification."""
    try:
        _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False, False
    if password_hash is None:
        return False, False
    return True, _hasher.check_needs_rehash(password_hash)


def policy_problems(password: str, *, email: str = "") -> list[str]:
    """Say what is wrong with a new password; an empty list means it is acceptable."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(_l("Use at least %(n)d characters.", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        problems.append(_l("Use at most %(n)d characters.", n=MAX_LENGTH))
    local = email.split("@", 1)[0].lower()
    if len(local) >= 4 and local in password.lower():
        problems.append(_l("Do not use your e-mail address in your password."))
    return problems
