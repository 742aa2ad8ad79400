"""WorkerHeartbeat: the last time each Celery worker ran its health task."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from housing.db import Base


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeat"

    worker: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[dt.datetime]
