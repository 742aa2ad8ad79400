"""Documents are checked by content, stored encrypted and verified when read."""

from __future__ import annotations

import hashlib

import pytest

from housing.claims.documents import DocumentStore, sniff_content_type
from housing.claims.models import Confidentiality, DocumentKind
from housing.errors import InvalidInput
from tests.factories import ClaimFactory

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


@pytest.fixture
def store(tmp_path):
    return DocumentStore(root=tmp_path / "documents", max_bytes=1024)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PDF, "application/pdf"),
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (b"%PDF-1.7 truncated", None),
        (b"MZ\x90\x00 an executable", None),
        (b"<html><script>", None),
    ],
)
def test_content_decides_the_type(data, expected):
    assert sniff_content_type(data) == expected


def test_stored_encrypted_and_read_back(session, store):
    claim = ClaimFactory()
    document = store.add(
        session,
        claim,
        kind=DocumentKind.QUOTE,
        filename="../../offerte.pdf",
        data=PDF,
        uploaded_by_id=None,
    )
    on_disk = next((store.root).rglob(document.storage_key)).read_bytes()
    assert PDF not in on_disk and b"%PDF" not in on_disk
    assert document.filename == "offerte.pdf"  # no path survives
    assert document.sha256 == hashlib.sha256(PDF).hexdigest()
    assert document.content_type == "application/pdf"
    assert store.read(document) == PDF


def test_a_swapped_file_is_noticed(session, store):
    claim = ClaimFactory()
    first = store.add(
        session, claim, kind=DocumentKind.QUOTE, filename="a.pdf", data=PDF, uploaded_by_id=None
    )
    second = store.add(
        session, claim, kind=DocumentKind.PHOTO, filename="b.png", data=PNG, uploaded_by_id=None
    )
    path_first = next(store.root.rglob(first.storage_key))
    path_first.write_bytes(next(store.root.rglob(second.storage_key)).read_bytes())
    with pytest.raises(RuntimeError, match="SHA-256"):
        store.read(first)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Het bestand is leeg."),
        (b"%PDF-" + b"x" * 2048 + b"%%EOF", "groter dan"),
        (b"GIF89a....", "Alleen PDF-, JPEG- of PNG-bestanden"),
    ],
)
def test_refusals_are_clear_and_store_nothing(app, session, store, data, message):
    claim = ClaimFactory()
    with pytest.raises(InvalidInput) as refused:
        store.add(
            session, claim, kind=DocumentKind.QUOTE, filename="x", data=data, uploaded_by_id=None
        )
    assert "file" in refused.value.field_errors
    with app.app_context():  # the message is translated where it is shown
        assert message in str(refused.value.message)
    assert not store.root.exists() or not any(store.root.rglob("*"))


def test_the_advice_is_always_secret(session, store):
    claim = ClaimFactory()
    document = store.add(
        session,
        claim,
        kind=DocumentKind.SECURITY_ADVICE,
        filename="advies.pdf",
        data=PDF,
        uploaded_by_id=None,
        confidentiality=Confidentiality.INTERNAL,
    )
    assert document.confidentiality == Confidentiality.SECRET
