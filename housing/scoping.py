"""The one scoping mechanism: every read of scoped data goes through a `Scope`.

A scope is built from the acting user. Each scoped model registers a rule saying which
of its rows that user may see: their own organisation's, and for someone who is only an
applicant, only their own records. Views and services ask the scope for a `select()` or
an object; a row outside the scope is indistinguishable from a row that does not exist,
so the answer is 404, never a hint that it exists elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Executable, Integer, Select, bindparam, false, select

from housing.errors import NotFound
from housing.roles import Role

if TYPE_CHECKING:
    from housing.db import DbSession

if TYPE_CHECKING:
    from housing.accounts.models import User

T = TypeVar("T")

# Roles that handle case data for the whole organisation. An auditor is not one of them:
# they read the audit trail and access log only (DESIGN.md §1).
CASE_STAFF = frozenset({Role.ASSESSOR, Role.DECIDER, Role.FINANCE, Role.ADMIN})

Rule = Callable[["Scope"], list[ColumnElement[bool]]]
_RULES: dict[type[Any], Rule] = {}

# The values of a scope in a statement built once (`Scope.statement`).
SCOPE_ORGANISATION_ID = "scope_organisation_id"
SCOPE_USER_ID = "scope_user_id"
StatementT = TypeVar("StatementT", bound=Executable)
_STATEMENTS: dict[tuple[Any, ...], Executable] = {}


def scope_rule(model: type[T]) -> Callable[[Rule], Rule]:
    """Register the rule that limits `model` to what a scope may see."""

    def register(rule: Rule) -> Rule:
        if model in _RULES:
            raise RuntimeError(f"{model.__name__} already has a scope rule")
        _RULES[model] = rule
        return rule

    return register


def scoped_models() -> frozenset[type[Any]]:
    return frozenset(_RULES)


@dataclass(frozen=True)
class Scope:
    """What one actor may see: their organisation and, for applicants, their own rows."""

    user_id: int | None
    organisation_id: int | None
    roles: frozenset[Role]
    # Scheduled work (deadline watch, retention) acts for every organisation. Only code
    # builds this scope, never a request: nothing maps a user or a token to it.
    system: bool = False

    @classmethod
    def for_user(cls, user: User) -> Scope:
        if not user.active:
            return cls.nobody()
        return cls(user_id=user.id, organisation_id=user.organisation_id, roles=user.roles)

    @classmethod
    def system_scope(cls) -> Scope:
        return cls(user_id=None, organisation_id=None, roles=frozenset(), system=True)

    @classmethod
    def nobody(cls) -> Scope:
        return cls(user_id=None, organisation_id=None, roles=frozenset())

    @property
    def sees_whole_organisation(self) -> bool:
        return bool(self.roles & CASE_STAFF)

    @property
    def sees_own_records(self) -> bool:
        return Role.APPLICANT in self.roles

    def criteria(self, model: type[Any]) -> list[ColumnElement[bool]]:
        if self.system:
            # Scheduled work acts for every organisation, on rows no request reads as well
            # (the outbox, a decision's letter): it needs no rule.
            return []
        try:
            rule = _RULES[model]
        except KeyError:
            raise LookupError(f"{model.__name__} has no scope rule; register one") from None
        if self.organisation_id is None:
            return [false()]
        return rule(self)

    def select(self, model: type[T]) -> Select[T]:
        """A `select(model)` limited to this scope."""
        return select(model).where(*self.criteria(model))

    def statement(
        self, build: Callable[..., StatementT], *shape: Hashable
    ) -> tuple[StatementT, dict[str, Any]]:
        """`build(scope, *shape)`, built once per process for all scopes with these roles,
        and the values to execute it with: `session.execute(statement, {**values, ...})`.

        Building a statement of many joins and options costs a request more than running
        it. Built once, the scope's organisation and user are the bound parameters
        `SCOPE_ORGANISATION_ID` and `SCOPE_USER_ID`; a rule that compares them, as every
        rule does, reads the same. Whatever else varies per call is a `bindparam` of
        `build`'s own, and `shape` what picks one of several statements (it is part of the
        cache key). `build` may not close over anything: a value it kept from its first
        call would be read for everyone after.
        """
        if getattr(build, "__closure__", None) or getattr(build, "__defaults__", None):
            raise TypeError(f"{build.__qualname__} must take all it varies by as its shape")
        if self.system or self.organisation_id is None:
            # Neither is a request's: built each time, as `select` is.
            return build(self, *shape), {}
        key = (build.__module__, build.__qualname__, shape, self.roles)
        statement = _STATEMENTS.get(key)
        if statement is None:
            statement = _STATEMENTS[key] = build(_bound_scope(self.roles), *shape)
        values = {SCOPE_ORGANISATION_ID: self.organisation_id, SCOPE_USER_ID: self.user_id}
        return cast(StatementT, statement), values

    def get(self, session: DbSession, model: type[T], ident: int) -> T | None:
        """The row with this id if it lies inside the scope, else None."""
        return session.scalars(self.select(model).where(_primary_key(model) == ident)).one_or_none()

    def get_for_update(
        self, session: DbSession, model: type[T], ident: int, *, missing: str | None = None
    ) -> T:
        """The row with this id, locked until the transaction ends and read fresh.

        The one way to lock a row by id: two requests acting on one claim, payout or batch
        wait for each other instead of both deciding on what they read before. A row
        outside the scope is `NotFound`, exactly as one that does not exist.
        """
        row = self.find_for_update(session, model, ident)
        if row is None:
            raise NotFound(missing or _l("Not found."))
        return row

    def find_for_update(
        self, session: DbSession, model: type[T], ident: int, *, skip_locked: bool = False
    ) -> T | None:
        """`get_for_update` for work that skips a row that is gone instead of refusing.

        `skip_locked`: a row another transaction holds (locked, or referenced by a foreign
        key it is writing) is None at once instead of waiting for that transaction, for
        work that stands down when someone else is on the row. SQLite knows no row locks:
        there the row is returned as without it.
        """
        return session.scalars(
            self.select_for_update(model, ident, skip_locked=skip_locked)
        ).one_or_none()

    def select_for_update(
        self, model: type[T], ident: int, *, skip_locked: bool = False
    ) -> Select[T]:
        """The `select()` that `find_for_update` runs, for a caller that reads more with the
        row in the same statement (its related rows, columns of facts): only `model`'s row
        is locked, and it is read fresh."""
        return (
            self.select(model)
            .where(_primary_key(model) == ident)
            .with_for_update(of=model, skip_locked=skip_locked)
            .execution_options(populate_existing=True)
        )


def _bound_scope(roles: frozenset[Role]) -> Scope:
    """A scope with these roles whose organisation and user are bound parameters."""
    return Scope(
        user_id=cast(int, bindparam(SCOPE_USER_ID, type_=Integer)),
        organisation_id=cast(int, bindparam(SCOPE_ORGANISATION_ID, type_=Integer)),
        roles=roles,
    )


def _primary_key(model: type[Any]) -> ColumnElement[Any]:
    return model.__mapper__.primary_key[0]
