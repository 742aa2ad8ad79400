"""Argon2id password hashing and the password policy."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l

from housing.accounts.common_passwords import DUTCH_WORDS

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
# zxcvbn's score 3: at least 10^8 guesses.
MIN_SCORE = 3


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


def policy_problems(
    password: str, *, email: str = "", full_name: str = "", organisation: str = ""
) -> list[str]:
    """Say what is wrong with a new password; an empty list means it is acceptable.

    The rules of NIST SP 800-63B and the BIO: long enough, not easily guessed, not made of
    the person's or the organisation's own name; no rules on character classes and no
    forced periodic change (they lead to predictable passwords).
    """
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(_l("Use at least %(n)d characters.", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        problems.append(_l("Use at most %(n)d characters.", n=MAX_LENGTH))
        return problems  # not worth estimating
    lowered = password.casefold()
    local = email.split("@", 1)[0].casefold()
    if _contains_any(lowered, [local, *_words(local)]):
        problems.append(_l("Do not use your e-mail address in your password."))
    if _contains_any(lowered, _words(full_name)):
        problems.append(_l("Do not use your name in your password."))
    organisation_words = _words(organisation)
    if _contains_any(lowered, organisation_words):
        problems.append(_l("Do not use the name of your organisation in your password."))
    if not problems and _guessable(password, [local, *_words(full_name), *organisation_words]):
        problems.append(
            _l(
                "This password is too easy to guess: it is a common password, a common word"
                " with a year or digits, or a pattern. Try a sentence of four or five"
                " unrelated words."
            )
        )
    return problems


# Parts of a name shorter than this are too common inside other words to refuse.
NAME_PART_MIN = 4


def _words(text: str) -> list[str]:
    """The parts of a name or address that a password must not contain."""
    parts = re.split(r"[^\w]+|_", text.casefold())
    return [part for part in parts if len(part) >= NAME_PART_MIN]


def _contains_any(password: str, parts: list[str]) -> bool:
    return any(len(part) >= NAME_PART_MIN and part in password for part in parts)


def _guessable(password: str, own_words: list[str]) -> bool:
    """zxcvbn's estimate, with Dutch words it does not know, is below 10^8 guesses.

    Guessing is throttled online (housing.web.throttle), so 10^8 guesses take years; what
    falls short is a common password, a word with a year, a keyboard walk or a repetition.
    """
    from zxcvbn import zxcvbn  # its dictionaries take a moment to load: only when asked

    estimate = zxcvbn(password, user_inputs=[*DUTCH_WORDS, *own_words], max_length=MAX_LENGTH)
    return int(estimate["score"]) < MIN_SCORE
