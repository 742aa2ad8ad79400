"""Field encryption at rest with a rotatable key (Fernet, several keys via MultiFernet).

The first key encrypts; every key decrypts. Rotation: put a new key first, run
`housing keys rotate`, then drop the old key.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class FieldCipher:
    """Encrypts and decrypts text values with the configured keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one field encryption key is needed")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError as exc:
            raise ValueError(
                "FIELD_ENCRYPTION_KEYS must be comma-separated Fernet keys "
                "(generate one with `housing keys generate`)"
            ) from exc

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken as exc:
            raise InvalidToken("a field could not be decrypted with any configured key") from exc

    def encrypt_bytes(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise InvalidToken("a file could not be decrypted with any configured key") from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt a token under the primary key."""
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")


_active: FieldCipher | None = None


def configure(keys: Sequence[str]) -> FieldCipher:
    """Install the process-wide cipher; key material is per process, like a TLS key."""
    global _active
    _active = FieldCipher(keys)
    return _active


def active_cipher() -> FieldCipher:
    if _active is None:
        raise RuntimeError("field encryption is not configured: create the app first")
    return _active
