"""Models on PostgreSQL: encryption at rest, key rotation, constraints."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from housing import crypto
from housing.crypto import FieldCipher
from housing.crypto_rotation import encrypted_columns, rotate_all
from housing.organisations.models import Home
from tests.factories import ClaimFactory, HomeFactory, OfficeHolderFactory, UserFactory


def test_the_address_is_stored_encrypted(session):
    home = HomeFactory(street="Geheimestraat", postcode="1234 AB")
    raw = session.execute(
        text("SELECT street, postcode FROM home WHERE id = :id"), {"id": home.id}
    ).one()
    assert "Geheimestraat" not in raw.street
    assert raw.street.startswith("gAAAA")  # a Fernet token
    session.expire_all()
    assert session.get(Home, home.id).street == "Geheimestraat"


def test_every_address_part_is_an_encrypted_column():
    columns = {(t, c) for t, _pk, c in encrypted_columns()}
    assert {
        ("home", "street"),
        ("home", "house_number"),
        ("home", "postcode"),
        ("home", "city"),
    } <= columns


def test_rotation_re_encrypts_under_the_new_key(session, app):
    home = HomeFactory(city="Rivierstad")
    old_key = app.config["FIELD_ENCRYPTION_KEYS"][0]
    new_key = FieldCipher.generate_key()
    before = session.execute(text("SELECT city FROM home WHERE id = :id"), {"id": home.id}).scalar()
    try:
        crypto.configure([new_key, old_key])
        counts = rotate_all(session)
        assert counts["home.city"] >= 1
        after = session.execute(
            text("SELECT city FROM home WHERE id = :id"), {"id": home.id}
        ).scalar()
        assert after != before
        # The old key can go: the new one alone reads the value.
        assert FieldCipher([new_key]).decrypt(after) == "Rivierstad"
    finally:
        crypto.configure([old_key])


def test_a_home_needs_a_registered_address_or_an_exemption(session):
    holder = OfficeHolderFactory()
    with pytest.raises(IntegrityError, match="registered_or_exempt"):
        HomeFactory(office_holder=holder, is_registered_address=False, exemption_reference=None)


def test_an_exempt_home_elsewhere_is_accepted(session):
    home = HomeFactory(is_registered_address=False, exemption_reference="ONTH-2024-17")
    assert home.id is not None


def test_a_term_cannot_end_before_it_starts(session):
    import datetime as dt

    with pytest.raises(IntegrityError, match="term_order"):
        OfficeHolderFactory(term_start=dt.date(2024, 1, 1), term_end=dt.date(2023, 1, 1))


def test_e_mail_addresses_are_unique(session):
    UserFactory(email="same@test.example")
    with pytest.raises(IntegrityError, match="uq_user_account_email"):
        UserFactory(email="same@test.example")


def test_unknown_enum_values_are_refused_by_the_database(session):
    user = UserFactory()
    with pytest.raises(IntegrityError):
        session.execute(
            text("UPDATE user_account SET language = 'fr' WHERE id = :id"), {"id": user.id}
        )


def test_a_new_organisation_starts_with_the_catalogue_and_default_offices(session):
    from housing.organisations.models import MeasureCatalogue, OrganisationKind
    from housing.organisations.services import OrganisationService

    org = OrganisationService(session).create_organisation(
        kind=OrganisationKind.WATERSCHAP, name="Waterschap Nat", iban="NL91ABNA0417164300"
    )
    basic = session.scalars(
        select(MeasureCatalogue.code).where(
            MeasureCatalogue.organisation_id == org.id, MeasureCatalogue.regime == "A"
        )
    ).all()
    assert sorted(basic) == sorted(
        [
            "letterbox_security",
            "reinforced_windows",
            "door_viewer_or_video_intercom",
            "alarm_base_installation",
            "safe",
        ]
    )
    assert {e.office_type for e in org.eligible_offices} >= {"dijkgraaf", "lid_dagelijks_bestuur"}
    assert "raadslid" not in {e.office_type for e in org.eligible_offices}
    assert org.regime_a_cap == Decimal("2400.00")


def test_claim_lines_keep_granted_within_requested(session):
    from housing.claims.models import MeasureLine
    from housing.organisations.models import MeasureCatalogue

    claim = ClaimFactory()
    catalogue = MeasureCatalogue(
        organisation_id=claim.organisation_id, regime="B", code="cameras", name="Camera's"
    )
    session.add(catalogue)
    session.flush()
    session.add(
        MeasureLine(
            claim_id=claim.id,
            catalogue_id=catalogue.id,
            description="Twee camera's",
            requested_amount=Decimal("800.00"),
            vat_amount=Decimal("138.84"),
            granted_amount=Decimal("900.00"),
        )
    )
    with pytest.raises(IntegrityError, match="granted_within_requested"):
        session.flush()


def test_scan_findings_and_advice_are_encrypted(session):
    import datetime as dt

    from housing.claims.models import SecurityAdvice, WoningScan

    claim = ClaimFactory()
    session.add(
        WoningScan(
            claim_id=claim.id,
            adviser_name="CCV-adviseur",
            scan_date=dt.date(2026, 2, 1),
            pkvw_status="certified",
            findings="Achterdeur zwak",
        )
    )
    session.add(
        SecurityAdvice(
            claim_id=claim.id,
            reference="BZK-1",
            advice_date=dt.date(2026, 2, 9),
            advised_measures="cameras",
            contents="Dreiging hoog",
        )
    )
    session.flush()
    raw = session.execute(
        text("SELECT findings FROM woning_scan WHERE claim_id = :c"), {"c": claim.id}
    ).scalar()
    assert "Achterdeur" not in raw
    raw = session.execute(
        text("SELECT contents, advised_measures FROM security_advice WHERE claim_id = :c"),
        {"c": claim.id},
    ).one()
    assert "Dreiging" not in raw.contents and "cameras" not in raw.advised_measures
