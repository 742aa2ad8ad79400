"""Settings come from the environment; production refuses every unsafe one by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from redbeat.schedulers import RedBeatScheduler

from housing import create_app
from housing.config import DEV_FIELD_KEY, ConfigurationError, Settings
from housing.crypto import FieldCipher

SAFE_PRODUCTION = {
    "HOUSING_ENV": "production",
    "SECRET_KEY": "x" * 48,
    "DATABASE_URL": "postgresql://app@db.internal/housing",
    "FIELD_ENCRYPTION_KEYS": FieldCipher.generate_key(),
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "REDIS_URL": "redis://redis.internal:6379/1",
    "MAIL_BACKEND": "smtp",
}


def test_development_defaults_are_embedded(tmp_path):
    settings = Settings.from_env({"HOUSING_INSTANCE_PATH": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'housing.sqlite3'}"
    assert settings.celery_broker_url.startswith("sqla+sqlite:///")
    assert settings.celery_result_backend.startswith("db+sqlite:///")
    assert settings.mail_backend == "file"
    assert settings.port == 5000
    settings.validate()  # development may use them


def test_postgres_urls_get_the_psycopg3_driver():
    settings = Settings.from_env({"DATABASE_URL": "postgres://u@h/db"})
    assert settings.database_url == "postgresql+psycopg://u@h/db"


def test_safe_production_settings_pass():
    settings = Settings.from_env(SAFE_PRODUCTION)
    assert settings.unsafe_settings() == []
    settings.validate()


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is shorter than 32"),
        ({"DATABASE_URL": "sqlite:////tmp/x.db"}, "SQLite"),
        ({"FLASK_DEBUG": "1"}, "debug mode is on"),
        ({"FIELD_ENCRYPTION_KEYS": DEV_FIELD_KEY}, "FIELD_ENCRYPTION_KEYS"),
        ({"CELERY_BROKER_URL": ""}, "embedded broker"),
        ({"REDIS_URL": ""}, "rate limits are kept in memory"),
        ({"MAIL_BACKEND": "file"}, "MAIL_BACKEND=file"),
    ],
)
def test_production_refuses_each_unsafe_setting_by_name(override, named):
    environ = {**SAFE_PRODUCTION, **override}
    with pytest.raises(ConfigurationError, match="Refusing to start in production") as caught:
        Settings.from_env(environ).validate()
    assert named in str(caught.value)


def test_production_without_any_setting_lists_every_problem():
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({"HOUSING_ENV": "production"}).validate()
    message = str(caught.value)
    for part in ("SECRET_KEY", "SQLite", "FIELD_ENCRYPTION_KEYS", "embedded broker"):
        assert part in message


def test_the_app_factory_refuses_to_start_unsafe(monkeypatch):
    monkeypatch.setenv("HOUSING_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"HOUSING_ENV": "staging"}, "HOUSING_ENV must be"),
        ({"MAIL_BACKEND": "pigeon"}, "MAIL_BACKEND must be"),
    ],
)
def test_unknown_values_are_refused(environ, message):
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(environ).validate()


def test_a_port_that_is_no_number_is_refused():
    with pytest.raises(ConfigurationError, match="PORT"):
        Settings.from_env({"PORT": "fifty"})


def test_bad_encryption_keys_are_refused_clearly():
    with pytest.raises(ValueError, match="Fernet keys"):
        FieldCipher(["not-a-key"])


def test_celery_is_acks_late_with_a_long_visibility_timeout_on_redis():
    celery = Settings.from_env({"CELERY_BROKER_URL": "redis://r:6379/0"}).flask_config()["CELERY"]
    assert celery["task_acks_late"] is True
    assert celery["broker_transport_options"]["visibility_timeout"] >= 3600
    embedded = Settings.from_env({}).flask_config()["CELERY"]
    assert "broker_transport_options" not in embedded


def test_one_beat_acts_on_redis_through_redbeat_and_the_embedded_broker_keeps_the_default():
    celery = Settings.from_env({"CELERY_BROKER_URL": "redis://r:6379/0"}).flask_config()["CELERY"]
    assert celery["beat_scheduler"] == "workers.beat:HealingRedBeatScheduler"
    assert celery["redbeat_redis_url"] == "redis://r:6379/0"
    assert celery["redbeat_key_prefix"] == "veilig-wonen:redbeat:"
    assert celery["redbeat_redis_options"] == {}  # not the broker's transport options
    # The lock outlives several ticks, so the active beat always renews it in time.
    assert celery["redbeat_lock_timeout"] >= 3 * celery["beat_max_loop_interval"]
    for environ in ({}, {"CELERY_BROKER_URL": "sqla+sqlite:////tmp/broker.sqlite3"}):
        embedded = Settings.from_env(environ).flask_config()["CELERY"]
        assert "beat_scheduler" not in embedded
        assert not [key for key in embedded if key.startswith("redbeat_")]


def test_beat_and_workers_outlast_a_broker_outage():
    celery = Settings.from_env({"CELERY_BROKER_URL": "redis://r:6379/0"}).flask_config()["CELERY"]
    assert celery["broker_connection_max_retries"] is None  # a worker reconnects for ever
    assert celery["broker_transport_options"]["max_retries"] == 0  # a publisher never waits
    from workers.beat import HealingRedBeatScheduler

    assert issubclass(HealingRedBeatScheduler, RedBeatScheduler)


def test_beat_intervals_come_from_the_environment_and_its_lock_outlives_three_ticks():
    settings = Settings.from_env(
        {
            "CELERY_BROKER_URL": "redis://r:6379/0",
            "BEAT_MAX_LOOP_INTERVAL": "2",
            "BEAT_LOCK_TIMEOUT": "6",
            "OUTBOX_SWEEP_SECONDS": "5",
        }
    )
    settings.validate()
    config = settings.flask_config()
    assert config["CELERY"]["beat_max_loop_interval"] == 2
    assert config["CELERY"]["redbeat_lock_timeout"] == 6
    assert config["OUTBOX_SWEEP_SECONDS"] == 5
    defaults = Settings.from_env({}).flask_config()
    assert defaults["OUTBOX_SWEEP_SECONDS"] == 15
    with pytest.raises(ConfigurationError, match="BEAT_LOCK_TIMEOUT"):
        Settings.from_env({"BEAT_MAX_LOOP_INTERVAL": "10", "BEAT_LOCK_TIMEOUT": "20"}).validate()
    with pytest.raises(ConfigurationError, match="OUTBOX_SWEEP_SECONDS"):
        Settings.from_env({"OUTBOX_SWEEP_SECONDS": "0"}).validate()
    with pytest.raises(ConfigurationError, match="BEAT_"):
        Settings.from_env({"BEAT_LOCK_TIMEOUT": "soon"})


def test_the_deadline_warning_horizon_is_configurable_in_working_days():
    assert Settings.from_env({}).flask_config()["DEADLINE_WARNING_WORKING_DAYS"] == 5
    settings = Settings.from_env({"DEADLINE_WARNING_WORKING_DAYS": "10"})
    assert settings.flask_config()["DEADLINE_WARNING_WORKING_DAYS"] == 10
    for wrong in ("0", "41", "five", "-3"):
        with pytest.raises(ConfigurationError, match="DEADLINE_WARNING_WORKING_DAYS"):
            Settings.from_env({"DEADLINE_WARNING_WORKING_DAYS": wrong})


def test_idempotency_keys_are_kept_a_configurable_number_of_hours():
    assert Settings.from_env({}).flask_config()["IDEMPOTENCY_KEY_HOURS"] == 24
    assert Settings.from_env({"IDEMPOTENCY_KEY_HOURS": "48"}).idempotency_key_hours == 48
    with pytest.raises(ConfigurationError, match="IDEMPOTENCY_KEY_HOURS"):
        Settings.from_env({"IDEMPOTENCY_KEY_HOURS": "a day"})
    with pytest.raises(ConfigurationError, match="IDEMPOTENCY_KEY_HOURS"):
        Settings.from_env({"IDEMPOTENCY_KEY_HOURS": "0"}).validate()


def test_paths_and_limits_are_settings_with_instance_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({"HOUSING_INSTANCE_PATH": str(tmp_path)})
    assert settings.document_root == tmp_path / "documents"
    assert settings.statement_upload_root == tmp_path / "statement_uploads"
    assert settings.camt_xsd_path is None
    config = settings.flask_config()
    assert config["DOCUMENT_ROOT"] == str(tmp_path / "documents")
    assert config["STATEMENT_MAX_BYTES"] == 200 * 1024 * 1024
    # Any other body: 1 MB (views taking an upload raise it to their file's limit).
    assert config["MAX_CONTENT_LENGTH"] == settings.body_max_bytes == 1024 * 1024


def test_paths_and_limits_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "HOUSING_INSTANCE_PATH": str(tmp_path),
            "DOCUMENT_ROOT": str(tmp_path / "docs"),
            "STATEMENT_UPLOAD_ROOT": str(tmp_path / "up"),
            "STATEMENT_MAX_BYTES": "1000",
            "DOCUMENT_MAX_BYTES": "2000",
            "BODY_MAX_BYTES": "3000",
            "CAMT_XSD_PATH": str(tmp_path / "camt.xsd"),
        }
    )
    assert (settings.document_root, settings.statement_upload_root) == (
        tmp_path / "docs",
        tmp_path / "up",
    )
    assert (settings.statement_max_bytes, settings.document_max_bytes) == (1000, 2000)
    assert settings.flask_config()["MAX_CONTENT_LENGTH"] == 3000
    assert settings.camt_xsd_path == tmp_path / "camt.xsd"


@pytest.mark.parametrize("name", ["STATEMENT_MAX_BYTES", "DOCUMENT_MAX_BYTES", "BODY_MAX_BYTES"])
def test_limits_must_be_positive_whole_numbers(name: str) -> None:
    with pytest.raises(ConfigurationError):
        Settings.from_env({name: "lots"})
    with pytest.raises(ConfigurationError):
        Settings.from_env({name: "0"}).validate()


def test_sessions_end_after_configurable_idle_time_and_lifetime():
    defaults = Settings.from_env({}).flask_config()
    assert (defaults["SESSION_IDLE_MINUTES"], defaults["SESSION_LIFETIME_HOURS"]) == (30, 12)
    settings = Settings.from_env({"SESSION_IDLE_MINUTES": "15", "SESSION_LIFETIME_HOURS": "8"})
    settings.validate()
    assert (settings.session_idle_minutes, settings.session_lifetime_hours) == (15, 8)
    for environ in (
        {"SESSION_IDLE_MINUTES": "0"},
        {"SESSION_LIFETIME_HOURS": "0"},
        {"SESSION_IDLE_MINUTES": "121", "SESSION_LIFETIME_HOURS": "2"},
    ):
        with pytest.raises(ConfigurationError, match="SESSION_"):
            Settings.from_env(environ).validate()
    with pytest.raises(ConfigurationError, match="SESSION_"):
        Settings.from_env({"SESSION_IDLE_MINUTES": "half an hour"})


def test_the_sign_in_spike_and_the_trusted_proxies_are_settings():
    defaults = Settings.from_env({}).flask_config()
    assert (defaults["SIGN_IN_SPIKE_FAILURES"], defaults["SIGN_IN_SPIKE_MINUTES"]) == (20, 15)
    assert defaults["TRUSTED_PROXIES"] == 0
    settings = Settings.from_env(
        {"SIGN_IN_SPIKE_FAILURES": "50", "SIGN_IN_SPIKE_MINUTES": "5", "TRUSTED_PROXIES": "1"}
    )
    settings.validate()
    assert (settings.sign_in_spike_failures, settings.sign_in_spike_minutes) == (50, 5)
    for environ in (
        {"SIGN_IN_SPIKE_FAILURES": "1"},
        {"SIGN_IN_SPIKE_MINUTES": "0"},
        {"TRUSTED_PROXIES": "-1"},
    ):
        with pytest.raises(ConfigurationError, match=r"SIGN_IN_SPIKE_|TRUSTED_PROXIES"):
            Settings.from_env(environ).validate()


def test_rate_limits_fall_back_to_memory_and_give_up_on_redis_quickly():
    config = Settings.from_env({"REDIS_URL": "redis://r:6379/1"}).flask_config()
    assert config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] is True
    assert config["RATELIMIT_SWALLOW_ERRORS"] is True
    options = config["RATELIMIT_STORAGE_OPTIONS"]
    assert isinstance(options, dict)
    assert options["socket_connect_timeout"] <= 1 and options["socket_timeout"] <= 1
    assert options["retry"].get_retries() == 0
    assert Settings.from_env({}).flask_config()["RATELIMIT_STORAGE_OPTIONS"] == {}


def test_the_client_address_is_taken_from_trusted_proxies_only(app, database_url, tmp_path):
    from werkzeug.middleware.proxy_fix import ProxyFix

    from tests.conftest import make_test_config

    assert not isinstance(app.wsgi_app, ProxyFix)  # no proxy trusted: X-Forwarded-For ignored
    behind = create_app(make_test_config(database_url, tmp_path, TRUSTED_PROXIES=1))
    assert isinstance(behind.wsgi_app, ProxyFix)
    assert (behind.wsgi_app.x_for, behind.wsgi_app.x_proto) == (1, 1)
