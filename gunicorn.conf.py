"""How gunicorn serves the product: `gunicorn` started in the project's root reads this file.

    gunicorn                                   # as below, on $PORT (gunicorn's own default)
    GUNICORN_CMD_ARGS="--workers 4" gunicorn   # another number of workers

The README's "Serving in production" says what was measured (../shared/bench/ours/run.sh)
and why this choice. Only the process and thread model live here, and where the worker
processes keep their metrics: everything else is gunicorn's default, and the app's settings
come from the environment (housing/config.py).
"""

import multiprocessing
import os
import tempfile
from pathlib import Path

wsgi_app = "housing:create_app()"
# Synchronous workers, one per core: a request is mostly Python on the CPU, and threads in
# one process take turns on it (measured slower here than 2 workers x 4 threads).
worker_class = "sync"
workers = multiprocessing.cpu_count()

# Metrics of every worker process (prometheus-client's multiprocess mode, housing/web/
# metrics.py): each worker writes its figures to files in this folder, and a scrape of any
# worker adds them all up. Set here, before a worker imports prometheus-client, which reads
# it then; an operator's own PROMETHEUS_MULTIPROC_DIR is kept.
METRICS_DIR = Path(
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="housing-metrics-"))
)
METRICS_DIR.mkdir(parents=True, exist_ok=True)


def on_starting(server):
    """Start the counts afresh: files of an earlier run would be added to this one's."""
    for stale in METRICS_DIR.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """A worker that ended leaves its counts (they stay in the sums) but no live gauge."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(METRICS_DIR))
