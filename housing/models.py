"""Every model, imported once so the metadata is complete (migrations, tests)."""

from housing.accounts.models import (
    ApiToken,
    Channel,
    Language,
    RecoveryCode,
    TotpFactor,
    User,
    UserRole,
)
from housing.audit.models import AccessLog, AuditChainHead, AuditEvent
from housing.claims.models import (
    Claim,
    ClaimNote,
    ClaimNumberCounter,
    Decision,
    DefaultNotice,
    Document,
    MeasureLine,
    Objection,
    SecurityAdvice,
    WoningScan,
)
from housing.db import Base
from housing.deadlines.models import EquatedDay
from housing.idempotency.models import IdempotencyKey
from housing.jobs.models import Job, JobStatus
from housing.notifications.models import Notification, PrintItem, SentMail
from housing.ops.models import WorkerHeartbeat
from housing.organisations.models import (
    Budget,
    Home,
    MeasureCatalogue,
    OfficeHolder,
    OfficeType,
    Organisation,
    OrganisationKind,
)
from housing.outbox.models import OutboxMessage
from housing.payments.models import (
    ApprovalLimit,
    BankStatement,
    PaymentBatch,
    PaymentBatchItem,
    Payout,
    RemainderClosure,
    StatementEntry,
)

__all__ = [
    "AccessLog",
    "ApiToken",
    "ApprovalLimit",
    "AuditChainHead",
    "AuditEvent",
    "BankStatement",
    "Base",
    "Budget",
    "Channel",
    "Claim",
    "ClaimNote",
    "ClaimNumberCounter",
    "Decision",
    "DefaultNotice",
    "Document",
    "EquatedDay",
    "Home",
    "IdempotencyKey",
    "Job",
    "JobStatus",
    "Language",
    "MeasureCatalogue",
    "MeasureLine",
    "Notification",
    "Objection",
    "OfficeHolder",
    "OfficeType",
    "Organisation",
    "OrganisationKind",
    "OutboxMessage",
    "PaymentBatch",
    "PaymentBatchItem",
    "Payout",
    "PrintItem",
    "RecoveryCode",
    "RemainderClosure",
    "SecurityAdvice",
    "SentMail",
    "StatementEntry",
    "TotpFactor",
    "User",
    "UserRole",
    "WoningScan",
    "WorkerHeartbeat",
]

# Imported with the models, so that whoever loads them has every registry complete: the
# scope rules belong to the models, and with these modules each area registers its job
# kinds and outbox handlers (the registries in housing.jobs and housing.outbox sit below
# the areas and never import them). housing.deadlines.rules stamps an organisation's rules
# version whenever what the per-process cache holds of them changes.
import housing.audit.jobs
import housing.claims.letters
import housing.deadlines.rules
import housing.jobs.services
import housing.notifications.services
import housing.payments.claims_follow
import housing.payments.jobs
import housing.payments.statements.job
import housing.scope_rules  # noqa: F401
