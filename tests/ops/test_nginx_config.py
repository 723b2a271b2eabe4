"""The stack's nginx config (ops/nginx.conf.template) as rendered by ops/stack.py."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from ops.stack import Stack, StackError, nginx_binary, render

OPS = Path(__file__).resolve().parents[2] / "ops"


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    stack = Stack(tmp_path, instances=3, port=18080)
    stack.instance_ports = [18001, 18002, 18003]
    return stack


def test_rendered_config_is_accepted_by_nginx(stack: Stack, tmp_path: Path) -> None:
    try:
        nginx = nginx_binary()
    except StackError as e:
        pytest.skip(str(e))
    (tmp_path / "nginx" / "temp").mkdir(parents=True)
    config = tmp_path / "nginx" / "nginx.conf"
    config.write_text(stack.nginx_config())
    checked = subprocess.run(
        [
            nginx,
            "-t",
            "-p",
            f"{tmp_path}/nginx/",
            "-e",
            str(tmp_path / "err.log"),
            "-c",
            str(config),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def test_config_balances_every_instance_and_keeps_sockets_open(stack: Stack) -> None:
    config = stack.nginx_config()
    servers = re.findall(r"server (unix:\S+) max_fails", config)
    assert servers == stack.upstreams
    assert [s.rsplit("/", 2)[-2] for s in servers] == ["app1", "app2", "app3"]
    assert "least_conn;" in config
    assert not re.search(r"^\s*ip_hash", config, re.M)
    assert "listen 127.0.0.1:18080" in config
    assert "map $http_upgrade $connection_upgrade" in config
    assert "proxy_set_header Host $http_host;" in config
    assert "proxy_next_upstream error timeout" in config
    read_timeout = re.search(r"proxy_read_timeout (\d+)s;", config)
    assert read_timeout is not None
    assert int(read_timeout.group(1)) > stack.ping_interval
    assert "gzip on;" in config
    assert "text/css" in config
    assert "application/javascript" in config
    assert "{{" not in config


def test_a_placeholder_without_a_value_is_an_error() -> None:
    with pytest.raises(StackError, match="listen_port"):
        render("listen {{ listen_port }};", {})


SHIPPED_CONFIGS = [OPS / "nginx.conf.template", OPS / "nginx.compose.conf"]
METRICS_BLOCKED = re.compile(r"location = /metrics \{\s*return 404;\s*\}")


@pytest.mark.parametrize("path", SHIPPED_CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_keeps_metrics_inside(path: Path) -> None:
    config = path.read_text()
    assert METRICS_BLOCKED.search(config), f"{path.name} passes /metrics on"
    # What the app may believe of the proxy (TAC_TRUSTED_PROXY_HOPS) is set by nginx itself.
    for header in ("X-Forwarded-Proto $scheme", "X-Forwarded-Host $http_host"):
        assert f"proxy_set_header {header};" in config


async def test_nginx_answers_metrics_itself_and_passes_the_rest(tmp_path: Path) -> None:
    """The rendered config in a real nginx, in front of an upstream that answers everything."""
    try:
        nginx = nginx_binary()
    except StackError as e:
        pytest.skip(str(e))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stack = Stack(tmp_path, instances=1, port=port)
    stack.instance_ports = [1]
    upstream = stack.instance_socket(0)
    upstream.parent.mkdir(parents=True, exist_ok=True)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = b"tac_messages_posted_total 1\n"
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(answer, path=str(upstream))
    prefix = tmp_path / "nginx"
    (prefix / "temp").mkdir(parents=True)
    config = prefix / "nginx.conf"
    config.write_text(stack.nginx_config())
    process = subprocess.Popen(
        [nginx, "-p", f"{prefix}/", "-e", str(tmp_path / "err.log"), "-c", str(config)],
        start_new_session=True,
    )
    try:
        async with httpx.AsyncClient(base_url=stack.url) as client:
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            assert (await client.get("/healthz")).text.startswith("tac_")  # passed on
            for path in ("/metrics", "/metrics?format=text", "/%6detrics", "//metrics"):
                response = await client.get(stack.url + path)  # as sent, not joined
                assert response.status_code == 404, path
                assert "tac_" not in response.text
    finally:
        process.terminate()
        process.wait(10)
        server.close()


@pytest.mark.parametrize("path", SHIPPED_CONFIGS, ids=lambda p: p.name)
def test_access_logs_leave_out_query_strings(path: Path) -> None:
    """A stream's `?token=` (the documented fallback) must not land in a log file."""
    log_format = re.search(r"log_format tac ([^;]+);", path.read_text())
    assert log_format is not None
    for variable in ("$request ", '$request"', "$request_uri", "$args", "$query_string"):
        assert variable not in log_format.group(1)
    assert "$uri" in log_format.group(1)
