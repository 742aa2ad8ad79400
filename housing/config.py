"""Settings read from the environment, with safe development defaults.

Nothing is read at import time: `Settings.from_env()` is called by the app factory, so
tests and commands can pass their own environment. This is the one module of `housing`
that reads the environment; everything else reads the app's config (`housing.services`).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Development-only values: each is refused when HOUSING_ENV=production.
DEV_SECRET_KEY = "dev-only-secret-key-never-use-in-production"  # noqa: S105
# A valid Fernet key, public in this repository and therefore never safe.
DEV_FIELD_KEY = "ZGV2LW9ubHktZmllbGQta2V5LW5vdC1mb3ItcHJvZCE="

TRUE_WORDS = {"1", "true", "yes", "on"}


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in TRUE_WORDS


def _path(value: str | None) -> Path | None:
    return Path(value) if value and value.strip() else None


class ConfigurationError(RuntimeError):
    """The configuration is unsafe or invalid; the message names every problem."""


@dataclass(frozen=True)
class Settings:
    env: str
    instance_path: Path
    secret_key: str
    database_url: str
    celery_broker_url: str
    celery_result_backend: str
    field_encryption_keys: tuple[str, ...]
    ratelimit_storage_uri: str
    mail_backend: str
    mail_server: str
    mail_port: int
    mail_use_tls: bool
    mail_username: str | None
    mail_password: str | None
    mail_default_sender: str
    mail_file_dir: Path
    port: int
    debug: bool
    base_url: str
    # How long a worker holds an outbox message while acting on it (longer than any SMTP
    # conversation), and how often a failing one is tried before it is parked as dead.
    outbox_lease_seconds: int = 300
    outbox_max_attempts: int = 8
    # How often beat's sweep hands over what is still pending; how long beat sleeps at most
    # between ticks (each renews its lock on Redis), and after how long a lock that is not
    # renewed lapses, so a standby beat takes over.
    outbox_sweep_seconds: int = 15
    beat_max_loop_interval: int = 10
    beat_lock_timeout: int = 60
    # Warn assessors this many Atw working days before a decision deadline.
    deadline_warning_working_days: int = 5
    # Where uploaded documents (encrypted) and statement files waiting for their import job
    # are kept: outside the web root, under the instance folder unless set.
    document_root: Path | None = None
    statement_upload_root: Path | None = None
    # The largest document and bank statement accepted, in bytes.
    document_max_bytes: int = 10 * 1024 * 1024
    # 50,000 entries with full details (about 1.5 kB each) and room to spare.
    statement_max_bytes: int = 200 * 1024 * 1024
    # Any other request body (JSON, a plain form): far above any of ours, far below harm.
    body_max_bytes: int = 1024 * 1024
    # The camt.053 schema to validate statements with (a file, or a folder holding it);
    # None: the copy shipped with the code.
    camt_xsd_path: Path | None = None
    # How long an API Idempotency-Key (and a form's one-time token) is remembered: a retry
    # within this time answers the first response; after it, the key may be used afresh.
    idempotency_key_hours: int = 24
    # A signed-in session ends after this long without a request, and this long after its
    # sign-in whatever happens (the session record on the server, housing.accounts.sessions).
    session_idle_minutes: int = 30
    session_lifetime_hours: int = 12
    # So many failed sign-ins on an organisation's accounts within so many minutes make a
    # spike, of which its administrators hear once (housing.notifications.sign_in).
    sign_in_spike_failures: int = 20
    sign_in_spike_minutes: int = 15
    # How many reverse proxies in front of the app set X-Forwarded-For and -Proto: their
    # word is taken for the client's address (the rate limits per address), and only theirs.
    trusted_proxies: int = 0
    # Who may read /metrics: these addresses or networks (the scraper beside the app), or
    # whoever sends this bearer token (None: no token opens it).
    metrics_allowed_addresses: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    metrics_token: str | None = None
    # prometheus-client's multiprocess mode: the folder where each gunicorn worker writes
    # its metrics (gunicorn.conf.py sets it); None: this process's own metrics only.
    prometheus_multiproc_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.document_root is None:
            object.__setattr__(self, "document_root", self.instance_path / "documents")
        if self.statement_upload_root is None:
            root = self.instance_path / "statement_uploads"
            object.__setattr__(self, "statement_upload_root", root)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (default: os.environ)."""
        env = os.environ if environ is None else environ
        mode = env.get("HOUSING_ENV", "development").strip().lower()
        instance = Path(env.get("HOUSING_INSTANCE_PATH", str(PROJECT_ROOT / "instance")))
        database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'housing.sqlite3'}"
        # SQLAlchemy wants the psycopg 3 dialect spelled out; operators write postgresql://.
        if database_url.startswith(("postgres://", "postgresql://")):
            database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
        broker = env.get("CELERY_BROKER_URL") or f"sqla+sqlite:///{instance / 'broker.sqlite3'}"
        if env.get("CELERY_RESULT_BACKEND"):
            backend = env["CELERY_RESULT_BACKEND"]
        elif broker.startswith("redis"):
            backend = broker
        else:
            backend = f"db+sqlite:///{instance / 'results.sqlite3'}"
        keys = tuple(
            k.strip()
            for k in env.get("FIELD_ENCRYPTION_KEYS", DEV_FIELD_KEY).split(",")
            if k.strip()
        )
        redis_url = env.get("REDIS_URL")
        ratelimit = env.get("RATELIMIT_STORAGE_URI") or (redis_url if redis_url else "memory://")
        try:
            port = int(env.get("PORT", "5000"))
            mail_port = int(env.get("MAIL_PORT", "25"))
            lease = int(env.get("OUTBOX_LEASE_SECONDS", "300"))
            max_attempts = int(env.get("OUTBOX_MAX_ATTEMPTS", "8"))
            sweep = int(env.get("OUTBOX_SWEEP_SECONDS", "15"))
            beat_interval = int(env.get("BEAT_MAX_LOOP_INTERVAL", "10"))
            beat_lock = int(env.get("BEAT_LOCK_TIMEOUT", "60"))
            document_max = int(env.get("DOCUMENT_MAX_BYTES", str(10 * 1024 * 1024)))
            statement_max = int(env.get("STATEMENT_MAX_BYTES", str(200 * 1024 * 1024)))
            body_max = int(env.get("BODY_MAX_BYTES", str(1024 * 1024)))
            key_hours = int(env.get("IDEMPOTENCY_KEY_HOURS", "24"))
            idle_minutes = int(env.get("SESSION_IDLE_MINUTES", "30"))
            lifetime_hours = int(env.get("SESSION_LIFETIME_HOURS", "12"))
            spike_failures = int(env.get("SIGN_IN_SPIKE_FAILURES", "20"))
            spike_minutes = int(env.get("SIGN_IN_SPIKE_MINUTES", "15"))
            proxies = int(env.get("TRUSTED_PROXIES", "0"))
        except ValueError as exc:
            raise ConfigurationError(
                "PORT, MAIL_PORT, OUTBOX_*, BEAT_*, *_MAX_BYTES, IDEMPOTENCY_KEY_HOURS,"
                " SESSION_*, SIGN_IN_SPIKE_* and TRUSTED_PROXIES must be whole numbers:"
                f" {exc}"
            ) from exc
        raw_warning_days = env.get("DEADLINE_WARNING_WORKING_DAYS", "5").strip()
        try:
            warning_days = int(raw_warning_days)
        except ValueError:
            warning_days = 0
        if not 1 <= warning_days <= 40:
            raise ConfigurationError(
                "DEADLINE_WARNING_WORKING_DAYS must be a whole number from 1 to 40,"
                f" not {raw_warning_days!r}"
            )
        return cls(
            env=mode,
            instance_path=instance,
            secret_key=env.get("SECRET_KEY", DEV_SECRET_KEY),
            database_url=database_url,
            celery_broker_url=broker,
            celery_result_backend=backend,
            field_encryption_keys=keys,
            ratelimit_storage_uri=ratelimit,
            mail_backend=env.get("MAIL_BACKEND", "file" if mode != "production" else "smtp"),
            mail_server=env.get("MAIL_SERVER", "localhost"),
            mail_port=mail_port,
            mail_use_tls=_flag(env.get("MAIL_USE_TLS")),
            mail_username=env.get("MAIL_USERNAME") or None,
            mail_password=env.get("MAIL_PASSWORD") or None,
            mail_default_sender=env.get("MAIL_DEFAULT_SENDER", "veilig-wonen@localhost"),
            mail_file_dir=Path(env.get("MAIL_FILE_DIR", str(instance / "mail"))),
            port=port,
            debug=_flag(env.get("FLASK_DEBUG")) or _flag(env.get("DEBUG")),
            base_url=env.get("BASE_URL", f"http://127.0.0.1:{port}"),
            outbox_lease_seconds=lease,
            outbox_max_attempts=max_attempts,
            outbox_sweep_seconds=sweep,
            beat_max_loop_interval=beat_interval,
            beat_lock_timeout=beat_lock,
            deadline_warning_working_days=warning_days,
            document_root=_path(env.get("DOCUMENT_ROOT")),
            statement_upload_root=_path(env.get("STATEMENT_UPLOAD_ROOT")),
            document_max_bytes=document_max,
            statement_max_bytes=statement_max,
            body_max_bytes=body_max,
            camt_xsd_path=_path(env.get("CAMT_XSD_PATH")),
            idempotency_key_hours=key_hours,
            session_idle_minutes=idle_minutes,
            session_lifetime_hours=lifetime_hours,
            sign_in_spike_failures=spike_failures,
            sign_in_spike_minutes=spike_minutes,
            trusted_proxies=proxies,
            metrics_allowed_addresses=tuple(
                part.strip()
                for part in env.get("METRICS_ALLOWED_ADDRESSES", "127.0.0.1/32,::1/128").split(",")
                if part.strip()
            ),
            metrics_token=env.get("METRICS_TOKEN") or None,
            prometheus_multiproc_dir=_path(env.get("PROMETHEUS_MULTIPROC_DIR")),
        )

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def unsafe_settings(self) -> list[str]:
        """Name every setting that must not reach production."""
        problems = []
        if not self.secret_key or self.secret_key == DEV_SECRET_KEY:
            problems.append("SECRET_KEY is not set (the development key is public)")
        elif len(self.secret_key) < 32:
            problems.append("SECRET_KEY is shorter than 32 characters")
        if self.database_url.startswith("sqlite"):
            problems.append("DATABASE_URL points to SQLite; production needs PostgreSQL")
        if self.debug:
            problems.append("debug mode is on (FLASK_DEBUG/DEBUG)")
        if not self.field_encryption_keys or DEV_FIELD_KEY in self.field_encryption_keys:
            problems.append("FIELD_ENCRYPTION_KEYS holds the public development key")
        if self.celery_broker_url.startswith("sqla+"):
            problems.append("CELERY_BROKER_URL is the embedded broker; production needs Redis")
        if self.ratelimit_storage_uri.startswith("memory"):
            problems.append(
                "rate limits are kept in memory; set REDIS_URL or RATELIMIT_STORAGE_URI"
            )
        if self.mail_backend == "file":
            problems.append("MAIL_BACKEND=file writes e-mail to disk instead of sending it")
        if self.metrics_token is not None and len(self.metrics_token) < 32:
            problems.append("METRICS_TOKEN is shorter than 32 characters")
        return problems

    def validate(self) -> None:
        """Refuse an unsafe production configuration, naming every problem."""
        if self.env not in {"development", "production", "test"}:
            raise ConfigurationError(
                f"HOUSING_ENV must be development, production or test, not {self.env!r}"
            )
        if self.mail_backend not in {"file", "smtp"}:
            raise ConfigurationError(
                f"MAIL_BACKEND must be file or smtp, not {self.mail_backend!r}"
            )
        if self.outbox_lease_seconds < 1 or self.outbox_max_attempts < 1:
            raise ConfigurationError("OUTBOX_LEASE_SECONDS and OUTBOX_MAX_ATTEMPTS must be ≥ 1")
        if self.outbox_sweep_seconds < 1 or self.beat_max_loop_interval < 1:
            raise ConfigurationError("OUTBOX_SWEEP_SECONDS and BEAT_MAX_LOOP_INTERVAL must be ≥ 1")
        if self.beat_lock_timeout < 3 * self.beat_max_loop_interval:
            # Renewed every tick: a lock that lapses between two ticks hands over to a
            # standby beat while this one still runs.
            raise ConfigurationError(
                "BEAT_LOCK_TIMEOUT must be at least three times BEAT_MAX_LOOP_INTERVAL"
            )
        if min(self.document_max_bytes, self.statement_max_bytes, self.body_max_bytes) < 1:
            raise ConfigurationError(
                "DOCUMENT_MAX_BYTES, STATEMENT_MAX_BYTES and BODY_MAX_BYTES must be ≥ 1"
            )
        if self.idempotency_key_hours < 1:
            raise ConfigurationError("IDEMPOTENCY_KEY_HOURS must be ≥ 1")
        if self.session_idle_minutes < 1 or self.session_lifetime_hours < 1:
            raise ConfigurationError("SESSION_IDLE_MINUTES and SESSION_LIFETIME_HOURS must be ≥ 1")
        if self.session_idle_minutes > 60 * self.session_lifetime_hours:
            raise ConfigurationError(
                "SESSION_IDLE_MINUTES must not be longer than SESSION_LIFETIME_HOURS"
            )
        if self.sign_in_spike_failures < 2 or self.sign_in_spike_minutes < 1:
            raise ConfigurationError(
                "SIGN_IN_SPIKE_FAILURES must be ≥ 2 and SIGN_IN_SPIKE_MINUTES ≥ 1"
            )
        if self.trusted_proxies < 0:
            raise ConfigurationError("TRUSTED_PROXIES must be ≥ 0")
        for address in self.metrics_allowed_addresses:
            try:
                ipaddress.ip_network(address, strict=False)
            except ValueError:
                raise ConfigurationError(
                    "METRICS_ALLOWED_ADDRESSES must be addresses or networks (127.0.0.1,"
                    f" 10.0.0.0/8), comma-separated, not {address!r}"
                ) from None
        if self.is_production:
            problems = self.unsafe_settings()
            if problems:
                raise ConfigurationError(
                    "Refusing to start in production: " + "; ".join(problems) + "."
                )

    def _redis_transport_options(self) -> dict[str, object]:
        if not self.celery_broker_url.startswith(("redis://", "rediss://")):
            return {}  # the embedded SQLAlchemy transport knows no visibility timeout
        # With acks_late, Redis re-delivers a message that is not acknowledged within the
        # visibility timeout. Celery's default of one hour would hand a slow batch build, or
        # a task waiting on an eta/countdown, to a second worker while the first still runs;
        # 12 hours is longer than any task or retry we schedule.
        return {
            "broker_transport_options": {
                "visibility_timeout": 12 * 3600,
                # A publisher that finds the broker away fails at once instead of trying to
                # connect again for 4 s and more: the relay must not hold up the request
                # that committed (the sweep sends the message later), and beat sends its
                # tasks again at their next turn. A worker's own reconnection is governed by
                # broker_connection_max_retries, not by this.
                "max_retries": 0,
            },
            "result_backend_transport_options": {"visibility_timeout": 12 * 3600},
        }

    def _ratelimit_storage_options(self) -> dict[str, object]:
        if not self.ratelimit_storage_uri.startswith(("redis://", "rediss://")):
            return {}
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # An unreachable Redis answers within a second, once, instead of holding a sign-in
        # for the operating system's connect timeout and redis-py's retries with back-off:
        # the limiter then counts in memory (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED).
        return {"socket_connect_timeout": 1, "socket_timeout": 1, "retry": Retry(NoBackoff(), 0)}

    def _beat_scheduler_options(self) -> dict[str, object]:
        if not self.celery_broker_url.startswith(("redis://", "rediss://")):
            # The embedded broker runs one beat beside the web (make run): the default
            # scheduler with its local schedule file is all it needs.
            return {}
        # Production may start a beat on more than one machine: RedBeat keeps the schedule
        # in Redis and only the beat holding its lock sends anything, so each entry fires
        # once. The lock is extended on every tick (at most 10 s apart) and expires after
        # 60 s, so a standby beat takes over within about a minute of the active one dying.
        # RedBeat's scheduler as workers/beat.py extends it: it waits out a broker outage
        # instead of ending beat, and rebuilds lock and schedule when Redis comes back empty.
        return {
            "beat_scheduler": "workers.beat:HealingRedBeatScheduler",
            "redbeat_redis_url": self.celery_broker_url,
            # Our own prefix: another application's beat on the same Redis never shares
            # our lock or schedule.
            "redbeat_key_prefix": "veilig-wonen:redbeat:",
            # Set (empty) on purpose, so RedBeat does not fall back to the broker's
            # transport options, which are no redis-client options.
            "redbeat_redis_options": {},
            "redbeat_lock_timeout": self.beat_lock_timeout,
            "beat_max_loop_interval": self.beat_max_loop_interval,
        }

    def flask_config(self) -> dict[str, object]:
        """Translate into Flask and extension configuration keys."""
        # No `pool_pre_ping`: housing.db discards a dropped connection on checkout without a
        # statement, and housing.unit_of_work.first_use retries the first read once.
        engine_options: dict[str, object] = {}
        return {
            "HOUSING_ENV": self.env,
            "SECRET_KEY": self.secret_key,
            "DEBUG": self.debug,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
            "FIELD_ENCRYPTION_KEYS": self.field_encryption_keys,
            "RATELIMIT_STORAGE_URI": self.ratelimit_storage_uri,
            "RATELIMIT_HEADERS_ENABLED": True,
            # Redis away must not stop sign-in: each web process counts in its own memory
            # until the storage answers again (a logged warning; /health says degraded).
            "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
            # A storage that stops answering mid-request is logged, not a 500.
            "RATELIMIT_SWALLOW_ERRORS": True,
            "RATELIMIT_STORAGE_OPTIONS": self._ratelimit_storage_options(),
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.is_production,
            "REMEMBER_COOKIE_SECURE": self.is_production,
            "WTF_CSRF_TIME_LIMIT": 8 * 3600,
            # Every request body; views that take an upload raise it to their file's limit
            # (housing.inputs.accepts_upload).
            "MAX_CONTENT_LENGTH": self.body_max_bytes,
            "BABEL_DEFAULT_LOCALE": "nl",
            "BABEL_DEFAULT_TIMEZONE": "Europe/Amsterdam",
            "MAIL_BACKEND": self.mail_backend,
            "MAIL_SERVER": self.mail_server,
            "MAIL_PORT": self.mail_port,
            "MAIL_USE_TLS": self.mail_use_tls,
            "MAIL_USERNAME": self.mail_username,
            "MAIL_PASSWORD": self.mail_password,
            "MAIL_DEFAULT_SENDER": self.mail_default_sender,
            "MAIL_FILE_DIR": str(self.mail_file_dir),
            "MAIL_FILE_PATH": str(self.mail_file_dir),
            # Hand outbox messages to the broker right after each commit (the sweep also
            # does, later); tests that do not run a worker switch it off.
            "OUTBOX_RELAY_ON_COMMIT": True,
            "OUTBOX_LEASE_SECONDS": self.outbox_lease_seconds,
            "OUTBOX_MAX_ATTEMPTS": self.outbox_max_attempts,
            "OUTBOX_SWEEP_SECONDS": self.outbox_sweep_seconds,
            "PORT": self.port,
            "BASE_URL": self.base_url,
            "DEADLINE_WARNING_WORKING_DAYS": self.deadline_warning_working_days,
            "DOCUMENT_ROOT": str(self.document_root),
            "STATEMENT_UPLOAD_ROOT": str(self.statement_upload_root),
            "DOCUMENT_MAX_BYTES": self.document_max_bytes,
            "STATEMENT_MAX_BYTES": self.statement_max_bytes,
            "CAMT_XSD_PATH": str(self.camt_xsd_path) if self.camt_xsd_path else None,
            "IDEMPOTENCY_KEY_HOURS": self.idempotency_key_hours,
            "SESSION_IDLE_MINUTES": self.session_idle_minutes,
            "SESSION_LIFETIME_HOURS": self.session_lifetime_hours,
            "SIGN_IN_SPIKE_FAILURES": self.sign_in_spike_failures,
            "SIGN_IN_SPIKE_MINUTES": self.sign_in_spike_minutes,
            "TRUSTED_PROXIES": self.trusted_proxies,
            "METRICS_ALLOWED_ADDRESSES": self.metrics_allowed_addresses,
            "METRICS_TOKEN": self.metrics_token,
            "PROMETHEUS_MULTIPROC_DIR": (
                str(self.prometheus_multiproc_dir) if self.prometheus_multiproc_dir else None
            ),
            "API_TITLE": "Veilig Wonen",
            "API_VERSION": "v1",
            "OPENAPI_VERSION": "3.1.0",
            "OPENAPI_URL_PREFIX": "/api/v1",
            "OPENAPI_JSON_PATH": "openapi.json",
            "CELERY": {
                "broker_url": self.celery_broker_url,
                "result_backend": self.celery_result_backend,
                "task_acks_late": True,
                # A task whose worker dies mid-run is delivered again instead of lost.
                "task_reject_on_worker_lost": True,
                "worker_prefetch_multiplier": 1,
                "task_serializer": "json",
                "accept_content": ["json"],
                "result_serializer": "json",
                "result_expires": 24 * 3600,
                "timezone": "Europe/Amsterdam",
                "enable_utc": True,
                "broker_connection_retry_on_startup": True,
                # A worker that lost its broker keeps trying to reconnect (backing off to
                # every 30 s) however long the outage lasts; Celery's default gives up after
                # 100 tries and ends the worker.
                "broker_connection_max_retries": None,
                **self._redis_transport_options(),
                **self._beat_scheduler_options(),
            },
        }
