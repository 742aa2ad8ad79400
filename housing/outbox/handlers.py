"""Which service acts on which outbox topic."""

from __future__ import annotations

from collections.abc import Mapping

from housing.outbox.services import Handler


def default_handlers() -> Mapping[str, Handler]:
    from housing.claims.letters import TOPIC as LETTER_TOPIC
    from housing.claims.letters import deliver_decision_letter
    from housing.jobs.services import TOPIC as JOB_TOPIC
    from housing.jobs.services import run_job
    from housing.notifications.services import TOPIC, deliver_notification
    from housing.payments.claims_follow import TOPIC as FOLLOW_TOPIC
    from housing.payments.claims_follow import deliver_claims_follow

    return {
        TOPIC: deliver_notification,
        JOB_TOPIC: run_job,
        FOLLOW_TOPIC: deliver_claims_follow,
        LETTER_TOPIC: deliver_decision_letter,
    }
