"""The whole multi-instance Tac on this machine, without Docker.

    python ops/stack.py up --instances 2 --port 8080    # what `make stack N=2` runs
    python ops/stack.py status
    python ops/stack.py down                            # what `make stack-down` runs

`up` starts, in order: the MongoDB-wire server (SecantusDB, unless TAC_MONGO_URL is set),
Redis (the one at TAC_REDIS_URL, default redis://127.0.0.1:6379/0, or a fresh redis-server
on a free port when none answers), N Hypercorn instances (`tac run`, each with its own
TAC_PORT, TAC_UNIX_SOCKET and TAC_INSTANCE_ID, sharing TAC_SECRET_KEY, TAC_MONGO_URL and
TAC_REDIS_URL), and Debian's nginx in front, balancing pages and sockets across the
instances, which it reaches on their Unix sockets.

Everything lives under one folder (default ./var/stack): a pid file and a log per
process, nginx's rendered config, pid and temp dirs. `down` stops exactly the processes
named by those pid files, and only if each still is what we started.

Tests use the `Stack` class: start()/stop(), stop_instance(i), kill_instance(i),
start_instance(i), restart_redis(), cut_bus().
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

import redis

from tac.embedded import free_port
from tac.settings import Settings

OPS = Path(__file__).resolve().parent
NGINX_TEMPLATE = OPS / "nginx.conf.template"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
HOST = "127.0.0.1"
UNIX_PATH_MAX = 107  # bytes of a Unix socket's path, without the final NUL (Linux)

# What a live process we started has in its command line: a pid file whose process is
# something else (the pid was reused) is never signalled.
MARKERS = {"nginx": "nginx", "app": "tac.cli", "redis": "redis-server", "mongo": "secantusd"}
# Stop order: the front first, the data last.
STOP_ORDER = ("nginx", "app", "redis", "mongo")


class StackError(RuntimeError):
    pass


def render(template: str, values: Mapping[str, object]) -> str:
    """Fill every {{ name }}; a placeholder without a value is an error, not a blank."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise StackError(f"nginx template: no value for {{{{ {name} }}}}")
        return str(values[name])

    return re.sub(r"\{\{ (\w+) \}\}", fill, template)


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found:
        raise StackError("nginx is not installed: run `make system-deps` (Debian's nginx).")
    return found


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


def http_status(url: str, timeout: float = 1.0) -> int:
    """The status of GET url, or 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return 0


def is_ready(base_url: str) -> bool:
    """/readyz (MongoDB and the bus answer); an older app without it: /healthz, /login."""
    for path in ("/readyz", "/healthz", "/login"):
        status = http_status(f"{base_url}{path}")
        if status != 404:
            return status == 200
    return False


def process_matches(pid: int, marker: str) -> bool:
    """Is `pid` alive (not a zombie) and still the program we started?"""
    proc = Path(f"/proc/{pid}")
    if not proc.exists():
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc: trust the pid file
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return state != "Z" and marker in cmdline


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Stack:
    """N Tac instances behind nginx, with MongoDB and Redis, as real processes."""

    def __init__(
        self,
        var_dir: Path | str = Path("var/stack"),
        instances: int = 2,
        port: int = 8080,
        *,
        redis_url: str | None = None,
        own_redis: bool = False,
        mongo_url: str | None = None,
        settings: Mapping[str, str] | None = None,
        nginx: bool = True,
        ready_timeout: float = 30.0,
    ) -> None:
        """`settings`: extra TAC_* variables for every instance (a test's prefix, limits).
        `own_redis`: always start a fresh redis-server (a test that restarts Redis).
        `redis_url`/`mongo_url`: default to TAC_REDIS_URL/TAC_MONGO_URL from the environment.
        """
        self.var_dir = Path(var_dir).resolve()
        self.instances = instances
        self.port = port
        self.own_redis = own_redis
        self.with_nginx = nginx
        self.ready_timeout = ready_timeout
        self.settings = dict(settings or {})
        env_settings = Settings()
        self.redis_url = redis_url or env_settings.redis_url or DEFAULT_REDIS_URL
        self.mongo_url = mongo_url or env_settings.mongo_url
        self.ping_interval = float(
            self.settings.get("TAC_WS_PING_INTERVAL_SECONDS", env_settings.ws_ping_interval_seconds)
        )
        self.instance_ports: list[int] = []
        self.redis_port: int | None = None
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    # -- addresses ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Where people connect: nginx."""
        return f"http://{HOST}:{self.port}"

    @property
    def instance_urls(self) -> list[str]:
        """Each instance's own TCP address (tests and health checks go there directly)."""
        return [f"http://{HOST}:{port}" for port in self.instance_ports]

    def instance_socket(self, i: int) -> Path:
        """The Unix socket nginx proxies to (TAC_UNIX_SOCKET): on one host, a write to it
        costs the kernel about a third of one over loopback TCP (BENCHMARKS.md)."""
        path = self.var_dir / self.instance_name(i) / "tac.sock"
        if len(str(path).encode()) > UNIX_PATH_MAX:  # a deep var_dir: a short name in /tmp
            digest = hashlib.sha1(str(self.var_dir).encode()).hexdigest()[:12]
            path = Path(tempfile.gettempdir()) / f"tac-{digest}-{self.instance_name(i)}.sock"
        return path

    @property
    def upstreams(self) -> list[str]:
        """The instances as nginx names them ($upstream_addr in its access log)."""
        return [f"unix:{self.instance_socket(i)}" for i in range(len(self.instance_ports))]

    def instance_name(self, i: int) -> str:
        return f"app{i + 1}"

    def log_file(self, name: str) -> Path:
        return self.var_dir / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        return self.var_dir / f"{name}.pid"

    # -- whole stack ----------------------------------------------------------------------
    def start(self) -> Stack:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        running = self.running()
        if running:
            raise StackError(
                f"a stack is already running from {self.var_dir} ({', '.join(running)}): "
                "stop it first (make stack-down)."
            )
        if self.with_nginx and not port_is_free(self.port):
            raise StackError(
                f"port {self.port} is taken: choose another (make stack STACK_PORT=...)"
            )
        try:
            self._start_mongo()
            self._start_redis()
            self.instance_ports = [free_port() for _ in range(self.instances)]
            for i in range(self.instances):
                self._spawn_instance(i)
            for i in range(self.instances):
                self._wait_instance(i)
            if self.with_nginx:
                self._start_nginx()
            self._write_state()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> list[str]:
        """Stop every process named by a pid file under var_dir; returns their names."""
        stopped: list[str] = []
        for kind in STOP_ORDER:
            names = sorted(p.stem for p in self.var_dir.glob(f"{kind}*.pid"))
            live = set(self.running())
            # Instances stop in parallel: each may take its grace period.
            for name in names:
                self._signal(name, signal.SIGTERM)
            for name in names:
                self._reap(name, timeout=20.0)
            stopped += [name for name in names if name in live]
        with contextlib.suppress(FileNotFoundError):
            (self.var_dir / "stack.json").unlink()
        return stopped

    def running(self) -> list[str]:
        return [
            p.stem
            for p in sorted(self.var_dir.glob("*.pid"))
            if self._is_ours(p.stem, self._read_pid(p.stem))
        ]

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- instances ------------------------------------------------------------------------
    def instance_env(self, i: int) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            TAC_HOST=HOST,
            TAC_PORT=str(self.instance_ports[i]),
            TAC_UNIX_SOCKET=str(self.instance_socket(i)),
            TAC_INSTANCE_ID=self.instance_name(i),
            TAC_SECRET_KEY=self._secret_key(),
            TAC_MONGO_URL=str(self.mongo_url),
            TAC_REDIS_URL=self.redis_url,
            TAC_VAR_DIR=str(self.var_dir / self.instance_name(i)),
            TAC_TRUSTED_PROXY_HOPS="1",  # nginx appends the client to X-Forwarded-For
        )
        env.update(self.settings)
        return env

    def start_instance(self, i: int) -> None:
        """(Re)start instance i on its port and wait until it serves."""
        self._spawn_instance(i)
        self._wait_instance(i)

    def stop_instance(self, i: int, timeout: float = 20.0) -> None:
        """SIGTERM: the instance closes its sockets (1012) and exits within its grace period."""
        name = self.instance_name(i)
        self._signal(name, signal.SIGTERM)
        if not self._reap(name, timeout):
            raise StackError(f"{name} did not exit within {timeout} s; see {self.log_file(name)}")

    def kill_instance(self, i: int) -> None:
        """SIGKILL: a crash, nothing is closed cleanly."""
        name = self.instance_name(i)
        self._signal(name, signal.SIGKILL)
        self._reap(name, timeout=5.0)

    def _spawn_instance(self, i: int) -> None:
        name = self.instance_name(i)
        (self.var_dir / name).mkdir(parents=True, exist_ok=True)
        self._spawn(name, [sys.executable, "-m", "tac.cli", "run"], env=self.instance_env(i))

    def _wait_instance(self, i: int) -> None:
        self._wait(self.instance_name(i), lambda: is_ready(self.instance_urls[i]))

    # -- MongoDB --------------------------------------------------------------------------
    def _start_mongo(self) -> None:
        if self.mongo_url:
            return
        from tac.embedded import EmbeddedMongo

        server = EmbeddedMongo(self.var_dir / "mongo", log_file=self.log_file("mongo"))
        self.mongo_url = server.start()
        assert server.process is not None
        self.children["mongo"] = server.process
        self.pid_file("mongo").write_text(f"{server.process.pid}\n")

    # -- Redis ----------------------------------------------------------------------------
    def _start_redis(self) -> None:
        if not self.own_redis and redis_answers(self.redis_url):
            return
        self.redis_port = self.redis_port or free_port()
        self.redis_url = f"redis://{HOST}:{self.redis_port}/0"
        (self.var_dir / "redis").mkdir(exist_ok=True)
        self._spawn(
            "redis",
            [
                shutil.which("redis-server") or "redis-server",
                "--bind", HOST,
                "--port", str(self.redis_port),
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.var_dir / "redis"),
            ],
        )  # fmt: skip
        self._wait("redis", lambda: redis_answers(self.redis_url))

    def _require_own_redis(self) -> None:
        if self.redis_port is None:
            raise StackError("this stack did not start its Redis; it will not disturb a shared one")

    def restart_redis(self, down_for: float = 1.0) -> None:
        """Stop our redis-server (its pub/sub connections drop), wait, start it again."""
        self._require_own_redis()
        self._signal("redis", signal.SIGTERM)
        self._reap("redis", timeout=10.0)
        time.sleep(down_for)
        self._start_redis()

    def cut_bus(self) -> int:
        """Drop the instances' pub/sub connections (their bus listeners); returns how many.

        Only ours, even on a shared Redis: the bus names its listener connection
        `<TAC_REDIS_PREFIX>:listener:...` (CLIENT SETNAME), so other users keep theirs.
        """
        prefix = self.settings.get("TAC_REDIS_PREFIX", Settings().redis_prefix) + ":listener:"
        client = redis.Redis.from_url(self.redis_url)
        try:
            ours = [c for c in client.client_list(_type="pubsub") if c["name"].startswith(prefix)]
            for connection in ours:
                client.client_kill_filter(_id=connection["id"])
            return len(ours)
        finally:
            client.close()

    # -- nginx ----------------------------------------------------------------------------
    def nginx_config(self) -> str:
        prefix = self.var_dir / "nginx"
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nofile = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
        servers = "\n".join(
            f"        server {upstream} max_fails=1 fail_timeout=3s;" for upstream in self.upstreams
        )
        return render(
            NGINX_TEMPLATE.read_text(),
            {
                "user_directive": "user root;" if os.geteuid() == 0 else "",
                "worker_processes": 1,
                "worker_rlimit_nofile": nofile,
                "worker_connections": min(20000, nofile),
                "pid_file": prefix / "nginx.pid",
                "error_log": self.log_file("nginx-error"),
                "access_log": self.log_file("nginx-access"),
                "temp_dir": prefix / "temp",
                "upstream_servers": servers,
                "listen_port": self.port,
                # Pings pass every ping_interval; three missed ones mean the socket is dead.
                "proxy_read_timeout": max(60, int(self.ping_interval * 3)),
            },
        )

    def _start_nginx(self) -> None:
        prefix = self.var_dir / "nginx"
        (prefix / "temp").mkdir(parents=True, exist_ok=True)
        config = prefix / "nginx.conf"
        config.write_text(self.nginx_config())
        command = [nginx_binary(), "-p", f"{prefix}/", "-e", str(self.log_file("nginx-error"))]
        checked = subprocess.run(
            [*command, "-t", "-q", "-c", str(config)], capture_output=True, text=True, check=False
        )
        if checked.returncode != 0:
            raise StackError(f"nginx refused {config}:\n{checked.stderr}")
        self._spawn("nginx", [*command, "-c", str(config)])
        self._wait("nginx", lambda: is_ready(self.url))

    # -- processes ------------------------------------------------------------------------
    def _spawn(self, name: str, command: list[str], env: Mapping[str, str] | None = None) -> None:
        with self.log_file(name).open("ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=self.var_dir,
                start_new_session=True,  # its own process group: Ctrl-C here does not reach it
            )
        self.children[name] = process
        self.pid_file(name).write_text(f"{process.pid}\n")

    def _wait(self, name: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            process = self.children.get(name)
            if process is not None and process.poll() is not None:
                raise StackError(
                    f"{name} exited with {process.returncode}; {self.log_file(name)} ends:\n"
                    + tail(self.log_file(name))
                )
            if ready():
                return
            time.sleep(0.1)
        raise StackError(
            f"{name} not ready after {self.ready_timeout} s; see {self.log_file(name)}"
        )

    def _is_ours(self, name: str, pid: int | None) -> bool:
        """A live process of a kind we start, still running the program we started."""
        marker = MARKERS.get(re.sub(r"\d+$", "", name))
        return pid is not None and marker is not None and process_matches(pid, marker)

    def _read_pid(self, name: str) -> int | None:
        try:
            return int(self.pid_file(name).read_text().strip())
        except (OSError, ValueError):
            return None

    def _signal(self, name: str, sig: signal.Signals) -> None:
        pid = self._read_pid(name)
        if pid is None or not self._is_ours(name, pid):
            return
        with contextlib.suppress(ProcessLookupError):
            if sig == signal.SIGKILL and os.getpgid(pid) == pid:
                os.killpg(pid, sig)  # nginx workers, too
            else:
                os.kill(pid, sig)

    def _reap(self, name: str, timeout: float) -> bool:
        """Wait for `name` to exit, killing it after `timeout`; removes its pid file.
        Returns whether a live process was stopped."""
        pid = self._read_pid(name)
        process = self.children.pop(name, None)
        alive = self._is_ours(name, pid)
        if alive and pid is not None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if process is not None and process.poll() is not None:
                    break
                if process is None and not self._is_ours(name, pid):
                    break
                time.sleep(0.05)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(
                        pid, signal.SIGKILL
                    )
            if process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(5)
        elif process is not None:
            process.poll()
        with contextlib.suppress(FileNotFoundError):
            self.pid_file(name).unlink()
        return alive

    # -- state ----------------------------------------------------------------------------
    def _secret_key(self) -> str:
        """TAC_SECRET_KEY, or one generated once for this stack: sessions work on every
        instance and survive a restart of the stack."""
        if os.environ.get("TAC_SECRET_KEY"):
            return os.environ["TAC_SECRET_KEY"]
        path = self.var_dir / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def _write_state(self) -> None:
        state = {
            "url": self.url if self.with_nginx else None,
            "instances": {self.instance_name(i): url for i, url in enumerate(self.instance_urls)},
            "mongo_url": self.mongo_url,
            "redis_url": self.redis_url,
        }
        (self.var_dir / "stack.json").write_text(json.dumps(state, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--var-dir", type=Path, default=Path("var/stack"))
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start MongoDB, Redis, N instances and nginx")
    up.add_argument("--instances", "-n", type=int, default=2)
    up.add_argument("--port", type=int, default=8080, help="nginx's port (default 8080)")
    sub.add_parser("down", help="stop what `up` started")
    sub.add_parser("status", help="what runs, and where")
    args = parser.parse_args(argv)

    stack = Stack(args.var_dir, getattr(args, "instances", 2), getattr(args, "port", 8080))
    try:
        if args.command == "up":
            stack.start()
            print(f"MongoDB  {stack.mongo_url}")
            print(f"Redis    {stack.redis_url}")
            for i, url in enumerate(stack.instance_urls):
                name = stack.instance_name(i)
                print(f"{name:8} {url}  (log {stack.log_file(name)})")
            print(f"\nTac on {stack.url}  (stop with `make stack-down`; logs in {stack.var_dir})")
        elif args.command == "down":
            stopped = stack.stop()
            print(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")
        else:
            running = stack.running()
            state = stack.var_dir / "stack.json"
            print(state.read_text() if running and state.exists() else "", end="")
            print(f"running: {', '.join(running)}" if running else "nothing is running")
    except StackError as e:
        print(f"stack: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
