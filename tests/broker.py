"""A Redis server of a test's own, to stop and start as a broker outage: never the shared one."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from pathlib import Path

import redis

from tests.smtp import free_port


class RedisServer:
    """`redis-server` on a free port, its data (if kept) in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=2)

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        # No snapshots of its own: only `stop(keep_data=True)` writes one, for the restart.
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        self.process = subprocess.Popen(  # noqa: S603 (redis-server with fixed arguments)
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self, *, keep_data: bool) -> None:
        """Shut down; with `keep_data` the next start loads what it held, else starts empty."""
        if self.process is None:
            return
        # redis-py may see the connection close as an error: it went.
        with contextlib.suppress(redis.ConnectionError):
            self.client().shutdown(save=keep_data, nosave=not keep_data)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        if not keep_data:
            (self.folder / "dump.rdb").unlink(missing_ok=True)
