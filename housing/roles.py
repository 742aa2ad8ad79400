"""The roles of DESIGN.md §1 and the start page each lands on after login."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    APPLICANT = "applicant"
    ASSESSOR = "assessor"
    DECIDER = "decider"
    FINANCE = "finance"
    ADMIN = "admin"
    AUDITOR = "auditor"


# A user with several roles lands on the first of theirs in this order.
ROLE_PRECEDENCE: tuple[Role, ...] = (
    Role.ADMIN,
    Role.DECIDER,
    Role.ASSESSOR,
    Role.FINANCE,
    Role.AUDITOR,
    Role.APPLICANT,
)

START_ENDPOINTS: dict[Role, str] = {role: f"start.{role.value}" for role in Role}

# The roles that reach case data, money or accounts: their password logins need a second
# factor (BIO2 5.17.01). Applicants may add one; they are not made to.
STAFF_ROLES: frozenset[Role] = frozenset(Role) - {Role.APPLICANT}
