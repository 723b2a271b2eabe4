"""A real three-shard Redis Cluster on free loopback ports, for the sharded bus."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator

import pytest
import redis

from tests.waiting import wait_until_sync


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        pytest.skip("redis-server and redis-cli are needed for the cluster tests")
    home = tmp_path_factory.mktemp("redis-cluster")
    ports = cluster_ports(3)
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
        _wait_for(lambda: all(redis.Redis(port=p).ping() for p in ports), "every node answers")
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        _wait_for(
            lambda: all(
                redis.Redis(port=p).execute_command("CLUSTER INFO")["cluster_state"] == "ok"
                for p in ports
            ),
            "the cluster state is ok on every node",
        )
        yield f"redis://127.0.0.1:{ports[0]}/0"
    finally:
        for port in ports:
            subprocess.run(
                ["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True
            )


def cluster_ports(count: int) -> list[int]:
    """Free ports whose cluster bus port (port + 10000) is free and below 65536 too:
    ephemeral ports (up to 60999) would often not leave room for the bus."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randrange(20000, 30000)
        if port not in ports and _is_free(port) and _is_free(port + 10000):
            ports.append(port)
    return ports


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_for(check: Callable[[], object], what: str, seconds: float = 15.0) -> None:
    wait_until_sync(check, seconds, what=f"Redis Cluster: {what}", ignore=(redis.RedisError,))
