"""The `housing` command: Flask's CLI for this app, plus the operators' commands.

A call costs only what its command uses. `housing --help` and a command's `--help` build no
app (`HousingGroup`); a command that runs builds it (`with_appcontext`) with what is slow to
load left for its first use (`create_app(on_demand=True)`): WeasyPrint, the payment formats
and Celery are imported by the code that uses them, never by a command that does not. So
this module imports the rest of housing inside the commands, not at the top.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click
from flask import current_app
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext

from housing.errors import DomainError
from housing.organisations.kinds import OrganisationKind
from housing.roles import Role

if TYPE_CHECKING:
    from flask import Flask

F = TypeVar("F", bound=Callable[..., Any])


def command_unit_of_work(command: F) -> F:
    """Run a command in the app context as one unit of work.

    What it wrote commits once when it succeeds and is rolled back when it fails; a
    service's refusal ends it as a ClickException naming the fields (exit status 1).
    """

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        from housing.unit_of_work import unit_of_work

        try:
            with unit_of_work():
                return command(*args, **kwargs)
        except DomainError as exc:
            raise click.ClickException(_described(exc)) from exc

    return cast(F, with_appcontext(run))  # wraps keeps the command's signature


def _described(exc: DomainError) -> str:
    details = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in exc.field_errors.items())
    return f"{exc.message} {details}".strip()


@click.group("tokens", help="Issue and revoke API bearer tokens.")
def tokens() -> None:
    pass


@tokens.command("issue")
@click.argument("email")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@click.option("--days", type=click.IntRange(min=1), default=None, help="Expire after N days.")
@command_unit_of_work
def issue_token(email: str, name: str, days: int | None) -> None:
    """Print a new bearer token for the user with EMAIL (shown once, stored hashed)."""
    from sqlalchemy import select

    from housing.accounts.models import User
    from housing.accounts.services import normalise_email
    from housing.db import db
    from housing.organisations.accounts import AccountAdministration

    user = db.session.scalars(
        select(User).where(User.email == normalise_email(email))
    ).one_or_none()
    if user is None or not user.active:
        raise click.ClickException(f"No active user with e-mail address {email}.")
    _token, secret = AccountAdministration(db.session).issue_token(
        user, name, valid_for=dt.timedelta(days=days) if days else None
    )
    click.echo(secret)


@tokens.command("revoke")
@click.argument("prefix")
@command_unit_of_work
def revoke_token(prefix: str) -> None:
    """Revoke every token whose secret starts with PREFIX (at least 10 characters)."""
    from housing.db import db
    from housing.organisations.accounts import AccountAdministration

    if len(prefix) < 10:
        raise click.ClickException("Give at least the first 10 characters of the token.")
    found = AccountAdministration(db.session).revoke_tokens_starting(prefix)
    if not found:
        raise click.ClickException("No active token starts with that prefix.")
    click.echo(f"Revoked {len(found)} token(s).")


@click.group("users", help="Manage user accounts.")
def users() -> None:
    pass


@users.command("add")
@click.argument("email")
@click.option("--name", "full_name", required=True)
@click.option("--organisation", "organisation_name", required=True)
@click.option(
    "--role", "roles", multiple=True, required=True, type=click.Choice([r.value for r in Role])
)
@click.password_option()
@command_unit_of_work
def add_user(
    email: str, full_name: str, organisation_name: str, roles: tuple[str, ...], password: str
) -> None:
    """Add a user to an existing organisation."""
    from sqlalchemy import select

    from housing.db import db
    from housing.organisations.accounts import AccountAdministration
    from housing.organisations.models import Organisation

    organisation = db.session.scalars(
        select(Organisation).where(Organisation.name == organisation_name)
    ).one_or_none()
    if organisation is None:
        raise click.ClickException(f"No organisation named {organisation_name!r}.")
    user = AccountAdministration(db.session).create_user(
        organisation=organisation,
        email=email,
        full_name=full_name,
        password=password,
        roles={Role(r) for r in roles},
    )
    click.echo(f"Added user {user.email} ({', '.join(sorted(user.roles))}).")


@click.group("orgs", help="Manage the organisations on this installation.")
def orgs() -> None:
    pass


@orgs.command("add")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice([k.value for k in OrganisationKind]))
@click.option("--iban", required=True)
@click.option("--bic", default=None)
@command_unit_of_work
def add_organisation(name: str, kind: str, iban: str, bic: str | None) -> None:
    """Add an organisation (a municipality, province or water board)."""
    from housing.db import db
    from housing.organisations.services import OrganisationService

    organisation = OrganisationService(db.session).create_organisation(
        kind=OrganisationKind(kind), name=name, iban=iban, bic=bic
    )
    click.echo(f"Added {organisation.kind.value} {organisation.name} (id {organisation.id}).")


@click.group("keys", help="Field-encryption keys.")
def keys() -> None:
    pass


@keys.command("generate")
def generate_key() -> None:
    """Print a new key to put first in FIELD_ENCRYPTION_KEYS."""
    from housing.crypto import FieldCipher

    click.echo(FieldCipher.generate_key())


@keys.command("rotate")
@command_unit_of_work
def rotate_keys() -> None:
    """Re-encrypt every encrypted field under the first key of FIELD_ENCRYPTION_KEYS."""
    from housing.crypto_rotation import rotate_all
    from housing.db import db

    counts = rotate_all(db.session)
    for name, count in counts.items():
        click.echo(f"{name}: {count} value(s) re-encrypted")


@click.group("demo", help="Demonstration data.")
def demo() -> None:
    pass


@demo.command("seed")
@command_unit_of_work
def seed_demo() -> None:
    """Create the demo organisations, office holders and users (idempotent)."""
    from housing.db import db
    from housing.demo import DEMO_PASSWORD, seed

    report = seed(db.session)
    click.echo(f"Demo data: {report.created} created, {report.existing} already present.")
    click.echo(f"Every demo user's password: {DEMO_PASSWORD}")
    for email, roles in report.logins:
        click.echo(f"  {email:<38} {roles}")
    click.echo(
        "Staff log in with a second factor too: add the secret to an authenticator app, or"
        " print the current code with `housing demo code EMAIL`."
    )
    for email, secret in report.factors:
        click.echo(f"  {email:<38} {secret}")


@demo.command("code")
@click.argument("email")
@command_unit_of_work
def demo_code(email: str) -> None:
    """Print the current second-factor code of demo staff user EMAIL (a demo's secret only)."""
    from sqlalchemy import select

    from housing.accounts.factors import SecondFactors, code_at
    from housing.accounts.models import User
    from housing.clock import utcnow
    from housing.db import db
    from housing.demo import demo_factor_secret

    secret = demo_factor_secret(email)
    if secret is None:
        raise click.ClickException(f"{email} is not a demo staff user: no code to print.")
    user = db.session.scalars(select(User).where(User.email == email.strip().lower())).first()
    factor = SecondFactors(db.session).factor_of(user.id) if user else None
    if factor is None or factor.secret != secret:
        # Reset by an administrator and set up anew: the code is in the user's own app.
        raise click.ClickException(
            f"{email} has no demo second factor (run `housing demo seed`, or use the app"
            " the user set up)."
        )
    click.echo(code_at(secret, utcnow()))


@demo.command("payouts")
@click.argument("count", type=click.IntRange(1, 100_000))
@click.option("--organisation", "name", default="Gemeente Rivierstad", show_default=True)
@command_unit_of_work
def demo_payouts(count: int, name: str) -> None:
    """Add COUNT approved payouts (one granted claim each) to a demo organisation: the load
    of a big payment batch, to watch it being built on the job page."""
    from sqlalchemy import select

    from housing.db import db
    from housing.demo import approved_payouts
    from housing.organisations.models import Organisation

    organisation = db.session.scalars(select(Organisation).where(Organisation.name == name)).first()
    if organisation is None:
        raise click.ClickException(f"There is no organisation named {name!r}.")
    approved_payouts(db.session, organisation, count)
    click.echo(f"{count:,} approved payouts added to {name}; build a batch as finance.")


@demo.command("statement")
@click.argument("msg_id")
@click.option(
    "--return",
    "returned",
    metavar="END_TO_END_ID",
    multiple=True,
    help="A payment the bank sends back (reason AC04, account closed).",
)
@click.option(
    "--later",
    is_flag=True,
    help="Only the returns, on a statement of their own: the batch was booked before.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    default="-",
    help="Where to write the camt.053 (default: standard output).",
)
@command_unit_of_work
def demo_statement(msg_id: str, returned: tuple[str, ...], later: bool, out: str) -> None:
    """Write the camt.053 a bank would send after paying released batch MSG_ID (a demo)."""
    from decimal import Decimal

    from sqlalchemy import select

    from housing.clock import today
    from housing.db import db
    from housing.organisations.models import Organisation
    from housing.payments.models import BankStatement, PaymentBatch
    from housing.payments.simulated_bank import PaidBatch, PaidTransfer, statement

    batch = db.session.scalars(select(PaymentBatch).where(PaymentBatch.msg_id == msg_id)).first()
    if batch is None or batch.released_at is None:
        raise click.ClickException(f"No released batch {msg_id}.")
    unknown = set(returned) - {item.end_to_end_id for item in batch.items}
    if unknown:
        raise click.ClickException(f"Not in batch {msg_id}: {', '.join(sorted(unknown))}.")
    if later and not returned:
        raise click.ClickException("--later needs at least one --return.")
    organisation = db.session.get(Organisation, batch.organisation_id)
    assert organisation is not None  # a batch's organisation_id is a foreign key
    # The statement follows the account's previous one, so no balance gap is flagged.
    previous = db.session.scalars(
        select(BankStatement)
        .where(BankStatement.organisation_id == batch.organisation_id)
        .order_by(BankStatement.id.desc())
        .limit(1)
    ).first()
    transfers = [
        PaidTransfer(
            item.end_to_end_id,
            item.amount,
            item.payee_name,
            item.payee_iban,
            "AC04" if item.end_to_end_id in returned else None,
        )
        for item in batch.items
    ]
    data = statement(
        account_iban=organisation.iban,
        statement_id=f"DEMO-{batch.msg_id}" + ("-RETOUR" if later else ""),
        booked_on=batch.execution_date or today(),
        opening_balance=previous.closing_balance if previous else Decimal("250000.00"),
        batches=[] if later else [PaidBatch(batch.msg_id, batch.pmt_inf_id, transfers)],
        sequence=(previous.sequence_number or 0) + 1 if previous else 1,
        late_returns=[t for t in transfers if t.return_reason] if later else (),
    )
    # "-" is standard output (click.get_binary_stream is deprecated and untyped).
    with click.open_file(out, "wb") as target:
        target.write(data)


@click.group("audit", help="The audit trail.")
def audit() -> None:
    pass


@audit.command("verify")
@click.option("--organisation", "organisation_name", default=None, help="Only this one.")
@command_unit_of_work
def verify_audit(organisation_name: str | None) -> None:
    """Check every organisation's hash chain; name the first event that does not fit."""
    from sqlalchemy import select

    from housing.audit.services import AuditTrail
    from housing.db import db
    from housing.organisations.models import Organisation

    query = select(Organisation).order_by(Organisation.name)
    if organisation_name:
        query = query.where(Organisation.name == organisation_name)
    organisations = db.session.scalars(query).all()
    if not organisations:
        raise click.ClickException("No such organisation.")
    trail, broken = AuditTrail(db.session), 0
    for organisation in organisations:
        report = trail.verify(organisation.id)
        if report.intact:
            click.echo(f"{organisation.name}: intact ({report.checked} events)")
        else:
            broken += 1
            where = f"event {report.first_broken_id}" if report.first_broken_id else "the head"
            click.echo(
                f"{organisation.name}: BROKEN at {where} (sequence {report.first_broken_sequence}):"
                f" {report.problem}; {report.checked} events before it are intact",
                err=True,
            )
    if broken:
        raise click.ClickException(f"{broken} audit chain(s) broken.")


@click.group("holidays", help="Days equated with a holiday for the Algemene termijnenwet.")
def holidays() -> None:
    pass


@holidays.command("list")
@click.option("--year", type=int, default=None)
@command_unit_of_work
def list_holidays(year: int | None) -> None:
    """Show the Atw holidays and equated days of a year (default: this year)."""
    from housing.clock import today
    from housing.db import db
    from housing.deadlines.services import atw_calendar

    year = year or today().year
    for day, name in atw_calendar(db.session).holidays(year).items():
        click.echo(f"{day.isoformat()} {day.strftime('%a')}  {name}")


@holidays.command("add")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.argument("description")
@command_unit_of_work
def add_holiday(day: dt.datetime, description: str) -> None:
    """Equate DAY (yyyy-mm-dd) with a holiday, as a royal decree did; cite it in DESCRIPTION."""
    from housing.db import db
    from housing.deadlines.services import add_equated_day

    add_equated_day(db.session, day.date(), description)
    click.echo(f"{day.date().isoformat()} is now equated with a holiday.")


@click.command("check")
@command_unit_of_work
def check() -> None:
    """Check the database connection and that the schema is at the latest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from housing.db import db

    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        current = set(MigrationContext.configure(connection).get_current_heads())
    config = current_app.extensions["migrate"].migrate.get_config()
    heads = set(ScriptDirectory.from_config(config).get_heads())
    click.echo("database: reachable")
    if current != heads:
        raise click.ClickException(
            f"schema at {sorted(current) or 'nothing'}, code expects {sorted(heads)}: "
            "run `housing db upgrade`"
        )
    click.echo(f"schema: up to date ({', '.join(sorted(heads))})")


@click.group("outbox", help="The outbox: background work (notifications, letters) to be done.")
def outbox() -> None:
    pass


@outbox.command(
    "status",
    epilog="Exits with status 1 when any message is dead, so a monitoring check can alert "
    "on it; 0 otherwise.",
)
@click.option("--organisation", "organisation_name", default=None, help="Only this organisation's.")
@command_unit_of_work
def outbox_status(organisation_name: str | None) -> None:
    """Counts per status, the oldest pending message's age, and the dead messages."""
    from sqlalchemy import select

    from housing.clock import utcnow
    from housing.db import db
    from housing.organisations.models import Organisation
    from housing.outbox.services import status_report

    organisation_id = None
    if organisation_name:
        organisation_id = db.session.scalar(
            select(Organisation.id).where(Organisation.name == organisation_name)
        )
        if organisation_id is None:
            # A usage error (exit 2), so that exit 1 keeps meaning "something is dead".
            raise click.BadParameter(
                f"no organisation named {organisation_name!r}", param_hint="--organisation"
            )
    report = status_report(db.session, organisation_id=organisation_id)
    for status, count in report.counts.items():
        click.echo(f"{status}: {count}")
    if report.oldest_pending_at is None:
        click.echo("oldest pending: none")
    else:
        age = max(int((utcnow() - report.oldest_pending_at).total_seconds()), 0)
        click.echo(f"oldest pending: {age} s old (since {report.oldest_pending_at.isoformat()})")
    dead = report.counts.get("dead", 0)
    if not dead:
        return
    click.echo("dead messages (id, topic, key, attempts, last error):")
    for message in report.dead:
        # One line each, whatever the error said; keys and topics hold ids only.
        error = " ".join((message.last_error or "-").split())[:200]
        click.echo(f"  {message.id}  {message.topic}  {message.key}  {message.attempts}  {error}")
    if dead > len(report.dead):
        click.echo(f"  … and {dead - len(report.dead)} more")
    click.get_current_context().exit(1)


COMMANDS = (tokens, users, orgs, keys, demo, audit, holidays, check, outbox)
# What the app's extensions add to app.cli (Flask-Migrate, flask-smorest), with their own
# short help: `housing --help` names them without building the app; a test keeps them in step.
EXTENSION_COMMANDS = {"db": "Perform database migrations.", "openapi": "OpenAPI commands."}
# The app a command builds. Flask's (run, shell, routes) and the OpenAPI document need the
# whole app; the operators' commands and the migrations serve nothing and get it without
# its pages, API and sign-in (`create_app(surfaces=False)`).
APP_FACTORY = "housing:create_app(on_demand=True)"
OPERATIONS_APP_FACTORY = "housing:create_app(on_demand=True, surfaces=False)"
SERVE_NOTHING = frozenset({*(command.name for command in COMMANDS), "db"})


def register(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)


class _OfTheApp(click.Command):
    """Stands in for a command an extension adds to the app: `--help` lists it by name, and
    the app's own command runs in its place."""


class HousingGroup(FlaskGroup):
    """Flask's command group, which lists and finds its commands without building the app.

    FlaskGroup builds the app to list what the app adds to `app.cli`, and so for `--help`.
    This group holds the commands itself: ours, Flask's (run, shell, routes), those of the
    `flask.commands` plugins, and a stand-in for each extension's command, swapped for the
    app's own when it runs. A command that runs builds the app (`with_appcontext`); one that
    only prints its help builds none. Any other name is still looked up in the app.
    """

    def __init__(self, **extra: Any) -> None:
        super().__init__(**extra)
        for command in COMMANDS:
            self.add_command(command)
        for name, short_help in EXTENSION_COMMANDS.items():
            self.add_command(_OfTheApp(name, short_help=short_help))

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return sorted(self.commands)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        # Ours and the stand-ins are held here: found without loading every plugin's.
        if name in self.commands:
            return self.commands[name]
        return super().get_command(ctx, name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        info = ctx.ensure_object(ScriptInfo)
        if name in SERVE_NOTHING and info.app_import_path == APP_FACTORY:
            # An operator's command and the migrations: no pages, API or sign-in to build.
            info.app_import_path = OPERATIONS_APP_FACTORY
        if isinstance(command, _OfTheApp):
            app = ctx.ensure_object(ScriptInfo).load_app()
            if not current_app:
                ctx.with_resource(app.app_context())
            command = app.cli.get_command(ctx, command.name or "")
        return name, command, rest


def main() -> None:
    # The factory by its import path, as `flask --app housing` finds it: the app factory
    # registers these commands, so importing it here would make the two import each other.
    # On demand: a command builds what is slow to load only if it uses it.
    info = ScriptInfo(app_import_path=APP_FACTORY)
    HousingGroup(help="Veilig Wonen operations.")(prog_name="housing", obj=info)
