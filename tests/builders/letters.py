"""Letters: the text of a PDF, and a stand-in for WeasyPrint where the layout is not tested."""

from __future__ import annotations

import io

from pypdf import PdfReader


def pdf_text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


MM = 72 / 25.4  # PDF points in a millimetre


def text_positions(data: bytes) -> dict[str, tuple[float, float]]:
    """Each piece of text on page 1 with where it starts, in mm from the left and top edges."""
    page = PdfReader(io.BytesIO(data)).pages[0]
    height = float(page.mediabox.height)
    found: dict[str, tuple[float, float]] = {}

    def visit(text, cm, tm, font, size):
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        if text.strip():
            found.setdefault(text.strip(), (x / MM, (height - y) / MM))

    page.extract_text(visitor_text=visit)
    return found


class QuickHTML:
    """WeasyPrint's HTML without the layout: about a second per letter here, tested elsewhere."""

    def __init__(self, *, string: str) -> None:
        assert "<html" in string.lower()

    def write_pdf(self, **options: object) -> bytes:
        return b"%PDF-1.7\n% laid out by tests/test_letters.py\n%%EOF\n"
