"""The measure catalogue every organisation starts with (DOMAIN.md §1)."""

from __future__ import annotations

from sqlalchemy import Select, select

from housing.db import DbSession
from housing.organisations.models import MeasureCatalogue, Organisation
from workflows.rules import Regime

# (code, name, recurring allowed). Regime A: exactly the five basic measures.
REGIME_A_BASIC_MEASURES = (
    ("letterbox_security", "Brievenbusbeveiliging", False),
    ("reinforced_windows", "Inbraakwerend glas en ramen", False),
    ("door_viewer_or_video_intercom", "Deurspion of video-intercom", False),
    ("alarm_base_installation", "Basisinstallatie voor een alarm- of meldsysteem", False),
    ("safe", "Brand- en inbraakwerende kluis", False),
)
# Regime B: whatever the advice names; these are the usual ones, an admin adds more.
REGIME_B_MEASURES = (
    ("freestanding_letterbox", "Vrijstaande brievenbus (vuurwerk)", False),
    ("alarm_with_monitoring", "Alarmsysteem met doormelding", True),
    ("cameras", "Camera's", False),
    ("reinforced_doors_locks_windows", "Inbraakwerende deuren, sloten en ramen", False),
    ("lighting", "Buitenverlichting", False),
    ("awareness_training", "Training weerbaarheid en bewustzijn", False),
    ("digital_resilience", "Digitale weerbaarheid", False),
    ("online_findability", "Vindbaarheid online beperken", False),
)


def seed_catalogue(session: DbSession, organisation: Organisation) -> int:
    """Add the standard measures the organisation lacks; returns how many were added."""
    rows = session.execute(
        select(MeasureCatalogue.regime, MeasureCatalogue.code).where(
            MeasureCatalogue.organisation_id == organisation.id
        )
    )
    have = {(regime, code) for regime, code in rows}
    added = 0
    for regime, measures, basic in (
        (Regime.A, REGIME_A_BASIC_MEASURES, True),
        (Regime.B, REGIME_B_MEASURES, False),
    ):
        for code, name, recurring in measures:
            if (regime, code) in have:
                continue
            session.add(
                MeasureCatalogue(
                    organisation_id=organisation.id,
                    regime=regime,
                    code=code,
                    name=name,
                    is_basic_measure=basic,
                    recurring_allowed=recurring,
                )
            )
            added += 1
    session.flush()
    return added


def offered_measures(organisation_id: int, regime: Regime | None) -> Select[MeasureCatalogue]:
    """The measures the organisation offers today under `regime` (inactive ones left out):
    what a claim may request, and what its pages list."""
    return select(MeasureCatalogue).where(
        MeasureCatalogue.organisation_id == organisation_id,
        MeasureCatalogue.regime == regime,
        MeasureCatalogue.active.is_(True),
    )
