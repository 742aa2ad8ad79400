"""Services are built from the current app's settings: a test steers them through app.config."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from housing import services
from housing.claims.drafting import DraftingService
from housing.payments.camt import DEFAULT_XSD_PATH, CamtSchemaError
from housing.payments.statements import ImportRefused

FIXTURES = Path(__file__).parent / "fixtures" / "camt053"


def test_claim_services_get_the_apps_document_store(
    app: Flask, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "DOCUMENT_ROOT", str(tmp_path / "here"))
    monkeypatch.setitem(app.config, "DOCUMENT_MAX_BYTES", 1234)
    with app.app_context():
        built = [
            services.drafting(session).documents,
            services.workflow(session).documents,
            services.late_decisions(session).documents,
            services.print_queue(session).documents,
        ]
        # Read when built, not once at start: a later change of the config is seen.
        monkeypatch.setitem(app.config, "DOCUMENT_ROOT", str(tmp_path / "there"))
        later = services.document_store()
    assert {(store.root, store.max_bytes) for store in built if store} == {
        (tmp_path / "here", 1234)
    }
    assert len([store for store in built if store]) == 4
    assert later.root == tmp_path / "there"


def test_a_claim_service_built_without_a_store_never_guesses_one(session: Session) -> None:
    with pytest.raises(RuntimeError, match="without a document store"):
        DraftingService(session).documents  # noqa: B018


def test_statement_uploads_wait_in_the_apps_upload_root(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "STATEMENT_UPLOAD_ROOT", str(tmp_path / "uploads"))
    with app.app_context():
        uploads = services.statement_uploads()
        key = uploads.store(b"<Document/>")
    (stored,) = (tmp_path / "uploads").iterdir()
    assert stored.name == key and stored.read_bytes() != b"<Document/>"  # encrypted
    assert uploads.load(key) == b"<Document/>"
    uploads.discard(key)
    assert not stored.exists()
    with pytest.raises(FileNotFoundError):
        uploads.load("../../etc/passwd")  # only our own keys name a file


def test_the_statement_import_takes_the_apps_limit_and_schema(
    app: Flask, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = (FIXTURES / "single_debit.xml").read_bytes()
    monkeypatch.setitem(app.config, "STATEMENT_MAX_BYTES", len(data) - 1)
    with app.app_context():
        importer = services.statement_import(session)
    assert importer.max_bytes == len(data) - 1
    with pytest.raises(ImportRefused) as refused:
        importer.parse(data)
    assert refused.value.code == "too_large"

    monkeypatch.setitem(app.config, "STATEMENT_MAX_BYTES", len(data))
    monkeypatch.setitem(app.config, "CAMT_XSD_PATH", str(tmp_path / "absent.xsd"))
    with app.app_context():
        importer = services.statement_import(session)
    # A missing schema is a deployment fault naming the setting, never a skipped validation.
    with pytest.raises(CamtSchemaError, match="CAMT_XSD_PATH"):
        importer.parse(data)

    shutil.copy(DEFAULT_XSD_PATH, tmp_path / DEFAULT_XSD_PATH.name)
    monkeypatch.setitem(app.config, "CAMT_XSD_PATH", str(tmp_path))  # a folder holding it
    with app.app_context():
        assert services.statement_import(session).parse(data).statements
