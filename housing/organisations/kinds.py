"""The kinds of organisation: apart from the models, so the command line can offer them as
choices without loading the ORM."""

from __future__ import annotations

import enum


class OrganisationKind(enum.StrEnum):
    GEMEENTE = "gemeente"
    PROVINCIE = "provincie"
    WATERSCHAP = "waterschap"
