"""The letterhead an administrator sets: the logo is checked by its content, every change
is audited, and bad input gets a message at its field and writes nothing."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail
from housing.errors import Forbidden, InvalidInput
from housing.organisations.letterhead import LetterheadData, LetterheadService, check_logo
from housing.organisations.models import LOGO_MAX_BYTES, Letterhead
from housing.roles import Role
from housing.scoping import Scope
from tests.conftest import login
from tests.factories import OrganisationFactory, UserFactory

FIELDS = {
    "address_line": "Stadhuisplein 1",
    "postcode": "9999 zz",
    "city": "Proefstad",
    "phone": "020 123 45 67",
    "email": "post@proefstad.nl",
    "website": "https://www.proefstad.nl",
    "signatory_name": "J. Jansen",
    "signatory_function": "burgemeester",
}


def image(kind: str = "PNG", size: tuple[int, int] = (200, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=kind)
    return out.getvalue()


@pytest.fixture
def admin(session):
    return UserFactory(admin=True)


@pytest.fixture
def csrf(client, admin):
    return login(client, admin.email)


def url(organisation_id: int) -> str:
    return f"/admin/organisations/{organisation_id}/letterhead"


def letterheads(session) -> int:
    return session.scalar(select(func.count()).select_from(Letterhead))


def audit_events(session, organisation_id: int) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.organisation_id == organisation_id)
            .order_by(AuditEvent.sequence)
        )
    )


def post(client, csrf, organisation_id, logo: bytes | None = None, **fields):
    data = {**FIELDS, **fields, "csrf_token": csrf}
    if logo is not None:
        data["logo"] = (io.BytesIO(logo), "logo.png")
    return client.post(url(organisation_id), data=data, content_type="multipart/form-data")


def test_a_png_is_accepted_stored_and_audited(client, csrf, session, admin):
    logo = image()
    response = post(client, csrf, admin.organisation_id, logo=logo)
    assert response.status_code == 302, response.text
    stored = session.get(Letterhead, admin.organisation_id)
    session.refresh(stored)
    assert (stored.logo, stored.logo_content_type) == (logo, "image/png")
    assert (stored.postcode, stored.signatory_function) == ("9999 ZZ", "burgemeester")
    (event,) = audit_events(session, admin.organisation_id)
    assert (event.event, event.actor_id, event.claim_id) == ("update_letterhead", admin.id, None)
    assert AuditTrail(session).verify(admin.organisation_id).intact
    page = client.get(response.location).text
    assert "Het briefhoofd is opgeslagen." in page
    assert 'src="data:image/png;base64,' in page and 'value="Stadhuisplein 1"' in page


def test_a_jpeg_is_accepted_too():
    logo = check_logo(image("JPEG"))
    assert (logo.content_type, logo.width, logo.height) == ("image/jpeg", 200, 80)


@pytest.mark.parametrize(
    ("logo", "message"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "PNG"),
        (b"MZ\x90\x00 not an image at all", "PNG"),
        # The signature of a PNG with nothing behind it, and a PNG cut short.
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "kon niet als afbeelding worden gelezen"),
        (image()[:-40], "kon niet als afbeelding worden gelezen"),
        # A JPEG's bytes behind a PNG's signature: the content must be what it claims.
        (b"\x89PNG\r\n\x1a\n" + image("JPEG"), "kon niet als afbeelding worden gelezen"),
        (image(size=(2001, 10)), "2000 pixels"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * LOGO_MAX_BYTES, "256 kB"),
    ],
)
def test_what_is_not_a_small_png_or_jpeg_is_refused_at_the_field_and_nothing_written(
    client, csrf, session, admin, logo, message
):
    response = post(client, csrf, admin.organisation_id, logo=logo)
    assert response.status_code == 200
    error = response.text[response.text.index('id="logo-error"') :][:300]
    assert message in error
    assert letterheads(session) == 0 and audit_events(session, admin.organisation_id) == []


def test_bad_details_get_messages_at_their_fields(client, csrf, session, admin):
    response = post(
        client,
        csrf,
        admin.organisation_id,
        logo=image(),
        postcode="12345",
        email="post-at-proefstad",
        city="",
        signatory_function="",
    )
    assert response.status_code == 200
    for field, message in (
        ("postcode", "Nederlandse postcode"),
        ("email", "e-mailadres"),
        ("city", "het hele adres"),
        ("signatory_function", "de naam als de functie"),
    ):
        assert message in response.text[response.text.index(f'id="{field}-error"') :][:300]
    assert letterheads(session) == 0 and audit_events(session, admin.organisation_id) == []


def test_the_logo_is_kept_unless_replaced_or_removed(session, admin):
    scope = Scope.for_user(admin)
    service = LetterheadService(session)
    service.update(scope, admin.organisation_id, LetterheadData(), logo=image())
    service.update(scope, admin.organisation_id, LetterheadData(city="", phone="010 1234567"))
    stored = session.get(Letterhead, admin.organisation_id)
    assert stored.logo is not None and stored.phone == "010 1234567"
    service.update(scope, admin.organisation_id, LetterheadData(phone="010 1234567"))
    assert len(audit_events(session, admin.organisation_id)) == 2  # no change, no event
    service.update(scope, admin.organisation_id, LetterheadData(), remove_logo=True)
    assert (stored.logo, stored.logo_content_type, stored.phone) == (None, None, "")


def test_only_an_administrator_of_the_organisation_sets_it(app, client, session, admin):
    assessor = UserFactory(organisation=admin.organisation, roles={Role.ASSESSOR})
    with pytest.raises(Forbidden):
        LetterheadService(session).update(
            Scope.for_user(assessor), admin.organisation_id, LetterheadData()
        )
    other = OrganisationFactory()
    session.commit()
    staff = app.test_client()
    login(staff, assessor.email)
    assert staff.get(url(admin.organisation_id)).status_code == 403
    login(client, admin.email)
    assert client.get(url(other.id)).status_code == 404
    with pytest.raises(InvalidInput):
        check_logo(b"")
