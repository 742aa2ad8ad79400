"""How gunicorn serves the product: `gunicorn` started in the project's root reads this file.

    gunicorn                                   # as below, on $PORT (gunicorn's own default)
    GUNICORN_CMD_ARGS="--workers 4" gunicorn   # another number of workers

The README's "Serving in production" says what was measured (../shared/bench/ours/run.sh)
and why this choice. Only the process and thread model live here: everything else is
gunicorn's default, and the app's settings come from the environment (housing/config.py).
"""

import multiprocessing

wsgi_app = "housing:create_app()"
# Synchronous workers, one per core: a request is mostly Python on the CPU, and threads in
# one process take turns on it (measured slower here than 2 workers x 4 threads).
worker_class = "sync"
workers = multiprocessing.cpu_count()
