"""Beat on Redis that outlives its broker: RedBeat's scheduler, healing after an outage.

RedBeat renews its lock on Redis at every tick and keeps the schedule there. As it comes,
a broker that is away at a tick ends beat (the error escapes Celery's beat loop; RedBeat's
`retry_period` does not reach the lock), and nothing sweeps the outbox until someone
starts beat again; a broker that comes back empty (restarted without its data) has lost
both the lock and the schedule. This scheduler waits for the broker instead, backing off
to one try per loop interval, and once Redis answers and the lock is no longer ours (it
lapsed, or went with the data) takes it anew, if no other beat has, and writes the
schedule back; what ran before keeps its last run where Redis still has it.
"""

from __future__ import annotations

from typing import Any

from redbeat.schedulers import LUA_EXTEND_TO_SCRIPT, RedBeatScheduler, get_redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError
from redis.exceptions import TimeoutError as RedisTimeoutError

from housing.logging import get_logger

log = get_logger(__name__)

# Redis is away: refused, reset, timed out, or still loading its data (a ConnectionError).
BROKER_AWAY = (RedisConnectionError, RedisTimeoutError)


class HealingRedBeatScheduler(RedBeatScheduler):
    """`redbeat.RedBeatScheduler` that waits out a broker outage and rebuilds what it lost."""

    # redis-py's Lock while this beat holds it (RedBeat declares it None only).
    lock: Any = None
    # Set before Celery's constructor runs, which calls setup_schedule.
    _schedule_stored = False
    _failures = 0

    def setup_schedule(self) -> None:
        try:
            super().setup_schedule()
        except BROKER_AWAY as exc:
            # Beat started while Redis is away: the first tick that reaches it stores it.
            log.warning("beat.schedule_not_stored", error=type(exc).__name__)
            self._schedule_stored = False
        else:
            self._schedule_stored = True

    def tick(self, *args: Any, **kwargs: Any) -> float:
        try:
            if self.lock_key and self.lock is None:
                if not self._take_lock():
                    return float(self.max_interval)  # another beat acts: stand by
                self._schedule_stored = False  # Redis may have come back without it
            if not self._schedule_stored:
                self.setup_schedule()
                if not self._schedule_stored:
                    raise RedisConnectionError("the schedule could not be stored")
            interval = float(super().tick(*args, **kwargs))
        except BROKER_AWAY as exc:
            self._failures += 1
            wait = float(min(2 ** (self._failures - 1), self.max_interval))
            log.warning(
                "beat.broker_away", error=type(exc).__name__, failures=self._failures, retry_in=wait
            )
            return wait
        except LockError as exc:
            # Not ours any more: it lapsed while Redis was away, or went with its data.
            log.warning("beat.lock_lost", error=type(exc).__name__)
            self.lock = None
            return 0.0  # at once: take it again, or find the beat that did
        if self._failures:
            log.info("beat.broker_back", failures=self._failures)
            self._failures = 0
        return interval

    def _take_lock(self) -> bool:
        """RedBeat's lock as its `acquire_distributed_beat_lock` takes it, without waiting."""
        client = get_redis(self.app)
        lock = client.lock(self.lock_key, timeout=self.lock_timeout, sleep=self.max_interval)
        # RedBeat's extend sets the lock's time to live rather than adding to it.
        lock.lua_extend = client.register_script(LUA_EXTEND_TO_SCRIPT)
        if not lock.acquire(blocking=False):
            return False
        log.info("beat.lock_taken")
        self.lock = lock
        return True

    def close(self) -> None:
        # Stopping while Redis is away: the lock lapses by itself.
        try:
            if self.lock is not None and self.lock.owned():
                self.lock.release()
        except (*BROKER_AWAY, LockError) as exc:
            log.warning("beat.lock_not_released", error=type(exc).__name__)
        self.lock = None
        super().close()
