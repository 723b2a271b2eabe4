"""The embedded MongoDB-wire server (SecantusDB), used when TAC_MONGO_URL is unset.

It runs as its own process on a free loopback port, its data under a folder we own,
and stops when we do. Stopping takes it a second or more (it writes its data out); its
pid file beside the data lets the next start wait for a server still stopping, instead of
failing on its lock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from pymongo import MongoClient

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _server_command() -> str:
    beside_python = Path(sys.executable).parent / "secantusd-py"
    found = str(beside_python) if beside_python.exists() else shutil.which("secantusd-py")
    if not found:
        raise RuntimeError(
            "TAC_MONGO_URL is unset and the embedded server is not installed: "
            "pip install 'tac[embedded]' or set TAC_MONGO_URL."
        )
    return found


class EmbeddedMongo:
    def __init__(self, data_dir: Path, port: int | None = None, log_file: Path | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.log_file = log_file or data_dir.parent / "mongo.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    @property
    def pid_file(self) -> Path:
        return self.data_dir.with_name(self.data_dir.name + ".pid")

    def start(self, timeout: float = 30.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._wait_for_previous(timeout)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    _server_command(),
                    "--host", "127.0.0.1",
                    "--port", str(self.port),
                    "--storage-path", str(self.data_dir),
                    "--log-level", "WARNING",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.pid_file.write_text(str(self.process.pid))
        self._wait_ready(timeout)
        return self.url

    def _wait_for_previous(self, timeout: float) -> None:
        """A server of an earlier run still stopping holds the data's lock: wait for it."""
        try:
            pid = int(self.pid_file.read_text())
        except (OSError, ValueError):
            return
        if not _is_running_server(pid):
            return
        log.info(
            "the embedded database of the previous run (pid %d) is still stopping; "
            "waiting for it (up to %.0f s)",
            pid, timeout,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while _is_running_server(pid):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the embedded database of a previous run (pid {pid}) still holds "
                    f"{self.data_dir}; stop it (kill {pid}) or set TAC_MONGO_URL"
                )
            time.sleep(0.1)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"embedded MongoDB exited; see {self.log_file}")
            try:
                with MongoClient[dict[str, object]](self.url, serverSelectionTimeoutMS=300) as c:
                    c.admin.command("ping")
                return
            except Exception:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"embedded MongoDB not ready after {timeout} s; see {self.log_file}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError):
            self.pid_file.unlink()


def _is_running_server(pid: int) -> bool:
    """Whether `pid` is a live SecantusDB server (not a process that reused the number)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: not our server
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust the pid file
    if b"secantusd" not in command:
        return False
    # A server that exited but was not yet reaped by its parent is a zombie: gone.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[-1].split()[0] != "Z"
    return True
