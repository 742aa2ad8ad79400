"""Decision letters: a PDF in Dutch with the right dates, stored with the claim."""

from __future__ import annotations

import datetime as dt
import io

from pypdf import PdfReader
from sqlalchemy import select

from housing.accounts.models import Channel
from housing.claims.documents import DocumentStore
from housing.claims.letters import long_date, money
from housing.claims.models import Decision, Document
from housing.config import PROJECT_ROOT
from housing.organisations.letterhead import LetterheadData, LetterheadService
from housing.roles import Role
from housing.scoping import Scope
from tests.builders.claims import World
from tests.builders.letters import pdf_text, text_positions
from tests.factories import UserFactory


def test_long_dates_and_money_read_as_in_a_dutch_letter():
    assert long_date(dt.date(2026, 5, 5)) == "5 mei 2026"
    from decimal import Decimal

    assert money(Decimal("1450.5")) == "€ 1.450,50"


def test_a_partial_grant_letter_has_the_decision_the_amounts_and_the_objection_date(
    session, tmp_path
):
    world = World(session)
    world.documents = DocumentStore(tmp_path / "documents")
    # Decided on Friday 3 April 2026: six weeks end Friday 15 May 2026, a day equated with
    # a holiday (after Ascension), so the objection term runs to Monday 18 May.
    world.clock.now = dt.datetime(2026, 4, 3, 9, tzinfo=dt.UTC)
    claim = world.proposed()
    camera, letterbox = claim.lines
    claim_id = claim.id
    world.fire(world.decider, claim, "send_back")
    world.fire(
        world.assessor,
        claim,
        "propose_decision",
        details={
            "granted": {camera.id: "1200.00", letterbox.id: "250.00"},
            "line_reasons": {letterbox.id: "Eenvoudiger model"},
        },
    )
    world.fire(world.decider, claim, "grant_partially", reason="De brievenbus kan eenvoudiger.")
    world.letters()
    decision = session.scalars(select(Decision).where(Decision.claim_id == claim_id)).one()
    letter = session.get(Document, decision.letter_document_id)
    assert (letter.kind, letter.content_type, letter.confidentiality) == (
        "decision_letter",
        "application/pdf",
        "confidential",
    )
    text = pdf_text(world.documents.read(letter))
    assert "gedeeltelijk toe" in text
    assert "3 april 2026" in text  # the date it was sent
    assert "18 mei 2026" in text  # the last day to object, Atw-stretched
    assert "college van burgemeester en wethouders" in text
    assert "De brievenbus kan eenvoudiger." in text and "Eenvoudiger model" in text
    assert "€ 1.450,00" in text  # granted total
    assert claim.number in text


def test_an_extension_notice_moves_the_deadline_and_gets_a_letter(session, tmp_path):
    import pytest

    from housing.errors import Conflict, Forbidden, InvalidInput

    world = World(session)
    world.documents = DocumentStore(tmp_path / "documents")
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    assert claim.decision_deadline == dt.date(2026, 4, 28)
    scope = world.scope(world.assessor)
    with pytest.raises(InvalidInput):
        world.workflow.notify_extension(
            scope, world.assessor, claim.id, new_deadline=dt.date(2026, 6, 1), reason=" "
        )
    with pytest.raises(Forbidden):
        world.workflow.notify_extension(
            world.scope(world.applicant),
            world.applicant,
            claim.id,
            new_deadline=dt.date(2026, 6, 1),
            reason="x",
        )
    decision = world.workflow.notify_extension(
        scope,
        world.assessor,
        claim.id,
        new_deadline=dt.date(2026, 6, 1),
        reason="Advies BZK volgt later.",
    )
    session.commit()
    assert claim.decision_deadline == dt.date(2026, 6, 1)  # the body's own date: not stretched
    world.letters()
    text = pdf_text(world.documents.read(session.get(Document, decision.letter_document_id)))
    assert "1 juni 2026" in text and "4:14" in text and "Advies BZK volgt later." in text
    # Too late: the deadline has passed.
    world.clock.now = dt.datetime(2026, 6, 2, 9, tzinfo=dt.UTC)
    with pytest.raises(InvalidInput) as late:
        world.workflow.notify_extension(
            scope, world.assessor, claim.id, new_deadline=dt.date(2026, 7, 1), reason="Nog later"
        )
    assert "new_deadline" in late.value.field_errors
    session.rollback()
    world.fire(world.applicant, claim, "withdraw")
    with pytest.raises(Conflict):
        world.workflow.notify_extension(
            scope, world.assessor, claim.id, new_deadline=dt.date(2026, 9, 1), reason="x"
        )


# --- the letterhead, the window envelope, the signatory; stored as PDF/A -------------------
def png(width: int = 120, height: int = 40) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 60, 140)).save(out, format="PNG")
    return out.getvalue()


def set_letterhead(world: World, session, **logo) -> None:
    admin = UserFactory(organisation=world.org, roles={Role.ADMIN})
    LetterheadService(session).update(
        Scope.for_user(admin),
        world.org.id,
        LetterheadData(
            address_line="Postbus 15",
            postcode="1234ab",
            city="Proefstad",
            phone="+31 20 123 45 67",
            email="info@proefstad.nl",
            website="www.proefstad.nl",
            signatory_name="mr. A.B. de Vries",
            signatory_function="teamleider Openbare Orde en Veiligheid",
        ),
        **logo,
    )
    session.commit()


def granted_letter(world: World, session) -> tuple[Document, bytes]:
    world.clock.now = dt.datetime(2026, 4, 3, 9, tzinfo=dt.UTC)
    claim = world.proposed()
    claim_id = claim.id
    world.fire(world.decider, claim, "grant")
    world.letters()
    decision = session.scalars(select(Decision).where(Decision.claim_id == claim_id)).one()
    letter = session.get(Document, decision.letter_document_id)
    return letter, world.documents.read(letter)


def test_a_letter_by_post_has_the_letterhead_salutation_signatory_and_where_to_object(
    session, tmp_path
):
    world = World(session)
    world.documents = DocumentStore(tmp_path / "documents")
    world.applicant.channel_preference = Channel.POST
    set_letterhead(world, session, logo=png())
    letter, data = granted_letter(world, session)
    text = pdf_text(data)
    # The sender: address and contact from the letterhead.
    assert "Postbus 15" in text and "1234 AB" in text and "Proefstad" in text
    assert "+31 20 123 45 67" in text and "info@proefstad.nl" in text
    # A personal salutation by the office holder's full name.
    assert "Geachte Burgemeester Proef," in text and "Geachte heer, mevrouw" not in text
    # Signed on behalf of the body by the person the letterhead names.
    assert "Burgemeester en wethouders van Gemeente Proef," in text and "namens dezen" in text
    assert "mr. A.B. de Vries" in text and "teamleider Openbare Orde en Veiligheid" in text
    # Where and by when to object: decided 3 April 2026, six weeks end 15 May, a day
    # equated with a holiday, so the term runs to Monday 18 May.
    assert "Stuur uw bezwaarschrift uiterlijk op 18 mei 2026 naar:" in text
    objection = text[text.index("Stuur uw bezwaarschrift") :]
    assert "Postbus 15" in objection and "1234 AB" in objection
    # By post: the home address is in the window, so the letter is read as the notices are.
    home = world.home
    assert home.street in text and home.postcode in text
    assert letter.confidentiality == "secret"
    # The logo is in the PDF as an image.
    assert len(PdfReader(io.BytesIO(data)).pages[0].images) == 1


def test_the_address_block_lies_in_the_window_of_the_envelope(session, tmp_path):
    world = World(session)
    world.documents = DocumentStore(tmp_path / "documents")
    world.applicant.channel_preference = Channel.POST
    set_letterhead(world, session)
    _, data = granted_letter(world, session)
    where = text_positions(data)
    # The window: 20 mm from the left, 50 mm from the top, 90 x 45 mm (a text's position
    # is its baseline, so its top lies a few mm higher).
    x, y = where["Burgemeester Proef"]
    assert 20 <= x <= 30 and 55 <= y <= 95, (x, y)
    street = next(key for key in where if key.startswith(world.home.street))
    assert 20 <= where[street][0] <= 30 and y < where[street][1] <= 95
    # And the stylesheet says so.
    letters = PROJECT_ROOT / "templates" / "letters"
    for letter in ("decision.html", "notice.html"):
        assert "margin: 25mm 20mm 25mm 20mm" in (letters / letter).read_text()
    assert (
        ".window { position: absolute; left: 0; top: 25mm; width: 90mm; height: 45mm;"
        in (letters / "_letterhead.html").read_text()
    )


def test_an_electronic_letter_has_no_address_block(session, tmp_path):
    world = World(session)
    world.documents = DocumentStore(tmp_path / "documents")
    assert world.applicant.channel_preference is Channel.ELECTRONIC
    set_letterhead(world, session)
    letter, data = granted_letter(world, session)
    text = pdf_text(data)
    assert "Geachte Burgemeester Proef," in text and "Postbus 15" in text
    assert world.home.street not in text and "Retouradres" not in text
    assert letter.confidentiality == "confidential"


def test_the_stored_letter_is_pdf_a_with_its_fonts_embedded(session, tmp_path):
    world = World(session)
    world.documents = DocumentStore(tmp_path / "documents")
    _, data = granted_letter(world, session)
    reader = PdfReader(io.BytesIO(data))
    xmp = reader.xmp_metadata
    assert xmp is not None
    description = xmp.rdf_root.getElementsByTagName("rdf:Description")
    parts = {d.getAttribute("pdfaid:part") for d in description} - {""}
    levels = {d.getAttribute("pdfaid:conformance") for d in description} - {""}
    assert (parts, levels) == ({"3"}, {"B"})
    assert "/OutputIntents" in reader.trailer["/Root"]
    fonts = [
        font.get_object() for page in reader.pages for font in page["/Resources"]["/Font"].values()
    ]
    # A composite (Type0) font describes itself in its descendant font.
    fonts = [
        font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
        for font in fonts
    ]
    fonts = [font["/FontDescriptor"].get_object() for font in fonts]
    assert fonts and all(
        {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor) for descriptor in fonts
    )


def test_the_readme_example_letter_is_laid_out_by_the_letter_code():
    from scripts.letter_example import example_letter

    text = pdf_text(example_letter())
    assert "Retouradres Postbus 100, 1230 AA Rivierstad" in text
    assert "Geachte Mr. A. (Anna) de Vries," in text and "mr. drs. P. (Pieter) Hoekstra" in text
