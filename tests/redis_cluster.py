"""A real three-shard Redis Cluster on free loopback ports, for the sharded bus."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from tac.embedded import free_port


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        pytest.skip("redis-server and redis-cli are needed for the cluster tests")
    home = tmp_path_factory.mktemp("redis-cluster")
    ports = [free_port() for _ in range(3)]
    for port in ports:
        (home / str(port)).mkdir()
        subprocess.run(
            [
                "redis-server", "--port", str(port), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--dir", str(home / str(port)), "--save", "", "--appendonly", "no",
                "--daemonize", "yes", "--pidfile", str(home / f"{port}.pid"),
                "--logfile", str(home / f"{port}.log"),
            ],
            check=True,
        )  # fmt: skip
    try:
        _wait_for(lambda: all(redis.Redis(port=p).ping() for p in ports))
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        _wait_for(
            lambda: all(
                redis.Redis(port=p).execute_command("CLUSTER INFO")["cluster_state"] == "ok"
                for p in ports
            )
        )
        yield f"redis://127.0.0.1:{ports[0]}/0"
    finally:
        for port in ports:
            subprocess.run(
                ["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True
            )


def _wait_for(check: object, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise TimeoutError("Redis Cluster did not come up")
