"""Documents of a claim: checked by content, stored encrypted outside the web root.

The bytes are encrypted with the field cipher (Fernet: AES-128-CBC + HMAC), so a copy of
the storage folder alone reveals nothing; the SHA-256 of the plaintext is kept in the
database and checked on every read, so a swapped or damaged file is noticed.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l

from housing.claims.models import Claim, Confidentiality, Document, DocumentKind
from housing.crypto import active_cipher
from housing.db import DbSession
from housing.errors import InvalidInput
from housing.inputs import clean_filename

# As the setting DOCUMENT_MAX_BYTES defaults to; a store built by hand (tests) gets it too.
DEFAULT_MAX_BYTES = 10 * 1024 * 1024

# The first bytes of each accepted type; the name and the browser's content type are not
# trusted, the content decides.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)

# What each kind of document is at least; the advice and scan describe the home's weak spots.
MINIMUM_CONFIDENTIALITY = {
    DocumentKind.SECURITY_ADVICE: Confidentiality.SECRET,
    DocumentKind.SCAN_REPORT: Confidentiality.SECRET,
    DocumentKind.PHOTO: Confidentiality.CONFIDENTIAL,
    # An answer to "send us ..." may be the scan report or a plan of the home.
    DocumentKind.SUPPLEMENT: Confidentiality.SECRET,
}
LEVEL_ORDER = [Confidentiality.INTERNAL, Confidentiality.CONFIDENTIAL, Confidentiality.SECRET]


# Who may download what. The applicant gets their decision letters and what they sent in;
# the security advice and the scan stay with those who assess and decide.
STAFF_READERS = {
    Confidentiality.INTERNAL: {"assessor", "decider", "finance"},
    Confidentiality.CONFIDENTIAL: {"assessor", "decider", "finance"},
    Confidentiality.SECRET: {"assessor", "decider"},
}


def may_download(document: Document, *, user_id: int, roles: set[str], own: bool) -> bool:
    """Whether this user may have the bytes of a document of a claim they can already see.

    `own`: the user is the claim's applicant (see `housing.claims.permissions`).
    """
    if roles & STAFF_READERS[Confidentiality(document.confidentiality)]:
        return True
    if "applicant" in roles and own:
        return (
            document.kind in (DocumentKind.DECISION_LETTER, DocumentKind.NOTICE_LETTER)
            or document.uploaded_by_id == user_id
        )
    return False


def sniff_content_type(data: bytes) -> str | None:
    for signature, content_type in SIGNATURES:
        if data.startswith(signature):
            if content_type == "application/pdf" and b"%%EOF" not in data[-1024:]:
                return None  # truncated or not a PDF after all
            return content_type
    return None


@dataclass(frozen=True)
class DocumentStore:
    root: Path
    max_bytes: int = DEFAULT_MAX_BYTES

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DocumentStore:
        """The store the app's settings name (DOCUMENT_ROOT, DOCUMENT_MAX_BYTES)."""
        return cls(root=Path(config["DOCUMENT_ROOT"]), max_bytes=int(config["DOCUMENT_MAX_BYTES"]))

    def _path(self, storage_key: str) -> Path:
        return self.root / storage_key[:2] / storage_key

    def check(self, data: bytes, *, field: str = "file") -> str:
        """The content type of an acceptable file, else a refusal at `field`."""
        if not data:
            message = _l("The file is empty.")
            raise InvalidInput(message, field_errors={field: [message]})
        if len(data) > self.max_bytes:
            message = _l("The file is larger than %(mb)d MB.", mb=self.max_bytes // (1024 * 1024))
            raise InvalidInput(message, field_errors={field: [message]})
        content_type = sniff_content_type(data)
        if content_type is None:
            message = _l("Only PDF, JPEG or PNG files are accepted.")
            raise InvalidInput(message, field_errors={field: [message]})
        return content_type

    def add(
        self,
        session: DbSession,
        claim: Claim,
        *,
        kind: DocumentKind,
        filename: str,
        data: bytes,
        uploaded_by_id: int | None,
        confidentiality: Confidentiality | None = None,
        information_request_id: int | None = None,
    ) -> Document:
        """Check, encrypt and store; the row is flushed in the caller's transaction."""
        content_type = self.check(data)
        floor = MINIMUM_CONFIDENTIALITY.get(kind, Confidentiality.INTERNAL)
        level = confidentiality or floor
        if LEVEL_ORDER.index(level) < LEVEL_ORDER.index(floor):
            level = floor
        storage_key = secrets.token_hex(20)
        path = self._path(storage_key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_bytes(active_cipher().encrypt_bytes(data))
        document = Document(
            organisation_id=claim.organisation_id,
            claim_id=claim.id,
            kind=kind,
            confidentiality=level,
            filename=clean_filename(filename),
            content_type=content_type,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            storage_key=storage_key,
            uploaded_by_id=uploaded_by_id,
            information_request_id=information_request_id,
        )
        session.add(document)
        session.flush()
        return document

    def read(self, document: Document) -> bytes:
        """The plaintext, after checking it is the file that was stored."""
        data = active_cipher().decrypt_bytes(self._path(document.storage_key).read_bytes())
        if hashlib.sha256(data).hexdigest() != document.sha256:
            raise RuntimeError(f"document {document.id} does not match its SHA-256")
        return data
