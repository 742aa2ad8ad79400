"""Every model, imported once so the metadata is complete (migrations, tests)."""

from housing.accounts.models import ApiToken, Channel, Language, User, UserRole
from housing.db import Base
from housing.ops.models import WorkerHeartbeat
from housing.organisations.models import (
    Home,
    OfficeHolder,
    OfficeType,
    Organisation,
    OrganisationKind,
)

__all__ = [
    "ApiToken",
    "Base",
    "Channel",
    "Home",
    "Language",
    "OfficeHolder",
    "OfficeType",
    "Organisation",
    "OrganisationKind",
    "User",
    "UserRole",
    "WorkerHeartbeat",
]

# The scope rules belong to the models: loading the models always brings them along.
import housing.scope_rules  # noqa: F401
