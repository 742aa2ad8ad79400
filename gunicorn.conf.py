"""How gunicorn serves the product: `gunicorn` started in the project's root reads this file.

    gunicorn                                   # as below, on $PORT (gunicorn's own default)
    GUNICORN_CMD_ARGS="--workers 4" gunicorn   # more workers on a larger machine

Measured with ../shared/bench/ours/run.sh on this project's 2-core machine; the README's
"Serving in production" says what was measured and why this choice. Only the choices of
process and thread model live here: everything else is gunicorn's default, and the app's
settings come from the environment (housing/config.py).
"""

import multiprocessing

wsgi_app = "housing:create_app()"
# A worker per core: each request is CPU in Python and round trips to PostgreSQL.
workers = multiprocessing.cpu_count()
worker_class = "gthread"
# Threads overlap a request's waits on PostgreSQL with another's Python.
threads = 4
