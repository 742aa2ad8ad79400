"""Uploaded statements waiting for their import job.

The job runs in a worker, later, so the uploaded bytes must wait somewhere. A `Document`
belongs to a claim and a statement to none, and the job's params are JSON in a table that
lists jobs: the file (names and IBANs of payees) is stored encrypted with the field
cipher, in the instance folder outside the web root, under a random key that the view
passes in the job's params. The runner removes it once the import is done or refused.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

from flask import current_app, has_app_context

from housing.crypto import active_cipher

UPLOAD_FOLDER = "statement_uploads"
_UPLOAD_KEY = re.compile(r"^[0-9a-f]{40}$")


def _upload_root() -> Path:
    if has_app_context():
        return Path(current_app.instance_path) / UPLOAD_FOLDER
    from housing.config import Settings

    return Settings.from_env().instance_path / UPLOAD_FOLDER


def _upload_path(key: str) -> Path:
    # The key comes back from the job's params: only our own format, never a path.
    if not _UPLOAD_KEY.fullmatch(key):
        raise FileNotFoundError("not an upload key")
    return _upload_root() / key


def store_upload(data: bytes) -> str:
    """Keep an uploaded statement, encrypted, for the import job; returns its key."""
    key = secrets.token_hex(20)
    path = _upload_path(key)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_suffix(".partial")
    partial.write_bytes(active_cipher().encrypt_bytes(bytes(data)))
    partial.chmod(0o600)
    os.replace(partial, path)  # a reader never sees half a file
    return key


def load_upload(key: str) -> bytes:
    """The bytes stored under `key`; FileNotFoundError when they are gone."""
    return active_cipher().decrypt_bytes(_upload_path(key).read_bytes())


def discard_upload(key: str) -> None:
    # A key not of our format names nothing of ours: there is nothing to remove.
    with contextlib.suppress(FileNotFoundError):
        _upload_path(key).unlink(missing_ok=True)
