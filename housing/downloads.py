"""Sending a file to the browser: one way, for every download of the UI and the API."""

from __future__ import annotations

import io

from flask import Response, send_file


def attachment(data: bytes, *, mimetype: str, filename: str) -> Response:
    """`data` as a file the browser saves under `filename`; no cache keeps a copy (the
    files are case documents, letters and payment files)."""
    return send_file(
        io.BytesIO(data),
        mimetype=mimetype,
        as_attachment=True,
        download_name=filename,
        max_age=0,
    )
