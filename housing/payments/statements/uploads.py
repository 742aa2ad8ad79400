"""Uploaded statements waiting for their import job.

The job runs in a worker, later, so the uploaded bytes must wait somewhere. A `Document`
belongs to a claim and a statement to none, and the job's params are JSON in a table that
lists jobs: the file (names and IBANs of payees) is stored encrypted with the field
cipher, in the folder the setting STATEMENT_UPLOAD_ROOT names (under the instance folder,
outside the web root, unless set), under a random key that the view passes in the job's
params. The runner removes it once the import is done or refused.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from housing.crypto import active_cipher

_UPLOAD_KEY = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class UploadStore:
    """Statement files between the upload and their import job, encrypted, under `root`."""

    root: Path

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> UploadStore:
        """The store the app's settings name (STATEMENT_UPLOAD_ROOT)."""
        return cls(root=Path(config["STATEMENT_UPLOAD_ROOT"]))

    def _path(self, key: str) -> Path:
        # The key comes back from the job's params: only our own format, never a path.
        if not _UPLOAD_KEY.fullmatch(key):
            raise FileNotFoundError("not an upload key")
        return self.root / key

    def store(self, data: bytes) -> str:
        """Keep an uploaded statement, encrypted, for the import job; returns its key."""
        key = secrets.token_hex(20)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = path.with_suffix(".partial")
        partial.write_bytes(active_cipher().encrypt_bytes(bytes(data)))
        partial.chmod(0o600)
        os.replace(partial, path)  # a reader never sees half a file
        return key

    def load(self, key: str) -> bytes:
        """The bytes stored under `key`; FileNotFoundError when they are gone."""
        return active_cipher().decrypt_bytes(self._path(key).read_bytes())

    def discard(self, key: str) -> None:
        # A key not of our format names nothing of ours: there is nothing to remove.
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink(missing_ok=True)
