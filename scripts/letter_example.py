"""Render the README's example decision letter: docs/letter-example.png (and .pdf if asked).

A partial grant of the demo data's Gemeente Rivierstad to its mayor, by post, laid out by
the code that lays out every decision letter. Needs no database: the rows are built in
memory. Run with the project's Python: `python scripts/letter_example.py [--pdf]`;
`pdftoppm` (poppler-utils) turns the first page into the PNG.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Imported after the repository is on the path, so `python scripts/letter_example.py` works.
from housing.claims.letters import render_decision_letter  # noqa: E402
from housing.claims.models import Claim, Decision, DecisionKind, MeasureLine  # noqa: E402
from housing.demo import LETTERHEADS, demo_logo  # noqa: E402
from housing.organisations.models import (  # noqa: E402
    Home,
    Letterhead,
    OfficeHolder,
    OfficeType,
    Organisation,
    OrganisationKind,
)
from workflows import awb  # noqa: E402


def example_letter() -> bytes:
    _, address, postcode, city, phone, email, website, name, function, colour = LETTERHEADS[0]
    organisation = Organisation(kind=OrganisationKind.GEMEENTE, name="Gemeente Rivierstad")
    organisation.letterhead = Letterhead(
        address_line=address,
        postcode=postcode,
        city=city,
        phone=phone,
        email=email,
        website=website,
        signatory_name=name,
        signatory_function=function,
        logo=demo_logo(organisation.name, colour),
        logo_content_type="image/png",
    )
    holder = OfficeHolder(
        organisation=organisation,
        full_name="Mr. A. (Anna) de Vries",
        office_type=OfficeType.BURGEMEESTER,
    )
    home = Home(street="Kerkstraat", house_number="12", postcode="1234 AB", city="Rivierstad")
    claim = Claim(
        number="VW-RIVIERSTAD-2026-000017",
        office_holder=holder,
        home=home,
        received_on=dt.date(2026, 3, 9),
        lines=[
            MeasureLine(
                description="Vrijstaande brievenbus bij de oprit",
                requested_amount=Decimal("650.00"),
                granted_amount=Decimal("650.00"),
            ),
            MeasureLine(
                description="Twee camera's, voordeur en achterom",
                requested_amount=Decimal("1450.00"),
                granted_amount=Decimal("1200.00"),
                grant_reason="Eén camera aan de achterzijde volstaat volgens het advies.",
            ),
        ],
    )
    decision = Decision(
        kind=DecisionKind.PARTIAL_GRANT,
        sent_on=dt.date(2026, 4, 3),
        reasons="Het beveiligingsadvies van 2 maart 2026 noemt de brievenbus en één camera"
        " aan de achterzijde als passende maatregelen.",
        legal_basis="Regeling beveiligingsmaatregelen politieke ambtsdragers, regime A.",
    )
    return render_decision_letter(
        claim,
        decision,
        organisation,
        calendar=awb.AtwCalendar(frozenset({dt.date(2026, 5, 15)})),
        terms=awb.AwbTerms(),
        by_post=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pdf", action="store_true", help="keep the PDF beside the PNG")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "letter-example")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pdf = example_letter()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "letter.pdf"
        source.write_bytes(pdf)
        pdftoppm = shutil.which("pdftoppm")
        if pdftoppm is None:
            sys.exit("pdftoppm not found: install poppler-utils")
        subprocess.run(  # noqa: S603  (a tool found on the PATH, fixed arguments)
            [pdftoppm, "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", source, args.out],
            check=True,
        )
    if args.pdf:
        args.out.with_suffix(".pdf").write_bytes(pdf)
    print(f"wrote {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
