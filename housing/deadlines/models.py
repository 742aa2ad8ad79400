"""Days equated with a holiday by royal decree (Atw art. 3(3)); data an operator extends."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from housing.db import Base, created_at


class EquatedDay(Base):
    __tablename__ = "equated_day"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    description: Mapped[str] = mapped_column(String(200))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[created_at]
