"""Sending a file to the browser: one way, for every download of the UI and the API."""

from __future__ import annotations

import io

from flask import Response, send_file

from housing.inputs import clean_filename


def attachment(data: bytes, *, mimetype: str, filename: str) -> Response:
    """`data` as a file the browser saves under `filename`; no cache keeps a copy (the
    files are case documents, letters and payment files). The name is cleaned again: one
    stored before uploads were cleaned must not make every download fail."""
    return send_file(
        io.BytesIO(data),
        mimetype=mimetype,
        as_attachment=True,
        download_name=clean_filename(filename),
        max_age=0,
    )
