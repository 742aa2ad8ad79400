"""/metrics: Prometheus's text for the configured scrapers only; each request's latency by
route (measured without a statement); the outbox, jobs and workers' heartbeats read from
the database at scrape time, in a constant number of statements."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from housing.clock import utcnow
from housing.config import ConfigurationError, Settings
from housing.jobs.models import Job, JobStatus
from housing.ops.models import WorkerHeartbeat
from housing.outbox.models import OutboxStatus
from tests.builders.claims import World
from tests.builders.outbox import outbox_row
from tests.conftest import RUN_ID, login
from tests.factories import OrganisationFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}  # TEST-NET-3: no scraper of ours
TOKEN = "metrics-token-for-the-tests-0123456789abcdef"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client, **kwargs) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = client.get("/metrics", **kwargs)
    assert answer.status_code == 200, answer.text
    assert answer.content_type.startswith("text/plain; version=")
    return samples(answer.text)


def value(found, name: str, default: float | None = None, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    if key not in found:
        assert default is not None, f"no sample {name}{labels}"
        return default
    return found[key]


# --- who may read them ----------------------------------------------------------------


def test_another_address_without_a_token_is_refused_with_a_problem(app, client, session):
    refused = client.get("/metrics", environ_base=OUTSIDE)
    assert refused.status_code == 403
    assert refused.content_type == "application/problem+json"
    assert refused.get_json()["status"] == 403
    assert "housing_" not in refused.text


def test_a_wrong_or_missing_token_is_401_and_the_right_one_opens_from_anywhere(
    app, client, session, monkeypatch
):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    for header in (f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}"):
        refused = client.get("/metrics", headers={"Authorization": header}, environ_base=OUTSIDE)
        assert refused.status_code == 401, header
        assert refused.content_type == "application/problem+json"
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    # A token sent from an allowed address is still checked: a wrong one never opens.
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 403
    opened = client.get(
        "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, environ_base=OUTSIDE
    )
    assert opened.status_code == 200
    assert "housing_outbox_pending_messages" in opened.text


def test_without_a_configured_token_no_token_opens(app, client, session, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", None)
    refused = client.get("/metrics", headers={"Authorization": "Bearer "}, environ_base=OUTSIDE)
    assert refused.status_code == 401


def test_the_configured_networks_decide_which_addresses_may_read(app, client, session, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_ALLOWED_ADDRESSES", ("10.0.0.0/8", "2001:db8::/32"))
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "2001:db8::5"}).status_code == 200
    # Loopback was allowed by default only: not any more.
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "11.0.0.1"}).status_code == 403


def test_the_settings_read_and_check_the_addresses_and_the_token():
    default = Settings.from_env({})
    assert default.metrics_allowed_addresses == ("127.0.0.1/32", "::1/128")
    assert default.metrics_token is None
    assert default.prometheus_multiproc_dir is None
    chosen = Settings.from_env(
        {
            "METRICS_ALLOWED_ADDRESSES": " 10.0.0.5, 192.168.0.0/16 ",
            "METRICS_TOKEN": TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": "/run/housing-metrics",
        }
    )
    assert chosen.metrics_allowed_addresses == ("10.0.0.5", "192.168.0.0/16")
    assert chosen.flask_config()["METRICS_TOKEN"] == TOKEN
    assert chosen.flask_config()["PROMETHEUS_MULTIPROC_DIR"] == "/run/housing-metrics"
    assert Settings.from_env({"METRICS_ALLOWED_ADDRESSES": ""}).metrics_allowed_addresses == ()
    with pytest.raises(ConfigurationError, match="METRICS_ALLOWED_ADDRESSES"):
        Settings.from_env({"METRICS_ALLOWED_ADDRESSES": "10.0.0.0/8,intranet"}).validate()
    short = Settings.from_env({"METRICS_TOKEN": "short"})
    assert "METRICS_TOKEN is shorter than 32 characters" in short.unsafe_settings()
    assert not any("METRICS" in problem for problem in chosen.unsafe_settings())


# --- what they say --------------------------------------------------------------------


def test_each_request_is_timed_under_its_route_and_status(app, client, session):
    world = World(session)
    claim = world.proposed()
    reader = app.test_client()
    login(reader, world.assessor.email)  # its requests are before the first scrape
    before = scrape(client)
    for _ in range(3):
        assert client.get("/login").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    assert reader.get(f"/claims/{claim.id}").status_code == 200
    after = scrape(client)

    name = "housing_http_request_duration_seconds_count"

    def delta(**labels: str) -> float:
        return value(after, name, **labels) - value(before, name, 0.0, **labels)

    assert delta(method="GET", route="/login", status="200") == 3
    assert delta(method="GET", route="<unmatched>", status="404") == 1
    assert delta(method="GET", route="/claims/<int:claim_id>", status="200") == 1
    # The scrape before this one is counted too, under its own route.
    assert delta(method="GET", route="/metrics", status="200") == 1
    # A histogram: the slowest bucket holds every request, the sum is their time.
    login_sum = "housing_http_request_duration_seconds_sum"
    assert value(after, login_sum, method="GET", route="/login", status="200") > 0
    assert value(
        after,
        "housing_http_request_duration_seconds_bucket",
        method="GET",
        route="/login",
        status="200",
        le="+Inf",
    ) == value(after, name, method="GET", route="/login", status="200")


def test_timing_a_request_sends_no_statement(app, client, session, count_queries):
    # A request refused at /metrics does nothing but answer: whatever is counted, the
    # timing around it would have sent.
    session.remove()
    with count_queries() as seen:
        assert client.get("/metrics", environ_base=OUTSIDE).status_code == 403
    assert seen == []


def test_the_outbox_jobs_and_heartbeats_are_read_from_the_database(app, client, session):
    before = scrape(client)
    now = utcnow()
    org = OrganisationFactory()
    user = UserFactory(organisation=org)
    # Older than any message another test leaves: it is the oldest pending one.
    outbox_row(session, org.id, status=OutboxStatus.PENDING, created_at=now - dt.timedelta(days=30))
    outbox_row(session, org.id, status=OutboxStatus.PENDING)
    outbox_row(session, org.id)  # dead
    outbox_row(session, org.id, status=OutboxStatus.DONE)
    kind = f"metrics_test_{RUN_ID}"

    def job(status: JobStatus, seconds: float | None) -> Job:
        started = now - dt.timedelta(hours=2)
        return Job(
            organisation_id=org.id,
            kind=kind,
            status=status,
            created_by_id=user.id,
            started_at=started,
            finished_at=None if seconds is None else started + dt.timedelta(seconds=seconds),
        )

    session.add_all(
        [
            job(JobStatus.SUCCEEDED, 2),
            job(JobStatus.SUCCEEDED, 40),
            job(JobStatus.SUCCEEDED, 700),
            job(JobStatus.FAILED, 10),
            job(JobStatus.RUNNING, None),
            WorkerHeartbeat(
                worker=f"celery@metrics-{RUN_ID}", seen_at=now - dt.timedelta(seconds=30)
            ),
            WorkerHeartbeat(
                worker=f"celery@stale-{RUN_ID}", seen_at=now - dt.timedelta(minutes=10)
            ),
        ]
    )
    session.commit()
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("housing_outbox_pending_messages") == 2
    assert delta("housing_outbox_dead_messages") == 1
    age = value(after, "housing_outbox_oldest_pending_age_seconds")
    assert 30 * 86400 <= age < 30 * 86400 + 60
    assert delta("housing_jobs", status="running") == 1
    assert delta("housing_jobs", status="queued") == 0

    histogram = "housing_job_duration_seconds"
    ok = {"kind": kind, "status": "succeeded"}
    assert value(after, f"{histogram}_count", **ok) == 3
    assert value(after, f"{histogram}_sum", **ok) == pytest.approx(742, abs=0.01)
    buckets = {
        le: value(after, f"{histogram}_bucket", le=le, **ok)
        for le in ("1.0", "5.0", "30.0", "60.0", "600.0", "1800.0", "+Inf")
    }
    assert buckets == {
        "1.0": 0,
        "5.0": 1,
        "30.0": 1,
        "60.0": 2,
        "600.0": 2,
        "1800.0": 3,
        "+Inf": 3,
    }
    failed = {"kind": kind, "status": "failed"}
    assert value(after, f"{histogram}_count", **failed) == 1
    assert value(after, f"{histogram}_bucket", le="5.0", **failed) == 0
    assert value(after, f"{histogram}_bucket", le="15.0", **failed) == 1

    live = f"celery@metrics-{RUN_ID}"
    seen = value(after, "housing_worker_heartbeat_timestamp_seconds", worker=live)
    assert seen == pytest.approx((now - dt.timedelta(seconds=30)).timestamp(), abs=0.01)
    assert 30 <= value(after, "housing_worker_heartbeat_age_seconds", worker=live) < 90
    stale = value(after, "housing_worker_heartbeat_age_seconds", worker=f"celery@stale-{RUN_ID}")
    assert 600 <= stale < 660
    # The live one counts as live, the stale one (no heartbeat for 10 minutes) does not.
    assert value(after, "housing_workers_live") - value(before, "housing_workers_live") == 1


def test_a_scrape_reads_the_database_in_five_statements_however_many_rows(
    app, client, session, count_queries
):
    def statements() -> int:
        session.remove()
        with count_queries() as seen:
            assert client.get("/metrics").status_code == 200
        # In the tests a request's transaction is a SAVEPOINT on the test's connection.
        kinds = [statement.split()[0] for statement in seen]
        assert kinds[0] == "SAVEPOINT" and kinds[-1] == "RELEASE", seen
        assert set(kinds[1:-1]) == {"SELECT"}, seen
        return len(kinds) - 2

    few = statements()
    assert few == 5  # outbox: counts and the oldest; jobs: open and durations; heartbeats
    org = OrganisationFactory()
    user = UserFactory(organisation=org)
    started = utcnow() - dt.timedelta(hours=1)
    for number in range(6):
        outbox_row(session, org.id, status=OutboxStatus.PENDING)
        session.add(
            Job(
                organisation_id=org.id,
                kind=f"metrics_kind_{number}_{RUN_ID}",
                status=JobStatus.SUCCEEDED,
                created_by_id=user.id,
                started_at=started,
                finished_at=started + dt.timedelta(seconds=number),
            )
        )
        session.add(WorkerHeartbeat(worker=f"celery@many-{number}-{RUN_ID}", seen_at=started))
    session.commit()
    assert statements() == few


# --- under gunicorn: every worker's figures in one scrape ---------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (our own server)
            return answer.status, answer.read().decode("utf-8")
    except urllib.error.HTTPError as refused:
        return refused.code, ""


def test_gunicorn_workers_add_up_their_figures_in_the_multiprocess_folder(
    app, database_url, tmp_path
):
    folder = tmp_path / "metrics"
    # A file of an earlier run: gunicorn.conf.py's on_starting clears it.
    folder.mkdir()
    (folder / "histogram_99999999.db").write_bytes(b"stale")
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    errors = log.open("wb")
    server = subprocess.Popen(  # noqa: S603 (the venv's gunicorn, fixed arguments)
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": database_url,
            "HOUSING_INSTANCE_PATH": str(tmp_path / "instance"),
            "PROMETHEUS_MULTIPROC_DIR": str(folder),
        },
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"{base}/login")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "gunicorn did not answer"
            time.sleep(0.3)
        # Both workers serve: a sync worker that accepted a connection waits for its request,
        # so while one holds this silent connection the other serves the next three; then
        # the held one gets its request too. Each worker writes a file of its own.
        with socket.create_connection(("127.0.0.1", port), timeout=30) as held:
            time.sleep(1)  # a worker accepts it and waits
            for _ in range(3):
                assert _get(f"{base}/login")[0] == 200
            request = f"GET /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
            held.sendall(f"{request}\r\n".encode())
            answer = b""
            while chunk := held.recv(65536):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
        served = 1 + 3 + 1
        assert len(list(folder.glob("histogram_*.db"))) == 2
        assert not (folder / "histogram_99999999.db").exists()
        scrapes = set()
        for _ in range(6):
            status, text = _get(f"{base}/metrics")
            assert status == 200
            found = samples(text)
            scrapes.add(
                value(
                    found,
                    "housing_http_request_duration_seconds_count",
                    method="GET",
                    route="/login",
                    status="200",
                )
            )
            assert "housing_outbox_pending_messages" in {name for name, _labels in found}
        # Whichever worker answered, the count is of both: every request to /login.
        assert scrapes == {served}
    finally:
        server.terminate()
        server.wait(timeout=30)
        errors.close()
